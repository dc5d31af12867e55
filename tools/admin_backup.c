/*
 * admin_backup.c: certsvc-admin backup and restore (issue #9,
 * docs/operations.md).
 *
 * A backup is a directory: the database copied with SQLite's online backup
 * API while certsvcd runs (one snapshot), certsvc.conf, holder-key (without
 * it holder tokens no longer find their holders), the CA certificates and,
 * when the module is SoftHSM2, softhsm2.conf and the token directory, and
 * tls_cert when it is inside the data dir.  manifest.json, written last, names
 * every file with its size and SHA-256: a directory without it is not a backup.
 * The PIN, the SO PIN, the demo tokens and tls_key are secrets and are left out
 * unless --include-secrets: the token files are encrypted under the PIN, so a
 * backup holding both is as good as the token itself.
 *
 * A restore checks every file against the manifest before it writes
 * anything, copies into a new or empty data dir (never over one), checks
 * each file again while copying it, points the restored configuration at
 * the new dir and records the restore in the restored audit trail, in the
 * transaction that moves every serial counter ahead: the licences issued
 * after the backup are not in it, and their identifiers must not be given
 * to others.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "certsvc/backup.h"
#include "certsvc/mem.h"
#include "tools/admin.h"
#include "tools/admin_backup.h"

#define BK_FILES_MAX 100000
#define BK_DEPTH_MAX 4
#define BK_MANIFEST_MAX (64 << 20)
#define BK_DRAW_NS 100000000ULL /* redraw progress at most 10/s */
#define BK_IO_SIZE 65536
/*
 * Serial numbers skipped after a restore: more licences than one type and
 * department issue between two backups, and still room for 99 999 restores.
 */
#define BK_SERIAL_SKIP 1000000

/* One file of a backup: where it is, where it goes, what it holds. */
struct bk_file {
	char src[PATH_MAX];
	char rel[PATH_MAX]; /* path inside the backup */
	int64_t size;
	char sha256[2 * EVP_MAX_MD_SIZE + 1];
};

struct bk_list {
	struct bk_file *v;
	size_t n, cap;
};

struct bk_progress {
	bool on; /* a terminal and not --json */
	uint64_t drawn;
	int64_t done, total;
	const char *verb;
};

static void
bk_draw(struct bk_progress *p, const char *what, bool force)
{
	uint64_t now = cs_now_ns();
	char bar[21];
	int64_t fill;
	int i;

	if (!p->on || (!force && now - p->drawn < BK_DRAW_NS))
		return;
	p->drawn = now;
	fill = p->total > 0 ? 20 * p->done / p->total : 20;
	for (i = 0; i < 20; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[20] = '\0';
	fprintf(stderr, "\r%s [%s] %.1f/%.1f MiB  %.40s\033[K", p->verb, bar,
	    (double)p->done / 1048576.0, (double)p->total / 1048576.0, what);
	fflush(stderr);
}

static void
bk_draw_end(struct bk_progress *p)
{
	if (p->on)
		fputs("\r\033[K", stderr);
}

/* The database copy's progress, in pages, drawn on the byte bar. */
struct bk_db_progress {
	struct bk_progress *p;
	int64_t base, size;
};

static void
bk_db_step(void *arg, int64_t done, int64_t total)
{
	struct bk_db_progress *d = arg;

	d->p->done = d->base + (total > 0 ? d->size * done / total : 0);
	bk_draw(d->p, "database", false);
}

static enum cs_rc
bk_add(struct bk_list *l, const char *src, const char *rel, struct cs_err *err)
{
	struct bk_file *v;
	size_t cap;

	if (l->n == l->cap) {
		if (l->cap >= BK_FILES_MAX)
			return cs_err_set(err, CS_ERR_INVALID,
			    "more than %d files", BK_FILES_MAX);
		cap = l->cap == 0 ? 32 : 2 * l->cap;
		v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL)
			return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		l->v = v;
		l->cap = cap;
	}
	memset(&l->v[l->n], 0, sizeof(l->v[l->n]));
	if (!cs_strlcpy(l->v[l->n].src, src, sizeof(l->v[l->n].src)) ||
	    !cs_strlcpy(l->v[l->n].rel, rel, sizeof(l->v[l->n].rel)))
		return cs_err_set(err, CS_ERR_INVALID, "path too long");
	l->n++;
	return CS_OK;
}

static int
bk_join(char *out, size_t outsz, const char *dir, const char *name)
{
	return snprintf(out, outsz, "%s/%s", dir, name) < (int)outsz;
}

/* Add path as rel when it is a regular file; missing is fine. */
static enum cs_rc
bk_add_if(
    struct bk_list *l, const char *path, const char *rel, struct cs_err *err)
{
	struct stat sb;

	if (lstat(path, &sb) != 0)
		return errno == ENOENT
		    ? CS_OK
		    : cs_err_set(err, CS_ERR_IO, "cannot read '%s': %s", path,
		          strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return cs_err_set(
		    err, CS_ERR_IO, "'%s' is not a regular file", path);
	return bk_add(l, path, rel, err);
}

/* Every regular file under dir, as rel/...; symbolic links refused. */
static enum cs_rc
bk_add_tree(struct bk_list *l, const char *dir, const char *rel, int depth,
    struct cs_err *err)
{
	char path[PATH_MAX], sub[PATH_MAX];
	struct dirent *de;
	struct stat sb;
	enum cs_rc rc = CS_OK;
	DIR *d;

