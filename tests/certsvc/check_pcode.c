/*
 * check_pcode.c: certsvc/pcode.c (and ratelimit.c, store_sqlite_codes.c)
 * on a real SoftHSM2 token and store: the short form and its check
 * character, creation and what the database keeps (no code in any file
 * of it), redemption by either form, expiry, use limits, revocation,
 * binding to one relying party, usage lists, one identical refusal for
 * every reason with the real reason in the audit trail, rate limits, and
 * concurrent redemptions of one single-use code.
 */
#include <check.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "certsvc/client.h"
#include "certsvc/lifecycle.h"
#include "certsvc/mem.h"
#include "certsvc/pcode.h"
#include "certsvc/ratelimit.h"
#include "certsvc/report.h"
#include "certsvc/svc.h"
#include "tests/svcfix.h"

#define HOLDER_ID "110101199003070011"
#define SOURCE "192.0.2.7"

static struct svcfix fx;
static struct svc *svc;
static char lic[STORE_LICENCE_ID_MAX];
/* holder: the licence's; other: another person; rp: may use TA01. */
static struct client_principal holder, other, rp, rp2, rp_none, rp_tb;

/* A verifier with usage list types (NULL: none), authenticated into p. */
static void
verifier_with(const char *const *types, size_t n, struct client_principal *p)
{
	char id[STORE_CODE_MAX], secret[CLIENT_SECRET_MAX], auth[128];
	struct cs_err err = {0};

	ck_assert_msg(client_add_verifier(svc, "v", types, n, "test", id,
	                  sizeof(id), secret, sizeof(secret), &err) == CS_OK,
	    "%s", err.msg);
	snprintf(auth, sizeof(auth), "Bearer %s", secret);
	ck_assert_int_eq(client_authenticate(svc, auth, p, NULL), CS_OK);
}

static void
setup_common(bool report_key)
{
	static const char *const ta[] = {"TA01"}, *const tb[] = {"TB01"};
	char id[STORE_CODE_MAX], secret[CLIENT_SECRET_MAX], auth[128], ref[72];
	struct svcfix_opts o = {.pool_size = 2};

	svcfix_open_world(&fx, "pcode-test", &o);
	svc = fx.svc;
	if (report_key)
		ck_assert_int_eq(report_refresh(svc, NULL), CS_OK);
	svcfix_issue(&fx, &fx.issuer_a, false, lic, &holder);
	ck_assert_int_eq(holder_ref_make(svc, "resident_id",
	                     "110101199001010010", ref, sizeof(ref), NULL),
	    CS_OK);
	ck_assert_int_eq(client_add(svc, CLIENT_HOLDER, "h2", NULL, ref, "test",
	                     id, sizeof(id), secret, sizeof(secret), NULL),
	    CS_OK);
	snprintf(auth, sizeof(auth), "Bearer %s", secret);
	ck_assert_int_eq(client_authenticate(svc, auth, &other, NULL), CS_OK);
	verifier_with(ta, 1, &rp);
	verifier_with(ta, 1, &rp2);
	verifier_with(NULL, 0, &rp_none);
	verifier_with(tb, 1, &rp_tb);
}

static void
setup(void)
{
	setup_common(true);
}

static void
setup_no_report_key(void)
{
	setup_common(false);
}

static void
teardown(void)
{
	svcfix_close(&fx);
	svc = NULL;
}

