/*
 * cert.c: the certificates of certsvc (root CA, issuing CA and e-seal
 * certificates), their encodings and their verification.
 *
 * Certificates follow RFC 5280 to the letter, with exactly the extensions
 * asked for and nothing that OpenSSL's configuration would add: v3, a
 * positive 16-byte random serial, UTCTime until 2049 and GeneralizedTime
 * after, a subject of C (PrintableString), O, organizationIdentifier and CN
 * (UTF8String), subjectKeyIdentifier by method 1, authorityKeyIdentifier
 * with keyIdentifier only, and CRL distribution point and
 * authorityInfoAccess URIs when given.
 *
 * CA certificates carry critical basicConstraints and keyUsage
 * (keyCertSign, cRLSign only: CA keys sign certificates and CRLs, nothing
 * else).  E-seal certificates (ETSI EN 319 412-3 legal-person subject) carry
 * critical keyUsage digitalSignature + nonRepudiation and nothing that
 * would narrow their use: no extendedKeyUsage, so that S/MIME-purpose
 * verifiers ("openssl cms -verify" by default) accept them.  A certificate
 * never outlives its issuer: notAfter is capped at the issuer's.
 *
 * The issuer key may be token-backed (pkcs11/p11_prov.c): only its
 * EVP_PKEY is used.  The subject key is certified through a plain copy of
 * its public half, so a certificate never holds a token handle.  Every
 * issued certificate is verified against the issuer's public key before it
 * is handed out, so a faulty signer cannot produce a bad certificate.
 */
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certsvc/err.h"
#include "certsvc/mem.h"
#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

#define CRYPTO_SERIAL_LEN 16
#define CRYPTO_DAYS_MAX 36525 /* a century */
#define CRYPTO_NAME_MAX 64    /* ub-common-name, ub-organization-name */
#define CRYPTO_ORGID_MAX 64   /* ours: X.520 sets no upper bound */
#define CRYPTO_URL_MAX 1024
#define CRYPTO_CERT_MAX (1024 * 1024) /* largest encoding we decode */

/*
 * A token signer that fails leaves ERR_LIB_USER with its enum cs_rc as the
 * reason (pkcs11/p11_prov.c), so that "token unavailable" stays a 503
 * through X509_sign(), CMS_final() and friends.
 */
enum cs_rc
crypto_ossl_rc(enum cs_rc dflt)
{
	unsigned long e = ERR_peek_error();
	int reason = ERR_GET_REASON(e);

	if (e != 0 && ERR_GET_LIB(e) == ERR_LIB_USER && reason > CS_OK &&
	    reason <= CS_ERR_AUTH)
		return (enum cs_rc)reason;
	return dflt;
}

void
crypto_ossl_drain(void)
{
	if (ERR_peek_error() != 0)
		(void)cs_err_ossl(NULL, CS_ERR_CRYPTO, "drained");
}

const EVP_MD *
crypto_md_for_key(const EVP_PKEY *k)
{
	if (k != NULL && EVP_PKEY_is_a(k, "EC") && EVP_PKEY_get_bits(k) == 384)
		return EVP_sha384();
	return EVP_sha256();
}

/* --- the pieces of a certificate --------------------------------------- */

/* A plain copy of the public half of k, whatever k is backed by. */
static enum cs_rc
crypto_pub_copy(EVP_PKEY *k, EVP_PKEY **out, struct cs_err *err)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *pub;
	int len;

	*out = NULL;
	len = i2d_PUBKEY(k, &der);
	if (len <= 0)
		return cs_err_ossl(
		    err, CS_ERR_INVALID, "subject key has no public key");
	p = der;
	pub = d2i_PUBKEY(NULL, &p, len);
	OPENSSL_free(der);
	if (pub == NULL)
		return cs_err_ossl(
		    err, CS_ERR_INVALID, "subject key cannot be decoded");
	*out = pub;
	return CS_OK;
}

/* EC P-256 or P-384 on a named curve, or RSA of 2048 bits and more. */
static enum cs_rc
crypto_key_check(EVP_PKEY *pub, struct cs_err *err)
{
	char group[64];

	if (EVP_PKEY_is_a(pub, "RSA")) {
		if (EVP_PKEY_get_bits(pub) < 2048)
			return cs_err_set(err, CS_ERR_INVALID,
			    "subject key: RSA keys need 2048 bits or more");
		return CS_OK;
	}
	if (EVP_PKEY_is_a(pub, "EC") &&
	    EVP_PKEY_get_group_name(pub, group, sizeof(group), NULL) == 1 &&
	    (strcmp(group, "prime256v1") == 0 ||
	        strcmp(group, "secp384r1") == 0))
		return CS_OK;
	crypto_ossl_drain();
	return cs_err_set(err, CS_ERR_INVALID,
	    "subject key: only P-256, P-384 and RSA keys are certified");
}

