/*
 * admin_licence.c: "licence issue", "licence show" and "licence import".
 *
 * The administrator issues as an issuer of one department: the principal
 * "admin:<credit code>" goes through licence_issue(), the code path of
 * POST /v1/licences, so a licence made here is validated, sealed, stored
 * and audited exactly like one made over HTTP.
 *
 * Import streams a CSV file twice: a first pass hashes it, counts its rows
 * and refuses it whole for a bad header or malformed CSV (nothing is
 * issued); the second pass turns each row into a request for worker
 * threads.  Row N is issued with the idempotency key
 * "import:<first 16 hex of the file's SHA-256>:<N>", and each licence is
 * committed with its key in one transaction inside licence_issue(), so an
 * import killed at any point leaves whole licences only, and running it
 * again replays the rows already done instead of issuing them twice.
 * Workers take rows in file order from a bounded ring; the main thread
 * reads, retires finished rows in order (the rejects file keeps the file's
 * order) and draws the progress bar.  Holder id numbers stay in the ring
 * and the rejects file (mode 0600): never on the terminal.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "certsvc/client.h"
#include "certsvc/dept.h"
#include "certsvc/jcs.h"
#include "certsvc/licence.h"
#include "certsvc/ltype.h"
#include "certsvc/mem.h"
#include "certsvc/seal.h"
#include "tools/admin.h"
#include "tools/csv.h"

#define IMP_FILE_MAX (1024LL * 1024 * 1024) /* 1 GiB */
#define IMP_READ_CHUNK (256 * 1024)
#define IMP_JOBS_MAX 64
#define IMP_JOBS_PER_CORE 4 /* default workers a core */
#define IMP_SLOTS_PER_JOB 4
#define IMP_SLOTS_MAX 256
#define IMP_DRAW_NS 100000000ULL /* redraw the progress bar at most 10/s */

/*
 * The principal "admin:<dept>", an issuer of dept; the department must
 * exist (CS_ERR_NOT_FOUND naming it).
 */
static enum cs_rc
admin_issuer(struct svc *svc, const char *dept, struct client_principal *p,
    struct cs_err *err)
{
	struct store_dept d;
	enum cs_rc rc;

	memset(p, 0, sizeof(*p));
	rc = dept_get(svc, dept, &d, err);
	if (rc == CS_ERR_NOT_FOUND || rc == CS_ERR_INVALID)
		return cs_err_set(err, CS_ERR_NOT_FOUND,
		    "no department '%.40s' (see 'certsvc-admin dept list')",
		    dept);
	if (rc != CS_OK)
		return rc;
	if (snprintf(p->id, sizeof(p->id), "admin:%.32s", d.code) >=
	    (int)sizeof(p->id))
		return cs_err_set(err, CS_ERR_INVALID, "dept: code too long");
	p->role = CLIENT_ISSUER;
	cs_strlcpy(p->dept, d.code, sizeof(p->dept));
	return CS_OK;
}

/* Write text to path (mode 0644), replacing it. */
static enum cs_rc
write_file(const char *path, const void *p, size_t len, struct cs_err *err)
{
	return cs_file_write(path, p, len, 0644, false, err);
}

/* --- licence issue -------------------------------------------------------- */

/*
 * The default idempotency key: "cli:" and the SHA-256 of the request's
 * canonical form, so that running the same command again is a replay.
 */
static enum cs_rc
issue_default_key(
    const json_t *req, char *key, size_t keysz, struct cs_err *err)
{
	unsigned char md[32];
	char mdhex[65];
	struct buf *canon = NULL;
	enum cs_rc rc;

	rc = jcs_encode(req, &canon, err);
	if (rc != CS_OK)
		return rc;
	if (EVP_Digest(canon->data, canon->len, md, NULL, EVP_sha256(), NULL) !=
	    1)
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "SHA-256 failed");
	buf_free(canon);
	if (rc != CS_OK)
		return rc;
	cs_hex(md, sizeof(md), mdhex);
	snprintf(key, keysz, "cli:%s", mdhex);
	return CS_OK;
}