static void sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
sql(const char *fmt, ...)
{
	char q[1024];
	sqlite3 *db = NULL;
	char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q, sizeof(q), fmt, ap);
	va_end(ap);
	ck_assert_int_eq(sqlite3_open(svc->cfg.db_path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	ck_assert_msg(sqlite3_exec(db, q, NULL, NULL, &msg) == SQLITE_OK, "%s",
	    msg != NULL ? msg : "");
	sqlite3_free(msg);
	sqlite3_close(db);
}

/* Create a code for holder with the members of the JSON text extra. */
static enum cs_rc
create(const struct client_principal *p, const char *extra,
    struct pcode_created *out, struct cs_err *err)
{
	char text[512];
	json_t *req;
	enum cs_rc rc;

	snprintf(text, sizeof(text),
	    "{\"licence_id\": \"%s\", \"purpose\": \"开办餐馆\"%s%s}", lic,
	    extra[0] != '\0' ? ", " : "", extra);
	req = json_loads(text, 0, NULL);
	ck_assert_ptr_nonnull(req);
	rc = pcode_create(svc, p, req, out, err);
	json_decref(req);
	return rc;
}

static void
create_ok(const char *extra, struct pcode_created *out)
{
	struct cs_err err = {0};

	ck_assert_msg(
	    create(&holder, extra, out, &err) == CS_OK, "%s", err.msg);
}

/* Redeem code as p from source; *ans (may be NULL) gets the answer. */
static enum cs_rc
redeem_from(const struct client_principal *p, const char *source,
    const char *code, json_t **ans, unsigned *retry, struct cs_err *err)
{
	json_t *req = json_pack("{s:s}", "code", code), *out = NULL;
	unsigned r = 0;
	enum cs_rc rc;

	rc = pcode_redeem(svc, p, source, req, &out, &r, err);
	json_decref(req);
	if (retry != NULL)
		*retry = r;
	if (ans != NULL)
		*ans = out;
	else
		json_decref(out);
	return rc;
}

static enum cs_rc
redeem(const struct client_principal *p, const char *code, struct cs_err *err)
{
	return redeem_from(p, SOURCE, code, NULL, NULL, err);
}

/* The outcome of the newest audit event. */
struct last_event {
	char action[STORE_NAME_MAX], outcome[STORE_NAME_MAX];
	char object[STORE_URI_MAX];
	bool leak;          /* an event holds the holder id or a code */
	const char *needle; /* a code looked for, or NULL */
};

static bool
last_cb(void *arg, const struct store_audit_row *row)
{
	struct last_event *e = arg;
	const char *d =
	    row->detail != NULL ? (const char *)row->detail->data : "";
	size_t n = row->detail != NULL ? row->detail->len : 0;

	cs_strlcpy(e->action, row->action, sizeof(e->action));
	cs_strlcpy(e->outcome, row->outcome, sizeof(e->outcome));
	cs_strlcpy(e->object, row->object, sizeof(e->object));
	if (memmem(d, n, HOLDER_ID, strlen(HOLDER_ID)) != NULL ||
	    (e->needle != NULL &&
	        memmem(d, n, e->needle, strlen(e->needle)) != NULL))
		e->leak = true;
	return true;
}

static void
last_event(struct last_event *e, const char *needle)
{
	memset(e, 0, sizeof(*e));
	e->needle = needle;
	ck_assert_int_eq(
	    store_audit_scan(svc->store, 1, last_cb, e, NULL), CS_OK);
}

static void
expect_refused(
    const struct client_principal *p, const char *code, const char *outcome)
{
	struct last_event e;
	struct cs_err err = {0};

	ck_assert_int_eq(redeem(p, code, &err), CS_ERR_NOT_FOUND);
	ck_assert_str_eq(err.msg, PCODE_REFUSED);
	last_event(&e, code);
	ck_assert_str_eq(e.action, "code.redeem");
	ck_assert_str_eq(e.outcome, outcome);
	ck_assert(!e.leak);
}

/* Replace the limiter by one with these limits. */
static void
limits(unsigned client, unsigned addr, unsigned window)
{
	pcode_limits_free(svc);
	svc->cfg.code_fail_limit_client = client;
	svc->cfg.code_fail_limit_addr = addr;
	svc->cfg.code_fail_window_seconds = window;
	ck_assert_int_eq(pcode_limits_init(svc, NULL), CS_OK);
}

/* --- the short form ------------------------------------------------------ */

START_TEST(short_form_check_character)
{
	char s[PCODE_SHORT_LEN + 1], t[PCODE_SHORT_LEN + 1];
	char n[PCODE_SHORT_LEN + 1], shown[32];
	int i, j, k, round;

	ck_assert_int_eq(strlen(pcode_alphabet), PCODE_RADIX);
	for (i = 0; i < PCODE_RADIX; i++)
		ck_assert(strchr("01ILO", pcode_alphabet[i]) == NULL);
	for (round = 0; round < 200; round++) {
		for (i = 0; i < PCODE_SHORT_DATA; i++)
			s[i] = pcode_alphabet[(round * 7 + i * 13 + i * i) %
			    PCODE_RADIX];
		s[PCODE_SHORT_DATA] = pcode_check_char(s, PCODE_SHORT_DATA);
		s[PCODE_SHORT_LEN] = '\0';
		ck_assert(s[PCODE_SHORT_DATA] != '\0');
		ck_assert(pcode_short_parse(s, n));
		ck_assert_str_eq(n, s);
		/* Typed in lower case, grouped: the same code. */
		snprintf(
		    shown, sizeof(shown), "%.4s-%.4s %.3s", s, s + 4, s + 8);
		for (i = 0; shown[i] != '\0'; i++)
			if (shown[i] >= 'A' && shown[i] <= 'Z')
				shown[i] = (char)(shown[i] - 'A' + 'a');
		ck_assert(pcode_short_parse(shown, n));
		ck_assert_str_eq(n, s);
		/* Every single substitution is caught. */
		for (i = 0; i < PCODE_SHORT_LEN; i++)
			for (k = 0; k < PCODE_RADIX; k++) {
				if (pcode_alphabet[k] == s[i])
					continue;
				memcpy(t, s, sizeof(t));
				t[i] = pcode_alphabet[k];
				ck_assert(!pcode_short_parse(t, n));
			}
		/* Every transposition of two different characters too. */
		for (i = 0; i < PCODE_SHORT_LEN; i++)
			for (j = i + 1; j < PCODE_SHORT_LEN; j++) {
				if (s[i] == s[j])
					continue;
				memcpy(t, s, sizeof(t));
				t[i] = s[j];
				t[j] = s[i];
				ck_assert(!pcode_short_parse(t, n));
			}
	}
	ck_assert(!pcode_short_parse("", n));
	ck_assert(!pcode_short_parse("2345-6789-AB", n));
	ck_assert(!pcode_short_parse("O345-6789-ABC", n));
	ck_assert(!pcode_short_parse("2345-6789-ABCD", n));
	ck_assert(!pcode_long_parse("short"));
}
END_TEST

/* --- creation ------------------------------------------------------------ */

/* True when the file path holds needle. */
static bool
file_holds(const char *path, const char *needle)
{
	struct buf *b = NULL;
	bool found;

	if (cs_file_read(path, 64 << 20, &b, NULL) != CS_OK)
		return false;
	found = memmem(b->data, b->len, needle, strlen(needle)) != NULL;
	buf_free(b);
	return found;
}

START_TEST(create_gives_both_forms_and_stores_only_hashes)
{
	char path[PATH_MAX + 8], norm[PCODE_SHORT_LEN + 1];
	unsigned char md[32];
	struct pcode_created c;
	struct store_pcode row;
	struct last_event e;
	size_t i;

	create_ok("", &c);
	ck_assert(pcode_long_parse(c.long_code));
	ck_assert_int_eq(strlen(c.short_code), PCODE_SHORT_SHOWN);
	ck_assert(c.short_code[4] == '-' && c.short_code[9] == '-');
	ck_assert(pcode_short_parse(c.short_code, norm));
	ck_assert_int_eq(c.code.expires - c.code.created, PCODE_TTL_DEFAULT);
	ck_assert_int_eq(c.code.max_uses, 1);
	ck_assert_int_eq(strncmp(c.code.id, "P-", 2), 0);
	/* The row: SHA-256 of the long form, a keyed hash of the short. */
	ck_assert_int_eq(
	    store_pcode_get(svc->store, c.code.id, &row, NULL), CS_OK);
	EVP_Digest(
	    c.long_code, strlen(c.long_code), md, NULL, EVP_sha256(), NULL);
	ck_assert_mem_eq(row.long_hash, md, 32);
	EVP_Digest(norm, strlen(norm), md, NULL, EVP_sha256(), NULL);
	ck_assert(memcmp(row.short_hash, md, 32) != 0);
	ck_assert_str_eq(row.purpose, "开办餐馆");
	ck_assert_str_eq(row.holder_ref, holder.holder_ref);
	/* No form of the code anywhere in the database files. */
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s%s", svc->cfg.db_path,
		    i == 0 ? "" : "-wal");
		ck_assert(!file_holds(path, c.long_code));
		ck_assert(!file_holds(path, norm));
		ck_assert(!file_holds(path, c.short_code));
	}
	last_event(&e, c.long_code);
	ck_assert_str_eq(e.action, "code.create");
	ck_assert(!e.leak);
	last_event(&e, norm);
	ck_assert(!e.leak);
	/* The QR's text is re-derived from the nonce: the same long form. */
	{
		char again[PCODE_LONG_LEN + 1];
		struct cs_err err = {0};

		ck_assert_int_eq(
		    pcode_long_of(svc, &holder, c.code.id, again, &err), CS_OK);
		ck_assert_str_eq(again, c.long_code);
		ck_assert_int_eq(
		    pcode_long_of(svc, &other, c.code.id, again, &err),
		    CS_ERR_NOT_FOUND);
	}
}
END_TEST