	if (depth > BK_DEPTH_MAX)
		return cs_err_set(
		    err, CS_ERR_INVALID, "'%s' is nested too deep", dir);
	d = opendir(dir);
	if (d == NULL)
		return cs_err_set(err, CS_ERR_IO, "cannot read '%s': %s", dir,
		    strerror(errno));
	while (rc == CS_OK && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (!bk_join(path, sizeof(path), dir, de->d_name) ||
		    !bk_join(sub, sizeof(sub), rel, de->d_name)) {
			rc = cs_err_set(err, CS_ERR_INVALID, "path too long");
			break;
		}
		if (lstat(path, &sb) != 0)
			rc = cs_err_set(err, CS_ERR_IO, "cannot read '%s': %s",
			    path, strerror(errno));
		else if (S_ISDIR(sb.st_mode))
			rc = bk_add_tree(l, path, sub, depth + 1, err);
		else if (S_ISREG(sb.st_mode))
			rc = bk_add(l, path, sub, err);
		else
			rc = cs_err_set(err, CS_ERR_IO,
			    "'%s' is not a regular file or directory", path);
	}
	closedir(d);
	return rc;
}

/* The token directory named by a softhsm2.conf, into out. */
static enum cs_rc
bk_softhsm_tokendir(
    const char *conf, char *out, size_t outsz, struct cs_err *err)
{
	static const char key[] = "directories.tokendir";
	struct buf *b = NULL;
	char *line, *next, *v, *end;
	enum cs_rc rc;

	rc = cs_file_read(conf, 1 << 20, &b, err);
	if (rc != CS_OK)
		return rc;
	rc = cs_err_set(err, CS_ERR_INVALID, "'%s' names no %s", conf, key);
	for (line = (char *)b->data; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		line += strspn(line, " \t");
		if (strncmp(line, key, sizeof(key) - 1) != 0)
			continue;
		v = line + sizeof(key) - 1;
		v += strspn(v, " \t");
		if (*v != '=')
			continue;
		v++;
		v += strspn(v, " \t");
		end = v + strlen(v);
		while (end > v && strchr(" \t\r", end[-1]) != NULL)
			*--end = '\0';
		if (*v != '/')
			rc = cs_err_set(err, CS_ERR_INVALID,
			    "%s in '%s' is not an absolute path", key, conf);
		else if (!cs_strlcpy(out, v, outsz))
			rc = cs_err_set(err, CS_ERR_INVALID, "path too long");
		else
			rc = CS_OK;
		break;
	}
	if (rc == CS_OK)
		cs_err_clear(err);
	buf_free(b);
	return rc;
}

/*
 * path (may be "") when it lies inside dir, under its path there: a file
 * outside the data dir is the operator's to back up (docs/operations.md).
 */
static enum cs_rc
bk_add_inside(
    struct bk_list *l, const char *dir, const char *path, struct cs_err *err)
{
	size_t n = strlen(dir);

	if (path[0] == '\0' || strncmp(path, dir, n) != 0 || path[n] != '/')
		return CS_OK;
	return bk_add_if(l, path, path + n + 1, err);
}

/* What a data dir's backup holds besides the database (see the top). */
static enum cs_rc
bk_collect(const struct svc *svc, bool secrets, bool *softhsm,
    struct bk_list *l, struct cs_err *err)
{
	const struct cfg *cfg = &svc->cfg;
	char path[PATH_MAX], tokdir[PATH_MAX];
	enum cs_rc rc;
	struct stat sb;

	*softhsm = false;
	rc = bk_add_if(l, cfg->path, "certsvc.conf", err);
	if (rc == CS_OK &&
	    bk_join(path, sizeof(path), cfg->data_dir, "holder-key"))
		rc = bk_add_if(l, path, "holder-key", err);
	if (rc == CS_OK && bk_join(path, sizeof(path), cfg->data_dir, "ca") &&
	    stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
		rc = bk_add_tree(l, path, "ca", 1, err);
	if (rc != CS_OK)
		return rc;
	if (strstr(cfg->module, "softhsm") != NULL &&
	    cfg->softhsm2_conf[0] != '\0' &&
	    access(cfg->softhsm2_conf, R_OK) == 0) {
		*softhsm = true;
		rc = bk_softhsm_tokendir(
		    cfg->softhsm2_conf, tokdir, sizeof(tokdir), err);
		if (rc == CS_OK)
			rc =
			    bk_add(l, cfg->softhsm2_conf, "softhsm2.conf", err);
		if (rc == CS_OK)
			rc = bk_add_tree(l, tokdir, "tokens", 1, err);
		if (rc != CS_OK)
			return rc;
	}
	rc = bk_add_inside(l, cfg->data_dir, cfg->tls_cert, err);
	if (rc != CS_OK || !secrets)
		return rc;
	rc = bk_add_inside(l, cfg->data_dir, cfg->tls_key, err);
	if (rc == CS_OK && cfg->pin_file[0] != '\0')
		rc = bk_add_if(l, cfg->pin_file, "pin", err);
	if (rc == CS_OK && bk_join(path, sizeof(path), cfg->data_dir, "so-pin"))
		rc = bk_add_if(l, path, "so-pin", err);
	if (rc == CS_OK &&
	    bk_join(path, sizeof(path), cfg->data_dir, "demo-tokens.json"))
		rc = bk_add_if(l, path, "demo-tokens.json", err);
	return rc;
}

/*
 * Copy src to dst (created 0600, must not exist; NULL: only read), hashing
 * what passes: f->sha256 and f->size are set.
 */
static enum cs_rc
bk_copy(struct bk_file *f, const char *src, const char *dst,
    struct bk_progress *p, struct cs_err *err)
{
	unsigned char md[EVP_MAX_MD_SIZE], *io = NULL;
	EVP_MD_CTX *h = NULL;
	unsigned mdlen = 0;
	enum cs_rc rc = CS_OK;
	int in = -1, out = -1;
	ssize_t n, w, off;

