/*
 * admin_audit.c: certsvc-admin audit verify|checkpoint|export (issue #7).
 * verify exits 0 only when the chain and every checkpoint hold, else 1
 * with the first broken sequence number; a third party's exported
 * checkpoint (--from-checkpoint) shows a truncated or rewritten tail.
 *
 * export --holder: the trail never holds a holder's identifier, only its
 * keyed hash (holder_ref_make, in the issuance event's detail).  An
 * investigator who knows the identifier computes the same hash here and
 * gets every event about that holder: those carrying the ref, those on
 * the holder's licences (any version) and the objects they touched, and
 * those the holder's own clients made.  The identifier itself is wiped
 * from memory (and from argv) once hashed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "certsvc/audit.h"
#include "certsvc/client.h"
#include "certsvc/licence.h"
#include "certsvc/mem.h"
#include "tools/admin.h"

#define AUDIT_EXPORT_FILE_MAX (1 << 20)

int
admin_audit_verify(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"from-checkpoint", required_argument, NULL, 'f'},
	    ADMIN_COMMON_OPTIONS,
	};
	struct audit_verify_result res;
	struct cs_err err = {0};
	struct svc *svc = NULL;
	struct buf *file = NULL;
	const char *from = NULL;
	int ch, ret;

	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE)
		if (ch == 'f')
			from = optarg;
	if (ret != -1)
		return ret;
	if (from != NULL &&
	    cs_file_read(from, AUDIT_EXPORT_FILE_MAX, &file, &err) != CS_OK)
		return admin_fail(ctx, &err);
	ret = admin_open(ctx, SVC_OPEN_STORE, &svc);
	if (ret != ADMIN_EXIT_OK)
		goto out;
	if (audit_verify(svc, file != NULL ? file->data : NULL,
	        file != NULL ? file->len : 0, &res, &err) != CS_OK) {
		ret = admin_fail(ctx, &err);
		goto out;
	}
	ret = res.bad_seq == 0 ? ADMIN_EXIT_OK : ADMIN_EXIT_FAIL;
	if (ctx->json) {
		admin_print_json(json_pack("{s:b,s:I,s:I,s:I,s:I,s:s,s:o}",
		    "ok", res.bad_seq == 0, "events", (json_int_t)res.events,
		    "last_seq", (json_int_t)res.last_seq, "bad_seq",
		    (json_int_t)res.bad_seq, "checkpoints",
		    (json_int_t)res.checkpoints, "reason", res.reason,
		    "exported_seq",
		    res.exported ? json_integer(res.exported_seq)
		                 : json_null()));
	} else if (res.bad_seq == 0) {
		printf("audit trail intact: %lld events (last %lld), %lld "
		       "signed checkpoint%s hold%s",
		    (long long)res.events, (long long)res.last_seq,
		    (long long)res.checkpoints, res.checkpoints == 1 ? "" : "s",
		    res.checkpoints == 1 ? "s" : "");
		if (res.exported)
			printf(", and the exported checkpoint at event %lld",
			    (long long)res.exported_seq);
		printf("\n");
	} else {
		fprintf(stderr,
		    "certsvc-admin %s: audit trail broken at event %lld: %s\n",
		    ctx->cmd, (long long)res.bad_seq, res.reason);
	}
out:
	buf_free(file);
	svc_free(svc);
	return ret;
}

int
admin_audit_checkpoint(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"export", required_argument, NULL, 'e'},
	    ADMIN_COMMON_OPTIONS,
	};
	struct store_checkpoint cp;
	struct cs_err err = {0};
	struct svc *svc = NULL;
	const char *exp = NULL;
	char *text = NULL;
	json_t *obj = NULL;
	bool made = false;
	int ch, ret;

	memset(&cp, 0, sizeof(cp));
	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE)
		if (ch == 'e')
			exp = optarg;
	if (ret != -1)
		return ret;
	ret = admin_open(ctx, SVC_OPEN_ALL, &svc);
	if (ret != ADMIN_EXIT_OK)
		return ret;
	if (audit_checkpoint(svc, &cp, &made, &err) != CS_OK) {
		ret = admin_fail(ctx, &err);
		goto out;
	}
	if (exp != NULL) {
		obj = audit_checkpoint_export(&cp);
		text = obj != NULL ? json_dumps(obj, JSON_INDENT(2)) : NULL;
		if (text == NULL) {
			cs_err_set(&err, CS_ERR_NOMEM, "out of memory");
			ret = admin_fail(ctx, &err);
			goto out;
		}
		if (cs_file_write(exp, text, strlen(text), 0644, false, &err) !=
		    CS_OK) {
			ret = admin_fail(ctx, &err);
			goto out;
		}
	}
	if (ctx->json)
		admin_print_json(
		    json_pack("{s:I,s:b,s:s}", "seq", (json_int_t)cp.seq, "new",
		        made, "certificate", cp.cert_serial));
	else
		printf("%s checkpoint at event %lld%s%s\n",
		    made ? "signed a new" : "the newest", (long long)cp.seq,
		    exp != NULL ? ", exported to " : "",
		    exp != NULL ? exp : "");
out:
	free(text);
	json_decref(obj);
	store_checkpoint_release(&cp);
	svc_free(svc);
	return ret;
}

/* A growing set of strings (a holder's licences, clients, objects). */
struct strset {
	char **v;
	size_t n, cap;
	bool nomem;
};

