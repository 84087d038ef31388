/*
 * svid.c - the local CA (generated into state_dir or loaded from PEM files), X.509-SVID and
 * JWT-SVID issuance, the JWKS and JWT-SVID validation. OpenSSL 3 EVP APIs only. Everything a
 * worker thread reads from struct svid_ca is prepared at open time and never modified, so the
 * issue/validate functions may run concurrently.
 */
#include "daemon/svid.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define SVID_CA_FILE_MAX       (1024 * 1024) /* bytes of a PEM file we read */
#define SVID_CA_MAX_CERTS      16	     /* certificates in a chain or bundle file */
#define SVID_CA_DEFAULT_TTL_S  (365ULL * 24 * 3600)
#define SVID_CA_SERIAL_BYTES   16
#define SVID_JWT_DEFAULT_TTL_S 300
#define SVID_JWT_PART_MAX      SVID_JWT_MAX /* decoded bytes of one token part */
#define SVID_DNS_NAME_MAX      253
#define SVID_KID_LEN	       32
#define SVID_EC_COORD	       32 /* P-256 */
#define SVID_NAME_FIELD_MAX    64 /* ub-common-name etc. (RFC 5280 upper bounds) */

struct svid_ca {
	char trust_domain[SPIFFE_TRUST_DOMAIN_MAX + 1];
	EVP_PKEY *key;		 /* X.509 CA signing key */
	X509 *cert;		 /* the signing certificate (open time only after that) */
	X509_NAME *issuer;	 /* its subject, pre-encoded: issuer name of every SVID */
	ASN1_OCTET_STRING *skid; /* its subject key id: AKID of every SVID */
	int64_t not_after;	 /* its expiry: no SVID outlives it */
	uint8_t *chain_tail;	 /* DER intermediates appended to every SVID chain */
	size_t chain_tail_len;
	uint8_t *bundle; /* DER trust anchors */
	size_t bundle_len;
	EVP_PKEY *jwt_key;     /* P-256 */
	EVP_PKEY *leaf_params; /* P-256 domain parameters: the template of every leaf key */
	char kid[SVID_KID_LEN + 1];
	char jwk_x[64], jwk_y[64]; /* base64url coordinates */
	const char *generated;	   /* NULL, or why a new CA was generated */
};

/* ---- small helpers ------------------------------------------------------------------------ */

static const char b64url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Encodes without padding into out (NUL-terminated). Returns the length or -ENOSPC. */
static int b64url_encode(const uint8_t *in, size_t n, char *out, size_t out_size)
{
	size_t o = 0, need = (n / 3) * 4 + ((n % 3) ? (n % 3) + 1 : 0);

	if (need + 1 > out_size)
		return -ENOSPC;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t rem = n - i;

		if (rem > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (rem > 2)
			v |= in[i + 2];
		out[o++] = b64url_alphabet[(v >> 18) & 63];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
		if (rem > 1)
			out[o++] = b64url_alphabet[(v >> 6) & 63];
		if (rem > 2)
			out[o++] = b64url_alphabet[v & 63];
	}
	out[o] = '\0';
	return (int)o;
}

static int b64url_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* Strict decoding: alphabet only, no padding, zero trailing bits. -EINVAL or -ENOSPC. */
static int b64url_decode(const char *in, size_t n, uint8_t *out, size_t out_size, size_t *out_len)
{
	size_t o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	if (n % 4 == 1)
		return -EINVAL;
	if ((n / 4) * 3 + (n % 4 ? n % 4 - 1 : 0) > out_size)
		return -ENOSPC;
	for (size_t i = 0; i < n; i++) {
		int v = b64url_value(in[i]);

		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)
		return -EINVAL; /* non-canonical trailing bits */
	*out_len = o;
	return 0;
}

/* Appends OpenSSL's last error reason (or nothing) to a message; clears the error queue. */
static void set_err(char err[SVID_ERR_MAX], const char *fmt, const char *a, const char *b)
{
	char reason[128] = "";
	unsigned long e = ERR_peek_last_error();

	if (e)
		ERR_error_string_n(e, reason, sizeof(reason));
	ERR_clear_error();
	snprintf(err, SVID_ERR_MAX, fmt, a ? a : "", b ? b : "");
	if (reason[0]) {
		size_t l = strlen(err);

		snprintf(err + l, SVID_ERR_MAX - l, " (%s)", reason);
	}
}

static int64_t asn1_time_unix(const ASN1_TIME *t)
{
	struct tm tm;

	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	return (int64_t)timegm(&tm);
}

static void format_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "%lld", (long long)t);
}

/* Copies an OpenSSL i2d result into malloc'd memory appended to *buf. */
static int append_der(uint8_t **buf, size_t *len, const uint8_t *der, size_t der_len)
{
	uint8_t *n = realloc(*buf, *len + der_len);

	if (!n)
		return -ENOMEM;
	memcpy(n + *len, der, der_len);
	*buf = n;
	*len += der_len;
	return 0;
}

static int append_cert_der(uint8_t **buf, size_t *len, X509 *x)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der), ret;

	if (n <= 0)
		return -EINVAL;
	ret = append_der(buf, len, der, (size_t)n);
	OPENSSL_free(der);
	return ret;
}

static bool is_self_signed(X509 *x)
{
	return X509_check_issued(x, x) == X509_V_OK;
}

/* ---- files -------------------------------------------------------------------------------- */

/* Writes data to dir/name atomically (temp file, fsync, rename) with mode. */
static int write_file_atomic(const char *dir, const char *name, const void *data, size_t len,
			     mode_t mode, char err[SVID_ERR_MAX])
{
	char path[4096], tmp[4096];
	const char *p = data;
	int fd = -1, ret = 0;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >= (int)sizeof(tmp)) {
		snprintf(err, SVID_ERR_MAX, "state_dir %s: path too long", dir);
		return -ENAMETOOLONG;
	}
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, SVID_ERR_MAX, "%s: %s", tmp, strerror(-ret));
		goto out;
	}
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			ret = -errno;
			snprintf(err, SVID_ERR_MAX, "%s: %s", tmp, strerror(-ret));
			goto out;
		}
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) < 0 || rename(tmp, path) < 0) {
		ret = -errno;
		snprintf(err, SVID_ERR_MAX, "%s: %s", path, strerror(-ret));
		goto out;
	}
out:
	if (fd >= 0)
		close(fd);
	if (ret < 0)
		unlink(tmp);
	return ret;
}

/* Opens a PEM file for reading, bounded in size. -ENOENT if it does not exist. */
static int open_pem(const char *what, const char *path, BIO **out, char err[SVID_ERR_MAX])
{
	struct stat st;
	BIO *bio;

	if (stat(path, &st) < 0) {
		int ret = -errno;

		snprintf(err, SVID_ERR_MAX, "%s %s: %s", what, path, strerror(-ret));
		return ret;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > SVID_CA_FILE_MAX) {
		snprintf(err, SVID_ERR_MAX, "%s %s: not a regular file of at most %d bytes", what,
			 path, SVID_CA_FILE_MAX);
		return -EINVAL;
	}
	bio = BIO_new_file(path, "r");
	if (!bio) {
		int ret = errno ? -errno : -EIO;

		set_err(err, "%s %s: cannot open", what, path);
		return ret;
	}
	*out = bio;
	return 0;
}