static enum cs_rc
crypto_serial_set(X509 *x, struct cs_err *err)
{
	unsigned char b[CRYPTO_SERIAL_LEN];
	BIGNUM *bn = NULL;
	enum cs_rc rc = CS_OK;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return cs_err_ossl(err, CS_ERR_CRYPTO, "no random serial");
	/*
	 * 01xxxxxx: positive (no 0x00 pad needed) and never a leading zero
	 * octet, so the DER content is exactly 16 octets; 126 bits random.
	 */
	b[0] = (unsigned char)(0x40 | (b[0] & 0x3f));
	bn = BN_bin2bn(b, sizeof(b), NULL);
	if (bn == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "cannot set serial");
	BN_free(bn);
	return rc;
}

/* A UTF8String of 1 to 64 characters without control characters. */
static enum cs_rc
crypto_name_add_utf8(X509_NAME *name, int nid, const char *s, const char *field,
    struct cs_err *err)
{
	ASN1_STRING *str = NULL;
	enum cs_rc rc = CS_OK;
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return cs_err_set(err, CS_ERR_INVALID,
			    "%s has a control character", field);
	if (ASN1_mbstring_ncopy(&str, (const unsigned char *)s, -1,
	        MBSTRING_UTF8, B_ASN1_UTF8STRING, 1, CRYPTO_NAME_MAX) < 0) {
		crypto_ossl_drain();
		return cs_err_set(err, CS_ERR_INVALID,
		    "%s must be UTF-8 of 1 to %d characters", field,
		    CRYPTO_NAME_MAX);
	}
	if (X509_NAME_add_entry_by_NID(name, nid, V_ASN1_UTF8STRING,
	        ASN1_STRING_get0_data(str), ASN1_STRING_length(str), -1,
	        0) != 1)
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "cannot set %s", field);
	ASN1_STRING_free(str);
	return rc;
}

/* GB 32100 unified social credit code alphabet: 0-9, A-Z but I O S V Z. */
static bool
crypto_uscc_char(char c)
{
	return (c >= '0' && c <= '9') ||
	    (c >= 'A' && c <= 'Z' && strchr("IOSVZ", c) == NULL);
}

/*
 * organizationIdentifier in the ETSI EN 319 412-1 5.1.4 form: a 3-letter
 * identity type (VAT, NTR, PSD, LEI), an ISO 3166 country code, '-', the
 * identifier (capital letters, digits, '-', '.', '/').  "NTRCN-" is
 * followed by the 18 characters of a unified social credit code; its check
 * character is validated where departments are created, not here.
 */
static enum cs_rc
crypto_orgid_check(const char *s, struct cs_err *err)
{
	static const char *const types[] = {"VAT", "NTR", "PSD", "LEI"};
	size_t i, n = strlen(s);
	bool type_ok = false;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strncmp(s, types[i], 3) == 0)
			type_ok = true;
	if (!type_ok || n < 7 || n > CRYPTO_ORGID_MAX || s[3] < 'A' ||
	    s[3] > 'Z' || s[4] < 'A' || s[4] > 'Z' || s[5] != '-')
		return cs_err_set(err, CS_ERR_INVALID,
		    "organization identifier must be "
		    "<VAT|NTR|PSD|LEI><country>-"
		    "<id> of at most %d characters",
		    CRYPTO_ORGID_MAX);
	for (i = 6; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		        (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		        s[i] == '.' || s[i] == '/'))
			return cs_err_set(err, CS_ERR_INVALID,
			    "organization identifier has a character other "
			    "than A-Z, 0-9, '-', '.', '/'");
	if (strncmp(s, "NTRCN-", 6) == 0) {
		if (n != 6 + 18)
			return cs_err_set(err, CS_ERR_INVALID,
			    "organization identifier: a credit code has 18 "
			    "characters");
		for (i = 6; i < n; i++)
			if (!crypto_uscc_char(s[i]))
				return cs_err_set(err, CS_ERR_INVALID,
				    "organization identifier: '%c' is not a "
				    "credit code character",
				    s[i]);
	}
	return CS_OK;
}