START_TEST(create_checks_its_request)
{
	struct pcode_created c;
	struct cs_err err = {0};
	char extra[128];

	ck_assert_int_eq(create(&other, "", &c, &err), CS_ERR_NOT_FOUND);
	ck_assert_int_eq(create(&fx.issuer_a, "", &c, &err), CS_ERR_DENIED);
	ck_assert_int_eq(create(&rp, "", &c, &err), CS_ERR_DENIED);
	ck_assert_int_eq(
	    create(&holder, "\"ttl\": 0", &c, &err), CS_ERR_INVALID);
	ck_assert_int_eq(
	    create(&holder, "\"ttl\": 86401", &c, &err), CS_ERR_INVALID);
	ck_assert_int_eq(
	    create(&holder, "\"max_uses\": 0", &c, &err), CS_ERR_INVALID);
	ck_assert_int_eq(
	    create(&holder, "\"colour\": 1", &c, &err), CS_ERR_INVALID);
	ck_assert_int_eq(
	    create(&holder, "\"relying_party\": \"C-0000\"", &c, &err),
	    CS_ERR_INVALID);
	snprintf(
	    extra, sizeof(extra), "\"relying_party\": \"%s\"", fx.issuer_a.id);
	ck_assert_int_eq(create(&holder, extra, &c, &err), CS_ERR_INVALID);
	ck_assert_int_eq(
	    create(&holder, "\"ttl\": 86400, \"max_uses\": 5", &c, &err),
	    CS_OK);
	ck_assert_int_eq(c.code.expires - c.code.created, 86400);
	/* A suspended licence gets no new code. */
	{
		struct store_licence l;

		ck_assert_int_eq(lifecycle_apply(svc, &fx.issuer_a, lic,
		                     LIFECYCLE_SUSPEND, NULL, &l, &err),
		    CS_OK);
		store_licence_release(&l);
	}
	ck_assert_int_eq(create(&holder, "", &c, &err), CS_ERR_CONFLICT);
}
END_TEST