static bool
strset_has(const struct strset *s, const char *x)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->v[i], x) == 0)
			return true;
	return false;
}

static void
strset_add(struct strset *s, const char *x)
{
	char **grown;

	if (x[0] == '\0' || strset_has(s, x))
		return;
	if (s->n == s->cap) {
		grown = reallocarray(
		    s->v, s->cap == 0 ? 16 : s->cap * 2, sizeof(*grown));
		if (grown == NULL) {
			s->nomem = true;
			return;
		}
		s->v = grown;
		s->cap = s->cap == 0 ? 16 : s->cap * 2;
	}
	s->v[s->n] = strdup(x);
	if (s->v[s->n] == NULL)
		s->nomem = true;
	else
		s->n++;
}

static void
strset_free(struct strset *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* "licence:ID/VERSION" -> "ID" into out; false for another object. */
static bool
licence_of(const char *object, char *out, size_t outsz)
{
	const char *p = object + strlen("licence:"), *slash;

	if (strncmp(object, "licence:", strlen("licence:")) != 0)
		return false;
	slash = strchr(p, '/');
	if (slash == NULL)
		slash = p + strlen(p);
	if ((size_t)(slash - p) >= outsz)
		return false;
	memcpy(out, p, (size_t)(slash - p));
	out[slash - p] = '\0';
	return true;
}

struct export_filter {
	int64_t since, until; /* Unix seconds, 0: open */
	const char *actor;
	const char *object; /* prefix */
	/* --holder: the ref, and what the trail shows the holder owns. */
	const char *holder_ref;
	struct strset licences, clients, objects;
	FILE *out;
	int64_t n;
	bool failed;
};

/* Is row about the holder of f->holder_ref?  Learns its objects. */
static bool
export_holder_match(struct export_filter *f, const struct store_audit_row *row,
    const json_t *detail)
{
	char lic[STORE_URI_MAX];
	const char *ref, *lid;
	bool match = false;

	ref = json_string_value(json_object_get(detail, "holder_ref"));
	if (ref != NULL && strcmp(ref, f->holder_ref) == 0)
		match = true;
	if (licence_of(row->object, lic, sizeof(lic)) &&
	    strset_has(&f->licences, lic))
		match = true;
	/* Codes and usage name the licence in their detail. */
	lid = json_string_value(json_object_get(detail, "licence_id"));
	if (lid != NULL && strset_has(&f->licences, lid))
		match = true;
	if (strset_has(&f->clients, row->actor) ||
	    strset_has(&f->objects, row->object))
		match = true;
	if (strncmp(row->object, "client:", 7) == 0 &&
	    strset_has(&f->clients, row->object + 7))
		match = true;
	if (!match)
		return false;
	/* Later events on the same licence or object are the holder's too. */
	if (licence_of(row->object, lic, sizeof(lic)))
		strset_add(&f->licences, lic);
	else
		strset_add(&f->objects, row->object);
	return true;
}

static bool
export_row(void *arg, const struct store_audit_row *row)
{
	struct export_filter *f = arg;
	char prev[2 * STORE_HASH_LEN + 1], hash[2 * STORE_HASH_LEN + 1];
	json_t *obj, *detail = NULL;
	char *line;

	if ((f->since > 0 && row->time < f->since) ||
	    (f->until > 0 && row->time >= f->until) ||
	    (f->actor != NULL && strcmp(row->actor, f->actor) != 0) ||
	    (f->object != NULL &&
	        strncmp(row->object, f->object, strlen(f->object)) != 0))
		return true;
	if (row->detail != NULL)
		detail = json_loadb(
		    (const char *)row->detail->data, row->detail->len, 0, NULL);
	if (f->holder_ref != NULL && !export_holder_match(f, row, detail)) {
		json_decref(detail);
		return !f->licences.nomem && !f->objects.nomem;
	}
	cs_hex(row->prev_hash, STORE_HASH_LEN, prev);
	cs_hex(row->hash, STORE_HASH_LEN, hash);
	obj = json_pack("{s:I,s:I,s:s,s:s,s:s,s:s,s:s?,s:o?,s:s,s:s}", "seq",
	    (json_int_t)row->seq, "time", (json_int_t)row->time, "actor",
	    row->actor, "action", row->action, "object", row->object, "outcome",
	    row->outcome, "request_id",
	    row->request_id[0] != '\0' ? row->request_id : NULL, "detail",
	    detail, "prev_hash", prev, "hash", hash);
	line = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	if (line == NULL || fprintf(f->out, "%s\n", line) < 0) {
		free(line);
		f->failed = true;
		return false;
	}
	free(line);
	f->n++;
	return true;
}

/* "YYYY-MM-DD" (China Standard Time, like licences) to Unix seconds. */
static bool
export_date(const char *s, int64_t *t)
{
	int64_t days;

	if (!licence_date_parse(s, &days))
		return false;
	*t = days * 86400 - 8 * 3600;
	return true;
}

/*
 * The ref of "ID_TYPE:ID_NUMBER" (or "-": that line read from stdin),
 * into ref.  arg is wiped: the identifier leaves no copy in argv.
 */
static enum cs_rc
export_holder_ref(
    struct svc *svc, char *arg, char *ref, size_t refsz, struct cs_err *err)
{
	char line[160], *colon, *src = arg;
	enum cs_rc rc;

	if (strcmp(arg, "-") == 0) {
		if (fgets(line, sizeof(line), stdin) == NULL)
			return cs_err_set(err, CS_ERR_INVALID,
			    "--holder -: no ID_TYPE:ID_NUMBER on stdin");
		line[strcspn(line, "\r\n")] = '\0';
		src = line;
	}
	colon = strchr(src, ':');
	if (colon == NULL) {
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "--holder must be ID_TYPE:ID_NUMBER (e.g. "
		    "resident_id:...)");
	} else {
		*colon = '\0';
		rc = holder_ref_make(svc, src, colon + 1, ref, refsz, err);
	}
	OPENSSL_cleanse(line, sizeof(line));
	OPENSSL_cleanse(arg, strlen(arg));
	return rc;
}