/* Print what issuance gave: text or JSON; the holder token once. */
static int
issue_print(const struct admin_ctx *ctx, const struct licence_issued *out,
    const char *key, const char *envelope_file)
{
	json_t *obj, *tok = NULL;
	char *text;

	if (!ctx->json) {
		printf("%s licence %s\nversion: %d\nstatus:  %s\n",
		    out->replayed ? "already issued:" : "issued", out->lic.id,
		    out->lic.version, out->lic.status);
		if (out->replayed)
			printf("idempotency key '%s' was used before: this is "
			       "its licence, no new holder token\n",
			    key);
		else
			printf("holder token (shown once): %s\n",
			    out->holder_token);
		if (envelope_file != NULL)
			printf("envelope: %s\n", envelope_file);
		return ADMIN_EXIT_OK;
	}
	obj = licence_summary(&out->lic);
	if (obj == NULL)
		return ADMIN_EXIT_FAIL;
	json_object_set_new(obj, "envelope", licence_envelope(&out->lic));
	json_object_set_new(obj, "replayed", json_boolean(out->replayed));
	json_object_set_new(obj, "idempotency_key", json_string(key));
	if (!out->replayed) {
		tok = json_string(out->holder_token);
		json_object_set(obj, "holder_token", tok);
		json_object_set_new(
		    obj, "holder_client", json_string(out->holder_client));
	}
	text = json_dumps(obj, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (tok != NULL) {
		/* jansson's copy of the secret: wiped before it is freed. */
		OPENSSL_cleanse((char *)(uintptr_t)json_string_value(tok),
		    json_string_length(tok));
		json_decref(tok);
	}
	json_decref(obj);
	if (text == NULL)
		return ADMIN_EXIT_FAIL;
	puts(text);
	OPENSSL_clear_free(text, strlen(text));
	return ADMIN_EXIT_OK;
}

int
admin_licence_issue(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"dept", required_argument, NULL, 'd'},
	    {"request", required_argument, NULL, 'r'},
	    {"idempotency-key", required_argument, NULL, 'k'},
	    {"out", required_argument, NULL, 'o'},
	    ADMIN_COMMON_OPTIONS,
	};
	const char *dept = NULL, *file = NULL, *key = NULL, *outfile = NULL;
	char keybuf[LICENCE_IDEM_KEY_MAX + 1];
	struct client_principal p;
	struct licence_issued out;
	struct cs_err err = {0}, perr = {0};
	struct svc *svc = NULL;
	struct buf *body = NULL;
	json_t *req = NULL, *env;
	char *text;
	int ch, ret;

	memset(&out, 0, sizeof(out));
	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE) {
		if (ch == 'd')
			dept = optarg;
		else if (ch == 'r')
			file = optarg;
		else if (ch == 'k')
			key = optarg;
		else if (ch == 'o')
			outfile = optarg;
	}
	if (ret != -1)
		return ret;
	if (dept == NULL || file == NULL)
		return admin_usage_error(
		    ctx, "--dept and --request are required");
	ret = admin_open(ctx, SVC_OPEN_ALL, &svc);
	if (ret != ADMIN_EXIT_OK)
		return ret;
	/* The API's body limit and parser: the same request, the same answer.
	 */
	if (cs_file_read(file, svc->cfg.max_body, &body, &err) != CS_OK)
		goto fail;
	if (jcs_parse(body->data, body->len, &req, &perr) != CS_OK) {
		cs_err_set(&err, CS_ERR_INVALID, "request '%.100s': %.120s",
		    file, perr.msg);
		goto fail;
	}
	if (key == NULL) {
		if (issue_default_key(req, keybuf, sizeof(keybuf), &err) !=
		    CS_OK)
			goto fail;
		key = keybuf;
	}
	if (admin_issuer(svc, dept, &p, &err) != CS_OK ||
	    licence_issue(svc, &p, req, key, 0, &out, &err) != CS_OK)
		goto fail;
	if (outfile != NULL) {
		env = licence_envelope(&out.lic);
		text = env != NULL ? json_dumps(env, JSON_INDENT(2)) : NULL;
		json_decref(env);
		if (text == NULL) {
			cs_err_set(&err, CS_ERR_NOMEM, "out of memory");
			goto fail;
		}
		if (write_file(outfile, text, strlen(text), &err) != CS_OK) {
			free(text);
			goto fail;
		}
		free(text);
	}
	ret = issue_print(ctx, &out, key, outfile);
	goto out;
fail:
	ret = admin_fail(ctx, &err);
out:
	licence_issued_release(&out);
	json_decref(req);
	buf_free(body);
	svc_free(svc);
	return ret;
}

/* --- licence show --------------------------------------------------------- */