	f->size = 0;
	io = malloc(BK_IO_SIZE);
	h = EVP_MD_CTX_new();
	if (io == NULL || h == NULL ||
	    EVP_DigestInit_ex(h, EVP_sha256(), NULL) != 1) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0) {
		rc = cs_err_set(err, CS_ERR_IO, "cannot read '%s': %s", src,
		    strerror(errno));
		goto out;
	}
	if (dst != NULL) {
		out = open(dst,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (out < 0) {
			rc = cs_err_set(err, CS_ERR_IO,
			    "cannot create '%s': %s", dst, strerror(errno));
			goto out;
		}
	}
	while ((n = read(in, io, BK_IO_SIZE)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = cs_err_set(err, CS_ERR_IO, "cannot read '%s': %s",
			    src, strerror(errno));
			goto out;
		}
		EVP_DigestUpdate(h, io, (size_t)n);
		for (off = 0; out >= 0 && off < n; off += w) {
			w = write(out, io + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR) {
				w = 0;
				continue;
			}
			if (w < 0) {
				rc = cs_err_set(err, CS_ERR_IO,
				    "cannot write '%s': %s", dst,
				    strerror(errno));
				goto out;
			}
		}
		f->size += n;
		if (p != NULL) {
			p->done += n;
			bk_draw(p, f->rel, false);
		}
	}
	if (out >= 0 && fsync(out) != 0) {
		rc = cs_err_set(err, CS_ERR_IO, "cannot write '%s': %s", dst,
		    strerror(errno));
		goto out;
	}
	if (EVP_DigestFinal_ex(h, md, &mdlen) != 1) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "SHA-256 failed");
		goto out;
	}
	cs_hex(md, mdlen, f->sha256);
out:
	if (out >= 0 && close(out) != 0 && rc == CS_OK)
		rc = cs_err_set(err, CS_ERR_IO, "cannot write '%s': %s", dst,
		    strerror(errno));
	if (in >= 0)
		close(in);
	EVP_MD_CTX_free(h);
	free(io);
	return rc;
}

/* mkdir every directory of rel's parents under root (0700). */
static enum cs_rc
bk_mkparents(const char *root, const char *rel, struct cs_err *err)
{
	char path[PATH_MAX];
	char *slash;

	if (!bk_join(path, sizeof(path), root, rel))
		return cs_err_set(err, CS_ERR_INVALID, "path too long");
	slash = strrchr(path, '/');
	if (slash == NULL)
		return CS_OK;
	*slash = '\0';
	return cs_mkdir_p(path, 0700, err);
}

/*
 * dir must not exist (it is created 0700) or be an empty directory (its
 * mode becomes 0700).  *made says whether it was created.
 */
static enum cs_rc
bk_empty_dir(const char *dir, const char *what, bool *made, struct cs_err *err)
{
	struct dirent *de;
	struct stat sb;
	enum cs_rc rc = CS_OK;
	DIR *d;

	*made = false;
	if (lstat(dir, &sb) != 0) {
		if (errno != ENOENT)
			return cs_err_set(err, CS_ERR_IO,
			    "cannot read '%s': %s", dir, strerror(errno));
		rc = cs_mkdir_p(dir, 0700, err);
		*made = rc == CS_OK;
		return rc;
	}
	if (!S_ISDIR(sb.st_mode))
		return cs_err_set(err, CS_ERR_CONFLICT,
		    "%s '%s' exists and is not a directory", what, dir);
	d = opendir(dir);
	if (d == NULL)
		return cs_err_set(err, CS_ERR_IO, "cannot read '%s': %s", dir,
		    strerror(errno));
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0) {
			rc = cs_err_set(err, CS_ERR_CONFLICT,
			    "%s '%s' is not empty: refusing to overwrite it",
			    what, dir);
			break;
		}
	closedir(d);
	if (rc == CS_OK && chmod(dir, 0700) != 0)
		rc = cs_err_set(err, CS_ERR_IO, "cannot chmod '%s': %s", dir,
		    strerror(errno));
	return rc;
}

/*
 * Remove what a failed backup or restore wrote under root: the first n
 * files of l, the manifest, the directories made for them when empty, and
 * root itself when it was made.
 */