/*
 * Subject order C, O, organizationIdentifier, CN (ETSI EN 319 412-3 4.2.1
 * names the same attributes for a legal person).  organizationIdentifier is
 * a DirectoryString (X.520); RFC 5280 4.1.2.6 allows PrintableString or
 * UTF8String.  We use UTF8String like O and CN: RFC 5280 prefers it for new
 * names, and its value is restricted (crypto_orgid_check) to characters
 * that compare equal under either encoding (RFC 5280 7.1, RFC 4518).
 */
static enum cs_rc
crypto_subject_set(
    X509 *x, const struct crypto_cert_spec *spec, struct cs_err *err)
{
	X509_NAME *name = X509_get_subject_name(x);
	const char *c = spec->country;
	enum cs_rc rc;

	if (c != NULL) {
		/* ISO 3166 alpha-2, which PrintableString can carry. */
		if (strlen(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' ||
		    c[1] > 'Z')
			return cs_err_set(err, CS_ERR_INVALID,
			    "country must be two capital letters");
		if (X509_NAME_add_entry_by_NID(name, NID_countryName,
		        V_ASN1_PRINTABLESTRING, (const unsigned char *)c, 2, -1,
		        0) != 1)
			return cs_err_ossl(
			    err, CS_ERR_CRYPTO, "cannot set country");
	}
	if (spec->organization != NULL) {
		rc = crypto_name_add_utf8(name, NID_organizationName,
		    spec->organization, "organization", err);
		if (rc != CS_OK)
			return rc;
	}
	if (spec->org_identifier != NULL) {
		rc = crypto_orgid_check(spec->org_identifier, err);
		if (rc != CS_OK)
			return rc;
		rc = crypto_name_add_utf8(name, NID_organizationIdentifier,
		    spec->org_identifier, "organization identifier", err);
		if (rc != CS_OK)
			return rc;
	}
	return crypto_name_add_utf8(
	    name, NID_commonName, spec->common_name, "common name", err);
}

static enum cs_rc
crypto_url_check(const char *url, const char *field, struct cs_err *err)
{
	size_t i, n = strlen(url);
	size_t scheme;

	if (strncasecmp(url, "http://", 7) == 0)
		scheme = 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		scheme = 8;
	else
		return cs_err_set(err, CS_ERR_INVALID,
		    "%s must be an http or https URI", field);
	if (n <= scheme || n > CRYPTO_URL_MAX)
		return cs_err_set(err, CS_ERR_INVALID,
		    "%s must have a host and at most %d characters", field,
		    CRYPTO_URL_MAX);
	/* An IA5String URI: printable ASCII, no spaces (RFC 3986). */
	for (i = 0; i < n; i++)
		if (url[i] <= 0x20 || url[i] >= 0x7f)
			return cs_err_set(err, CS_ERR_INVALID,
			    "%s has a character not allowed in a URI", field);
	return CS_OK;
}

/* A GeneralName uniformResourceIdentifier (given), NULL on failure. */
static GENERAL_NAME *
crypto_gn_uri(const char *url)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();

	if (gn == NULL || ia5 == NULL ||
	    ASN1_STRING_set(ia5, url, (int)strlen(url)) != 1) {
		ASN1_IA5STRING_free(ia5);
		GENERAL_NAME_free(gn);
		return NULL;
	}
	GENERAL_NAME_set0_value(gn, GEN_URI, ia5);
	return gn;
}

static enum cs_rc
crypto_ext_add(X509 *x, int nid, void *value, int crit, const char *what,
    struct cs_err *err)
{
	if (X509_add1_ext_i2d(x, nid, value, crit, X509V3_ADD_DEFAULT) != 1)
		return cs_err_ossl(err, CS_ERR_CRYPTO, "cannot add %s", what);
	return CS_OK;
}