int
admin_licence_show(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"id", required_argument, NULL, 'i'},
	    {"version", required_argument, NULL, 'v'},
	    {"document", required_argument, NULL, 'c'},
	    {"seal", required_argument, NULL, 's'},
	    {"envelope", required_argument, NULL, 'e'},
	    ADMIN_COMMON_OPTIONS,
	};
	const char *id = NULL, *docfile = NULL, *sealfile = NULL;
	const char *envfile = NULL, *k;
	struct store_licence l;
	struct cs_err err = {0};
	struct svc *svc = NULL;
	long long version = 0;
	json_t *obj = NULL, *env, *v;
	char *text;
	int ch, ret;

	memset(&l, 0, sizeof(l));
	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE) {
		if (ch == 'i')
			id = optarg;
		else if (ch == 'v' &&
		    !cs_parse_ll(optarg, 1, INT32_MAX, &version))
			return admin_usage_error(
			    ctx, "--version must be a positive integer");
		else if (ch == 'c')
			docfile = optarg;
		else if (ch == 's')
			sealfile = optarg;
		else if (ch == 'e')
			envfile = optarg;
	}
	if (ret != -1)
		return ret;
	if (id == NULL)
		return admin_usage_error(ctx, "--id is required");
	ret = admin_open(ctx, SVC_OPEN_STORE, &svc);
	if (ret != ADMIN_EXIT_OK)
		return ret;
	/* The administrator reads any licence: no principal to check. */
	if (store_licence_get(svc->store, id, (int)version, &l, &err) !=
	    CS_OK) {
		if (err.rc == CS_ERR_NOT_FOUND || err.rc == CS_ERR_INVALID)
			cs_err_set(&err, CS_ERR_NOT_FOUND,
			    version != 0 ? "no licence '%.96s' version %lld"
			                 : "no licence '%.96s'",
			    id, version);
		goto fail;
	}
	if (docfile != NULL &&
	    write_file(docfile, l.document->data, l.document->len, &err) !=
	        CS_OK)
		goto fail;
	if (sealfile != NULL &&
	    write_file(sealfile, l.seal_der->data, l.seal_der->len, &err) !=
	        CS_OK)
		goto fail;
	if (envfile != NULL) {
		env = licence_envelope(&l);
		text = env != NULL ? json_dumps(env, JSON_INDENT(2)) : NULL;
		json_decref(env);
		if (text == NULL) {
			cs_err_set(&err, CS_ERR_NOMEM, "out of memory");
			goto fail;
		}
		if (write_file(envfile, text, strlen(text), &err) != CS_OK) {
			free(text);
			goto fail;
		}
		free(text);
	}
	obj = licence_summary(&l);
	if (obj == NULL) {
		cs_err_set(&err, CS_ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (ctx->json) {
		admin_print_json(obj);
		obj = NULL;
	} else {
		json_object_foreach(obj, k, v)
		{
			if (json_is_integer(v))
				printf("%-12s %lld\n", k,
				    (long long)json_integer_value(v));
			else
				printf("%-12s %s\n", k, json_string_value(v));
		}
		if (docfile != NULL)
			printf("%-12s written to %s\n", "document", docfile);
		if (sealfile != NULL)
			printf("%-12s written to %s\n", "seal", sealfile);
		if (envfile != NULL)
			printf("%-12s written to %s\n", "envelope", envfile);
	}
	goto out;
fail:
	ret = admin_fail(ctx, &err);
out:
	json_decref(obj);
	store_licence_release(&l);
	svc_free(svc);
	return ret;
}

/* --- licence import ------------------------------------------------------- */

/* What a column of the file holds. */
enum imp_kind {
	IMP_HOLDER_NAME = 1,
	IMP_HOLDER_ID_TYPE,
	IMP_HOLDER_ID_NUMBER,
	IMP_VALID_FROM,
	IMP_VALID_UNTIL,
	IMP_SEAL,
	IMP_FIELD,   /* a field of the licence type */
	IMP_IGNORED, /* "reason": a rejects file can be imported again */
};

static const struct {
	const char *name;
	enum imp_kind kind;
	bool required;
} imp_fixed[] = {
    {"holder_name", IMP_HOLDER_NAME, true},
    {"holder_id_type", IMP_HOLDER_ID_TYPE, true},
    {"holder_id_number", IMP_HOLDER_ID_NUMBER, true},
    {"valid_from", IMP_VALID_FROM, false},
    {"valid_until", IMP_VALID_UNTIL, false},
    {"seal", IMP_SEAL, false},
};
#define IMP_NFIXED (sizeof(imp_fixed) / sizeof(imp_fixed[0]))

struct imp_col {
	enum imp_kind kind;
	const struct ltype_field *field; /* IMP_FIELD */
};

enum imp_result {
	IMP_ISSUED = 1,
	IMP_REPLAYED, /* issued by an earlier run: "already imported" */
	IMP_REJECTED, /* the row is wrong: reason in the rejects file */
	IMP_FAILED,   /* the service failed: the import stops */
};

/* One row in the ring: copied from the parser, owned until retired. */
struct imp_slot {
	uint64_t row; /* 1 = the first row after the header */
	size_t n;
	char *data; /* cells back to back, each NUL-terminated */
	size_t used;
	size_t off[CSV_FIELDS_MAX];
	size_t len[CSV_FIELDS_MAX];
	bool done;
	enum imp_result result;
	char reason[CS_ERR_MSG_MAX];
};

/* The header row, kept for the rejects file and the second pass. */
struct imp_hdr {
	struct imp *im;
	struct buf *names; /* NUL-separated */
	size_t n;
	size_t len[CSV_FIELDS_MAX];
	const char *field[CSV_FIELDS_MAX];
};

struct imp {
	struct admin_ctx *ctx;
	struct svc *svc;
	struct client_principal p;
	struct ltype *lt;
	const char *file;
	struct imp_col cols[CSV_FIELDS_MAX];
	size_t ncols;
	bool has_seal_col;
	const struct imp_hdr *hdr;
	char key_prefix[32]; /* "import:<16 hex>:" */
	EVP_MD_CTX *md;

	/* The ring: head <= take <= tail, tail - head <= nslots. */
	pthread_mutex_t mu;
	pthread_cond_t work; /* a row to take, or the end */
	pthread_cond_t done; /* a row finished */
	struct imp_slot *slots;
	size_t nslots;
	uint64_t head; /* next row to retire (main thread) */
	uint64_t take; /* next row for a worker */
	uint64_t tail; /* next free slot (main thread) */
	bool eof, stop;
	struct cs_err fatal; /* the failure that stopped the import */

	/* Counts, kept by the main thread when it retires rows. */
	uint64_t total, issued, replayed, rejected, failed;
	FILE *rej;
	struct buf *line;
	bool progress;
	uint64_t t0, drawn;
};

/* --- first pass: header, UTF-8, count ------------------------------------- */

static enum cs_rc
imp_header(struct imp *im, const struct csv_row *row, struct cs_err *err)
{
	const char *name;
	size_t i, j, f;

	for (i = 0; i < row->n; i++) {
		name = row->field[i];
		if (row->len[i] == 0)
			return cs_err_set(err, CS_ERR_INVALID,
			    "header: column %zu has no name", i + 1);
		for (j = 0; j < i; j++)
			if (strcmp(row->field[j], name) == 0)
				return cs_err_set(err, CS_ERR_INVALID,
				    "header: column '%.64s' appears twice",
				    name);
		im->cols[i].kind = 0;
		for (j = 0; j < IMP_NFIXED; j++)
			if (strcmp(imp_fixed[j].name, name) == 0)
				im->cols[i].kind = imp_fixed[j].kind;
		for (f = 0; f < im->lt->nfields; f++)
			if (strcmp(im->lt->fields[f].name, name) == 0) {
				im->cols[i].kind = IMP_FIELD;
				im->cols[i].field = &im->lt->fields[f];
			}
		if (im->cols[i].kind == IMP_SEAL)
			im->has_seal_col = true;
		if (im->cols[i].kind == 0 && strcmp(name, "reason") == 0)
			im->cols[i].kind = IMP_IGNORED;
		if (im->cols[i].kind == 0)
			return cs_err_set(err, CS_ERR_INVALID,
			    "header: unknown column '%.64s': neither a holder "
			    "or validity column nor a field of type '%s' "
			    "(see docs/cli.md)",
			    name, im->lt->code);
	}
	im->ncols = row->n;
	for (j = 0; j < IMP_NFIXED; j++) {
		if (!imp_fixed[j].required)
			continue;
		for (i = 0; i < row->n; i++)
			if (im->cols[i].kind == imp_fixed[j].kind)
				break;
		if (i == row->n)
			return cs_err_set(err, CS_ERR_INVALID,
			    "header: column '%s' is missing",
			    imp_fixed[j].name);
	}
	for (f = 0; f < im->lt->nfields; f++) {
		if (!im->lt->fields[f].required)
			continue;
		for (i = 0; i < row->n; i++)
			if (im->cols[i].field == &im->lt->fields[f])
				break;
		if (i == row->n)
			return cs_err_set(err, CS_ERR_INVALID,
			    "header: column '%s' is missing (a required field "
			    "of type '%s')",
			    im->lt->fields[f].name, im->lt->code);
	}
	return CS_OK;
}

static enum cs_rc
imp_scan_row(void *arg, const struct csv_row *row, struct cs_err *err)
{
	struct imp *im = arg;
	size_t i;

	for (i = 0; i < row->n; i++)
		if (cs_utf8_count(row->field[i], row->len[i], true) < 0)
			return cs_err_set(err, CS_ERR_INVALID,
			    "line %llu: not UTF-8 text (save the file as CSV "
			    "UTF-8)",
			    (unsigned long long)row->line);
	if (row->index == 1)
		return imp_header(im, row, err);
	im->total++;
	return CS_OK;
}

/*
 * Stream the file through the parser (fn per record) and the hash; md_out
 * gets the SHA-256.  The file is read in pieces, never whole.
 */
static enum cs_rc
imp_pass(struct imp *im, int fd, csv_row_fn fn, void *arg,
    unsigned char md_out[32], struct cs_err *err)
{
	struct csv_parser *p = NULL;
	unsigned char *chunk = NULL;
	enum cs_rc rc = CS_OK;
	ssize_t n;

	if (lseek(fd, 0, SEEK_SET) != 0)
		return cs_err_set(err, CS_ERR_IO, "cannot rewind '%s': %s",
		    im->file, strerror(errno));
	p = csv_new(CSV_ROW_MAX, CSV_FIELDS_MAX);
	chunk = malloc(IMP_READ_CHUNK);
	if (p == NULL || chunk == NULL ||
	    EVP_DigestInit_ex(im->md, EVP_sha256(), NULL) != 1) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		n = read(fd, chunk, IMP_READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = cs_err_set(err, CS_ERR_IO, "cannot read '%s': %s",
			    im->file, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (EVP_DigestUpdate(im->md, chunk, (size_t)n) != 1) {
			rc = cs_err_ossl(err, CS_ERR_CRYPTO, "SHA-256 failed");
			goto out;
		}
		rc = csv_feed(p, chunk, (size_t)n, fn, arg, err);
		if (rc != CS_OK)
			goto out;
	}
	rc = csv_finish(p, fn, arg, err);
	if (rc == CS_OK && csv_records(p) == 0)
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "the file is empty: a header row is required");
	if (rc == CS_OK && EVP_DigestFinal_ex(im->md, md_out, NULL) != 1)
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "SHA-256 failed");
out:
	if (chunk != NULL)
		OPENSSL_clear_free(chunk, IMP_READ_CHUNK);
	csv_free(p);
	return rc;
}