/* --- redemption ------------------------------------------------------------
 */

START_TEST(redeem_long_form_once)
{
	struct pcode_created c;
	struct store_usage *u = NULL;
	struct store_pcode *list = NULL;
	struct cs_err err = {0};
	struct last_event e;
	json_t *ans = NULL;
	size_t n = 0;

	create_ok("", &c);
	ck_assert_int_eq(pcode_list(svc, &holder, &list, &n, NULL), CS_OK);
	ck_assert_int_eq(n, 1);
	free(list);
	ck_assert_msg(
	    redeem_from(&rp, SOURCE, c.long_code, &ans, NULL, &err) == CS_OK,
	    "%s", err.msg);
	ck_assert_str_eq(
	    json_string_value(json_object_get(ans, "result")), "valid");
	ck_assert_str_eq(
	    json_string_value(json_object_get(ans, "licence_id")), lic);
	ck_assert_str_eq(
	    json_string_value(json_object_get(ans, "code_id")), c.code.id);
	ck_assert_str_eq(
	    json_string_value(json_object_get(ans, "purpose")), "开办餐馆");
	ck_assert(json_is_string(
	    json_object_get(json_object_get(ans, "envelope"), "document")));
	ck_assert(json_is_string(
	    json_object_get(json_object_get(ans, "report"), "seal")));
	last_event(&e, c.long_code);
	ck_assert_str_eq(e.action, "code.redeem");
	ck_assert_str_eq(e.outcome, "ok");
	ck_assert(!e.leak);
	/* Used up: refused, and no longer listed. */
	expect_refused(&rp, c.long_code, "denied:used_up");
	ck_assert_int_eq(pcode_list(svc, &holder, &list, &n, NULL), CS_OK);
	ck_assert_int_eq(n, 0);
	free(list);
	/* One usage record, seen by the holder and the issuing department. */
	ck_assert_int_eq(
	    pcode_usage_list(svc, &holder, NULL, &u, &n, NULL), CS_OK);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(u[0].rp, rp.id);
	ck_assert_str_eq(u[0].code_id, c.code.id);
	ck_assert_str_eq(u[0].purpose, "开办餐馆");
	ck_assert_str_eq(u[0].report_id,
	    json_string_value(
	        json_object_get(json_object_get(ans, "report"), "id")));
	ck_assert_str_eq(
	    json_string_value(json_object_get(ans, "usage_id")), u[0].id);
	free(u);
	ck_assert_int_eq(
	    pcode_usage_list(svc, &other, NULL, &u, &n, NULL), CS_OK);
	ck_assert_int_eq(n, 0);
	free(u);
	ck_assert_int_eq(
	    pcode_usage_list(svc, &fx.issuer_a, lic, &u, &n, NULL), CS_OK);
	ck_assert_int_eq(n, 1);
	free(u);
	ck_assert_int_eq(
	    pcode_usage_list(svc, &fx.issuer_b, NULL, &u, &n, NULL), CS_OK);
	ck_assert_int_eq(n, 0);
	free(u);
	ck_assert_int_eq(
	    pcode_usage_list(svc, &rp, NULL, &u, &n, NULL), CS_ERR_DENIED);
	json_decref(ans);
}
END_TEST