static void
bk_undo(const char *root, const struct bk_list *l, size_t n, bool made)
{
	static const char *const extra[] = {
	    BACKUP_MANIFEST, "certsvc.db-wal", "certsvc.db-shm", NULL};
	char path[PATH_MAX], *slash;
	size_t i, rootlen = strlen(root);

	for (i = 0; extra[i] != NULL; i++)
		if (bk_join(path, sizeof(path), root, extra[i]))
			unlink(path);
	for (i = n; i-- > 0;)
		if (bk_join(path, sizeof(path), root, l->v[i].rel))
			unlink(path);
	for (i = n; i-- > 0;) {
		if (!bk_join(path, sizeof(path), root, l->v[i].rel))
			continue;
		while ((slash = strrchr(path, '/')) != NULL &&
		    (size_t)(slash - path) > rootlen) {
			*slash = '\0';
			if (rmdir(path) != 0)
				break;
		}
	}
	if (made)
		rmdir(root);
}

static json_t *
bk_manifest(const struct svc *svc, const struct store_backup_info *info,
    bool softhsm, bool secrets, const struct bk_list *l)
{
	char now[32];
	json_t *files, *m;
	size_t i;

	cs_time_utc((int64_t)time(NULL), now, sizeof(now));
	files = json_array();
	for (i = 0; files != NULL && i < l->n; i++)
		if (json_array_append_new(files,
		        json_pack("{s:s,s:I,s:s}", "path", l->v[i].rel, "size",
		            (json_int_t)l->v[i].size, "sha256",
		            l->v[i].sha256)) != 0) {
			json_decref(files);
			return NULL;
		}
	m = json_pack("{s:s,s:s,s:s,s:s,s:i,s:I,s:{s:s,s:s,s:b},s:b,s:o}",
	    "format", BACKUP_FORMAT, "created", now, "data_dir",
	    svc->cfg.data_dir, "config", svc->cfg.path, "schema_version",
	    info->schema_version, "audit_last_seq",
	    (json_int_t)info->audit_last_seq, "token", "module",
	    svc->cfg.module, "label", svc->cfg.token_label, "softhsm2", softhsm,
	    "secrets_included", secrets, "files", files);
	return m;
}

/* SHA-256 of len bytes as hex into out (65 bytes). */
static enum cs_rc
bk_sha256_hex(const void *p, size_t len, char *out, struct cs_err *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	if (EVP_Digest(p, len, md, &mdlen, EVP_sha256(), NULL) != 1)
		return cs_err_ossl(err, CS_ERR_CRYPTO, "SHA-256 failed");
	cs_hex(md, mdlen, out);
	return CS_OK;
}