static enum cs_rc
crypto_ext_basic(X509 *x, enum crypto_profile profile, struct cs_err *err)
{
	BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
	enum cs_rc rc;

	if (bc == NULL)
		return cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
	bc->ca = 0xff; /* DER TRUE */
	if (profile == CRYPTO_CERT_SUB_CA) {
		/* An issuing CA issues end-entity certificates only. */
		bc->pathlen = ASN1_INTEGER_new();
		if (bc->pathlen == NULL ||
		    ASN1_INTEGER_set(bc->pathlen, 0) != 1) {
			rc = cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	rc = crypto_ext_add(
	    x, NID_basic_constraints, bc, 1, "basic constraints", err);
out:
	BASIC_CONSTRAINTS_free(bc);
	return rc;
}

static enum cs_rc
crypto_ext_key_usage(X509 *x, enum crypto_profile profile, struct cs_err *err)
{
	ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
	/*
	 * A CA key signs certificates and CRLs, nothing else: keyCertSign
	 * (5), cRLSign (6).  A seal key signs documents and commits its
	 * department to them: digitalSignature (0), nonRepudiation (1, now
	 * contentCommitment); so do the report, TSA and audit keys, whose
	 * signatures are kept as evidence.  An OCSP responder only
	 * authenticates its answers: digitalSignature.  DER drops the
	 * trailing zero bits.
	 */
	int a, b;
	enum cs_rc rc;

	switch (profile) {
	case CRYPTO_CERT_ROOT_CA:
	case CRYPTO_CERT_SUB_CA:
		a = 5;
		b = 6;
		break;
	case CRYPTO_CERT_OCSP:
		a = b = 0;
		break;
	default:
		a = 0;
		b = 1;
		break;
	}
	if (ku == NULL || ASN1_BIT_STRING_set_bit(ku, a, 1) != 1 ||
	    ASN1_BIT_STRING_set_bit(ku, b, 1) != 1)
		rc = cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
	else
		rc = crypto_ext_add(x, NID_key_usage, ku, 1, "key usage", err);
	ASN1_BIT_STRING_free(ku);
	return rc;
}

/*
 * extendedKeyUsage of the service profiles: critical for a TSA (RFC 3161
 * 2.3 requires it), non-critical for the OCSP responder (RFC 6960
 * 4.2.2.2), which also gets id-pkix-ocsp-nocheck: its own status is not
 * checked, so its certificate is short-lived.
 */
static enum cs_rc
crypto_ext_service(X509 *x, enum crypto_profile profile, struct cs_err *err)
{
	EXTENDED_KEY_USAGE *eku;
	ASN1_NULL *nocheck;
	int nid;
	enum cs_rc rc;

	if (profile == CRYPTO_CERT_OCSP)
		nid = NID_OCSP_sign;
	else if (profile == CRYPTO_CERT_TSA)
		nid = NID_time_stamp;
	else
		return CS_OK;
	eku = sk_ASN1_OBJECT_new_null();
	if (eku == NULL || !sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(nid))) {
		sk_ASN1_OBJECT_free(eku);
		return cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
	}
	rc = crypto_ext_add(x, NID_ext_key_usage, eku,
	    profile == CRYPTO_CERT_TSA, "extended key usage", err);
	/* OBJ_nid2obj() objects are static: free the stack only. */
	sk_ASN1_OBJECT_free(eku);
	if (rc != CS_OK || profile != CRYPTO_CERT_OCSP)
		return rc;
	nocheck = ASN1_NULL_new();
	if (nocheck == NULL)
		return cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
	rc = crypto_ext_add(
	    x, NID_id_pkix_OCSP_noCheck, nocheck, 0, "ocsp-nocheck", err);
	ASN1_NULL_free(nocheck);
	return rc;
}

/* RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
static enum cs_rc
crypto_key_id(X509 *x, ASN1_OCTET_STRING **out, struct cs_err *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	ASN1_OCTET_STRING *id;

	*out = NULL;
	if (X509_pubkey_digest(x, EVP_sha1(), md, &mdlen) != 1)
		return cs_err_ossl(
		    err, CS_ERR_CRYPTO, "cannot hash public key");
	id = ASN1_OCTET_STRING_new();
	if (id == NULL || ASN1_OCTET_STRING_set(id, md, (int)mdlen) != 1) {
		ASN1_OCTET_STRING_free(id);
		return cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
	}
	*out = id;
	return CS_OK;
}

static enum cs_rc
crypto_ext_key_ids(X509 *x, X509 *issuer, struct cs_err *err)
{
	ASN1_OCTET_STRING *ski = NULL, *iski = NULL;
	AUTHORITY_KEYID *akid = NULL;
	const ASN1_OCTET_STRING *have;
	enum cs_rc rc;

	rc = crypto_key_id(x, &ski, err);
	if (rc != CS_OK)
		goto out;
	rc = crypto_ext_add(x, NID_subject_key_identifier, ski, 0,
	    "subject key identifier", err);
	if (rc != CS_OK)
		goto out;
	/* The issuer's own SKI if it has one, else its method 1 value. */
	if (issuer == NULL) {
		iski = ASN1_OCTET_STRING_dup(ski);
	} else if ((have = X509_get0_subject_key_id(issuer)) != NULL) {
		iski = ASN1_OCTET_STRING_dup(have);
	} else {
		rc = crypto_key_id(issuer, &iski, err);
		if (rc != CS_OK)
			goto out;
	}
	akid = AUTHORITY_KEYID_new();
	if (iski == NULL || akid == NULL) {
		rc = cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	akid->keyid = iski; /* keyIdentifier only, no issuer and serial */
	iski = NULL;
	rc = crypto_ext_add(x, NID_authority_key_identifier, akid, 0,
	    "authority key identifier", err);
out:
	AUTHORITY_KEYID_free(akid);
	ASN1_OCTET_STRING_free(iski);
	ASN1_OCTET_STRING_free(ski);
	return rc;
}

static enum cs_rc
crypto_ext_crl_dp(X509 *x, const char *url, struct cs_err *err)
{
	CRL_DIST_POINTS *dps = sk_DIST_POINT_new_null();
	DIST_POINT *dp = DIST_POINT_new();
	GENERAL_NAME *gn = crypto_gn_uri(url);
	enum cs_rc rc;

	if (dps == NULL || dp == NULL || gn == NULL)
		goto nomem;
	dp->distpoint = DIST_POINT_NAME_new();
	if (dp->distpoint == NULL)
		goto nomem;
	dp->distpoint->type = 0; /* fullName */
	dp->distpoint->name.fullname = GENERAL_NAMES_new();
	if (dp->distpoint->name.fullname == NULL ||
	    sk_GENERAL_NAME_push(dp->distpoint->name.fullname, gn) == 0)
		goto nomem;
	gn = NULL;
	if (sk_DIST_POINT_push(dps, dp) == 0)
		goto nomem;
	dp = NULL;
	rc = crypto_ext_add(x, NID_crl_distribution_points, dps, 0,
	    "CRL distribution points", err);
	goto out;
nomem:
	rc = cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
out:
	GENERAL_NAME_free(gn);
	DIST_POINT_free(dp);
	CRL_DIST_POINTS_free(dps);
	return rc;
}

static bool
crypto_aia_push(AUTHORITY_INFO_ACCESS *aia, int method, const char *url)
{
	ACCESS_DESCRIPTION *ad = ACCESS_DESCRIPTION_new();
	GENERAL_NAME *gn = crypto_gn_uri(url);

	if (ad == NULL || gn == NULL)
		goto fail;
	ASN1_OBJECT_free(ad->method);
	ad->method = OBJ_nid2obj(method);
	GENERAL_NAME_free(ad->location);
	ad->location = gn;
	gn = NULL;
	if (ad->method == NULL || sk_ACCESS_DESCRIPTION_push(aia, ad) == 0)
		goto fail;
	return true;
fail:
	GENERAL_NAME_free(gn);
	ACCESS_DESCRIPTION_free(ad);
	return false;
}

static enum cs_rc
crypto_ext_aia(
    X509 *x, const char *ocsp, const char *issuers, struct cs_err *err)
{
	AUTHORITY_INFO_ACCESS *aia = sk_ACCESS_DESCRIPTION_new_null();
	enum cs_rc rc;

	if (aia == NULL ||
	    (ocsp != NULL && !crypto_aia_push(aia, NID_ad_OCSP, ocsp)) ||
	    (issuers != NULL &&
	        !crypto_aia_push(aia, NID_ad_ca_issuers, issuers)))
		rc = cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
	else
		rc = crypto_ext_add(x, NID_info_access, aia, 0,
		    "authority information access", err);
	AUTHORITY_INFO_ACCESS_free(aia);
	return rc;
}

/*
 * notBefore now, notAfter now + days but never after the issuer's notAfter
 * (a certificate that outlives its issuer's would be unverifiable for the
 * difference).  ASN1_TIME_adj() picks UTCTime up to 2049, GeneralizedTime
 * after, whatever encoding the issuer used.
 */
static enum cs_rc
crypto_validity_set(X509 *x, X509 *issuer, unsigned days, unsigned hours,
    time_t now, struct cs_err *err)
{
	ASN1_TIME *t = NULL;
	int dd = 0, ds = 0, add_days = (int)days, add_secs = 0;
	enum cs_rc rc = CS_OK;

	if (hours > 0) {
		add_days = (int)(hours / 24);
		add_secs = (int)(hours % 24) * 3600;
	}
	if (issuer != NULL) {
		t = ASN1_TIME_set(NULL, now);
		if (t == NULL ||
		    ASN1_TIME_diff(&dd, &ds, t, X509_get0_notAfter(issuer)) !=
		        1) {
			rc = cs_err_ossl(err, CS_ERR_CRYPTO,
			    "cannot read the issuer's validity");
			goto out;
		}
		if (dd < 0 || ds < 0) {
			rc = cs_err_set(err, CS_ERR_INVALID,
			    "issuer certificate has expired");
			goto out;
		}
		/* ASN1_TIME_diff() gives 0 <= ds < 86400 here. */
		if (dd < add_days || (dd == add_days && ds < add_secs)) {
			add_days = dd;
			add_secs = ds;
		}
	}
	if (X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &now) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), add_days, add_secs, &now) ==
	        NULL)
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "cannot set validity");
out:
	ASN1_TIME_free(t);
	return rc;
}