START_TEST(redeem_short_form_up_to_max_uses)
{
	struct pcode_created c;
	struct store_usage *u = NULL;
	struct cs_err err = {0};
	char typed[32];
	size_t n = 0, i;

	create_ok("\"max_uses\": 3", &c);
	/* Typed at a counter: lower case, spaces for dashes. */
	for (i = 0; c.short_code[i] != '\0'; i++)
		typed[i] = c.short_code[i] == '-' ? ' '
		    : (c.short_code[i] >= 'A' && c.short_code[i] <= 'Z')
		    ? (char)(c.short_code[i] - 'A' + 'a')
		    : c.short_code[i];
	typed[i] = '\0';
	ck_assert_msg(redeem(&rp, typed, &err) == CS_OK, "%s", err.msg);
	ck_assert_msg(redeem(&rp, c.short_code, &err) == CS_OK, "%s", err.msg);
	ck_assert_msg(redeem(&rp2, c.long_code, &err) == CS_OK, "%s", err.msg);
	expect_refused(&rp, c.short_code, "denied:used_up");
	ck_assert_int_eq(
	    pcode_usage_list(svc, &holder, NULL, &u, &n, NULL), CS_OK);
	ck_assert_int_eq(n, 3);
	free(u);
}
END_TEST

START_TEST(expired_codes_are_refused)
{
	struct pcode_created c;

	create_ok("\"max_uses\": 2", &c);
	sql("UPDATE pcodes SET expires = %lld WHERE id = '%s'",
	    (long long)time(NULL), c.code.id);
	expect_refused(&rp, c.long_code, "denied:expired");
	expect_refused(&rp, c.short_code, "denied:expired");
}
END_TEST