int
admin_backup(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"to", required_argument, NULL, 't'},
	    {"include-secrets", no_argument, NULL, 's'},
	    ADMIN_COMMON_OPTIONS,
	};
	struct bk_progress prog = {0};
	struct bk_db_progress dbp;
	struct store_backup_info info;
	struct bk_list l = {0};
	struct cs_err err = {0};
	struct svc *svc = NULL;
	struct stat sb;
	const char *to = NULL;
	char dst[PATH_MAX], msha[2 * EVP_MAX_MD_SIZE + 1];
	char object[STORE_URI_MAX], abs[PATH_MAX];
	json_t *manifest = NULL, *detail = NULL;
	char *text = NULL;
	bool secrets = false, softhsm = false, made = false;
	int64_t seq = 0;
	size_t i, copied = 0;
	int ch, ret;

	memset(&info, 0, sizeof(info));
	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE) {
		if (ch == 't')
			to = optarg;
		else if (ch == 's')
			secrets = true;
	}
	if (ret != -1)
		return ret;
	if (to == NULL || *to == '\0')
		return admin_usage_error(ctx, "--to DIR is required");
	if (!bk_join(dst, sizeof(dst), to, "certsvc.db"))
		return admin_usage_error(ctx, "path too long");
	ret = admin_open(ctx, SVC_OPEN_STORE, &svc);
	if (ret != ADMIN_EXIT_OK)
		return ret;
	/* The database first: the longest copy, and the one that matters. */
	if (bk_add(&l, dst, "certsvc.db", &err) != CS_OK ||
	    bk_collect(svc, secrets, &softhsm, &l, &err) != CS_OK ||
	    bk_empty_dir(to, "backup directory", &made, &err) != CS_OK)
		goto fail;
	prog.on = !ctx->json && isatty(STDERR_FILENO);
	prog.verb = "backup";
	dbp.p = &prog;
	dbp.base = 0;
	dbp.size = stat(svc->cfg.db_path, &sb) == 0 ? sb.st_size : 0;
	prog.total = dbp.size;
	for (i = 1; i < l.n; i++)
		if (stat(l.v[i].src, &sb) == 0)
			prog.total += sb.st_size;
	copied = 1; /* from here on, undo removes the copy */
	if (backup_database(svc, dst, bk_db_step, &dbp, &info, &err) != CS_OK)
		goto fail;
	prog.done = dbp.size;
	/* Hashed from the copy: what the manifest vouches for. */
	if (bk_copy(&l.v[0], dst, NULL, NULL, &err) != CS_OK)
		goto fail;
	for (i = 1; i < l.n; i++) {
		if (bk_mkparents(to, l.v[i].rel, &err) != CS_OK)
			goto fail;
		if (!bk_join(dst, sizeof(dst), to, l.v[i].rel)) {
			cs_err_set(&err, CS_ERR_INVALID, "path too long");
			goto fail;
		}
		copied = i + 1;
		if (bk_copy(&l.v[i], l.v[i].src, dst, &prog, &err) != CS_OK)
			goto fail;
	}
	bk_draw(&prog, "", true);
	bk_draw_end(&prog);
	manifest = bk_manifest(svc, &info, softhsm, secrets, &l);
	text = manifest != NULL
	    ? json_dumps(manifest, JSON_INDENT(2) | JSON_PRESERVE_ORDER)
	    : NULL;
	if (text == NULL) {
		cs_err_set(&err, CS_ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (!bk_join(dst, sizeof(dst), to, BACKUP_MANIFEST) ||
	    bk_sha256_hex(text, strlen(text), msha, &err) != CS_OK ||
	    cs_file_write(dst, text, strlen(text), 0600, true, &err) != CS_OK) {
		if (err.rc == CS_OK)
			cs_err_set(&err, CS_ERR_INVALID, "path too long");
		goto fail;
	}
	if (realpath(to, abs) == NULL)
		cs_strlcpy(abs, to, sizeof(abs));
	snprintf(object, sizeof(object), "backup:%.400s", abs);
	detail = json_pack("{s:s,s:I,s:i,s:I,s:b,s:s}", "to", abs, "files",
	    (json_int_t)l.n, "schema_version", info.schema_version,
	    "audit_last_seq", (json_int_t)info.audit_last_seq,
	    "secrets_included", secrets, "manifest_sha256", msha);
	if (detail == NULL) {
		cs_err_set(&err, CS_ERR_NOMEM, "out of memory");
		goto fail;
	}
	/* The copy is complete: a failing event is reported, not undone. */
	if (backup_audit(svc, "admin", "backup", object, detail, &seq, &err) !=
	    CS_OK) {
		ret = admin_fail(ctx, &err);
		goto out;
	}
	if (ctx->json) {
		admin_print_json(json_pack(
		    "{s:s,s:I,s:I,s:i,s:I,s:b,s:b,s:s,s:I}", "to", abs, "files",
		    (json_int_t)l.n, "bytes", (json_int_t)prog.total,
		    "schema_version", info.schema_version, "audit_last_seq",
		    (json_int_t)info.audit_last_seq, "softhsm2", softhsm,
		    "secrets_included", secrets, "manifest_sha256", msha,
		    "audit_seq", (json_int_t)seq));
	} else {
		printf("backup of %s in %s: %zu files, %.1f MiB, database "
		       "up to audit event %lld\n",
		    svc->cfg.data_dir, abs, l.n, (double)prog.total / 1048576.0,
		    (long long)info.audit_last_seq);
		printf(
		    "manifest %s/%s, SHA-256 %s\n", abs, BACKUP_MANIFEST, msha);
		if (!softhsm)
			printf("the token is not in it: back up the HSM with "
			       "its own procedure (docs/operations.md)\n");
		if (!secrets)
			printf("the PIN is not in it: keep the PIN apart "
			       "(--include-secrets adds it)\n");
	}
	ret = ADMIN_EXIT_OK;
	goto out;
fail:
	bk_draw_end(&prog);
	if (copied > 0)
		bk_undo(to, &l, copied, made);
	ret = admin_fail(ctx, &err);
out:
	json_decref(detail);
	json_decref(manifest);
	free(text);
	free(l.v);
	svc_free(svc);
	return ret;
}

/* --- restore ------------------------------------------------------------ */

/* A manifest path: relative, no "." or ".." part, plain characters. */
static bool
bk_rel_ok(const char *p)
{
	const char *part;
	size_t n;

	if (p == NULL || *p == '\0' || *p == '/' || strlen(p) >= PATH_MAX / 2)
		return false;
	if (strspn(p,
	        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	        "0123456789._-/") != strlen(p))
		return false;
	for (part = p; *part != '\0'; part += n + (part[n] == '/')) {
		n = strcspn(part, "/");
		if (n == 0 || (n == 1 && part[0] == '.') ||
		    (n == 2 && part[0] == '.' && part[1] == '.'))
			return false;
	}
	return true;
}

/* The files of a manifest into l (src = backup dir/rel). */
static enum cs_rc
bk_manifest_files(
    const json_t *m, const char *from, struct bk_list *l, struct cs_err *err)
{
	const char *rel, *sha;
	json_int_t size;
	json_t *f, *files;
	char src[PATH_MAX];
	enum cs_rc rc;
	size_t i, j;

	files = json_object_get(m, "files");
	if (!json_is_array(files) || json_array_size(files) == 0)
		return cs_err_set(
		    err, CS_ERR_INVALID, "the manifest lists no files");
	json_array_foreach(files, i, f)
	{
		rel = json_string_value(json_object_get(f, "path"));
		sha = json_string_value(json_object_get(f, "sha256"));
		size = json_integer_value(json_object_get(f, "size"));
		if (!bk_rel_ok(rel) || rel == NULL ||
		    strcmp(rel, BACKUP_MANIFEST) == 0 || sha == NULL ||
		    strlen(sha) != 64 ||
		    strspn(sha, "0123456789abcdef") != 64 ||
		    !json_is_integer(json_object_get(f, "size")) || size < 0)
			return cs_err_set(err, CS_ERR_INVALID,
			    "the manifest's file %zu is malformed", i + 1);
		for (j = 0; j < l->n; j++)
			if (strcmp(l->v[j].rel, rel) == 0)
				return cs_err_set(err, CS_ERR_INVALID,
				    "the manifest lists '%s' twice", rel);
		if (!bk_join(src, sizeof(src), from, rel))
			return cs_err_set(err, CS_ERR_INVALID, "path too long");
		rc = bk_add(l, src, rel, err);
		if (rc != CS_OK)
			return rc;
		l->v[l->n - 1].size = size;
		cs_strlcpy(
		    l->v[l->n - 1].sha256, sha, sizeof(l->v[l->n - 1].sha256));
	}
	return CS_OK;
}

/* f's copy (or, with dst NULL, its file in the backup) matches it. */
static enum cs_rc
bk_check(struct bk_file *f, const char *dst, struct bk_progress *p,
    struct cs_err *err)
{
	struct bk_file got;
	enum cs_rc rc;

	memset(&got, 0, sizeof(got));
	cs_strlcpy(got.rel, f->rel, sizeof(got.rel));
	rc = bk_copy(&got, f->src, dst, p, err);
	if (rc != CS_OK)
		return rc;
	if (got.size != f->size || strcmp(got.sha256, f->sha256) != 0)
		return cs_err_set(err, CS_ERR_INVALID,
		    "'%s' does not match the backup's manifest (%s): the "
		    "backup is damaged or was changed",
		    f->src, got.size != f->size ? "size" : "SHA-256");
	return CS_OK;
}

/* The keys of certsvc.conf that name files, and what restore does. */
static const char *const bk_path_keys[] = {"db_path", "pin_file",
    "softhsm2_conf", "log_file", "web_dir", "tls_cert", "tls_key", NULL};

/* The value of a "key = value" line (cfg.c's syntax) into out. */
static bool
bk_conf_value(const char *v, char *out, size_t outsz)
{
	size_t n = 0;
	const char *e;

	v += strspn(v, " \t");
	if (*v == '"') {
		for (v++; *v != '"' && *v != '\0'; v++) {
			if (*v == '\\' && v[1] != '\0')
				v++;
			if (n + 1 >= outsz)
				return false;
			out[n++] = *v;
		}
		out[n] = '\0';
		return *v == '"';
	}
	for (e = v; *e != '\0' && !(*e == '#' && e > v && strchr(" \t", e[-1]));
	     e++)
		;
	while (e > v && strchr(" \t\r", e[-1]) != NULL)
		e--;
	if ((size_t)(e - v) >= outsz)
		return false;
	memcpy(out, v, (size_t)(e - v));
	out[e - v] = '\0';
	return true;
}

/*
 * The restored value of path key k: the database and SoftHSM2's file are
 * where restore put them; a file inside the old data dir moves along with
 * it (relative paths are relative to the file's dir: cfg.h); others stay.
 */
static void
bk_conf_path(const char *k, const char *v, const char *old, bool token,
    bool pin, char *out, size_t outsz)
{
	size_t n = strlen(old);

	cs_strlcpy(out, v, outsz);
	if (strcmp(k, "db_path") == 0)
		cs_strlcpy(out, "certsvc.db", outsz);
	else if (strcmp(k, "softhsm2_conf") == 0 && token)
		cs_strlcpy(out, "softhsm2.conf", outsz);
	else if (strcmp(k, "pin_file") == 0 && pin)
		cs_strlcpy(out, "pin", outsz);
	else if (n > 0 && strncmp(v, old, n) == 0 && v[n] == '/' &&
	    v[n + 1] != '\0')
		cs_strlcpy(out, v + n + 1, outsz);
}

/*
 * Rewrite the file path line by line: fn appends each line's new text
 * (with its '\n') to out.  The file is replaced atomically, mode 0600.
 */
static enum cs_rc
bk_rewrite(const char *path,
    enum cs_rc (*fn)(const char *line, struct buf *out, void *arg), void *arg,
    struct cs_err *err)
{
	struct buf *in = NULL, *out = NULL;
	char *line, *next;
	enum cs_rc rc;

	rc = cs_file_read(path, 1 << 20, &in, err);
	if (rc != CS_OK)
		return rc;
	out = buf_new(in->len + PATH_MAX);
	if (out == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (line = (char *)in->data; rc == CS_OK && *line != '\0';
	     line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		else
			next = line + strlen(line);
		rc = fn(line, out, arg);
	}
	if (rc != CS_OK) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = cs_file_write(path, out->data, out->len, 0600, false, err);
out:
	buf_free(in);
	buf_free(out);
	return rc;
}

struct bk_conf_fix {
	const char *old; /* the old data dir */
	bool token, pin; /* the backup held SoftHSM2's token, the PIN */
	json_t *changed; /* key: new value */
};

/* One line of certsvc.conf, its path key pointed at the new dir. */
static enum cs_rc
bk_conf_line(const char *line, struct buf *out, void *arg)
{
	struct bk_conf_fix *f = arg;
	char val[PATH_MAX], nv[PATH_MAX];
	const char *const *k, *p = line + strspn(line, " \t"), *c;
	enum cs_rc rc;
	size_t kl = 0;

	for (k = bk_path_keys; *k != NULL; k++) {
		kl = strlen(*k);
		if (strncmp(p, *k, kl) == 0 &&
		    p[kl + strspn(p + kl, " \t")] == '=')
			break;
	}
	if (*k == NULL ||
	    !bk_conf_value(
	        p + kl + strspn(p + kl, " \t") + 1, val, sizeof(val)))
		return buf_printf(out, "%s\n", line);
	bk_conf_path(*k, val, f->old, f->token, f->pin, nv, sizeof(nv));
	if (strcmp(nv, val) == 0)
		return buf_printf(out, "%s\n", line);
	rc = buf_printf(out, "%s = \"", *k);
	for (c = nv; rc == CS_OK && *c != '\0'; c++)
		rc = *c == '"' || *c == '\\' ? buf_printf(out, "\\%c", *c)
		                             : buf_append(out, c, 1);
	if (rc == CS_OK)
		rc = buf_append_str(out, "\"\n");
	if (rc == CS_OK &&
	    json_object_set_new(f->changed, *k, json_string(nv)) != 0)
		rc = CS_ERR_NOMEM;
	return rc;
}

/* One line of softhsm2.conf, the token directory set to arg. */
static enum cs_rc
bk_softhsm_line(const char *line, struct buf *out, void *arg)
{
	const char *p = line + strspn(line, " \t");

	if (strncmp(p, "directories.tokendir", 20) == 0)
		return buf_printf(
		    out, "directories.tokendir = %s\n", (const char *)arg);
	return buf_printf(out, "%s\n", line);
}

static bool
bk_has(const struct bk_list *l, const char *rel)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].rel, rel) == 0)
			return true;
	return false;
}