/* Reads every certificate of a PEM file (at least one, at most SVID_CA_MAX_CERTS). */
static int read_certs(const char *what, const char *path, STACK_OF(X509) * *out,
		      char err[SVID_ERR_MAX])
{
	STACK_OF(X509) *certs = NULL;
	BIO *bio = NULL;
	X509 *x;
	int ret;

	ret = open_pem(what, path, &bio, err);
	if (ret < 0)
		goto out;
	certs = sk_X509_new_null();
	if (!certs) {
		ret = -ENOMEM;
		goto out;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
		if (sk_X509_num(certs) >= SVID_CA_MAX_CERTS || !sk_X509_push(certs, x)) {
			X509_free(x);
			snprintf(err, SVID_ERR_MAX, "%s %s: more than %d certificates", what, path,
				 SVID_CA_MAX_CERTS);
			ret = -E2BIG;
			goto out;
		}
	}
	if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE ||
	    sk_X509_num(certs) == 0) {
		set_err(err, "%s %s: not a PEM certificate file", what, path);
		ret = -EINVAL;
		goto out;
	}
	ERR_clear_error();
	*out = certs;
	certs = NULL;
out:
	sk_X509_pop_free(certs, X509_free);
	BIO_free(bio);
	return ret;
}

static int read_key(const char *what, const char *path, EVP_PKEY **out, char err[SVID_ERR_MAX])
{
	BIO *bio = NULL;
	int ret;

	ret = open_pem(what, path, &bio, err);
	if (ret < 0)
		return ret;
	*out = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	if (!*out) {
		set_err(err, "%s %s: not an unencrypted PEM private key", what, path);
		ret = -EINVAL;
	}
	BIO_free(bio);
	return ret;
}

static int write_pem(const char *dir, const char *name, EVP_PKEY *key, X509 *cert,
		     char err[SVID_ERR_MAX])
{
	BIO *mem = BIO_new(BIO_s_mem());
	char *data;
	long len;
	int ret = 0;

	if (!mem)
		return -ENOMEM;
	if ((key && !PEM_write_bio_PrivateKey(mem, key, NULL, NULL, 0, NULL, NULL)) ||
	    (cert && !PEM_write_bio_X509(mem, cert))) {
		set_err(err, "%s/%s: cannot encode PEM", dir, name);
		ret = -EINVAL;
		goto out;
	}
	len = BIO_get_mem_data(mem, &data);
	ret = write_file_atomic(dir, name, data, (size_t)len, key ? 0600 : 0644, err);
out:
	BIO_free_all(mem);
	return ret;
}

static bool is_p256(EVP_PKEY *key)
{
	char group[64];

	return EVP_PKEY_get_base_id(key) == EVP_PKEY_EC &&
	       EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
					      NULL) &&
	       strcmp(group, SN_X9_62_prime256v1) == 0;
}

/* ---- certificate building ----------------------------------------------------------------- */

static int set_random_serial(X509 *x)
{
	uint8_t b[SVID_CA_SERIAL_BYTES];
	BIGNUM *bn = NULL;
	int ret = -EIO;

	if (RAND_bytes(b, sizeof(b)) != 1)
		goto out;
	b[0] = (b[0] & 0x7f) | 0x40; /* positive, and exactly SVID_CA_SERIAL_BYTES long in DER */
	bn = BN_bin2bn(b, sizeof(b), NULL);
	if (bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		ret = 0;
out:
	BN_free(bn);
	OPENSSL_cleanse(b, sizeof(b));
	return ret;
}

/*
 * OpenSSL 3.0's X509_set_pubkey() and EVP_PKEY2PKCS8() run the provider encoder and decoder
 * machinery (algorithm lookups under global locks: most of an issuance's CPU, and no scaling
 * across workers). A leaf key is always P-256, so its SubjectPublicKeyInfo and PKCS#8 have a fixed
 * shape, written here directly from the key's raw parameters.
 */
#define SVID_P256_POINT_LEN (1 + 2 * SVID_EC_COORD) /* uncompressed: 04 || X || Y */

/* PKCS#8 PrivateKeyInfo (RFC 5208) holding an RFC 5915 ECPrivateKey, as OpenSSL writes it for
 * P-256: the curve in the AlgorithmIdentifier, none in ECPrivateKey, the public key included.
 * The 32-byte scalar follows this prefix, then p256_pkcs8_mid, then the 65-byte point. */
static const uint8_t p256_pkcs8_prefix[] = {
	0x30, 0x81, 0x87,					    /* SEQUENCE, 135 bytes */
	0x02, 0x01, 0x00,					    /* version 0 */
	0x30, 0x13,						    /* AlgorithmIdentifier */
	0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,	    /* id-ecPublicKey */
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, /* prime256v1 */
	0x04, 0x6d,						    /* OCTET STRING, 109 bytes */
	0x30, 0x6b,						    /* ECPrivateKey, 107 bytes */
	0x02, 0x01, 0x01,					    /* version 1 */
	0x04, 0x20,						    /* privateKey, 32 bytes */
};
static const uint8_t p256_pkcs8_mid[] = {
	0xa1, 0x44,	  /* [1] publicKey */
	0x03, 0x42, 0x00, /* BIT STRING, 66 bytes, no unused bits */
};
#define SVID_P256_PKCS8_LEN \
	(sizeof(p256_pkcs8_prefix) + SVID_EC_COORD + sizeof(p256_pkcs8_mid) + SVID_P256_POINT_LEN)

/* P-256 domain parameters, built once: a key generated from them skips building the curve. */
static EVP_PKEY *p256_params(void)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *params = NULL;

	if (!c || EVP_PKEY_paramgen_init(c) != 1 ||
	    EVP_PKEY_CTX_set_group_name(c, SN_X9_62_prime256v1) != 1 ||
	    EVP_PKEY_paramgen(c, &params) != 1)
		params = NULL;
	EVP_PKEY_CTX_free(c);
	return params;
}

/* A new P-256 key from the CA's template. Caller frees. NULL on failure. */
static EVP_PKEY *p256_keygen(const struct svid_ca *ca)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, ca->leaf_params, NULL);
	EVP_PKEY *key = NULL;

	if (!c || EVP_PKEY_keygen_init(c) != 1 || EVP_PKEY_keygen(c, &key) != 1)
		key = NULL;
	EVP_PKEY_CTX_free(c);
	return key;
}

/* The uncompressed public point and the private scalar of a P-256 key (priv may be NULL). */
static int p256_raw(EVP_PKEY *key, uint8_t pub[SVID_P256_POINT_LEN], uint8_t priv[SVID_EC_COORD])
{
	BIGNUM *d = NULL;
	size_t len = 0;
	int ret = -EIO;

	if (!EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, pub, SVID_P256_POINT_LEN,
					     &len) ||
	    len != SVID_P256_POINT_LEN || pub[0] != 0x04)
		goto out;
	if (priv && (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &d) ||
		     BN_bn2binpad(d, priv, SVID_EC_COORD) != SVID_EC_COORD))
		goto out;
	ret = 0;
out:
	BN_clear_free(d);
	return ret;
}

/* X509_set_pubkey() for a P-256 key, without the encoder: sets the SubjectPublicKeyInfo fields. */
static int set_p256_pubkey(X509 *x, const uint8_t pub[SVID_P256_POINT_LEN])
{
	X509_PUBKEY *spki = X509_get_X509_PUBKEY(x);
	unsigned char *penc = OPENSSL_memdup(pub, SVID_P256_POINT_LEN);

	if (!spki || !penc ||
	    !X509_PUBKEY_set0_param(spki, OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
				    OBJ_nid2obj(NID_X9_62_prime256v1), penc, SVID_P256_POINT_LEN)) {
		OPENSSL_free(penc);
		return -EIO;
	}
	return 0;
}