/* --- second pass: rows to requests, workers ------------------------------- */

/* -?D+(.D+)?([eE][+-]?D+)?, the form of a number in a cell. */
static bool
imp_number_text(const char *s, bool *integral)
{
	size_t i = 0, d;

	*integral = true;
	if (s[i] == '-')
		i++;
	for (d = i; s[i] >= '0' && s[i] <= '9'; i++)
		;
	if (i == d)
		return false;
	if (s[i] == '.') {
		*integral = false;
		for (d = ++i; s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == d)
			return false;
	}
	if (s[i] == 'e' || s[i] == 'E') {
		*integral = false;
		i++;
		if (s[i] == '+' || s[i] == '-')
			i++;
		for (d = i; s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == d)
			return false;
	}
	return s[i] == '\0';
}

/*
 * A cell as the JSON value of field f: numbers and booleans typed when
 * they read as such; anything else stays a string, for licence_issue() to
 * refuse with the message the API would give.
 */
static json_t *
imp_value(const struct ltype_field *f, const char *cell, size_t len)
{
	long long ll;
	bool integral;
	char *end;
	double d;

	switch (f->type) {
	case LTYPE_INTEGER:
	case LTYPE_NUMBER:
		if (!imp_number_text(cell, &integral))
			break;
		if (integral) {
			errno = 0;
			ll = strtoll(cell, &end, 10);
			if (errno == 0 && *end == '\0')
				return json_integer(ll);
		}
		errno = 0;
		d = strtod(cell, &end);
		if (errno == 0 && *end == '\0' && isfinite(d))
			return json_real(d);
		break;
	case LTYPE_BOOLEAN:
		if (strcasecmp(cell, "true") == 0)
			return json_true();
		if (strcasecmp(cell, "false") == 0)
			return json_false();
		break;
	case LTYPE_STRING:
	case LTYPE_DATE:
		break;
	}
	return json_stringn(cell, len);
}

static int
imp_set(json_t *obj, const char *key, json_t *v)
{
	return v == NULL ? -1 : json_object_set_new(obj, key, v);
}

/* The request body for slot s (NULL when out of memory). */
static json_t *
imp_request(const struct imp *im, const struct imp_slot *s)
{
	json_t *req, *holder, *fields;
	const char *cell;
	size_t i, len;
	int bad = 0;

	req = json_object();
	holder = json_object();
	fields = json_object();
	if (req == NULL || holder == NULL || fields == NULL)
		bad = -1;
	for (i = 0; bad == 0 && i < s->n; i++) {
		cell = s->data + s->off[i];
		len = s->len[i];
		if (len == 0) /* an empty cell is an absent member */
			continue;
		switch (im->cols[i].kind) {
		case IMP_HOLDER_NAME:
			bad = imp_set(holder, "name", json_stringn(cell, len));
			break;
		case IMP_HOLDER_ID_TYPE:
			bad =
			    imp_set(holder, "id_type", json_stringn(cell, len));
			break;
		case IMP_HOLDER_ID_NUMBER:
			bad = imp_set(
			    holder, "id_number", json_stringn(cell, len));
			break;
		case IMP_VALID_FROM:
			bad =
			    imp_set(req, "valid_from", json_stringn(cell, len));
			break;
		case IMP_VALID_UNTIL:
			bad = imp_set(
			    req, "valid_until", json_stringn(cell, len));
			break;
		case IMP_SEAL:
			bad = imp_set(req, "seal", json_stringn(cell, len));
			break;
		case IMP_FIELD:
			bad = imp_set(fields, im->cols[i].field->name,
			    imp_value(im->cols[i].field, cell, len));
			break;
		case IMP_IGNORED:
			break;
		}
	}
	if (bad == 0)
		bad = imp_set(req, "type", json_string(im->lt->code));
	if (bad == 0) {
		bad = imp_set(req, "holder", holder);
		holder = NULL;
	}
	if (bad == 0) {
		bad = imp_set(req, "fields", fields);
		fields = NULL;
	}
	json_decref(holder);
	json_decref(fields);
	if (bad != 0) {
		json_decref(req);
		return NULL;
	}
	return req;
}