/* The restore event and the serial skip, in the restored store. */
static enum cs_rc
bk_restore_audit(const char *conf, const char *from, const json_t *m,
    const char *msha, int64_t skip, int64_t *seq, struct cs_err *err)
{
	struct svc *svc = NULL;
	char object[STORE_URI_MAX];
	json_t *detail;
	enum cs_rc rc;

	detail = json_pack("{s:s,s:O,s:O,s:s}", "from", from, "created",
	    json_object_get(m, "created"), "audit_last_seq",
	    json_object_get(m, "audit_last_seq"), "manifest_sha256", msha);
	if (detail == NULL)
		return cs_err_set(err, CS_ERR_INVALID,
		    "the manifest lacks 'created' or 'audit_last_seq'");
	snprintf(object, sizeof(object), "backup:%.400s", from);
	rc = svc_open(conf, SVC_OPEN_STORE, &svc, err);
	if (rc == CS_OK)
		rc = backup_restored(
		    svc, "admin", object, detail, skip, seq, err);
	svc_free(svc);
	json_decref(detail);
	return rc;
}

static void
bk_next_steps(
    const char *dir, const char *conf, const json_t *m, bool pin, bool token)
{
	const json_t *t = json_object_get(m, "token");
	struct cfg *cfg = calloc(1, sizeof(*cfg));

	printf("\nnext:\n");
	/* Where the restored configuration looks for the PIN. */
	if (!pin)
		printf("  - put the token PIN in %s (mode 0600, owned by "
		       "the certsvc user),\n    or give it in CERTSVC_PIN\n",
		    cfg != NULL && cfg_load(conf, cfg, NULL) == CS_OK &&
		            cfg->pin_file[0] != '\0'
		        ? cfg->pin_file
		        : "the file pin_file names");
	free(cfg);
	if (!token)
		printf("  - make token '%s' reachable through module '%s' "
		       "(restore the HSM\n    with its own procedure: the "
		       "keys are found by their PKCS#11 URIs)\n",
		    json_string_value(json_object_get(t, "label")),
		    json_string_value(json_object_get(t, "module")));
	printf("  - check that the files certsvc.conf names outside %s "
	       "(pin_file,\n    tls_cert, tls_key, log_file) are in "
	       "place on this machine\n",
	    dir);
	printf("  - certsvc-admin token status --data-dir %s\n"
	       "  - certsvc-admin audit verify --data-dir %s\n"
	       "  - start certsvcd --config %s/certsvc.conf (with systemd: "
	       "point the unit's\n    --config and ReadWritePaths at %s)\n"
	       "  - licences issued after the backup (audit event %lld) are "
	       "not in it:\n    reissue them (docs/operations.md, "
	       "\"Restore\")\n",
	    dir, dir, dir, dir,
	    (long long)json_integer_value(
	        json_object_get(m, "audit_last_seq")));
}