/* EVP_PKEY2PKCS8() + i2d for a P-256 key, without the encoder. */
static void p256_pkcs8(const uint8_t pub[SVID_P256_POINT_LEN], const uint8_t priv[SVID_EC_COORD],
		       uint8_t out[SVID_P256_PKCS8_LEN])
{
	size_t o = 0;

	memcpy(out + o, p256_pkcs8_prefix, sizeof(p256_pkcs8_prefix));
	o += sizeof(p256_pkcs8_prefix);
	memcpy(out + o, priv, SVID_EC_COORD);
	o += SVID_EC_COORD;
	memcpy(out + o, p256_pkcs8_mid, sizeof(p256_pkcs8_mid));
	o += sizeof(p256_pkcs8_mid);
	memcpy(out + o, pub, SVID_P256_POINT_LEN);
}

/* RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING. */
static ASN1_OCTET_STRING *key_id(X509 *x)
{
	const ASN1_BIT_STRING *pk = X509_get0_pubkey_bitstr(x);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	ASN1_OCTET_STRING *id;

	if (!pk || !EVP_Digest(pk->data, (size_t)pk->length, md, &mdlen, EVP_sha1(), NULL))
		return NULL;
	id = ASN1_OCTET_STRING_new();
	if (id && !ASN1_OCTET_STRING_set(id, md, (int)mdlen)) {
		ASN1_OCTET_STRING_free(id);
		id = NULL;
	}
	return id;
}

static int add_key_usage(X509 *x, const int *bits, size_t n)
{
	ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
	int ok = ku != NULL;

	for (size_t i = 0; ok && i < n; i++)
		ok = ASN1_BIT_STRING_set_bit(ku, bits[i], 1);
	ok = ok && X509_add1_ext_i2d(x, NID_key_usage, ku, 1, X509V3_ADD_DEFAULT) == 1;
	ASN1_BIT_STRING_free(ku);
	return ok ? 0 : -EINVAL;
}

static int add_basic_constraints(X509 *x, bool ca)
{
	BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
	int ok = bc != NULL;

	if (ok)
		bc->ca = ca ? 0xff : 0;
	ok = ok && X509_add1_ext_i2d(x, NID_basic_constraints, bc, 1, X509V3_ADD_DEFAULT) == 1;
	BASIC_CONSTRAINTS_free(bc);
	return ok ? 0 : -EINVAL;
}

static int add_key_ids(X509 *x, const ASN1_OCTET_STRING *issuer_skid)
{
	ASN1_OCTET_STRING *skid = key_id(x);
	AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
	int ok = skid && akid;

	ok = ok &&
	     X509_add1_ext_i2d(x, NID_subject_key_identifier, skid, 0, X509V3_ADD_DEFAULT) == 1;
	if (ok)
		akid->keyid = ASN1_OCTET_STRING_dup(issuer_skid ? issuer_skid : skid);
	ok = ok && akid->keyid &&
	     X509_add1_ext_i2d(x, NID_authority_key_identifier, akid, 0, X509V3_ADD_DEFAULT) == 1;
	AUTHORITY_KEYID_free(akid);
	ASN1_OCTET_STRING_free(skid);
	return ok ? 0 : -EINVAL;
}

static int push_general_name(GENERAL_NAMES *gens, int type, const char *value)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_IA5STRING *s = ASN1_IA5STRING_new();

	if (!g || !s || !ASN1_STRING_set(s, value, (int)strlen(value)))
		goto fail;
	GENERAL_NAME_set0_value(g, type, s);
	s = NULL;
	if (!sk_GENERAL_NAME_push(gens, g))
		goto fail;
	return 0;
fail:
	ASN1_IA5STRING_free(s);
	GENERAL_NAME_free(g);
	return -ENOMEM;
}

/* A DNS SAN: LDH labels of 1..63 bytes, at most 253 bytes, "*." allowed as the first label. */
static bool dns_name_valid(const char *name)
{
	size_t len = strlen(name), label = 0;
	const char *p = name;

	if (len == 0 || len > SVID_DNS_NAME_MAX)
		return false;
	if (strncmp(p, "*.", 2) == 0)
		p += 2;
	if (!*p)
		return false;
	for (; *p; p++) {
		char c = *p;

		if (c == '.') {
			if (label == 0 || p[-1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && p[-1] != '-';
}

/* Subject name from id->subject, in the conventional C, ST, L, O, OU, CN order. */
static int build_subject(const struct policy_subject *s, X509_NAME **out, char err[SVID_ERR_MAX])
{
	const struct {
		int nid;
		const char *what;
		char *const *values;
		size_t n;
	} fields[] = {
		{NID_countryName, "country", s->country, s->ncountry},
		{NID_stateOrProvinceName, "province", s->province, s->nprovince},
		{NID_localityName, "locality", s->locality, s->nlocality},
		{NID_organizationName, "organization", s->organization, s->norganization},
		{NID_organizationalUnitName, "organizational_unit", s->organizational_unit,
		 s->norganizational_unit},
		{NID_commonName, "common_name", &s->common_name, s->common_name ? 1 : 0},
	};
	X509_NAME *name = X509_NAME_new();

	if (!name)
		return -ENOMEM;
	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
		for (size_t i = 0; i < fields[f].n; i++) {
			const char *v = fields[f].values[i];

			if (!v || !*v || strlen(v) > SVID_NAME_FIELD_MAX ||
			    !X509_NAME_add_entry_by_NID(name, fields[f].nid, MBSTRING_UTF8,
							(const unsigned char *)v, -1, -1, 0)) {
				set_err(err, "x509_subject.%s \"%.64s\": not a valid value",
					fields[f].what, v ? v : "");
				X509_NAME_free(name);
				return -EINVAL;
			}
		}
	}
	*out = name;
	return 0;
}

/* ---- opening the CA ----------------------------------------------------------------------- */

/* The spiffe:// URI SANs of cert: 0 none, 1 exactly "spiffe://td", -EINVAL anything else. */
static int check_td_uri(X509 *cert, const char *td)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	char want[SPIFFE_TRUST_DOMAIN_MAX + 16];
	int ret = 0;

	snprintf(want, sizeof(want), "spiffe://%s", td);
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const ASN1_IA5STRING *u;

		if (g->type != GEN_URI)
			continue;
		u = g->d.uniformResourceIdentifier;
		if (u->length < 9 || strncmp((const char *)u->data, "spiffe://", 9) != 0)
			continue;
		if ((size_t)u->length == strlen(want) && memcmp(u->data, want, strlen(want)) == 0)
			ret = ret == 0 ? 1 : ret;
		else
			ret = -EINVAL;
	}
	GENERAL_NAMES_free(gens);
	return ret;
}

static int generate_ca(const struct svid_ca_opts *opts, EVP_PKEY **key_out, X509 **cert_out,
		       char err[SVID_ERR_MAX])
{
	static const int ku[] = {5 /* keyCertSign */, 6 /* cRLSign */};
	uint64_t ttl = opts->ca_ttl_s ? opts->ca_ttl_s : SVID_CA_DEFAULT_TTL_S;
	char uri[SPIFFE_TRUST_DOMAIN_MAX + 16], sn[2 * 8 + 1];
	uint8_t rnd[8];
	EVP_PKEY *key = EVP_EC_gen(SN_X9_62_prime256v1);
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	time_t now = time(NULL);
	int ret = -EINVAL;

	if (!key || !x || !name || !gens || RAND_bytes(rnd, sizeof(rnd)) != 1) {
		set_err(err, "ca: cannot generate a key%s%s", NULL, NULL);
		goto out;
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(sn + 2 * i, 3, "%02x", rnd[i]);
	snprintf(uri, sizeof(uri), "spiffe://%s", opts->trust_domain);
	if (!X509_set_version(x, X509_VERSION_3) || set_random_serial(x) < 0 ||
	    !X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
					(const unsigned char *)"attestd CA", -1, -1, 0) ||
	    (strlen(opts->trust_domain) <= SVID_NAME_FIELD_MAX &&
	     !X509_NAME_add_entry_by_NID(name, NID_organizationName, MBSTRING_UTF8,
					 (const unsigned char *)opts->trust_domain, -1, -1, 0)) ||
	    !X509_NAME_add_entry_by_NID(name, NID_serialNumber, MBSTRING_UTF8,
					(const unsigned char *)sn, -1, -1, 0) ||
	    !X509_set_subject_name(x, name) || !X509_set_issuer_name(x, name) ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), now - SVID_BACKDATE_S) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), now + (time_t)ttl) || !X509_set_pubkey(x, key) ||
	    add_basic_constraints(x, true) < 0 || add_key_usage(x, ku, 2) < 0 ||
	    add_key_ids(x, NULL) < 0 || push_general_name(gens, GEN_URI, uri) < 0 ||
	    X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) != 1 ||
	    !X509_sign(x, key, EVP_sha256())) {
		set_err(err, "ca: cannot build the CA certificate%s%s", NULL, NULL);
		goto out;
	}
	*key_out = key;
	*cert_out = x;
	key = NULL;
	x = NULL;
	ret = 0;