/* Issue one row; the same path as POST /v1/licences. */
static enum imp_result
imp_issue(struct imp *im, struct imp_slot *s, struct cs_err *err)
{
	char key[LICENCE_IDEM_KEY_MAX + 1];
	struct licence_issued out;
	enum imp_result res;
	enum cs_rc rc;
	json_t *req;

	if (s->n != im->ncols) {
		cs_err_set(err, CS_ERR_INVALID,
		    "row has %zu cells, the header has %zu", s->n, im->ncols);
		return IMP_REJECTED;
	}
	req = imp_request(im, s);
	if (req == NULL) {
		cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		return IMP_FAILED;
	}
	snprintf(key, sizeof(key), "%s%llu", im->key_prefix,
	    (unsigned long long)s->row);
	rc = licence_issue(
	    im->svc, &im->p, req, key, LICENCE_NO_HOLDER_TOKEN, &out, err);
	json_decref(req);
	if (rc == CS_OK) {
		res = out.replayed ? IMP_REPLAYED : IMP_ISSUED;
		/* Holder tokens of a batch are not handed out: wiped here. */
		licence_issued_release(&out);
		return res;
	}
	switch (rc) {
	case CS_ERR_INVALID:
	case CS_ERR_DENIED:
	case CS_ERR_NOT_FOUND:
	case CS_ERR_CONFLICT:
		return IMP_REJECTED;
	default:
		return IMP_FAILED;
	}
}

static void *
imp_worker(void *arg)
{
	struct imp *im = arg;
	struct imp_slot *s;
	struct cs_err err;

	pthread_mutex_lock(&im->mu);
	for (;;) {
		while (!im->stop && im->take == im->tail && !im->eof)
			pthread_cond_wait(&im->work, &im->mu);
		if (im->stop || im->take == im->tail)
			break;
		s = &im->slots[im->take % im->nslots];
		im->take++;
		pthread_mutex_unlock(&im->mu);

		memset(&err, 0, sizeof(err));
		s->result = imp_issue(im, s, &err);
		if (s->result == IMP_REJECTED || s->result == IMP_FAILED)
			cs_strlcpy(s->reason,
			    err.msg[0] != '\0' ? err.msg : cs_rc_name(err.rc),
			    sizeof(s->reason));

		pthread_mutex_lock(&im->mu);
		s->done = true;
		if (s->result == IMP_FAILED && !im->stop) {
			im->stop = true;
			im->fatal = err;
			pthread_cond_broadcast(&im->work);
		}
		pthread_cond_signal(&im->done);
	}
	pthread_mutex_unlock(&im->mu);
	return NULL;
}

static void
imp_fmt_duration(double s, char *out, size_t outsz)
{
	unsigned long t = s > 0 && s < 1e9 ? (unsigned long)(s + 0.5) : 0;

	if (t >= 3600)
		snprintf(out, outsz, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60,
		    t % 60);
	else
		snprintf(out, outsz, "%lu:%02lu", t / 60, t % 60);
}

/* The progress bar on stderr: rows, percentage, rate, ETA. */
static void
imp_draw(struct imp *im, bool force)
{
	uint64_t now = cs_now_ns(), done;
	char bar[21], eta[32];
	double secs, rate;
	size_t i, fill;

	if (!im->progress || (!force && now - im->drawn < IMP_DRAW_NS))
		return;
	im->drawn = now;
	done = im->issued + im->replayed + im->rejected + im->failed;
	secs = (double)(now - im->t0) / 1e9;
	rate = secs > 0 ? (double)done / secs : 0;
	fill = im->total > 0 ? (size_t)(20 * done / im->total) : 20;
	for (i = 0; i < 20; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[20] = '\0';
	if (rate > 0)
		imp_fmt_duration(
		    (double)(im->total - done) / rate, eta, sizeof(eta));
	else
		cs_strlcpy(eta, "-:--", sizeof(eta));
	fprintf(stderr,
	    "\r[%s] %llu/%llu rows %3u%%  %.0f rows/s  ETA %s\033[K", bar,
	    (unsigned long long)done, (unsigned long long)im->total,
	    im->total > 0 ? (unsigned)(100 * done / im->total) : 100, rate,
	    eta);
	fflush(stderr);
}

/* A rejected row: its cells (ignored columns left out) and the reason. */
static enum cs_rc
imp_reject_line(struct imp *im, const struct imp_slot *s)
{
	enum cs_rc rc = CS_OK;
	bool first = true;
	size_t i;

	im->line->len = 0;
	for (i = 0; rc == CS_OK && i < s->n; i++) {
		if (i < im->ncols && im->cols[i].kind == IMP_IGNORED)
			continue;
		rc = csv_append_field(
		    im->line, s->data + s->off[i], s->len[i], first);
		first = false;
	}
	/* A short row is padded, so that the reason is in its column. */
	for (; rc == CS_OK && i < im->ncols; i++) {
		if (im->cols[i].kind == IMP_IGNORED)
			continue;
		rc = csv_append_field(im->line, "", 0, first);
		first = false;
	}
	if (rc == CS_OK)
		rc = csv_append_field(
		    im->line, s->reason, strlen(s->reason), first);
	if (rc == CS_OK)
		rc = buf_append(im->line, "\r\n", 2);
	if (rc == CS_OK &&
	    fwrite(im->line->data, 1, im->line->len, im->rej) != im->line->len)
		rc = CS_ERR_IO;
	OPENSSL_cleanse(im->line->data, im->line->len);
	return rc;
}

/*
 * Main thread: account for the finished rows at the head of the ring, in
 * file order, and free their slots.  CS_ERR_IO if the rejects file cannot
 * be written.
 */
static enum cs_rc
imp_retire(struct imp *im, struct cs_err *err)
{
	struct imp_slot *s;
	uint64_t i, end;
	enum cs_rc rc = CS_OK;

	pthread_mutex_lock(&im->mu);
	for (end = im->head; end < im->take; end++)
		if (!im->slots[end % im->nslots].done)
			break;
	pthread_mutex_unlock(&im->mu);
	for (i = im->head; i < end; i++) {
		s = &im->slots[i % im->nslots];
		switch (s->result) {
		case IMP_ISSUED:
			im->issued++;
			break;
		case IMP_REPLAYED:
			im->replayed++;
			break;
		case IMP_REJECTED:
			im->rejected++;
			if (rc == CS_OK && imp_reject_line(im, s) != CS_OK)
				rc = cs_err_set(err, CS_ERR_IO,
				    "cannot write the rejects file: %s",
				    strerror(errno));
			break;
		case IMP_FAILED:
			im->failed++;
			break;
		}
		OPENSSL_cleanse(s->data, s->used);
		s->done = false;
	}
	pthread_mutex_lock(&im->mu);
	im->head = end;
	pthread_mutex_unlock(&im->mu);
	return rc;
}

/* Main thread: wait up to 100 ms for a row to finish. */
static void
imp_wait(struct imp *im)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 100000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&im->mu);
	if (!im->slots[im->head % im->nslots].done && !im->stop)
		pthread_cond_timedwait(&im->done, &im->mu, &ts);
	pthread_mutex_unlock(&im->mu);
}