int
admin_restore(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"from", required_argument, NULL, 'f'},
	    {"skip-serials", required_argument, NULL, 's'},
	    ADMIN_COMMON_OPTIONS,
	};
	struct bk_progress prog = {0};
	struct bk_conf_fix fix;
	struct bk_list l = {0};
	struct cs_err err = {0};
	struct buf *mtext = NULL;
	const char *from = NULL, *old;
	char path[PATH_MAX], dir[PATH_MAX], msha[2 * EVP_MAX_MD_SIZE + 1];
	json_t *m = NULL, *changed = NULL;
	json_error_t jerr;
	bool made = false, token, pin;
	long long skip = BK_SERIAL_SKIP;
	int64_t seq = 0;
	size_t i, copied = 0;
	int ch, ret;

	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE) {
		if (ch == 'f')
			from = optarg;
		else if (ch == 's' &&
		    !cs_parse_ll(optarg, 0, 10000000000LL, &skip))
			return admin_usage_error(
			    ctx, "--skip-serials must be 0 to 10000000000");
	}
	if (ret != -1)
		return ret;
	if (from == NULL || *from == '\0')
		return admin_usage_error(ctx, "--from DIR is required");
	if (!bk_join(path, sizeof(path), from, BACKUP_MANIFEST))
		return admin_usage_error(ctx, "path too long");
	if (cs_file_read(path, BK_MANIFEST_MAX, &mtext, &err) != CS_OK) {
		cs_err_set(&err, err.rc,
		    "'%s' is not a complete backup: cannot read %s", from,
		    BACKUP_MANIFEST);
		goto fail;
	}
	if (bk_sha256_hex(mtext->data, mtext->len, msha, &err) != CS_OK)
		goto fail;
	m = json_loadb((const char *)mtext->data, mtext->len, 0, &jerr);
	if (m == NULL || !json_is_object(m) ||
	    json_string_value(json_object_get(m, "format")) == NULL ||
	    strcmp(json_string_value(json_object_get(m, "format")),
	        BACKUP_FORMAT) != 0) {
		cs_err_set(&err, CS_ERR_INVALID, "'%s' is not a %s manifest",
		    path, BACKUP_FORMAT);
		goto fail;
	}
	old = json_string_value(json_object_get(m, "data_dir"));
	if (bk_manifest_files(m, from, &l, &err) != CS_OK)
		goto fail;
	if (old == NULL || !bk_has(&l, "certsvc.db") ||
	    !bk_has(&l, "certsvc.conf")) {
		cs_err_set(&err, CS_ERR_INVALID,
		    "the manifest lacks data_dir, certsvc.db or certsvc.conf");
		goto fail;
	}
	token = bk_has(&l, "softhsm2.conf");
	pin = bk_has(&l, "pin");
	prog.on = !ctx->json && isatty(STDERR_FILENO);
	prog.verb = "check  ";
	for (i = 0; i < l.n; i++)
		prog.total += l.v[i].size;
	/* Every file first: nothing is written from a damaged backup. */
	for (i = 0; i < l.n; i++)
		if (bk_check(&l.v[i], NULL, &prog, &err) != CS_OK)
			goto fail;
	bk_draw_end(&prog);
	if (bk_empty_dir(ctx->data_dir, "data dir", &made, &err) != CS_OK)
		goto fail;
	if (realpath(ctx->data_dir, dir) == NULL) {
		cs_err_set(&err, CS_ERR_IO, "cannot resolve '%s': %s",
		    ctx->data_dir, strerror(errno));
		goto fail;
	}
	prog.verb = "restore";
	prog.done = 0;
	for (i = 0; i < l.n; i++) {
		if (bk_mkparents(dir, l.v[i].rel, &err) != CS_OK)
			goto undo;
		if (!bk_join(path, sizeof(path), dir, l.v[i].rel)) {
			cs_err_set(&err, CS_ERR_INVALID, "path too long");
			goto undo;
		}
		copied = i + 1; /* a partial file is removed too */
		if (bk_check(&l.v[i], path, &prog, &err) != CS_OK)
			goto undo;
	}
	bk_draw(&prog, "", true);
	bk_draw_end(&prog);
	changed = json_object();
	if (changed == NULL) {
		cs_err_set(&err, CS_ERR_NOMEM, "out of memory");
		goto undo;
	}
	fix.old = old;
	fix.token = token;
	fix.pin = pin;
	fix.changed = changed;
	if (!bk_join(path, sizeof(path), dir, "certsvc.conf") ||
	    bk_rewrite(path, bk_conf_line, &fix, &err) != CS_OK)
		goto undo;
	if (token) {
		char conf[PATH_MAX], tokdir[PATH_MAX];

		if (!bk_join(conf, sizeof(conf), dir, "softhsm2.conf") ||
		    !bk_join(tokdir, sizeof(tokdir), dir, "tokens") ||
		    cs_mkdir_p(tokdir, 0700, &err) != CS_OK ||
		    bk_rewrite(conf, bk_softhsm_line, tokdir, &err) != CS_OK)
			goto undo;
	}
	if (bk_restore_audit(path, from, m, msha, skip, &seq, &err) != CS_OK)
		goto undo;
	if (ctx->json) {
		admin_print_json(
		    json_pack("{s:s,s:s,s:I,s:I,s:b,s:b,s:o,s:I,s:I}",
		        "data_dir", dir, "from", from, "files", (json_int_t)l.n,
		        "bytes", (json_int_t)prog.total, "softhsm2", token,
		        "pin", pin, "config_changed", changed, "audit_seq",
		        (json_int_t)seq, "serial_skip", (json_int_t)skip));
		changed = NULL;
	} else {
		printf("restored %zu files (%.1f MiB) from %s into %s; every "
		       "SHA-256 matches the manifest\n",
		    l.n, (double)prog.total / 1048576.0, from, dir);
		bk_next_steps(dir, path, m, pin, token);
	}
	ret = ADMIN_EXIT_OK;
	goto out;
undo:
	bk_draw_end(&prog);
	/* A data dir half restored is worse than none: take it back. */
	bk_undo(dir, &l, copied, made);
fail:
	bk_draw_end(&prog);
	ret = admin_fail(ctx, &err);
out:
	json_decref(changed);
	json_decref(m);
	buf_free(mtext);
	free(l.v);
	return ret;
}