out:
	GENERAL_NAMES_free(gens);
	X509_NAME_free(name);
	X509_free(x);
	EVP_PKEY_free(key);
	return ret;
}

/* Generated mode: reuse state_dir/ca.{crt,key} unless missing, broken, for another trust domain
 * or within 10% of the CA lifetime of expiry; then generate and store new ones. */
static int open_generated(const struct svid_ca_opts *opts, struct svid_ca *ca,
			  STACK_OF(X509) * *certs_out, char err[SVID_ERR_MAX])
{
	uint64_t ttl = opts->ca_ttl_s ? opts->ca_ttl_s : SVID_CA_DEFAULT_TTL_S;
	char crt_path[4096], key_path[4096];
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int ret, r1, r2;

	snprintf(crt_path, sizeof(crt_path), "%s/ca.crt", opts->state_dir);
	snprintf(key_path, sizeof(key_path), "%s/ca.key", opts->state_dir);
	r1 = read_certs("ca.crt", crt_path, &certs, err);
	r2 = r1 < 0 ? r1 : read_key("ca.key", key_path, &key, err);
	if ((r1 < 0 && r1 != -ENOENT && r1 != -EINVAL) ||
	    (r2 < 0 && r2 != -ENOENT && r2 != -EINVAL)) {
		ret = r1 < 0 ? r1 : r2; /* e.g. -EACCES: do not overwrite what we cannot read */
		goto out;
	}
	if (r1 == -ENOENT || r2 == -ENOENT) {
		ca->generated = "no CA in state_dir";
	} else if (r1 < 0 || r2 < 0) {
		ca->generated = "the stored CA does not parse";
	} else {
		cert = sk_X509_value(certs, 0);
		if (EVP_PKEY_eq(X509_get0_pubkey(cert), key) != 1)
			ca->generated = "the stored CA key does not match its certificate";
		else if (check_td_uri(cert, opts->trust_domain) != 1)
			ca->generated = "the stored CA is for another trust domain";
		else if (asn1_time_unix(X509_get0_notAfter(cert)) <=
			 (int64_t)time(NULL) + (int64_t)(ttl / 10))
			ca->generated = "the stored CA expires soon";
		ERR_clear_error();
	}
	if (ca->generated) {
		sk_X509_pop_free(certs, X509_free);
		certs = NULL;
		EVP_PKEY_free(key);
		key = NULL;
		cert = NULL;
		ret = generate_ca(opts, &key, &cert, err);
		if (ret < 0)
			goto out;
		certs = sk_X509_new_null();
		if (!certs || !sk_X509_push(certs, cert)) {
			X509_free(cert);
			ret = -ENOMEM;
			goto out;
		}
		/* key first: a crash in between leaves a mismatch, which regenerates */
		ret = write_pem(opts->state_dir, "ca.key", key, NULL, err);
		if (ret == 0)
			ret = write_pem(opts->state_dir, "ca.crt", NULL, cert, err);
		if (ret < 0)
			goto out;
	}
	ca->key = key;
	key = NULL;
	*certs_out = certs;
	certs = NULL;
	ret = 0;
out:
	sk_X509_pop_free(certs, X509_free);
	EVP_PKEY_free(key);
	return ret;
}

static int check_ca_cert(const char *what, const char *path, X509 *cert, const char *td,
			 char err[SVID_ERR_MAX])
{
	int64_t now = (int64_t)time(NULL);

	if (X509_check_ca(cert) < 1 || !(X509_get_extension_flags(cert) & EXFLAG_CA)) {
		snprintf(err, SVID_ERR_MAX, "%s %s: not a CA certificate (BasicConstraints cA)",
			 what, path);
		return -EINVAL;
	}
	if (!(X509_get_key_usage(cert) & KU_KEY_CERT_SIGN)) {
		snprintf(err, SVID_ERR_MAX, "%s %s: KeyUsage lacks keyCertSign", what, path);
		return -EINVAL;
	}
	if (asn1_time_unix(X509_get0_notBefore(cert)) > now + SVID_BACKDATE_S ||
	    asn1_time_unix(X509_get0_notAfter(cert)) <= now) {
		snprintf(err, SVID_ERR_MAX, "%s %s: not valid now", what, path);
		return -EINVAL;
	}
	if (check_td_uri(cert, td) < 0) {
		snprintf(err, SVID_ERR_MAX, "%s %s: URI SAN is not spiffe://%s", what, path, td);
		return -EINVAL;
	}
	ERR_clear_error();
	return 0;
}

/* Files mode: cert (+ intermediates) and key from PEM files, trust anchors from bundle. */
static int open_files(const struct svid_ca_opts *opts, struct svid_ca *ca,
		      STACK_OF(X509) * *certs_out, STACK_OF(X509) * *bundle_out,
		      char err[SVID_ERR_MAX])
{
	STACK_OF(X509) *certs = NULL, *bundle = NULL;
	X509_STORE *store = NULL;
	X509_STORE_CTX *vctx = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert;
	int ret;

	if (!opts->cert_path || !opts->key_path) {
		snprintf(err, SVID_ERR_MAX, "ca: needs cert and key (or generate: true)");
		return -EINVAL;
	}
	ret = read_certs("ca.cert", opts->cert_path, &certs, err);
	if (ret < 0)
		goto out;
	ret = read_key("ca.key", opts->key_path, &key, err);
	if (ret < 0)
		goto out;
	cert = sk_X509_value(certs, 0);
	if (EVP_PKEY_eq(X509_get0_pubkey(cert), key) != 1) {
		ERR_clear_error();
		snprintf(err, SVID_ERR_MAX, "ca.key %s: does not match ca.cert %s", opts->key_path,
			 opts->cert_path);
		ret = -EINVAL;
		goto out;
	}
	ret = check_ca_cert("ca.cert", opts->cert_path, cert, opts->trust_domain, err);
	if (ret < 0)
		goto out;
	if (opts->bundle_path && *opts->bundle_path) {
		ret = read_certs("ca.bundle", opts->bundle_path, &bundle, err);
		if (ret < 0)
			goto out;
	} else {
		/* the chain file's self-signed root, else the signing certificate itself */
		X509 *anchor = sk_X509_value(certs, sk_X509_num(certs) - 1);

		bundle = sk_X509_new_null();
		if (!is_self_signed(anchor))
			anchor = cert;
		if (!bundle || !X509_up_ref(anchor) || !sk_X509_push(bundle, anchor)) {
			ret = -ENOMEM;
			goto out;
		}
	}
	/* the signing certificate must chain to the bundle */
	store = X509_STORE_new();
	vctx = X509_STORE_CTX_new();
	if (!store || !vctx) {
		ret = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < sk_X509_num(bundle); i++)
		X509_STORE_add_cert(store, sk_X509_value(bundle, i));
	X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
	if (!X509_STORE_CTX_init(vctx, store, cert, certs) || X509_verify_cert(vctx) != 1) {
		snprintf(err, SVID_ERR_MAX, "ca.cert %s: does not chain to the bundle: %s",
			 opts->cert_path,
			 X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx)));
		ERR_clear_error();
		ret = -EINVAL;
		goto out;
	}
	ca->key = key;
	key = NULL;
	*certs_out = certs;
	certs = NULL;
	*bundle_out = bundle;
	bundle = NULL;
	ret = 0;