START_TEST(revoked_codes_are_refused)
{
	struct pcode_created c;
	struct cs_err err = {0};
	struct last_event e;

	create_ok("", &c);
	/* Another holder's code is unknown to them. */
	ck_assert_int_eq(
	    pcode_revoke(svc, &other, c.code.id, &err), CS_ERR_NOT_FOUND);
	ck_assert_int_eq(pcode_revoke(svc, &holder, c.code.id, &err), CS_OK);
	last_event(&e, NULL);
	ck_assert_str_eq(e.action, "code.revoke");
	ck_assert_int_eq(
	    pcode_revoke(svc, &holder, c.code.id, &err), CS_ERR_NOT_FOUND);
	expect_refused(&rp, c.long_code, "denied:revoked");
}
END_TEST

START_TEST(a_code_for_one_relying_party)
{
	struct pcode_created c;
	struct cs_err err = {0};
	char extra[96];

	snprintf(extra, sizeof(extra), "\"relying_party\": \"%s\"", rp2.id);
	create_ok(extra, &c);
	expect_refused(&rp, c.long_code, "denied:other_relying_party");
	ck_assert_msg(redeem(&rp2, c.long_code, &err) == CS_OK, "%s", err.msg);
}
END_TEST

START_TEST(usage_list_decides)
{
	struct pcode_created c;
	struct cs_err err = {0};

	create_ok("\"max_uses\": 3", &c);
	/* No list: no code; a list without TA01: no TA01 code. */
	expect_refused(&rp_none, c.long_code, "denied:not_in_usage_list");
	expect_refused(&rp_tb, c.short_code, "denied:not_in_usage_list");
	ck_assert_msg(redeem(&rp, c.long_code, &err) == CS_OK, "%s", err.msg);
	/* An unknown type in a list: no client at all. */
	{
		static const char *const bad[] = {"TA01", "NOPE"};
		char id[STORE_CODE_MAX], secret[CLIENT_SECRET_MAX];
		struct store_client *list = NULL;
		size_t n = 0, before;

		ck_assert_int_eq(client_list(svc, &list, &before, NULL), CS_OK);
		free(list);
		ck_assert_int_eq(
		    client_add_verifier(svc, "v", bad, 2, "test", id,
		        sizeof(id), secret, sizeof(secret), &err),
		    CS_ERR_NOT_FOUND);
		ck_assert_int_eq(client_list(svc, &list, &n, NULL), CS_OK);
		free(list);
		ck_assert_int_eq(n, before);
	}
}
END_TEST