static enum cs_rc
crypto_spec_check(const struct crypto_cert_spec *spec, X509 *issuer,
    EVP_PKEY *issuer_key, struct cs_err *err)
{
	enum cs_rc rc;

	if (spec == NULL || issuer_key == NULL || spec->subject_key == NULL)
		return cs_err_set(err, CS_ERR_INVALID,
		    "certificate needs a subject key and an issuer key");
	if (spec->profile < CRYPTO_CERT_ROOT_CA ||
	    spec->profile > CRYPTO_CERT_AUDIT)
		return cs_err_set(err, CS_ERR_INVALID,
		    "unknown certificate profile %d", (int)spec->profile);
	if ((spec->profile == CRYPTO_CERT_ROOT_CA) != (issuer == NULL))
		return cs_err_set(err, CS_ERR_INVALID,
		    spec->profile == CRYPTO_CERT_ROOT_CA
		        ? "a root certificate is self-signed"
		        : "an issued certificate needs its issuer");
	if (spec->common_name == NULL)
		return cs_err_set(
		    err, CS_ERR_INVALID, "common name is missing");
	/* ETSI EN 319 412-3 4.2.1: a legal person is named by all four. */
	if (spec->profile == CRYPTO_CERT_SEAL &&
	    (spec->country == NULL || spec->organization == NULL ||
	        spec->org_identifier == NULL))
		return cs_err_set(err, CS_ERR_INVALID,
		    "a seal certificate needs country, organization and "
		    "organization identifier");
	if (spec->days > CRYPTO_DAYS_MAX || spec->hours / 24 > CRYPTO_DAYS_MAX)
		return cs_err_set(err, CS_ERR_INVALID,
		    "validity must be at most %d days", CRYPTO_DAYS_MAX);
	if (spec->crl_url != NULL) {
		rc = crypto_url_check(spec->crl_url, "CRL URL", err);
		if (rc != CS_OK)
			return rc;
	}
	if (spec->ocsp_url != NULL) {
		rc = crypto_url_check(spec->ocsp_url, "OCSP URL", err);
		if (rc != CS_OK)
			return rc;
	}
	if (spec->ca_issuers_url != NULL) {
		rc = crypto_url_check(
		    spec->ca_issuers_url, "CA issuers URL", err);
		if (rc != CS_OK)
			return rc;
	}
	if (issuer != NULL) {
		if (X509_check_ca(issuer) < 1)
			return cs_err_set(err, CS_ERR_INVALID,
			    "issuer certificate is not a CA");
		if (X509_check_private_key(issuer, issuer_key) != 1) {
			crypto_ossl_drain();
			return cs_err_set(err, CS_ERR_INVALID,
			    "issuer key does not match the issuer certificate");
		}
	}
	return CS_OK;
}