out:
	X509_STORE_CTX_free(vctx);
	X509_STORE_free(store);
	sk_X509_pop_free(bundle, X509_free);
	sk_X509_pop_free(certs, X509_free);
	EVP_PKEY_free(key);
	return ret;
}

/* The JWT key: state_dir/jwt.key, generated when missing or not P-256; in memory without a
 * state_dir. Then the kid and the JWK coordinates. */
static int open_jwt_key(const struct svid_ca_opts *opts, struct svid_ca *ca, char err[SVID_ERR_MAX])
{
	char path[4096];
	unsigned char *spki = NULL, md[32];
	uint8_t coord[SVID_EC_COORD];
	char kid[64];
	BIGNUM *x = NULL, *y = NULL;
	int ret = 0, n;

	if (opts->state_dir && *opts->state_dir) {
		snprintf(path, sizeof(path), "%s/jwt.key", opts->state_dir);
		ret = read_key("jwt.key", path, &ca->jwt_key, err);
		if (ret < 0 && ret != -ENOENT && ret != -EINVAL)
			goto out;
		if (ca->jwt_key && !is_p256(ca->jwt_key)) {
			EVP_PKEY_free(ca->jwt_key);
			ca->jwt_key = NULL;
		}
		ERR_clear_error();
	}
	if (!ca->jwt_key) {
		ca->jwt_key = EVP_EC_gen(SN_X9_62_prime256v1);
		if (!ca->jwt_key) {
			set_err(err, "jwt key: cannot generate%s%s", NULL, NULL);
			ret = -EIO;
			goto out;
		}
		if (opts->state_dir && *opts->state_dir) {
			ret = write_pem(opts->state_dir, "jwt.key", ca->jwt_key, NULL, err);
			if (ret < 0)
				goto out;
		}
	}
	n = i2d_PUBKEY(ca->jwt_key, &spki);
	if (n <= 0 || !EVP_Digest(spki, (size_t)n, md, NULL, EVP_sha256(), NULL) ||
	    !EVP_PKEY_get_bn_param(ca->jwt_key, OSSL_PKEY_PARAM_EC_PUB_X, &x) ||
	    !EVP_PKEY_get_bn_param(ca->jwt_key, OSSL_PKEY_PARAM_EC_PUB_Y, &y)) {
		set_err(err, "jwt key: cannot encode the public key%s%s", NULL, NULL);
		ret = -EINVAL;
		goto out;
	}
	b64url_encode(md, sizeof(md), kid, sizeof(kid));
	snprintf(ca->kid, sizeof(ca->kid), "%.*s", SVID_KID_LEN, kid);
	if (BN_bn2binpad(x, coord, sizeof(coord)) < 0 ||
	    b64url_encode(coord, sizeof(coord), ca->jwk_x, sizeof(ca->jwk_x)) < 0 ||
	    BN_bn2binpad(y, coord, sizeof(coord)) < 0 ||
	    b64url_encode(coord, sizeof(coord), ca->jwk_y, sizeof(ca->jwk_y)) < 0) {
		snprintf(err, SVID_ERR_MAX, "jwt key: cannot encode the public key");
		ret = -EINVAL;
		goto out;
	}
	ret = 0;
out:
	BN_free(x);
	BN_free(y);
	OPENSSL_free(spki);
	return ret;
}

int svid_ca_open(const struct svid_ca_opts *opts, struct svid_ca **out, char err[SVID_ERR_MAX])
{
	STACK_OF(X509) *certs = NULL, *bundle = NULL;
	struct svid_ca *ca = NULL;
	char perr[POLICY_ERR_MAX];
	X509 *cert;
	int ret;

	err[0] = '\0';
	if (!opts->trust_domain || spiffe_trust_domain_validate(opts->trust_domain, perr) < 0) {
		snprintf(err, SVID_ERR_MAX, "trust_domain: %s",
			 opts->trust_domain ? perr : "missing");
		return -EINVAL;
	}
	if (opts->generate && (!opts->state_dir || !*opts->state_dir)) {
		snprintf(err, SVID_ERR_MAX, "ca: generate needs a state_dir");
		return -EINVAL;
	}
	ca = calloc(1, sizeof(*ca));
	if (!ca)
		return -ENOMEM;
	snprintf(ca->trust_domain, sizeof(ca->trust_domain), "%s", opts->trust_domain);
	if (opts->state_dir && *opts->state_dir && mkdir(opts->state_dir, 0700) < 0 &&
	    errno != EEXIST) {
		ret = -errno;
		snprintf(err, SVID_ERR_MAX, "state_dir %s: %s", opts->state_dir, strerror(-ret));
		goto out;
	}
	if (opts->generate)
		ret = open_generated(opts, ca, &certs, err);
	else
		ret = open_files(opts, ca, &certs, &bundle, err);
	if (ret < 0)
		goto out;
	cert = sk_X509_value(certs, 0);
	ca->cert = cert;
	if (!X509_up_ref(cert)) {
		ret = -ENOMEM;
		goto out;
	}
	ca->not_after = asn1_time_unix(X509_get0_notAfter(cert));
	ca->issuer = X509_NAME_dup(X509_get_subject_name(cert));
	ca->skid = X509_get0_subject_key_id(cert)
			   ? ASN1_OCTET_STRING_dup(X509_get0_subject_key_id(cert))
			   : key_id(cert);
	/* encode the issuer once so that concurrent X509_NAME_dup() calls only read it */
	if (!ca->issuer || !ca->skid || i2d_X509_NAME(ca->issuer, NULL) <= 0) {
		ret = -ENOMEM;
		goto out;
	}
	/* the chain after the leaf: the signing certificate and its intermediates, unless
	 * self-signed (roots belong in the bundle, not the chain) */
	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);

		if (is_self_signed(x))
			continue;
		ret = append_cert_der(&ca->chain_tail, &ca->chain_tail_len, x);
		if (ret < 0)
			goto out;
	}
	if (!bundle)
		ret = append_cert_der(&ca->bundle, &ca->bundle_len, cert);
	for (int i = 0; bundle && i < sk_X509_num(bundle) && ret == 0; i++)
		ret = append_cert_der(&ca->bundle, &ca->bundle_len, sk_X509_value(bundle, i));
	if (ret < 0)
		goto out;
	ret = open_jwt_key(opts, ca, err);
	if (ret < 0)
		goto out;
	ca->leaf_params = p256_params();
	if (!ca->leaf_params) {
		snprintf(err, SVID_ERR_MAX, "ca: cannot set up P-256 key generation");
		ret = -EIO;
		goto out;
	}
	*out = ca;
	ca = NULL;
out:
	if (ret < 0 && !err[0])
		snprintf(err, SVID_ERR_MAX, "ca: %s", strerror(-ret));
	ERR_clear_error();
	sk_X509_pop_free(certs, X509_free);
	sk_X509_pop_free(bundle, X509_free);
	svid_ca_free(ca);
	return ret;
}