START_TEST(every_refusal_is_the_same)
{
	struct pcode_created used, revoked, expired, bound, fine;
	struct cs_err err[9];
	struct store_licence l;
	char extra[96];
	int i, k = 0;

	memset(err, 0, sizeof(err));
	create_ok("", &used);
	create_ok("", &revoked);
	create_ok("", &expired);
	snprintf(extra, sizeof(extra), "\"relying_party\": \"%s\"", rp2.id);
	create_ok(extra, &bound);
	create_ok("", &fine);
	ck_assert_int_eq(redeem(&rp, used.long_code, NULL), CS_OK);
	ck_assert_int_eq(
	    pcode_revoke(svc, &holder, revoked.code.id, NULL), CS_OK);
	sql("UPDATE pcodes SET expires = 1 WHERE id = '%s'", expired.code.id);
	ck_assert_int_eq(
	    redeem(&rp, "not a code", &err[k++]), CS_ERR_NOT_FOUND);
	ck_assert_int_eq(
	    redeem(
	        &rp, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &err[k++]),
	    CS_ERR_NOT_FOUND);
	ck_assert_int_eq(
	    redeem(&rp, used.long_code, &err[k++]), CS_ERR_NOT_FOUND);
	ck_assert_int_eq(
	    redeem(&rp, revoked.short_code, &err[k++]), CS_ERR_NOT_FOUND);
	ck_assert_int_eq(
	    redeem(&rp, expired.long_code, &err[k++]), CS_ERR_NOT_FOUND);
	ck_assert_int_eq(
	    redeem(&rp, bound.long_code, &err[k++]), CS_ERR_NOT_FOUND);
	ck_assert_int_eq(
	    redeem(&rp_none, fine.long_code, &err[k++]), CS_ERR_NOT_FOUND);
	/* The licence is suspended: its codes stop working. */
	ck_assert_int_eq(lifecycle_apply(svc, &fx.issuer_a, lic,
	                     LIFECYCLE_SUSPEND, NULL, &l, NULL),
	    CS_OK);
	store_licence_release(&l);
	ck_assert_int_eq(
	    redeem(&rp, fine.long_code, &err[k++]), CS_ERR_NOT_FOUND);
	{
		struct last_event e;
		char object[STORE_CODE_MAX + 8];

		last_event(&e, fine.long_code);
		ck_assert_str_eq(e.outcome, "denied:licence_not_valid");
		snprintf(object, sizeof(object), "code:%s", fine.code.id);
		ck_assert_str_eq(e.object, object);
	}
	/* One answer: the same code and the same message, byte for byte. */
	ck_assert_int_eq(k, 8);
	for (i = 0; i < k; i++) {
		ck_assert_int_eq(err[i].rc, CS_ERR_NOT_FOUND);
		ck_assert_str_eq(err[i].msg, err[0].msg);
	}
	ck_assert_str_eq(err[0].msg, PCODE_REFUSED);
}
END_TEST

START_TEST(rate_limits_failed_redemptions)
{
	struct pcode_created c;
	struct cs_err err = {0};
	unsigned retry = 0;
	int i;

	limits(3, 5, 60);
	create_ok("\"max_uses\": 10", &c);
	/* Successes do not count. */
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(redeem(&rp, c.long_code, &err), CS_OK);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(redeem_from(&rp, SOURCE, "2345-6789-ABC", NULL,
		                     &retry, &err),
		    CS_ERR_NOT_FOUND);
		ck_assert_uint_eq(retry, 0);
	}
	/* The client is over its limit: even a good code waits. */
	ck_assert_int_eq(
	    redeem_from(&rp, "198.51.100.1", c.long_code, NULL, &retry, &err),
	    CS_ERR_DENIED);
	ck_assert_uint_ge(retry, 1);
	ck_assert_uint_le(retry, 60);
	/* Another client from the same address still may, twice. */
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(redeem_from(&rp2, SOURCE, "2345-6789-ABC",
		                     NULL, &retry, &err),
		    CS_ERR_NOT_FOUND);
	ck_assert_int_eq(
	    redeem_from(&rp2, SOURCE, c.long_code, NULL, &retry, &err),
	    CS_ERR_DENIED);
	ck_assert_uint_ge(retry, 1);
	/* ... and from elsewhere it is fine. */
	ck_assert_int_eq(
	    redeem_from(&rp2, "198.51.100.1", c.long_code, NULL, &retry, &err),
	    CS_OK);
}
END_TEST

START_TEST(ratelimit_windows)
{
	struct ratelimit *rl = NULL;
	int i;

	ck_assert_int_eq(ratelimit_new(2, 10, 8, &rl, NULL), CS_OK);
	ck_assert_uint_eq(ratelimit_check(rl, "a", 1, 100), 0);
	ratelimit_fail(rl, "a", 1, 100);
	ratelimit_fail(rl, "a", 1, 103);
	ck_assert_uint_eq(ratelimit_check(rl, "a", 1, 104), 6);
	ck_assert_uint_eq(ratelimit_check(rl, "b", 1, 104), 0);
	ck_assert_uint_eq(ratelimit_check(rl, "a", 1, 110), 0);
	/* A flood of other keys fills the table but never grows it. */
	for (i = 0; i < 1000; i++)
		ratelimit_fail(rl, &i, sizeof(i), 105);
	ratelimit_free(rl);
	ck_assert_int_eq(ratelimit_new(0, 10, 8, &rl, NULL), CS_ERR_INVALID);
}
END_TEST