/* Second pass: hand each row to the workers (blocks while the ring is full). */
static enum cs_rc
imp_queue_row(void *arg, const struct csv_row *row, struct cs_err *err)
{
	struct imp *im = arg;
	struct imp_slot *s;
	enum cs_rc rc;
	bool stop;
	size_t i;

	if (row->index == 1) {
		/* The columns must still be those checked in the first pass. */
		bool same = row->n == im->hdr->n;

		for (i = 0; same && i < row->n; i++)
			same = row->len[i] == im->hdr->len[i] &&
			    memcmp(row->field[i], im->hdr->field[i],
			        row->len[i]) == 0;
		return same
		    ? CS_OK
		    : cs_err_set(err, CS_ERR_CONFLICT,
		          "'%.100s' changed during the import", im->file);
	}
	for (;;) {
		rc = imp_retire(im, err);
		if (rc != CS_OK)
			return rc;
		imp_draw(im, false);
		pthread_mutex_lock(&im->mu);
		stop = im->stop;
		pthread_mutex_unlock(&im->mu);
		if (stop)
			return cs_err_set(err, CS_ERR_CONFLICT, "stopped");
		if (im->tail - im->head < im->nslots)
			break;
		imp_wait(im);
	}
	/* The slot at tail is no worker's until tail moves on. */
	s = &im->slots[im->tail % im->nslots];
	s->row = row->index - 1;
	s->n = row->n;
	s->used = 0;
	s->reason[0] = '\0';
	for (i = 0; i < row->n; i++) {
		s->off[i] = s->used;
		s->len[i] = row->len[i];
		memcpy(s->data + s->used, row->field[i], row->len[i] + 1);
		s->used += row->len[i] + 1;
	}
	pthread_mutex_lock(&im->mu);
	im->tail++;
	pthread_cond_signal(&im->work);
	pthread_mutex_unlock(&im->mu);
	return CS_OK;
}

static void
imp_summary(struct imp *im, const char *rejects, unsigned jobs)
{
	double secs = (double)(cs_now_ns() - im->t0) / 1e9;
	uint64_t done = im->issued + im->replayed + im->rejected;
	double rate = secs > 0 ? (double)done / secs : 0;
	uint64_t left = im->total - done;

	if (im->progress)
		fputs("\r\033[K", stderr);
	if (im->ctx->json) {
		admin_print_json(json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:f,s:f,"
		                           "s:i,s:s,s:s}",
		    "file", im->file, "rows", (json_int_t)im->total, "issued",
		    (json_int_t)im->issued, "already_imported",
		    (json_int_t)im->replayed, "rejected",
		    (json_int_t)im->rejected, "not_processed", (json_int_t)left,
		    "seconds", round(secs * 1000) / 1000, "rows_per_second",
		    round(rate * 10) / 10, "jobs", (int)jobs, "rejects_file",
		    rejects, "key_prefix", im->key_prefix));
		fflush(stdout);
		return;
	}
	printf("%s: %llu rows: %llu issued, %llu already imported, %llu "
	       "rejected",
	    im->file, (unsigned long long)im->total,
	    (unsigned long long)im->issued, (unsigned long long)im->replayed,
	    (unsigned long long)im->rejected);
	if (left > 0)
		printf(", %llu not processed", (unsigned long long)left);
	printf("\ntime %.1f s, %.0f rows/s (%u jobs)\n", secs, rate, jobs);
	if (im->rejected > 0)
		printf("rejected rows and reasons: %s\n", rejects);
	fflush(stdout);
}

static enum cs_rc
imp_keep_header(void *arg, const struct csv_row *row, struct cs_err *err)
{
	struct imp_hdr *h = arg;
	enum cs_rc rc;
	size_t i;

	rc = imp_scan_row(h->im, row, err);
	if (rc != CS_OK || row->index != 1)
		return rc;
	for (i = 0; rc == CS_OK && i < row->n; i++)
		rc = buf_append(h->names, row->field[i], row->len[i] + 1);
	if (rc != CS_OK)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	h->n = row->n;
	memcpy(h->len, row->len, row->n * sizeof(row->len[0]));
	return CS_OK;
}

/* Open the rejects file (as path.tmp until the end) and write its header. */
static enum cs_rc
imp_rejects_open(struct imp *im, const char *tmp, const struct imp_hdr *hdr,
    struct cs_err *err)
{
	enum cs_rc rc = CS_OK;
	bool first = true;
	size_t i;
	int fd;