void svid_ca_free(struct svid_ca *ca)
{
	if (!ca)
		return;
	EVP_PKEY_free(ca->key);
	EVP_PKEY_free(ca->jwt_key);
	EVP_PKEY_free(ca->leaf_params);
	X509_free(ca->cert);
	X509_NAME_free(ca->issuer);
	ASN1_OCTET_STRING_free(ca->skid);
	free(ca->chain_tail);
	free(ca->bundle);
	free(ca);
}

void svid_ca_bundle_der(const struct svid_ca *ca, const uint8_t **der, size_t *len)
{
	*der = ca->bundle;
	*len = ca->bundle_len;
}

const char *svid_ca_kid(const struct svid_ca *ca)
{
	return ca->kid;
}

int64_t svid_ca_not_after(const struct svid_ca *ca)
{
	return ca->not_after;
}

const char *svid_ca_generated(const struct svid_ca *ca)
{
	return ca->generated;
}

json_t *svid_ca_jwks(const struct svid_ca *ca, uint64_t sequence, uint64_t refresh_hint_s)
{
	return json_pack("{s:[{s:s, s:s, s:s, s:s, s:s, s:s}], s:I, s:I}", "keys", "kty", "EC",
			 "crv", "P-256", "x", ca->jwk_x, "y", ca->jwk_y, "kid", ca->kid, "use",
			 "jwt-svid", "spiffe_sequence", (json_int_t)sequence, "spiffe_refresh_hint",
			 (json_int_t)refresh_hint_s);
}

/* ---- X.509-SVIDs -------------------------------------------------------------------------- */

/* The identity must be a valid SPIFFE ID of the CA's trust domain. */
static int check_spiffe_id(const struct svid_ca *ca, const char *id, const char *what,
			   char err[SVID_ERR_MAX])
{
	char perr[POLICY_ERR_MAX];
	size_t td_len = 0;

	if (spiffe_id_validate(id, &td_len, perr) < 0) {
		snprintf(err, SVID_ERR_MAX, "%s \"%.100s\": %s", what, id, perr);
		return -EINVAL;
	}
	if (td_len != strlen(ca->trust_domain) ||
	    strncmp(id + strlen("spiffe://"), ca->trust_domain, td_len) != 0) {
		snprintf(err, SVID_ERR_MAX, "%s \"%.100s\": not in trust domain %s", what, id,
			 ca->trust_domain);
		return -EINVAL;
	}
	return 0;
}

int svid_issue_x509(const struct svid_ca *ca, const struct policy_identity *id,
		    uint64_t default_ttl_s, struct svid_x509 **out, char err[SVID_ERR_MAX])
{
	static const int ku[] = {0 /* digitalSignature */};
	uint64_t ttl = id->x509_ttl_s ? id->x509_ttl_s : default_ttl_s;
	int64_t now = (int64_t)time(NULL), not_after;
	uint8_t pub[SVID_P256_POINT_LEN], priv[SVID_EC_COORD], p8[SVID_P256_PKCS8_LEN];
	EXTENDED_KEY_USAGE *eku = NULL;
	GENERAL_NAMES *gens = NULL;
	X509_NAME *subject = NULL;
	struct svid_x509 *s = NULL;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	int ret;

	err[0] = '\0';
	ret = check_spiffe_id(ca, id->spiffe_id, "spiffe_id", err);
	if (ret < 0)
		goto out;
	if (ttl == 0 || ttl > (uint64_t)INT32_MAX) {
		snprintf(err, SVID_ERR_MAX, "%s: ttl %llu out of range", id->spiffe_id,
			 (unsigned long long)ttl);
		ret = -EINVAL;
		goto out;
	}
	not_after = now + (int64_t)ttl;
	if (not_after > ca->not_after)
		not_after = ca->not_after;
	if (not_after <= now) {
		snprintf(err, SVID_ERR_MAX, "ca: expired; cannot issue %s", id->spiffe_id);
		ret = -EKEYEXPIRED;
		goto out;
	}
	gens = sk_GENERAL_NAME_new_null();
	if (!gens || push_general_name(gens, GEN_URI, id->spiffe_id) < 0) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < id->ndns_names; i++) {
		if (!dns_name_valid(id->dns_names[i])) {
			snprintf(err, SVID_ERR_MAX, "%s: dns_names[%zu] \"%.64s\": not a DNS name",
				 id->spiffe_id, i, id->dns_names[i]);
			ret = -EINVAL;
			goto out;
		}
		if (push_general_name(gens, GEN_DNS, id->dns_names[i]) < 0) {
			ret = -ENOMEM;
			goto out;
		}
	}
	ret = build_subject(&id->subject, &subject, err);
	if (ret < 0)
		goto out;
	ret = -EIO;
	key = p256_keygen(ca);
	x = X509_new();
	eku = sk_ASN1_OBJECT_new_null();
	if (!key || !x || !eku || p256_raw(key, pub, priv) < 0 ||
	    !sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_server_auth)) ||
	    !sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_client_auth))) {
		set_err(err, "%s: cannot generate a key%s", id->spiffe_id, NULL);
		goto out;
	}
	/* RFC 5280 4.2.1.6: with an empty subject the SAN extension is critical */
	if (!X509_set_version(x, X509_VERSION_3) || set_random_serial(x) < 0 ||
	    !X509_set_subject_name(x, subject) || !X509_set_issuer_name(x, ca->issuer) ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), (time_t)(now - SVID_BACKDATE_S)) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)not_after) ||
	    set_p256_pubkey(x, pub) < 0 || add_basic_constraints(x, false) < 0 ||
	    add_key_usage(x, ku, 1) < 0 ||
	    X509_add1_ext_i2d(x, NID_ext_key_usage, eku, 0, X509V3_ADD_DEFAULT) != 1 ||
	    add_key_ids(x, ca->skid) < 0 ||
	    X509_add1_ext_i2d(x, NID_subject_alt_name, gens, X509_NAME_entry_count(subject) == 0,
			      X509V3_ADD_DEFAULT) != 1 ||
	    !X509_sign(x, ca->key, EVP_sha256())) {
		set_err(err, "%s: cannot build the certificate%s", id->spiffe_id, NULL);
		goto out;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		ret = -ENOMEM;
		goto out;
	}
	s->refs = 1;
	snprintf(s->spiffe_id, sizeof(s->spiffe_id), "%s", id->spiffe_id);
	s->not_before = now - SVID_BACKDATE_S;
	s->not_after = not_after;
	ret = -ENOMEM;
	if (id->hint && !(s->hint = strdup(id->hint)))
		goto out;
	if (append_cert_der(&s->chain_der, &s->chain_len, x) < 0 ||
	    (ca->chain_tail_len &&
	     append_der(&s->chain_der, &s->chain_len, ca->chain_tail, ca->chain_tail_len) < 0))
		goto out;
	p256_pkcs8(pub, priv, p8);
	if (append_der(&s->key_pkcs8, &s->key_len, p8, sizeof(p8)) < 0)
		goto out;
	*out = s;
	s = NULL;
	ret = 0;
out:
	OPENSSL_cleanse(priv, sizeof(priv));
	OPENSSL_cleanse(p8, sizeof(p8));
	if (ret < 0 && !err[0])
		snprintf(err, SVID_ERR_MAX, "%s: %s", id->spiffe_id, strerror(-ret));
	ERR_clear_error();
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	GENERAL_NAMES_free(gens);
	X509_NAME_free(subject);
	X509_free(x);
	EVP_PKEY_free(key);
	svid_x509_unref(s);
	return ret;
}

struct svid_x509 *svid_x509_ref(struct svid_x509 *s)
{
	s->refs++;
	return s;
}