/* --- concurrency ------------------------------------------------------- */

#define RACERS 6

struct race {
	pthread_barrier_t *start;
	const char *code;
	const struct client_principal *p;
	enum cs_rc rc;
};

static void *
racer(void *arg)
{
	struct race *r = arg;

	pthread_barrier_wait(r->start);
	r->rc = redeem(r->p, r->code, NULL);
	return NULL;
}

START_TEST(concurrent_redemptions_one_wins)
{
	pthread_barrier_t start;
	pthread_t t[RACERS];
	struct race r[RACERS];
	struct pcode_created c;
	struct store_usage *u = NULL;
	size_t n = 0;
	int round, i, wins;

	limits(1000, 1000, 60); /* the losers' refusals are failures */
	for (round = 0; round < 5; round++) {
		create_ok("", &c);
		ck_assert_int_eq(pthread_barrier_init(&start, NULL, RACERS), 0);
		for (i = 0; i < RACERS; i++) {
			r[i].start = &start;
			r[i].code = i % 2 == 0 ? c.long_code : c.short_code;
			r[i].p = i % 3 == 0 ? &rp2 : &rp;
			ck_assert_int_eq(
			    pthread_create(&t[i], NULL, racer, &r[i]), 0);
		}
		wins = 0;
		for (i = 0; i < RACERS; i++) {
			ck_assert_int_eq(pthread_join(t[i], NULL), 0);
			if (r[i].rc == CS_OK)
				wins++;
			else
				ck_assert_int_eq(r[i].rc, CS_ERR_NOT_FOUND);
		}
		pthread_barrier_destroy(&start);
		ck_assert_int_eq(wins, 1);
	}
	ck_assert_int_eq(
	    pcode_usage_list(svc, &holder, NULL, &u, &n, NULL), CS_OK);
	ck_assert_int_eq(n, 5);
	free(u);
}
END_TEST

START_TEST(no_report_key_no_oracle)
{
	struct pcode_created c;
	struct cs_err err = {0};

	create_ok("", &c);
	ck_assert_int_eq(redeem(&rp, c.long_code, &err), CS_ERR_TOKEN);
	ck_assert_int_eq(redeem(&rp, "2345-6789-ABC", &err), CS_ERR_TOKEN);
	/* Nothing was used: once the key exists, the code works. */
	ck_assert_int_eq(report_refresh(svc, NULL), CS_OK);
	ck_assert_msg(redeem(&rp, c.long_code, &err) == CS_OK, "%s", err.msg);
}
END_TEST

static Suite *
pcode_suite(void)
{
	Suite *s = suite_create("pcode");
	TCase *tc;

	tc = tcase_create("format");
	tcase_add_test(tc, short_form_check_character);
	tcase_add_test(tc, ratelimit_windows);
	suite_add_tcase(s, tc);
	tc = tcase_create("codes");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, create_gives_both_forms_and_stores_only_hashes);
	tcase_add_test(tc, create_checks_its_request);
	tcase_add_test(tc, redeem_long_form_once);
	tcase_add_test(tc, redeem_short_form_up_to_max_uses);
	tcase_add_test(tc, expired_codes_are_refused);
	tcase_add_test(tc, revoked_codes_are_refused);
	tcase_add_test(tc, a_code_for_one_relying_party);
	tcase_add_test(tc, usage_list_decides);
	tcase_add_test(tc, every_refusal_is_the_same);
	tcase_add_test(tc, rate_limits_failed_redemptions);
	tcase_add_test(tc, concurrent_redemptions_one_wins);
	suite_add_tcase(s, tc);
	tc = tcase_create("no report key");
	tcase_add_checked_fixture(tc, setup_no_report_key, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, no_report_key_no_oracle);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(pcode_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