enum cs_rc
crypto_cert_issue(const struct crypto_cert_spec *spec, X509 *issuer,
    EVP_PKEY *issuer_key, X509 **out, struct cs_err *err)
{
	EVP_PKEY *pub = NULL;
	X509 *x = NULL;
	time_t now = time(NULL);
	enum cs_rc rc;

	*out = NULL;
	rc = crypto_spec_check(spec, issuer, issuer_key, err);
	if (rc != CS_OK)
		goto out;
	rc = crypto_pub_copy(spec->subject_key, &pub, err);
	if (rc != CS_OK)
		goto out;
	rc = crypto_key_check(pub, err);
	if (rc != CS_OK)
		goto out;
	if (issuer == NULL && EVP_PKEY_eq(pub, issuer_key) != 1) {
		crypto_ossl_drain();
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "self-signed: issuer key is not the subject key");
		goto out;
	}
	x = X509_new();
	if (x == NULL) {
		rc = cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (X509_set_version(x, X509_VERSION_3) != 1) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "cannot set version");
		goto out;
	}
	rc = crypto_serial_set(x, err);
	if (rc != CS_OK)
		goto out;
	rc = crypto_validity_set(x, issuer, spec->days, spec->hours, now, err);
	if (rc != CS_OK)
		goto out;
	rc = crypto_subject_set(x, spec, err);
	if (rc != CS_OK)
		goto out;
	if (issuer != NULL &&
	    X509_NAME_cmp(
	        X509_get_subject_name(x), X509_get_subject_name(issuer)) == 0) {
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "subject must differ from its issuer's");
		goto out;
	}
	if (X509_set_issuer_name(x,
	        issuer != NULL ? X509_get_subject_name(issuer)
	                       : X509_get_subject_name(x)) != 1 ||
	    X509_set_pubkey(x, pub) != 1) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "cannot set names or key");
		goto out;
	}
	/*
	 * A seal certificate (like every end-entity profile) has no
	 * basicConstraints.  RFC 5280 4.2.1.9
	 * makes it optional in end-entity certificates, and CA:FALSE would
	 * encode as an empty SEQUENCE that says nothing more: path validation
	 * (RFC 5280 6.1.4 (k)) accepts as an issuer only a certificate that
	 * asserts cA, and keyUsage without keyCertSign forbids certificate
	 * signing on its own (4.2.1.3).  ETSI EN 319 412-2/-3 do not ask for
	 * it.
	 */
	rc = CS_OK;
	if (spec->profile == CRYPTO_CERT_ROOT_CA ||
	    spec->profile == CRYPTO_CERT_SUB_CA)
		rc = crypto_ext_basic(x, spec->profile, err);
	if (rc == CS_OK)
		rc = crypto_ext_key_usage(x, spec->profile, err);
	if (rc == CS_OK)
		rc = crypto_ext_service(x, spec->profile, err);
	if (rc == CS_OK)
		rc = crypto_ext_key_ids(x, issuer, err);
	if (rc == CS_OK && spec->crl_url != NULL)
		rc = crypto_ext_crl_dp(x, spec->crl_url, err);
	if (rc == CS_OK &&
	    (spec->ocsp_url != NULL || spec->ca_issuers_url != NULL))
		rc = crypto_ext_aia(
		    x, spec->ocsp_url, spec->ca_issuers_url, err);
	if (rc != CS_OK)
		goto out;
	if (X509_sign(x, issuer_key, crypto_md_for_key(issuer_key)) <= 0) {
		rc = cs_err_ossl(err, crypto_ossl_rc(CS_ERR_CRYPTO),
		    "cannot sign certificate '%s'", spec->common_name);
		goto out;
	}
	if (X509_verify(x, issuer != NULL ? X509_get0_pubkey(issuer) : pub) !=
	    1) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO,
		    "signature of certificate '%s' does not verify",
		    spec->common_name);
		goto out;
	}
	*out = x;
	x = NULL;