void svid_x509_unref(struct svid_x509 *s)
{
	if (!s || --s->refs > 0)
		return;
	if (s->key_pkcs8)
		OPENSSL_cleanse(s->key_pkcs8, s->key_len);
	free(s->key_pkcs8);
	free(s->chain_der);
	free(s->hint);
	free(s);
}

/* ---- JWT-SVIDs ---------------------------------------------------------------------------- */

static const char *const jwt_reserved_claims[] = {"sub", "aud", "exp", "iat", "nbf", "iss", "jti"};

/* base64url(JSON of obj) appended to buf at *len. */
static int append_b64_json(json_t *obj, char *buf, size_t size, size_t *len)
{
	char *s = json_dumps(obj, JSON_COMPACT);
	int n;

	if (!s)
		return -ENOMEM;
	n = b64url_encode((const uint8_t *)s, strlen(s), buf + *len, size - *len);
	free(s);
	if (n < 0)
		return n;
	*len += (size_t)n;
	return 0;
}

int svid_issue_jwt(const struct svid_ca *ca, const struct policy_identity *id,
		   const char *const *audiences, size_t naudiences, uint64_t ttl_s,
		   char **token_out, char err[SVID_ERR_MAX])
{
	int64_t now = (int64_t)time(NULL);
	json_t *header = NULL, *claims = NULL, *aud = NULL;
	unsigned char der[80];
	size_t der_len = sizeof(der), len = 0;
	const unsigned char *p = der;
	ECDSA_SIG *sig = NULL;
	EVP_MD_CTX *md = NULL;
	uint8_t raw[2 * SVID_EC_COORD];
	char *tok = NULL;
	const BIGNUM *r, *s;
	int ret;

	err[0] = '\0';
	ret = check_spiffe_id(ca, id->spiffe_id, "spiffe_id", err);
	if (ret < 0)
		goto out;
	ret = -EINVAL;
	if (naudiences == 0 || naudiences > SVID_MAX_AUDIENCES) {
		snprintf(err, SVID_ERR_MAX, "audience: need 1 to %d, got %zu", SVID_MAX_AUDIENCES,
			 naudiences);
		goto out;
	}
	if (ttl_s == 0)
		ttl_s = SVID_JWT_DEFAULT_TTL_S;
	if (ttl_s > (uint64_t)INT32_MAX) {
		snprintf(err, SVID_ERR_MAX, "jwt ttl %llu out of range", (unsigned long long)ttl_s);
		goto out;
	}
	ret = -ENOMEM;
	header = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "kid", ca->kid, "typ", "JWT");
	aud = naudiences == 1 ? json_string(audiences[0]) : json_array();
	if (!header || !aud)
		goto out;
	for (size_t i = 0; naudiences > 1 && i < naudiences; i++)
		if (json_array_append_new(aud, json_string(audiences[i])) < 0)
			goto out;
	if (naudiences == 1 && !json_is_string(aud))
		goto out;
	claims = json_pack("{s:s, s:O, s:I, s:I}", "sub", id->spiffe_id, "aud", aud, "exp",
			   (json_int_t)(now + (int64_t)ttl_s), "iat", (json_int_t)now);
	if (!claims)
		goto out;
	for (size_t i = 0; i < id->njwt_claims; i++) {
		const struct policy_claim *c = &id->jwt_claims[i];

		for (size_t k = 0; k < sizeof(jwt_reserved_claims) / sizeof(*jwt_reserved_claims);
		     k++) {
			if (strcmp(c->name, jwt_reserved_claims[k]) == 0) {
				snprintf(err, SVID_ERR_MAX, "jwt_claims: %s is reserved", c->name);
				ret = -EINVAL;
				goto out;
			}
		}
		if (json_object_set_new(claims, c->name, json_string(c->value)) < 0) {
			snprintf(err, SVID_ERR_MAX, "jwt_claims.%.64s: not UTF-8", c->name);
			ret = -EINVAL;
			goto out;
		}
	}
	tok = malloc(SVID_JWT_MAX + 1);
	if (!tok)
		goto out;
	ret = append_b64_json(header, tok, SVID_JWT_MAX + 1, &len);
	if (ret == 0 && len < SVID_JWT_MAX)
		tok[len++] = '.';
	if (ret == 0)
		ret = append_b64_json(claims, tok, SVID_JWT_MAX + 1, &len);
	if (ret < 0 || len + 1 + 87 > SVID_JWT_MAX) {
		snprintf(err, SVID_ERR_MAX, "jwt: token longer than %d bytes", SVID_JWT_MAX);
		ret = -E2BIG;
		goto out;
	}
	ret = -EIO;
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, ca->jwt_key) != 1 ||
	    EVP_DigestSign(md, der, &der_len, (const unsigned char *)tok, len) != 1 ||
	    !(sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len))) {
		set_err(err, "jwt: cannot sign%s%s", NULL, NULL);
		goto out;
	}
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_bn2binpad(r, raw, SVID_EC_COORD) < 0 ||
	    BN_bn2binpad(s, raw + SVID_EC_COORD, SVID_EC_COORD) < 0)
		goto out;
	tok[len++] = '.';
	if (b64url_encode(raw, sizeof(raw), tok + len, SVID_JWT_MAX + 1 - len) < 0)
		goto out;
	*token_out = tok;
	tok = NULL;
	ret = 0;
out:
	if (ret < 0 && !err[0])
		snprintf(err, SVID_ERR_MAX, "jwt: %s", strerror(-ret));
	ERR_clear_error();
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	free(tok);
	json_decref(header);
	json_decref(claims);
	json_decref(aud);
	return ret;
}

/* ---- JWT-SVID validation ------------------------------------------------------------------ */

struct jwt_alg {
	const char *name;
	int kty;	   /* EVP_PKEY_EC or EVP_PKEY_RSA */
	const char *group; /* EC curve, NULL for RSA */
};

/* The allowlist. Only keys of the JWKS can verify; ours is EC P-256, so ES256 in practice. */
static const struct jwt_alg jwt_algs[] = {
	{"RS256", EVP_PKEY_RSA, NULL},
	{"RS384", EVP_PKEY_RSA, NULL},
	{"RS512", EVP_PKEY_RSA, NULL},
	{"PS256", EVP_PKEY_RSA, NULL},
	{"PS384", EVP_PKEY_RSA, NULL},
	{"PS512", EVP_PKEY_RSA, NULL},
	{"ES256", EVP_PKEY_EC, SN_X9_62_prime256v1},
	{"ES384", EVP_PKEY_EC, SN_secp384r1},
	{"ES512", EVP_PKEY_EC, SN_secp521r1},
};

