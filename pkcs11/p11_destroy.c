/*
 * p11_destroy.c: destroying a key pair in the token, the last step of a
 * key's life (issue #9: a seal key retired by a rotation).  The URI must
 * name exactly one private key; that key and every other object carrying
 * its label and CKA_ID (its public key) are destroyed.  Handles of the
 * key handle cache are invalidated, as after a recovery.
 */
#include <stdlib.h>
#include <string.h>

#include "pkcs11/p11_int.h"

#define DESTROY_MAX 8 /* objects of one key pair: private, public, cert */

struct destroy_op {
	struct p11_uri u;
	unsigned destroyed;
};

/* Find up to max objects matching t[0..nt); *n how many. */
static CK_RV
destroy_find(struct p11_token *tok, CK_SESSION_HANDLE h, CK_ATTRIBUTE *t,
    CK_ULONG nt, CK_OBJECT_HANDLE *found, CK_ULONG max, CK_ULONG *n)
{
	CK_RV rv;

	*n = 0;
	rv = tok->f->C_FindObjectsInit(h, t, nt);
	if (rv != CKR_OK)
		return rv;
	rv = tok->f->C_FindObjects(h, found, max, n);
	tok->f->C_FindObjectsFinal(h);
	return rv;
}

static enum cs_rc
destroy_run(struct p11_token *tok, CK_SESSION_HANDLE h, void *arg, CK_RV *rv,
    struct cs_err *err)
{
	struct destroy_op *op = arg;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_OBJECT_HANDLE found[DESTROY_MAX];
	unsigned char id[P11_ID_MAX];
	char label[P11_LABEL_MAX];
	CK_ATTRIBUTE t[3], a[2];
	CK_ULONG n = 0, nt = 0, i;
	char rvbuf[32];

	t[nt].type = CKA_CLASS;
	t[nt].pValue = &cls;
	t[nt++].ulValueLen = sizeof(cls);
	if (op->u.has_object) {
		t[nt].type = CKA_LABEL;
		t[nt].pValue = op->u.object;
		t[nt++].ulValueLen = strlen(op->u.object);
	}
	if (op->u.has_id) {
		t[nt].type = CKA_ID;
		t[nt].pValue = op->u.id;
		t[nt++].ulValueLen = op->u.id_len;
	}
	*rv = destroy_find(tok, h, t, nt, found, 2, &n);
	if (*rv != CKR_OK)
		goto fail;
	if (n == 0 && op->destroyed == 0)
		return cs_err_set(err, CS_ERR_NOT_FOUND, "key not found");
	if (n == 0) /* gone in an earlier attempt of this call */
		return CS_OK;
	if (n > 1)
		return cs_err_set(
		    err, CS_ERR_CONFLICT, "key uri matches more than one key");
	/* The pair: every object with the private key's label and id. */
	memset(label, 0, sizeof(label));
	a[0].type = CKA_LABEL;
	a[0].pValue = label;
	a[0].ulValueLen = sizeof(label) - 1;
	a[1].type = CKA_ID;
	a[1].pValue = id;
	a[1].ulValueLen = sizeof(id);
	*rv = tok->f->C_GetAttributeValue(h, found[0], a, 2);
	if (*rv != CKR_OK)
		goto fail;
	*rv = destroy_find(tok, h, a, 2, found, DESTROY_MAX, &n);
	if (*rv != CKR_OK)
		goto fail;
	for (i = 0; i < n; i++) {
		*rv = tok->f->C_DestroyObject(h, found[i]);
		if (*rv != CKR_OK)
			goto fail;
		op->destroyed++;
	}
	return CS_OK;
fail:
	return cs_err_set(err, p11_rv_rc(*rv), "token destroy failed: %s",
	    p11_rv_name(*rv, rvbuf, sizeof(rvbuf)));
}

enum cs_rc
p11_key_destroy(struct p11_token *tok, const char *uri, struct cs_err *err)
{
	struct destroy_op op;
	enum cs_rc rc;

	memset(&op, 0, sizeof(op));
	rc = p11_uri_parse(uri, &op.u, err);
	if (rc != CS_OK)
		return rc;
	if (!op.u.has_object && !op.u.has_id)
		return cs_err_set(
		    err, CS_ERR_INVALID, "pkcs11 uri: names no object or id");
	if (op.u.has_token && strcmp(op.u.token, tok->label) != 0)
		return cs_err_set(err, CS_ERR_NOT_FOUND,
		    "key uri names token '%s', not '%s'", op.u.token,
		    tok->label);
	rc = p11_pool_run(tok, destroy_run, &op, err);
	/* Cached handles may name destroyed objects now. */
	atomic_fetch_add(&tok->key_gen, 1);
	return rc;
}