out:
	X509_free(x);
	EVP_PKEY_free(pub);
	return rc;
}

/* --- encodings ---------------------------------------------------------- */

enum cs_rc
crypto_cert_to_pem(X509 *cert, struct buf **out, struct cs_err *err)
{
	BIO *b;
	char *data;
	long len;
	enum cs_rc rc = CS_OK;

	*out = NULL;
	b = BIO_new(BIO_s_mem());
	if (b == NULL || PEM_write_bio_X509(b, cert) != 1) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "cannot encode PEM");
		goto out;
	}
	len = BIO_get_mem_data(b, &data);
	*out = buf_from(data, (size_t)len);
	if (*out == NULL)
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
out:
	BIO_free(b);
	return rc;
}

enum cs_rc
crypto_cert_to_der(X509 *cert, struct buf **out, struct cs_err *err)
{
	struct buf *b;
	unsigned char *p;
	int len;

	*out = NULL;
	len = i2d_X509(cert, NULL);
	if (len <= 0)
		return cs_err_ossl(err, CS_ERR_CRYPTO, "cannot encode DER");
	b = buf_new((size_t)len);
	if (b == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	p = b->data;
	if (i2d_X509(cert, &p) != len) {
		buf_free(b);
		return cs_err_ossl(err, CS_ERR_CRYPTO, "cannot encode DER");
	}
	b->len = (size_t)len;
	*out = b;
	return CS_OK;
}

enum cs_rc
crypto_cert_from_pem(const void *p, size_t len, X509 **out, struct cs_err *err)
{
	BIO *b;

	*out = NULL;
	if (p == NULL || len == 0 || len > CRYPTO_CERT_MAX)
		return cs_err_set(err, CS_ERR_INVALID,
		    "certificate must be 1 to %d bytes", CRYPTO_CERT_MAX);
	b = BIO_new_mem_buf(p, (int)len);
	if (b == NULL)
		return cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
	*out = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	if (*out == NULL)
		return cs_err_ossl(
		    err, CS_ERR_INVALID, "certificate is not valid PEM");
	return CS_OK;
}

enum cs_rc
crypto_cert_from_der(const void *p, size_t len, X509 **out, struct cs_err *err)
{
	const unsigned char *q = p;
	X509 *x;

	*out = NULL;
	if (p == NULL || len == 0 || len > CRYPTO_CERT_MAX)
		return cs_err_set(err, CS_ERR_INVALID,
		    "certificate must be 1 to %d bytes", CRYPTO_CERT_MAX);
	x = d2i_X509(NULL, &q, (long)len);
	if (x == NULL)
		return cs_err_ossl(
		    err, CS_ERR_INVALID, "certificate is not valid DER");
	if (q != (const unsigned char *)p + len) {
		X509_free(x);
		return cs_err_set(
		    err, CS_ERR_INVALID, "certificate has trailing data");
	}
	*out = x;
	return CS_OK;
}

/* --- verification ------------------------------------------------------- */

enum cs_rc
crypto_cert_verify(X509 *cert, X509 *root, STACK_OF(X509) * chain, bool *valid,
    char *reason, size_t reasonsz, struct cs_err *err)
{
	return crypto_chain_verify(
	    cert, root, chain, 0, valid, reason, reasonsz, err);
}

enum cs_rc
crypto_chain_verify(X509 *cert, X509 *root, STACK_OF(X509) * chain, int purpose,
    bool *valid, char *reason, size_t reasonsz, struct cs_err *err)
{
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	enum cs_rc rc = CS_OK;
	int r;

	*valid = false;
	if (reason != NULL && reasonsz > 0)
		reason[0] = '\0';
	if (cert == NULL || root == NULL)
		return cs_err_set(err, CS_ERR_INVALID,
		    "verify needs a certificate and a root");
	store = X509_STORE_new();
	ctx = X509_STORE_CTX_new();
	if (store == NULL || ctx == NULL) {
		rc = cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* root is the only trust anchor; chain is untrusted. */
	if (X509_STORE_add_cert(store, root) != 1 ||
	    X509_STORE_CTX_init(ctx, store, cert, chain) != 1) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "cannot set up verify");
		goto out;
	}
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_X509_STRICT);
	if (purpose != 0 && X509_STORE_CTX_set_purpose(ctx, purpose) != 1) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "cannot set up verify");
		goto out;
	}
	r = X509_verify_cert(ctx);
	if (r < 0) {
		rc = cs_err_ossl(
		    err, CS_ERR_CRYPTO, "certificate verify failed");
		goto out;
	}
	*valid = r == 1;
	if (!*valid && reason != NULL && reasonsz > 0)
		snprintf(reason, reasonsz, "%s",
		    X509_verify_cert_error_string(
		        X509_STORE_CTX_get_error(ctx)));
	crypto_ossl_drain();
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return rc;
}