/* What the store says the holder owns: licences and clients. */
static enum cs_rc
export_holder_seed(struct svc *svc, struct export_filter *f, struct cs_err *err)
{
	struct store_licence *lic = NULL;
	struct store_client *cl = NULL;
	size_t n = 0, i;
	enum cs_rc rc;

	rc = store_licence_list(
	    svc->store, f->holder_ref, NULL, 0, &lic, &n, err);
	for (i = 0; rc == CS_OK && i < n; i++)
		strset_add(&f->licences, lic[i].id);
	free(lic);
	if (rc != CS_OK)
		return rc;
	rc = store_client_list(svc->store, &cl, &n, err);
	for (i = 0; rc == CS_OK && i < n; i++)
		if (strcmp(cl[i].holder_ref, f->holder_ref) == 0)
			strset_add(&f->clients, cl[i].id);
	if (cl != NULL)
		OPENSSL_clear_free(cl, n * sizeof(*cl));
	if (rc == CS_OK && (f->licences.nomem || f->clients.nomem))
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	return rc;
}

int
admin_audit_export(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"since", required_argument, NULL, 's'},
	    {"until", required_argument, NULL, 'u'},
	    {"actor", required_argument, NULL, 'a'},
	    {"object", required_argument, NULL, 'o'},
	    {"out", required_argument, NULL, 'O'},
	    {"holder", required_argument, NULL, 'H'},
	    {"holder-ref", required_argument, NULL, 'R'},
	    ADMIN_COMMON_OPTIONS,
	};
	char ref[2 * STORE_HASH_LEN + 8];
	struct export_filter f;
	struct cs_err err = {0};
	struct svc *svc = NULL;
	const char *out = NULL;
	char *holder = NULL;
	int ch, ret;

	memset(&f, 0, sizeof(f));
	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE) {
		if (ch == 's' && !export_date(optarg, &f.since))
			return admin_usage_error(
			    ctx, "--since must be a date YYYY-MM-DD");
		if (ch == 'u' && !export_date(optarg, &f.until))
			return admin_usage_error(
			    ctx, "--until must be a date YYYY-MM-DD");
		if (ch == 'u')
			f.until += 86400; /* the whole day */
		if (ch == 'a')
			f.actor = optarg;
		if (ch == 'o')
			f.object = optarg;
		if (ch == 'O')
			out = optarg;
		if (ch == 'H')
			holder = optarg;
		if (ch == 'R' &&
		    (strlen(optarg) != 2 * STORE_HASH_LEN ||
		        strspn(optarg, "0123456789abcdef") !=
		            2 * STORE_HASH_LEN))
			return admin_usage_error(ctx,
			    "--holder-ref must be 64 lower-case hex digits");
		if (ch == 'R')
			f.holder_ref = optarg;
	}
	if (ret != -1)
		return ret;
	if (holder != NULL && f.holder_ref != NULL)
		return admin_usage_error(
		    ctx, "--holder and --holder-ref exclude each other");
	ret = admin_open(ctx, SVC_OPEN_STORE, &svc);
	if (ret != ADMIN_EXIT_OK)
		return ret;
	if (holder != NULL) {
		if (export_holder_ref(svc, holder, ref, sizeof(ref), &err) !=
		    CS_OK) {
			svc_free(svc);
			return admin_fail(ctx, &err);
		}
		f.holder_ref = ref;
	}
	if (f.holder_ref != NULL &&
	    export_holder_seed(svc, &f, &err) != CS_OK) {
		ret = admin_fail(ctx, &err);
		goto out_free;
	}
	f.out = out != NULL ? fopen(out, "w") : stdout;
	if (f.out == NULL) {
		cs_err_set(&err, CS_ERR_INVALID, "cannot write '%s'", out);
		fprintf(stderr, "certsvc-admin %s: %s\n", ctx->cmd, err.msg);
		ret = ADMIN_EXIT_IO;
		goto out_free;
	}
	if (store_audit_scan(svc->store, 1, export_row, &f, &err) != CS_OK) {
		ret = admin_fail(ctx, &err);
	} else if (f.licences.nomem || f.objects.nomem) {
		cs_err_set(&err, CS_ERR_NOMEM, "out of memory");
		ret = admin_fail(ctx, &err);
	} else if (f.failed) {
		ret = ADMIN_EXIT_IO;
	}
	if (out != NULL && fclose(f.out) != 0)
		ret = ADMIN_EXIT_IO;
	if (ret == ADMIN_EXIT_OK && out != NULL)
		fprintf(stderr, "exported %lld events to %s\n", (long long)f.n,
		    out);
out_free:
	strset_free(&f.licences);
	strset_free(&f.clients);
	strset_free(&f.objects);
	OPENSSL_cleanse(ref, sizeof(ref));
	svc_free(svc);
	return ret;
}