/* Decodes one base64url part into JSON (an object). */
static int decode_json_part(const char *part, size_t n, const char *what, json_t **out,
			    char err[SVID_ERR_MAX])
{
	uint8_t *buf = malloc(SVID_JWT_PART_MAX);
	size_t len = 0;
	json_error_t jerr;
	int ret = -ENOMEM;

	if (!buf)
		goto out;
	ret = b64url_decode(part, n, buf, SVID_JWT_PART_MAX, &len);
	if (ret < 0) {
		snprintf(err, SVID_ERR_MAX, "token: %s is not base64url", what);
		ret = -EINVAL;
		goto out;
	}
	*out = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!*out || !json_is_object(*out)) {
		snprintf(err, SVID_ERR_MAX, "token: %s is not a JSON object%s%.100s", what,
			 *out ? "" : ": ", *out ? "" : jerr.text);
		json_decref(*out);
		*out = NULL;
		ret = -EINVAL;
		goto out;
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

static int verify_es256(const struct svid_ca *ca, const char *signed_part, size_t signed_len,
			const char *sig_b64, size_t sig_b64_len, char err[SVID_ERR_MAX])
{
	uint8_t raw[2 * SVID_EC_COORD + 1];
	size_t raw_len = 0;
	unsigned char *der = NULL;
	ECDSA_SIG *sig = NULL;
	BIGNUM *r = NULL, *s = NULL;
	EVP_MD_CTX *md = NULL;
	int ret = -EINVAL, n;

	if (b64url_decode(sig_b64, sig_b64_len, raw, sizeof(raw), &raw_len) < 0 ||
	    raw_len != 2 * SVID_EC_COORD) {
		snprintf(err, SVID_ERR_MAX, "token: signature is not %d bytes of base64url",
			 2 * SVID_EC_COORD);
		goto out;
	}
	sig = ECDSA_SIG_new();
	r = BN_bin2bn(raw, SVID_EC_COORD, NULL);
	s = BN_bin2bn(raw + SVID_EC_COORD, SVID_EC_COORD, NULL);
	if (!sig || !r || !s || !ECDSA_SIG_set0(sig, r, s)) {
		ret = -ENOMEM;
		goto out;
	}
	r = s = NULL;
	n = i2d_ECDSA_SIG(sig, &der);
	md = EVP_MD_CTX_new();
	if (n <= 0 || !md) {
		ret = -ENOMEM;
		goto out;
	}
	if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, ca->jwt_key) != 1 ||
	    EVP_DigestVerify(md, der, (size_t)n, (const unsigned char *)signed_part, signed_len) !=
		    1) {
		snprintf(err, SVID_ERR_MAX, "token: signature does not verify");
		goto out;
	}
	ret = 0;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(sig);
	return ret;
}

static int check_audience(json_t *aud, const char *audience, char err[SVID_ERR_MAX])
{
	size_t i;
	json_t *v;

	if (json_is_string(aud)) {
		if (strcmp(json_string_value(aud), audience) == 0)
			return 0;
	} else if (json_is_array(aud) && json_array_size(aud) > 0) {
		json_array_foreach (aud, i, v) {
			if (!json_is_string(v)) {
				snprintf(err, SVID_ERR_MAX, "token: aud[%zu] is not a string", i);
				return -EINVAL;
			}
			if (strcmp(json_string_value(v), audience) == 0)
				return 0;
		}
	} else {
		snprintf(err, SVID_ERR_MAX, "token: aud is missing or not a string or array");
		return -EINVAL;
	}
	snprintf(err, SVID_ERR_MAX, "token: audience \"%.100s\" not in aud", audience);
	return -EINVAL;
}

static int check_time_claim(json_t *claims, const char *name, bool required, int64_t *out,
			    char err[SVID_ERR_MAX])
{
	json_t *v = json_object_get(claims, name);
	double d;

	if (!v) {
		if (!required)
			return 1;
		snprintf(err, SVID_ERR_MAX, "token: %s claim missing", name);
		return -EINVAL;
	}
	if (!json_is_number(v) || (d = json_number_value(v)) < 0 || d > 1e15) {
		snprintf(err, SVID_ERR_MAX, "token: %s is not a NumericDate", name);
		return -EINVAL;
	}
	*out = (int64_t)d;
	return 0;
}

int svid_validate_jwt(const struct svid_ca *ca, const char *token, const char *audience,
		      char spiffe_id[SPIFFE_ID_MAX + 1], json_t **claims_out,
		      char err[SVID_ERR_MAX])
{
	const char *dot1, *dot2, *alg, *kid, *sub;
	const struct jwt_alg *a = NULL;
	json_t *header = NULL, *claims = NULL, *typ;
	int64_t now = (int64_t)time(NULL), exp = 0, nbf = 0;
	char when[64];
	size_t len;
	int ret = -EINVAL;

	err[0] = '\0';
	len = strnlen(token, SVID_JWT_MAX + 1);
	if (len > SVID_JWT_MAX) {
		snprintf(err, SVID_ERR_MAX, "token: longer than %d bytes", SVID_JWT_MAX);
		goto out;
	}
	if (!audience || !*audience) {
		snprintf(err, SVID_ERR_MAX, "audience: missing");
		goto out;
	}
	dot1 = memchr(token, '.', len);
	dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token))) {
		snprintf(err, SVID_ERR_MAX, "token: not a compact JWS (three base64url parts)");
		goto out;
	}
	ret = decode_json_part(token, (size_t)(dot1 - token), "header", &header, err);
	if (ret < 0)
		goto out;
	ret = -EINVAL;
	alg = json_string_value(json_object_get(header, "alg"));
	if (!alg) {
		snprintf(err, SVID_ERR_MAX, "token: header alg missing");
		goto out;
	}
	for (size_t i = 0; i < sizeof(jwt_algs) / sizeof(jwt_algs[0]); i++)
		if (strcmp(alg, jwt_algs[i].name) == 0)
			a = &jwt_algs[i];
	if (!a) {
		snprintf(err, SVID_ERR_MAX, "token: unsupported alg \"%.32s\"", alg);
		goto out;
	}
	typ = json_object_get(header, "typ");
	if (typ && (!json_is_string(typ) || (strcmp(json_string_value(typ), "JWT") != 0 &&
					     strcmp(json_string_value(typ), "JOSE") != 0))) {
		snprintf(err, SVID_ERR_MAX, "token: typ is neither JWT nor JOSE");
		goto out;
	}
	if (json_object_get(header, "crit")) {
		snprintf(err, SVID_ERR_MAX, "token: unsupported crit header");
		goto out;
	}
	kid = json_string_value(json_object_get(header, "kid"));
	if (!kid) {
		snprintf(err, SVID_ERR_MAX, "token: header kid missing");
		goto out;
	}
	if (strcmp(kid, ca->kid) != 0) {
		snprintf(err, SVID_ERR_MAX, "token: kid \"%.64s\" not in the JWKS of %s", kid,
			 ca->trust_domain);
		goto out;
	}
	if (a->kty != EVP_PKEY_EC || strcmp(a->group, SN_X9_62_prime256v1) != 0) {
		snprintf(err, SVID_ERR_MAX, "token: alg %s does not match key %s (EC P-256)", alg,
			 kid);
		goto out;
	}
	ret = verify_es256(ca, token, (size_t)(dot2 - token), dot2 + 1,
			   len - (size_t)(dot2 + 1 - token), err);
	if (ret < 0)
		goto out;
	ret = decode_json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1), "payload", &claims, err);
	if (ret < 0)
		goto out;
	ret = check_time_claim(claims, "exp", true, &exp, err);
	if (ret < 0)
		goto out;
	ret = -EINVAL;
	if (now > exp + SVID_JWT_SKEW_S) {
		format_time(exp, when, sizeof(when));
		snprintf(err, SVID_ERR_MAX, "token: expired at %s", when);
		goto out;
	}
	ret = check_time_claim(claims, "nbf", false, &nbf, err);
	if (ret < 0)
		goto out;
	if (ret == 0 && nbf > now + SVID_JWT_SKEW_S) {
		format_time(nbf, when, sizeof(when));
		snprintf(err, SVID_ERR_MAX, "token: not valid before %s", when);
		ret = -EINVAL;
		goto out;
	}
	ret = check_audience(json_object_get(claims, "aud"), audience, err);
	if (ret < 0)
		goto out;
	sub = json_string_value(json_object_get(claims, "sub"));
	if (!sub) {
		snprintf(err, SVID_ERR_MAX, "token: sub claim missing");
		ret = -EINVAL;
		goto out;
	}
	ret = check_spiffe_id(ca, sub, "token: sub", err);
	if (ret < 0)
		goto out;
	snprintf(spiffe_id, SPIFFE_ID_MAX + 1, "%s", sub);
	*claims_out = claims;
	claims = NULL;
out:
	json_decref(header);
	json_decref(claims);
	return ret;
}