	fd = open(
	    tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || (im->rej = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			close(fd);
		return cs_err_set(err, CS_ERR_IO, "cannot create '%s': %s", tmp,
		    strerror(errno));
	}
	im->line->len = 0;
	for (i = 0; rc == CS_OK && i < hdr->n; i++) {
		if (im->cols[i].kind == IMP_IGNORED)
			continue;
		rc = csv_append_field(
		    im->line, hdr->field[i], hdr->len[i], first);
		first = false;
	}
	if (rc == CS_OK)
		rc = csv_append_field(im->line, "reason", 6, first);
	if (rc == CS_OK)
		rc = buf_append(im->line, "\r\n", 2);
	if (rc == CS_OK &&
	    fwrite(im->line->data, 1, im->line->len, im->rej) != im->line->len)
		rc = cs_err_set(err, CS_ERR_IO, "cannot write '%s': %s", tmp,
		    strerror(errno));
	return rc;
}

/* Wait until every row a worker took is retired (and, unless stopped, all). */
static enum cs_rc
imp_drain(struct imp *im, struct cs_err *err)
{
	enum cs_rc rc = CS_OK;
	bool finished;

	for (;;) {
		if (rc == CS_OK && imp_retire(im, err) != CS_OK) {
			rc = CS_ERR_IO; /* no rejects file: stop the import */
			pthread_mutex_lock(&im->mu);
			im->stop = true;
			pthread_cond_broadcast(&im->work);
			pthread_mutex_unlock(&im->mu);
		} else if (rc != CS_OK) {
			imp_retire(im, NULL);
		}
		imp_draw(im, false);
		pthread_mutex_lock(&im->mu);
		finished =
		    im->head == im->take && (im->stop || im->take == im->tail);
		pthread_mutex_unlock(&im->mu);
		if (finished)
			return rc;
		imp_wait(im);
	}
}

/* Close the rejects file and move it into place. */
static enum cs_rc
imp_rejects_close(
    struct imp *im, const char *tmp, const char *path, struct cs_err *err)
{
	bool ok;