bool
crypto_cert_matches_key(X509 *cert, EVP_PKEY *pub)
{
	EVP_PKEY *k;
	bool ok;

	if (cert == NULL || pub == NULL)
		return false;
	k = X509_get0_pubkey(cert);
	ok = k != NULL && EVP_PKEY_eq(k, pub) == 1;
	crypto_ossl_drain();
	return ok;
}

void
crypto_cert_subject(X509 *cert, char *out, size_t outsz)
{
	/* RFC 2253 order (CN first), ", " between, UTF-8 left as it is. */
	const unsigned long flags =
	    ((XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) & ~XN_FLAG_SEP_MASK) |
	    XN_FLAG_SEP_CPLUS_SPC;
	BIO *b;
	char *data;
	long len;
	size_t n;

	if (out == NULL || outsz == 0)
		return;
	out[0] = '\0';
	if (cert == NULL)
		return;
	b = BIO_new(BIO_s_mem());
	if (b == NULL ||
	    X509_NAME_print_ex(b, X509_get_subject_name(cert), 0, flags) < 0) {
		crypto_ossl_drain();
		BIO_free(b);
		return;
	}
	len = BIO_get_mem_data(b, &data);
	n = len > 0 ? (size_t)len : 0;
	if (n >= outsz) {
		/* Cut at a character boundary, not inside a UTF-8 sequence. */
		n = outsz - 1;
		while (n > 0 && ((unsigned char)data[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(out, data, n);
	out[n] = '\0';
	BIO_free(b);
}