	if (im->rej == NULL)
		return CS_OK;
	ok = fflush(im->rej) == 0 && fsync(fileno(im->rej)) == 0;
	ok = fclose(im->rej) == 0 && ok;
	im->rej = NULL;
	if (!ok || rename(tmp, path) != 0)
		return cs_err_set(err, CS_ERR_IO, "cannot write '%s': %s", path,
		    strerror(errno));
	return CS_OK;
}

int
admin_licence_import(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"csv", required_argument, NULL, 'c'},
	    {"dept", required_argument, NULL, 'd'},
	    {"type", required_argument, NULL, 't'},
	    {"rejects", required_argument, NULL, 'r'},
	    {"jobs", required_argument, NULL, 'j'},
	    ADMIN_COMMON_OPTIONS,
	};
	const char *dept = NULL, *type = NULL, *rejarg = NULL;
	char rejects[PATH_MAX], tmp[PATH_MAX + 8], mdhex[65];
	unsigned char md1[32], md2[32];
	pthread_t th[IMP_JOBS_MAX];
	struct seal_signer *seal = NULL;
	struct cs_err err = {0}, perr = {0};
	struct imp_hdr hdr;
	struct imp im;
	enum cs_rc rc;
	struct stat st;
	long long jobs = 0;
	unsigned nth = 0, i;
	bool sync_ok = false;
	size_t off;
	int ch, ret, fd = -1;
	long cores;

	memset(&im, 0, sizeof(im));
	memset(&hdr, 0, sizeof(hdr));
	im.ctx = ctx;
	hdr.im = &im;
	im.hdr = &hdr;
	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE) {
		if (ch == 'c')
			im.file = optarg;
		else if (ch == 'd')
			dept = optarg;
		else if (ch == 't')
			type = optarg;
		else if (ch == 'r')
			rejarg = optarg;
		else if (ch == 'j' &&
		    !cs_parse_ll(optarg, 1, IMP_JOBS_MAX, &jobs))
			return admin_usage_error(
			    ctx, "--jobs must be 1 to %d", IMP_JOBS_MAX);
	}
	if (ret != -1)
		return ret;
	if (im.file == NULL || dept == NULL || type == NULL)
		return admin_usage_error(
		    ctx, "--csv, --dept and --type are required");
	if (jobs == 0) {
		/*
		 * Workers mostly wait (on the token and on the commit), and
		 * issuances that reach the store together share one commit
		 * (group commit, docs/store.md): more workers than cores keep
		 * a batch queued while one is written.
		 */
		cores = sysconf(_SC_NPROCESSORS_ONLN);
		jobs = cores < 1 ? IMP_JOBS_PER_CORE
		    : cores * IMP_JOBS_PER_CORE > IMP_JOBS_MAX
		    ? IMP_JOBS_MAX
		    : cores * IMP_JOBS_PER_CORE;
	}
	if (snprintf(rejects, sizeof(rejects), "%s%s",
	        rejarg != NULL ? rejarg : im.file,
	        rejarg != NULL ? "" : ".rejects.csv") >= (int)sizeof(rejects))
		return admin_usage_error(ctx, "rejects file path too long");
	snprintf(tmp, sizeof(tmp), "%s.tmp", rejects);

	fd = open(im.file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cs_err_set(&err, errno == ENOENT ? CS_ERR_NOT_FOUND : CS_ERR_IO,
		    "cannot open '%.200s': %s", im.file, strerror(errno));
		return admin_fail(ctx, &err);
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > IMP_FILE_MAX) {
		cs_err_set(&err, CS_ERR_INVALID,
		    "'%.200s' must be a regular file of at most 1 GiB",
		    im.file);
		close(fd);
		return admin_fail(ctx, &err);
	}
	{
		struct stat rst;

		if (stat(rejects, &rst) == 0 && rst.st_dev == st.st_dev &&
		    rst.st_ino == st.st_ino) {
			close(fd);
			return admin_usage_error(
			    ctx, "the rejects file must not be the CSV file");
		}
	}
	ret = admin_open(ctx, SVC_OPEN_ALL, &im.svc);
	if (ret != ADMIN_EXIT_OK) {
		close(fd);
		return ret;
	}
	im.t0 = cs_now_ns();
	im.md = EVP_MD_CTX_new();
	im.line = buf_new(1024);
	hdr.names = buf_new(1024);
	if (im.md == NULL || im.line == NULL || hdr.names == NULL) {
		cs_err_set(&err, CS_ERR_NOMEM, "out of memory");
		goto fail;
	}

	/* Up front: the department, the type, the entitlement, the file. */
	if (admin_issuer(im.svc, dept, &im.p, &err) != CS_OK)
		goto fail;
	rc = ltype_load(im.svc, type, &im.lt, &err);
	if (rc == CS_ERR_NOT_FOUND || rc == CS_ERR_INVALID)
		cs_err_set(&err, CS_ERR_NOT_FOUND,
		    "no licence type '%.40s' (see 'certsvc-admin type list')",
		    type);
	if (rc != CS_OK)
		goto fail;
	for (off = 0; off < im.lt->nfields * IMP_NFIXED; off++)
		if (strcmp(im.lt->fields[off / IMP_NFIXED].name,
		        imp_fixed[off % IMP_NFIXED].name) == 0) {
			cs_err_set(&err, CS_ERR_INVALID,
			    "type '%s' has a field named '%s' like a holder or "
			    "validity column: import cannot tell them apart",
			    im.lt->code, imp_fixed[off % IMP_NFIXED].name);
			goto fail;
		}
	{
		bool allowed = false;

		if (store_ltype_dept_allowed(im.svc->store, im.lt->code,
		        im.p.dept, &allowed, &err) != CS_OK)
			goto fail;
		if (!allowed) {
			cs_err_set(&err, CS_ERR_DENIED,
			    "department '%s' may not issue licences of type "
			    "'%s'",
			    im.p.dept, im.lt->code);
			goto fail;
		}
	}
	if (imp_pass(&im, fd, imp_keep_header, &hdr, md1, &err) != CS_OK) {
		cs_err_set(&perr, err.rc, "'%.100s': %s", im.file, err.msg);
		err = perr;
		goto fail;
	}
	for (i = 0, off = 0; i < hdr.n; i++) {
		hdr.field[i] = (char *)hdr.names->data + off;
		off += hdr.len[i] + 1;
	}
	/* Rows without a seal use the department's: it must have one. */
	if (!im.has_seal_col &&
	    seal_signer_get(im.svc, NULL, im.p.dept, &seal, &err) != CS_OK)
		goto fail;
	cs_hex(md1, sizeof(md1), mdhex);
	snprintf(im.key_prefix, sizeof(im.key_prefix), "import:%.16s:", mdhex);

	/* The ring and the workers. */
	im.nslots = (size_t)jobs * IMP_SLOTS_PER_JOB;
	if (im.nslots > IMP_SLOTS_MAX)
		im.nslots = IMP_SLOTS_MAX;
	im.slots = calloc(im.nslots, sizeof(*im.slots));
	for (i = 0; im.slots != NULL && i < im.nslots; i++)
		if ((im.slots[i].data = malloc(CSV_ROW_MAX + CSV_FIELDS_MAX)) ==
		    NULL)
			break;
	if (im.slots == NULL || i < im.nslots ||
	    pthread_mutex_init(&im.mu, NULL) != 0) {
		cs_err_set(&err, CS_ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (pthread_cond_init(&im.work, NULL) != 0 ||
	    pthread_cond_init(&im.done, NULL) != 0) {
		pthread_mutex_destroy(&im.mu);
		cs_err_set(&err, CS_ERR_NOMEM, "out of memory");
		goto fail;
	}
	sync_ok = true;
	if (imp_rejects_open(&im, tmp, &hdr, &err) != CS_OK)
		goto fail;
	im.progress = !ctx->json && isatty(STDERR_FILENO);
	for (nth = 0; nth < (unsigned)jobs; nth++)
		if (pthread_create(&th[nth], NULL, imp_worker, &im) != 0)
			break;
	if (nth == 0) {
		cs_err_set(&err, CS_ERR_NOMEM, "cannot start a worker thread");
		goto fail;
	}

	/* Second pass: rows to the workers, then wait for the last ones. */
	rc = imp_pass(&im, fd, imp_queue_row, &im, md2, &err);
	pthread_mutex_lock(&im.mu);
	im.eof = true;
	if (rc != CS_OK && !im.stop) {
		im.stop = true; /* the main thread failed: no more rows */
		cs_strlcpy(perr.msg, err.msg, sizeof(perr.msg));
		perr.rc = err.rc;
	}
	pthread_cond_broadcast(&im.work);
	pthread_mutex_unlock(&im.mu);
	if (imp_drain(&im, &err) != CS_OK && perr.rc == CS_OK)
		perr = err;
	for (i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	nth = 0;
	if (imp_retire(&im, &err) != CS_OK && perr.rc == CS_OK)
		perr = err;
	imp_draw(&im, true);
	if (imp_rejects_close(&im, tmp, rejects, &err) != CS_OK &&
	    perr.rc == CS_OK)
		perr = err;
	if (perr.rc == CS_OK && im.fatal.rc == CS_OK &&
	    CRYPTO_memcmp(md1, md2, sizeof(md1)) != 0)
		cs_err_set(&perr, CS_ERR_CONFLICT,
		    "'%.100s' changed during the import", im.file);
	imp_summary(&im, rejects, (unsigned)jobs);
	if (im.fatal.rc != CS_OK) {
		cs_err_set(&err, im.fatal.rc,
		    "stopped: %.150s; the rows done are kept: run the same "
		    "import again to continue",
		    im.fatal.msg);
		goto fail;
	}
	if (perr.rc != CS_OK) {
		err = perr;
		goto fail;
	}
	ret = im.rejected > 0 ? ADMIN_EXIT_PARTIAL : ADMIN_EXIT_OK;
	goto out;
fail:
	ret = admin_fail(ctx, &err);
out:
	if (nth > 0) {
		pthread_mutex_lock(&im.mu);
		im.stop = im.eof = true;
		pthread_cond_broadcast(&im.work);
		pthread_mutex_unlock(&im.mu);
		for (i = 0; i < nth; i++)
			pthread_join(th[i], NULL);
	}
	if (im.rej != NULL) {
		fclose(im.rej);
		unlink(tmp);
	}
	if (sync_ok) {
		pthread_cond_destroy(&im.work);
		pthread_cond_destroy(&im.done);
		pthread_mutex_destroy(&im.mu);
	}
	for (i = 0; im.slots != NULL && i < im.nslots; i++)
		if (im.slots[i].data != NULL)
			OPENSSL_clear_free(
			    im.slots[i].data, CSV_ROW_MAX + CSV_FIELDS_MAX);
	free(im.slots);
	seal_signer_free(seal);
	ltype_free(im.lt);
	buf_free(hdr.names);
	buf_free(im.line);
	EVP_MD_CTX_free(im.md);
	svc_free(im.svc);
	close(fd);
	return ret;
}
