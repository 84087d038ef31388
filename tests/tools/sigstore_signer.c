/*
 * sigstore_signer.c - a test signer for attestd's Sigstore verifier. `init DIR` makes a private
 * PKI (Fulcio-like CA, Rekor-v1-like log, CT log, TSA) and writes it as a Sigstore TrustedRoot;
 * `sign DIR` makes keyless signatures with it: v0.3 bundles, legacy cosign .sig and .att layer
 * descriptions, each with a leaf carrying a real embedded SCT and a Rekor v1 entry (SET,
 * inclusion proof, signed checkpoint). Knobs make inputs that fail for exactly one reason.
 * Test use only: it implements the formats from the public specs, not from attestd's verifier.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/ct.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define MAX_PATH       4096
#define MIN_TREE       5 /* leaves in the Merkle tree around an entry */
#define MAX_TREE       9
#define MAX_PROOF      8
#define LOG_INDEX_BASE 1000000	  /* global log index = shard offset + index in the tree */
#define CA_NOT_BEFORE  1577836800 /* 2020-01-01T00:00:00Z */
#define CA_NOT_AFTER   2524607999 /* 2049-12-31T23:59:59Z */
#define VALID_FROM     "2020-01-01T00:00:00Z"
#define LEAF_LIFETIME  600 /* seconds, as Fulcio */
#define LEAF_AGE       20  /* the leaf was issued this long before the integrated time */
#define REKOR_URL      "https://rekor.attestd.test"
#define REKOR_ORIGIN   "rekor.attestd.test"
#define REKOR_TREE_ID  "1193050959916656506"
#define DSSE_INTOTO    "application/vnd.in-toto+json"
#define STATEMENT_V1   "https://in-toto.io/Statement/v1"
#define DEFAULT_IDENTITY \
	"https://github.com/attestd/test/.github/workflows/release.yml@refs/heads/main"
#define DEFAULT_ISSUER	  "https://token.actions.githubusercontent.com"
#define DEFAULT_REFERENCE "registry.attestd.test/image"
#define PT_COSIGN_SIGN	  "https://sigstore.dev/cosign/sign/v1"
#define PT_SLSA_V1	  "https://slsa.dev/provenance/v1"
#define OID_ISSUER_V1	  "1.3.6.1.4.1.57264.1.1"
#define OID_ISSUER_V2	  "1.3.6.1.4.1.57264.1.8"
#define MT_BUNDLE	  "application/vnd.dev.sigstore.bundle.v0.3+json"
#define MT_SIMPLESIGN	  "application/vnd.dev.cosign.simplesigning.v1+json"
#define MT_DSSE		  "application/vnd.dsse.envelope.v1+json"
#define ANN_SIGNATURE	  "dev.cosignproject.cosign/signature"
#define ANN_CERTIFICATE	  "dev.sigstore.cosign/certificate"
#define ANN_CHAIN	  "dev.sigstore.cosign/chain"
#define ANN_BUNDLE	  "dev.sigstore.cosign/bundle"

enum format {
	FMT_BUNDLE,
	FMT_LEGACY,
	FMT_ATT
};
enum tamper {
	TAMPER_NONE,
	TAMPER_PAYLOAD,
	TAMPER_SET,
	TAMPER_BODY,
	TAMPER_DIGEST
};

struct sign_opts {
	const char *dir;
	const char *digest;
	const char *out;
	const char *identity;
	const char *issuer;
	const char *predicate_type;
	const char *reference;
	enum format format;
	enum tamper tamper;
	bool message;
	bool expired;
	int64_t integrated_time;
};

/* The private PKI, as loaded from DIR/keys. */
struct pki {
	EVP_PKEY *ca_key;
	X509 *ca_cert; /* Fulcio intermediate */
	X509 *root_cert;
	EVP_PKEY *rekor_key;
	EVP_PKEY *ct_key;
	unsigned char rekor_id[32];
	unsigned char ct_id[32];
};

/* A Rekor v1 entry around one canonical body. */
struct entry {
	char *body;
	int64_t log_index;
	int64_t proof_index;
	int64_t tree_size;
	int64_t integrated_time;
	unsigned char root[32];
	unsigned char hashes[MAX_PROOF][32];
	size_t n_hashes;
	char *checkpoint;
	unsigned char *set;
	size_t set_len;
};

/* A signature: the bytes signed, the bytes shipped, and what the log saw. */
struct sig {
	unsigned char *sig; /* over the signed payload (or PAE, or digest) */
	size_t sig_len;
	unsigned char *logged; /* the signature the log entry names */
	size_t logged_len;
};

/* ---- small helpers ------------------------------------------------------------------------ */

static char *b64(const unsigned char *d, size_t n)
{
	char *s = malloc(4 * ((n + 2) / 3) + 1);

	if (s)
		EVP_EncodeBlock((unsigned char *)s, d, (int)n);
	return s;
}

static void hex(const unsigned char *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static int unhex(const char *s, unsigned char *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned int v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdef", s[2 * i]) ||
		    !strchr("0123456789abcdef", s[2 * i + 1]))
			return -EINVAL;
		out[i] = (unsigned char)v;
	}
	return 0;
}

static void sha256(const void *d, size_t n, unsigned char out[32])
{
	EVP_Digest(d, n, out, NULL, EVP_sha256(), NULL);
}

static void sha256_hex(const void *d, size_t n, char out[65])
{
	unsigned char h[32];

	sha256(d, n, h);
	hex(h, 32, out);
}

static int key_id(EVP_PKEY *k, unsigned char out[32])
{
	unsigned char *der = NULL;
	int len = i2d_PUBKEY(k, &der);

	if (len <= 0)
		return -EINVAL;
	sha256(der, (size_t)len, out);
	OPENSSL_free(der);
	return 0;
}

/* Base64 of the len bytes of DER an i2d_* call allocated (NULL if len <= 0); frees der. */
static char *der_b64(unsigned char *der, int len)
{
	char *s = len > 0 ? b64(der, (size_t)len) : NULL;

	OPENSSL_free(der);
	return s;
}

static char *pubkey_b64(EVP_PKEY *k)
{
	unsigned char *der = NULL;
	int len = i2d_PUBKEY(k, &der);

	return der_b64(der, len);
}

static char *cert_b64(X509 *x)
{
	unsigned char *der = NULL;
	int len = i2d_X509(x, &der);

	return der_b64(der, len);
}

/* PEM text of one or two certificates; caller frees. */
static char *certs_pem(X509 *a, X509 *b)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *s = NULL;
	long len;

	if (!bio)
		return NULL;
	if (PEM_write_bio_X509(bio, a) != 1 || (b && PEM_write_bio_X509(bio, b) != 1))
		goto out;
	len = BIO_get_mem_data(bio, &data);
	s = malloc((size_t)len + 1);
	if (!s)
		goto out;
	memcpy(s, data, (size_t)len);
	s[len] = 0;
out:
	BIO_free(bio);
	return s;
}

static int sign_data(EVP_PKEY *k, const void *d, size_t n, unsigned char **sig, size_t *len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ret = -EIO;

	*sig = NULL;
	if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) != 1 ||
	    EVP_DigestSign(md, NULL, len, d, n) != 1)
		goto out;
	*sig = malloc(*len);
	if (!*sig) {
		ret = -ENOMEM;
		goto out;
	}
	if (EVP_DigestSign(md, *sig, len, d, n) != 1) {
		free(*sig);
		*sig = NULL;
		goto out;
	}
	ret = 0;
out:
	EVP_MD_CTX_free(md);
	return ret;
}

/* ECDSA over a SHA-256 digest given directly (a message signature over an image digest). */
static int sign_digest(EVP_PKEY *k, const unsigned char d[32], unsigned char **sig, size_t *len)
{
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(k, NULL);
	int ret = -EIO;

	*sig = NULL;
	if (!pc || EVP_PKEY_sign_init(pc) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) != 1 ||
	    EVP_PKEY_sign(pc, NULL, len, d, 32) != 1)
		goto out;
	*sig = malloc(*len);
	if (!*sig) {
		ret = -ENOMEM;
		goto out;
	}
	if (EVP_PKEY_sign(pc, *sig, len, d, 32) != 1) {
		free(*sig);
		*sig = NULL;
		goto out;
	}
	ret = 0;
out:
	EVP_PKEY_CTX_free(pc);
	return ret;
}

static void sig_clear(struct sig *s)
{
	free(s->sig);
	free(s->logged);
	memset(s, 0, sizeof(*s));
}

static void entry_clear(struct entry *e)
{
	free(e->body);
	free(e->checkpoint);
	free(e->set);
	memset(e, 0, sizeof(*e));
}

static int64_t rand_below(int64_t n)
{
	uint32_t r = 0;

	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (uint32_t)time(NULL);
	return (int64_t)(r % (uint32_t)n);
}

static int write_file(const char *path, const char *text, char err[256])
{
	bool to_stdout = !strcmp(path, "-");
	FILE *f = to_stdout ? stdout : fopen(path, "w");
	int ret = 0;

	if (!f) {
		snprintf(err, 256, "%.200s: %s", path, strerror(errno));
		return -errno;
	}
	if (fputs(text, f) < 0)
		ret = -EIO;
	if ((to_stdout ? fflush(f) : fclose(f)) != 0)
		ret = -EIO;
	if (ret)
		snprintf(err, 256, "%.200s: write failed", path);
	return ret;
}

static int dump_json(const char *path, json_t *j, size_t flags, char err[256])
{
	char *s = json_dumps(j, flags);
	int ret;

	if (!s) {
		snprintf(err, 256, "%.200s: cannot encode JSON", path);
		return -ENOMEM;
	}
	ret = write_file(path, s, err);
	free(s);
	return ret;
}

/* ---- keys and certificates ---------------------------------------------------------------- */

static EVP_PKEY *p256(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static int save_pem(const char *dir, const char *name, EVP_PKEY *k, X509 *x, char err[256])
{
	char path[MAX_PATH];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/keys/%s.%s", dir, name, k ? "key" : "pem");
	f = fopen(path, "w");
	if (!f) {
		snprintf(err, 256, "%.200s: %s", path, strerror(errno));
		return -errno;
	}
	ok = k ? PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) : PEM_write_X509(f, x);
	if (fclose(f) != 0 || ok != 1) {
		snprintf(err, 256, "%.200s: write failed", path);
		return -EIO;
	}
	return 0;
}

static int load_pem(const char *dir, const char *name, EVP_PKEY **k, X509 **x, char err[256])
{
	char path[MAX_PATH];
	FILE *f;

	snprintf(path, sizeof(path), "%s/keys/%s.%s", dir, name, k ? "key" : "pem");
	f = fopen(path, "r");
	if (!f) {
		snprintf(err, 256, "%.200s: %s (run init first)", path, strerror(errno));
		return -ENOENT;
	}
	if (k)
		*k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	else
		*x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (k ? !*k : !*x) {
		snprintf(err, 256, "%.200s: not PEM", path);
		return -EINVAL;
	}
	return 0;
}

static int add_conf_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -EINVAL;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -EINVAL;
}

/* An extension whose extnValue is the given bytes. */
static int add_raw_ext(X509 *x, const char *oid, const unsigned char *d, int len)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;
	int ret = -EINVAL;

	if (!obj || !os || ASN1_OCTET_STRING_set(os, d, len) != 1)
		goto out;
	ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
	if (ext && X509_add_ext(x, ext, -1) == 1)
		ret = 0;
out:
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(obj);
	return ret;
}

static int set_serial(X509 *x)
{
	unsigned char r[16];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(r, sizeof(r)) != 1)
		return -EIO;
	r[0] &= 0x7f;
	bn = BN_bin2bn(r, sizeof(r), NULL);
	ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	BN_free(bn);
	return ok ? 0 : -EIO;
}

/* A CA or TSA certificate (self-signed when issuer is NULL). */
static X509 *make_ca_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
			  const char *bc, const char *ku, const char *eku)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();

	if (!x || !name || X509_set_version(x, 2) != 1 || set_serial(x) ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), CA_NOT_BEFORE) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), CA_NOT_AFTER) ||
	    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
				       (const unsigned char *)"attestd.test", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
				       0) != 1 ||
	    X509_set_subject_name(x, name) != 1 ||
	    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) != 1 ||
	    X509_set_pubkey(x, key) != 1 ||
	    add_conf_ext(x, issuer, NID_subject_key_identifier, "hash") ||
	    (issuer && add_conf_ext(x, issuer, NID_authority_key_identifier, "keyid:always")) ||
	    (bc && add_conf_ext(x, issuer, NID_basic_constraints, bc)) ||
	    add_conf_ext(x, issuer, NID_key_usage, ku) ||
	    (eku && add_conf_ext(x, issuer, NID_ext_key_usage, eku)) ||
	    X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) <= 0) {
		X509_free(x);
		x = NULL;
	}
	X509_NAME_free(name);
	return x;
}

/* ---- init --------------------------------------------------------------------------------- */

static json_t *log_json(const char *url, EVP_PKEY *k)
{
	unsigned char id[32];
	char *raw = pubkey_b64(k), *idb = NULL;
	json_t *j = NULL;

	if (!raw || key_id(k, id) || !(idb = b64(id, 32)))
		goto out;
	j = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s}}", "baseUrl", url, "hashAlgorithm",
		      "SHA2_256", "publicKey", "rawBytes", raw, "keyDetails",
		      "PKIX_ECDSA_P256_SHA_256", "validFor", "start", VALID_FROM, "logId", "keyId",
		      idb);
out:
	free(raw);
	free(idb);
	return j;
}

static json_t *ca_json(const char *cn, const char *uri, X509 *first, X509 *second)
{
	char *a = cert_b64(first), *b = cert_b64(second);
	json_t *j = NULL;

	if (a && b)
		j = json_pack("{s:{s:s, s:s}, s:s, s:{s:[{s:s}, {s:s}]}, s:{s:s}}", "subject",
			      "organization", "attestd.test", "commonName", cn, "uri", uri,
			      "certChain", "certificates", "rawBytes", a, "rawBytes", b, "validFor",
			      "start", VALID_FROM);
	free(a);
	free(b);
	return j;
}

static int cmd_init(const char *dir, char err[256])
{
	EVP_PKEY *root_k = p256(), *ca_k = p256(), *rekor_k = p256(), *ct_k = p256();
	EVP_PKEY *tsa_root_k = p256(), *tsa_k = p256();
	X509 *root = NULL, *ca = NULL, *tsa_root = NULL, *tsa = NULL;
	json_t *tr = NULL;
	char path[MAX_PATH];
	int ret = -EIO;

	if (!root_k || !ca_k || !rekor_k || !ct_k || !tsa_root_k || !tsa_k) {
		snprintf(err, 256, "init: key generation failed");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/keys", dir);
	if ((mkdir(dir, 0755) && errno != EEXIST) || (mkdir(path, 0700) && errno != EEXIST)) {
		ret = -errno;
		snprintf(err, 256, "init: mkdir %.200s: %s", path, strerror(errno));
		goto out;
	}
	root = make_ca_cert(root_k, "attestd-test-fulcio-root", NULL, NULL, "critical,CA:TRUE",
			    "critical,keyCertSign,cRLSign", NULL);
	ca = root ? make_ca_cert(ca_k, "attestd-test-fulcio-intermediate", root, root_k,
				 "critical,CA:TRUE,pathlen:0", "critical,keyCertSign,cRLSign",
				 "codeSigning")
		  : NULL;
	tsa_root = make_ca_cert(tsa_root_k, "attestd-test-tsa-root", NULL, NULL, "critical,CA:TRUE",
				"critical,keyCertSign,cRLSign", NULL);
	tsa = tsa_root ? make_ca_cert(tsa_k, "attestd-test-tsa", tsa_root, tsa_root_k,
				      "critical,CA:FALSE", "critical,digitalSignature",
				      "critical,timeStamping")
		       : NULL;
	if (!root || !ca || !tsa_root || !tsa) {
		snprintf(err, 256, "init: certificate creation failed");
		goto out;
	}
	if ((ret = save_pem(dir, "fulcio-root", root_k, NULL, err)) ||
	    (ret = save_pem(dir, "fulcio-root", NULL, root, err)) ||
	    (ret = save_pem(dir, "fulcio-intermediate", ca_k, NULL, err)) ||
	    (ret = save_pem(dir, "fulcio-intermediate", NULL, ca, err)) ||
	    (ret = save_pem(dir, "rekor", rekor_k, NULL, err)) ||
	    (ret = save_pem(dir, "ctlog", ct_k, NULL, err)) ||
	    (ret = save_pem(dir, "tsa-root", tsa_root_k, NULL, err)) ||
	    (ret = save_pem(dir, "tsa-root", NULL, tsa_root, err)) ||
	    (ret = save_pem(dir, "tsa", tsa_k, NULL, err)) ||
	    (ret = save_pem(dir, "tsa", NULL, tsa, err)))
		goto out;
	tr = json_pack("{s:s, s:[o], s:[o], s:[o], s:[o]}", "mediaType",
		       "application/vnd.dev.sigstore.trustedroot+json;version=0.1", "tlogs",
		       log_json(REKOR_URL, rekor_k), "certificateAuthorities",
		       ca_json("attestd-test-fulcio", "https://fulcio.attestd.test", ca, root),
		       "ctlogs", log_json("https://ctfe.attestd.test", ct_k),
		       "timestampAuthorities",
		       ca_json("attestd-test-tsa", "https://tsa.attestd.test/api/v1/timestamp", tsa,
			       tsa_root));
	if (!tr) {
		snprintf(err, 256, "init: cannot build the trusted root");
		ret = -ENOMEM;
		goto out;
	}
	snprintf(path, sizeof(path), "%s/trusted_root.json", dir);
	ret = dump_json(path, tr, JSON_INDENT(2), err);
out:
	json_decref(tr);
	X509_free(tsa);
	X509_free(tsa_root);
	X509_free(ca);
	X509_free(root);
	EVP_PKEY_free(tsa_k);
	EVP_PKEY_free(tsa_root_k);
	EVP_PKEY_free(ct_k);
	EVP_PKEY_free(rekor_k);
	EVP_PKEY_free(ca_k);
	EVP_PKEY_free(root_k);
	return ret;
}

static void pki_clear(struct pki *p)
{
	EVP_PKEY_free(p->ca_key);
	X509_free(p->ca_cert);
	X509_free(p->root_cert);
	EVP_PKEY_free(p->rekor_key);
	EVP_PKEY_free(p->ct_key);
	memset(p, 0, sizeof(*p));
}

static int pki_load(const char *dir, struct pki *p, char err[256])
{
	int ret;

	memset(p, 0, sizeof(*p));
	if ((ret = load_pem(dir, "fulcio-intermediate", &p->ca_key, NULL, err)) ||
	    (ret = load_pem(dir, "fulcio-intermediate", NULL, &p->ca_cert, err)) ||
	    (ret = load_pem(dir, "fulcio-root", NULL, &p->root_cert, err)) ||
	    (ret = load_pem(dir, "rekor", &p->rekor_key, NULL, err)) ||
	    (ret = load_pem(dir, "ctlog", &p->ct_key, NULL, err)))
		return ret;
	if (key_id(p->rekor_key, p->rekor_id) || key_id(p->ct_key, p->ct_id)) {
		snprintf(err, 256, "%.200s/keys: unusable log key", dir);
		return -EINVAL;
	}
	return 0;
}

/* ---- the Fulcio-like leaf, with an RFC 6962 SCT over its precertificate -------------------- */

static int add_san(X509 *x, const char *identity)
{
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_IA5STRING *s = ASN1_IA5STRING_new();
	int ret = -EINVAL;

	if (!gens || !g || !s || ASN1_STRING_set(s, identity, (int)strlen(identity)) != 1)
		goto out;
	GENERAL_NAME_set0_value(g, strstr(identity, "://") ? GEN_URI : GEN_EMAIL, s);
	s = NULL;
	if (!sk_GENERAL_NAME_push(gens, g))
		goto out;
	g = NULL;
	if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 1, X509V3_ADD_DEFAULT) == 1)
		ret = 0;
out:
	ASN1_IA5STRING_free(s);
	GENERAL_NAME_free(g);
	GENERAL_NAMES_free(gens);
	return ret;
}

static int add_issuer_exts(X509 *x, const char *issuer)
{
	ASN1_UTF8STRING *u = ASN1_UTF8STRING_new();
	unsigned char *der = NULL;
	int len, ret = -EINVAL;

	if (add_raw_ext(x, OID_ISSUER_V1, (const unsigned char *)issuer, (int)strlen(issuer)))
		goto out;
	if (!u || ASN1_STRING_set(u, issuer, (int)strlen(issuer)) != 1)
		goto out;
	len = i2d_ASN1_UTF8STRING(u, &der);
	if (len > 0 && !add_raw_ext(x, OID_ISSUER_V2, der, len))
		ret = 0;
out:
	OPENSSL_free(der);
	ASN1_UTF8STRING_free(u);
	return ret;
}

static void put_be(unsigned char *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)(v & 0xff);
}

/*
 * RFC 6962 3.2: the CT log's signature over a precert_entry: version, signature type, timestamp,
 * entry type, issuer key hash, the TBSCertificate without the SCT extension, no extensions.
 */
static int sct_sign(const struct pki *p, const unsigned char *tbs, size_t tbs_len, uint64_t ts_ms,
		    unsigned char **sig, size_t *sig_len)
{
	unsigned char ikh[32], *buf = NULL, *spki = NULL, *q;
	size_t n = 1 + 1 + 8 + 2 + 32 + 3 + tbs_len + 2;
	int spki_len, ret = -ENOMEM;

	spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(p->ca_cert), &spki);
	if (spki_len <= 0)
		return -EINVAL;
	sha256(spki, (size_t)spki_len, ikh);
	buf = malloc(n);
	if (!buf)
		goto out;
	q = buf;
	*q++ = 0; /* v1 */
	*q++ = 0; /* certificate_timestamp */
	put_be(q, ts_ms, 8);
	q += 8;
	put_be(q, 1, 2); /* precert_entry */
	q += 2;
	memcpy(q, ikh, 32);
	q += 32;
	put_be(q, tbs_len, 3);
	q += 3;
	memcpy(q, tbs, tbs_len);
	q += tbs_len;
	put_be(q, 0, 2);
	ret = sign_data(p->ct_key, buf, n, sig, sig_len);
out:
	free(buf);
	OPENSSL_free(spki);
	return ret;
}

static int add_sct(X509 *x, const struct pki *p, uint64_t ts_ms)
{
	STACK_OF(SCT) *scts = sk_SCT_new_null();
	unsigned char *tbs = NULL, *sig = NULL;
	size_t sig_len;
	SCT *sct = NULL;
	int tbs_len, ret = -EINVAL;

	/* the precertificate TBS: this certificate as signed so far, before the SCT list */
	if (!scts || X509_sign(x, p->ca_key, EVP_sha256()) <= 0)
		goto out;
	tbs_len = i2d_re_X509_tbs(x, &tbs);
	if (tbs_len <= 0)
		goto out;
	if ((ret = sct_sign(p, tbs, (size_t)tbs_len, ts_ms, &sig, &sig_len)))
		goto out;
	ret = -EINVAL;
	sct = SCT_new();
	if (!sct || SCT_set_version(sct, SCT_VERSION_V1) != 1 ||
	    SCT_set_log_entry_type(sct, CT_LOG_ENTRY_TYPE_PRECERT) != 1 ||
	    SCT_set1_log_id(sct, p->ct_id, 32) != 1 ||
	    SCT_set_signature_nid(sct, NID_ecdsa_with_SHA256) != 1 ||
	    SCT_set1_signature(sct, sig, sig_len) != 1)
		goto out;
	SCT_set_timestamp(sct, ts_ms);
	if (!sk_SCT_push(scts, sct))
		goto out;
	sct = NULL;
	if (X509_add1_ext_i2d(x, NID_ct_precert_scts, scts, 0, X509V3_ADD_APPEND) != 1)
		goto out;
	ret = 0;
out:
	SCT_free(sct);
	SCT_LIST_free(scts);
	free(sig);
	OPENSSL_free(tbs);
	return ret;
}

/* A short-lived leaf for a fresh key; *key and *leaf are the caller's. */
static int make_leaf(const struct pki *p, const struct sign_opts *o, EVP_PKEY **key, X509 **leaf,
		     char err[256])
{
	int64_t nb = o->integrated_time - LEAF_AGE;
	X509_NAME *empty = X509_NAME_new();
	X509 *x = X509_new();
	int ret = -EINVAL;

	*leaf = NULL;
	*key = p256();
	if (o->expired)
		nb = o->integrated_time - 2 * LEAF_LIFETIME;
	if (!*key || !x || !empty || X509_set_version(x, 2) != 1 || set_serial(x) ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)(nb + LEAF_LIFETIME)) ||
	    X509_set_subject_name(x, empty) != 1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(p->ca_cert)) != 1 ||
	    X509_set_pubkey(x, *key) != 1 ||
	    add_conf_ext(x, p->ca_cert, NID_key_usage, "critical,digitalSignature") ||
	    add_conf_ext(x, p->ca_cert, NID_ext_key_usage, "codeSigning") ||
	    add_conf_ext(x, p->ca_cert, NID_subject_key_identifier, "hash") ||
	    add_conf_ext(x, p->ca_cert, NID_authority_key_identifier, "keyid:always") ||
	    add_san(x, o->identity) || add_issuer_exts(x, o->issuer)) {
		snprintf(err, 256, "sign: cannot build the leaf certificate");
		goto out;
	}
	if (add_sct(x, p, (uint64_t)nb * 1000) || X509_sign(x, p->ca_key, EVP_sha256()) <= 0) {
		snprintf(err, 256, "sign: cannot add the SCT or sign the leaf");
		goto out;
	}
	*leaf = x;
	x = NULL;
	ret = 0;
out:
	X509_free(x);
	X509_NAME_free(empty);
	return ret;
}

/* ---- Rekor v1: Merkle tree, checkpoint, SET ----------------------------------------------- */

static void node_hash(const unsigned char l[32], const unsigned char r[32], unsigned char out[32])
{
	unsigned char buf[65];

	buf[0] = 1;
	memcpy(buf + 1, l, 32);
	memcpy(buf + 33, r, 32);
	sha256(buf, sizeof(buf), out);
}

static size_t split(size_t n)
{
	size_t k = 1;

	while (k << 1 < n)
		k <<= 1;
	return k;
}

/* RFC 6962 2.1: MTH(D[n]). */
static void mth(unsigned char (*leaves)[32], size_t n, unsigned char out[32])
{
	unsigned char l[32], r[32];
	size_t k;

	if (n == 1) {
		memcpy(out, leaves[0], 32);
		return;
	}
	k = split(n);
	mth(leaves, k, l);
	mth(leaves + k, n - k, r);
	node_hash(l, r, out);
}

/* RFC 6962 2.1.1: PATH(m, D[n]), leaf level first. */
static void audit_path(size_t m, unsigned char (*leaves)[32], size_t n, struct entry *e)
{
	size_t k;

	if (n == 1)
		return;
	k = split(n);
	if (m < k) {
		audit_path(m, leaves, k, e);
		mth(leaves + k, n - k, e->hashes[e->n_hashes++]);
	} else {
		audit_path(m - k, leaves + k, n - k, e);
		mth(leaves, k, e->hashes[e->n_hashes++]);
	}
}

static int checkpoint(const struct pki *p, struct entry *e)
{
	char text[512], *root = b64(e->root, 32), *sigb = NULL;
	unsigned char *sig = NULL, *hint_sig = NULL;
	size_t sig_len;
	int n, ret = -ENOMEM;

	if (!root)
		goto out;
	n = snprintf(text, sizeof(text), "%s - %s\n%" PRId64 "\n%s\n", REKOR_ORIGIN, REKOR_TREE_ID,
		     e->tree_size, root);
	if ((ret = sign_data(p->rekor_key, text, (size_t)n, &sig, &sig_len)))
		goto out;
	ret = -ENOMEM;
	hint_sig = malloc(4 + sig_len);
	if (!hint_sig)
		goto out;
	memcpy(hint_sig, p->rekor_id, 4);
	memcpy(hint_sig + 4, sig, sig_len);
	sigb = b64(hint_sig, 4 + sig_len);
	if (!sigb ||
	    asprintf(&e->checkpoint, "%s\n\xe2\x80\x94 %s %s\n", text, REKOR_ORIGIN, sigb) < 0) {
		e->checkpoint = NULL;
		goto out;
	}
	ret = 0;
out:
	free(root);
	free(sig);
	free(hint_sig);
	free(sigb);
	return ret;
}

/* Logs body (taking it) at a random position, never the last, of a small tree. */
static int log_entry(const struct pki *p, char *body, int64_t integrated_time, bool tamper_set,
		     struct entry *e)
{
	unsigned char leaves[MAX_TREE][32];
	char id_hex[65], *body_b64 = NULL, *msg = NULL;
	size_t n = MIN_TREE + (size_t)rand_below(MAX_TREE - MIN_TREE + 1);
	size_t idx = (size_t)rand_below((int64_t)n - 1);
	int ret = -ENOMEM;

	memset(e, 0, sizeof(*e));
	e->body = body;
	e->integrated_time = integrated_time;
	e->tree_size = (int64_t)n;
	e->proof_index = (int64_t)idx;
	e->log_index = LOG_INDEX_BASE + e->proof_index;
	for (size_t i = 0; i < n; i++) {
		unsigned char buf[33];

		buf[0] = 0;
		if (i == idx) {
			unsigned char *lb = malloc(strlen(body) + 1);

			if (!lb)
				goto out;
			lb[0] = 0;
			memcpy(lb + 1, body, strlen(body));
			sha256(lb, strlen(body) + 1, leaves[i]);
			free(lb);
			continue;
		}
		if (RAND_bytes(buf + 1, 32) != 1) {
			ret = -EIO;
			goto out;
		}
		sha256(buf, sizeof(buf), leaves[i]);
	}
	mth(leaves, n, e->root);
	audit_path(idx, leaves, n, e);
	if ((ret = checkpoint(p, e)))
		goto out;
	ret = -ENOMEM;
	hex(p->rekor_id, 32, id_hex);
	body_b64 = b64((const unsigned char *)body, strlen(body));
	if (!body_b64 ||
	    asprintf(&msg,
		     "{\"body\":\"%s\",\"integratedTime\":%" PRId64 ",\"logID\":\"%s\","
		     "\"logIndex\":%" PRId64 "}",
		     body_b64, integrated_time, id_hex, e->log_index) < 0) {
		msg = NULL;
		goto out;
	}
	if ((ret = sign_data(p->rekor_key, msg, strlen(msg), &e->set, &e->set_len)))
		goto out;
	if (tamper_set)
		e->set[e->set_len - 1] ^= 0x01; /* the last byte of s: still DER, no longer valid */
out:
	free(body_b64);
	free(msg);
	return ret;
}

/* ---- payloads and entry bodies ------------------------------------------------------------ */

static char *canonical(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(j);
	return s;
}

static json_t *predicate(const char *type, const struct sign_opts *o)
{
	if (strstr(type, "slsa.dev/provenance/v0.2"))
		return json_pack("{s:{s:s}, s:s, s:{s:{s:s, s:s}}, s:{s:b}}", "builder", "id",
				 o->identity, "buildType", "https://attestd.test/build/v1",
				 "invocation", "configSource", "uri",
				 "git+https://github.com/attestd/test", "entryPoint", "release",
				 "metadata", "reproducible", 0);
	if (strstr(type, "slsa.dev/provenance/"))
		return json_pack("{s:{s:s, s:{s:s}, s:[]}, s:{s:{s:s}, s:{s:s}}}",
				 "buildDefinition", "buildType", "https://attestd.test/build/v1",
				 "externalParameters", "workflow", "release.yml",
				 "resolvedDependencies", "runDetails", "builder", "id", o->identity,
				 "metadata", "invocationId", "attestd-test-1");
	return json_object();
}

/* The in-toto v1 statement naming the image (name is changed by --tamper payload). */
static char *statement(const struct sign_opts *o, const char *type, const char *digest_hex,
		       bool tampered)
{
	const char *name = tampered ? "registry.attestd.test/evil" : o->reference;

	return canonical(json_pack("{s:s, s:[{s:s, s:{s:s}}], s:s, s:o}", "_type", STATEMENT_V1,
				   "subject", "name", name, "digest", "sha256", digest_hex,
				   "predicateType", type, "predicate", predicate(type, o)));
}

static char *simplesign(const struct sign_opts *o, const char *digest_hex, bool tampered)
{
	char d[80];

	snprintf(d, sizeof(d), "sha256:%s", digest_hex);
	return canonical(json_pack("{s:{s:{s:s}, s:{s:s}, s:s}, s:n}", "critical", "identity",
				   "docker-reference",
				   tampered ? "registry.attestd.test/evil" : o->reference, "image",
				   "docker-manifest-digest", d, "type",
				   "cosign container image signature", "optional"));
}

/* DSSE v1 pre-authentication encoding. */
static unsigned char *pae(const char *type, const char *payload, size_t *len)
{
	char head[256];
	size_t plen = strlen(payload);
	int hl = snprintf(head, sizeof(head), "DSSEv1 %zu %s %zu ", strlen(type), type, plen);
	unsigned char *out = malloc((size_t)hl + plen);

	if (!out)
		return NULL;
	memcpy(out, head, (size_t)hl);
	memcpy(out + hl, payload, plen);
	*len = (size_t)hl + plen;
	return out;
}

/* Signs msg (PAE or payload) and, for --tamper body, a second time: the log's signature. */
static int sign_twice(EVP_PKEY *k, const unsigned char *msg, size_t len, const unsigned char *dg,
		      bool other, struct sig *s)
{
	int ret;

	ret = dg ? sign_digest(k, dg, &s->sig, &s->sig_len)
		 : sign_data(k, msg, len, &s->sig, &s->sig_len);
	if (ret)
		return ret;
	if (!other) {
		s->logged = malloc(s->sig_len);
		if (!s->logged)
			return -ENOMEM;
		memcpy(s->logged, s->sig, s->sig_len);
		s->logged_len = s->sig_len;
		return 0;
	}
	/* ECDSA is randomized: another signature over the same message, never ours */
	do {
		free(s->logged);
		ret = dg ? sign_digest(k, dg, &s->logged, &s->logged_len)
			 : sign_data(k, msg, len, &s->logged, &s->logged_len);
	} while (!ret && s->logged_len == s->sig_len && !memcmp(s->logged, s->sig, s->sig_len));
	return ret;
}

static char *hashedrekord_body(const char *hash_hex, const struct sig *s, const char *pem)
{
	char *sig = b64(s->logged, s->logged_len),
	     *pk = b64((const unsigned char *)pem, strlen(pem));
	char *out = NULL;

	if (sig && pk)
		out = canonical(json_pack("{s:s, s:s, s:{s:{s:{s:s, s:s}}, s:{s:s, s:{s:s}}}}",
					  "apiVersion", "0.0.1", "kind", "hashedrekord", "spec",
					  "data", "hash", "algorithm", "sha256", "value", hash_hex,
					  "signature", "content", sig, "publicKey", "content", pk));
	free(sig);
	free(pk);
	return out;
}

static char *dsse_body(const char *env_hex, const char *payload_hex, const struct sig *s,
		       const char *pem)
{
	char *sig = b64(s->logged, s->logged_len),
	     *pk = b64((const unsigned char *)pem, strlen(pem));
	char *out = NULL;

	if (sig && pk)
		out = canonical(json_pack(
			"{s:s, s:s, s:{s:{s:s, s:s}, s:{s:s, s:s}, s:[{s:s, s:s}]}}", "apiVersion",
			"0.0.1", "kind", "dsse", "spec", "envelopeHash", "algorithm", "sha256",
			"value", env_hex, "payloadHash", "algorithm", "sha256", "value",
			payload_hex, "signatures", "signature", sig, "verifier", pk));
	free(sig);
	free(pk);
	return out;
}

/* intoto 0.0.2: the envelope without its payload; the signature base64-encoded twice. */
static char *intoto_body(const char *env_hex, const char *payload_hex, const struct sig *s,
			 const char *pem)
{
	char *sig = b64(s->logged, s->logged_len),
	     *pk = b64((const unsigned char *)pem, strlen(pem));
	char *sig2 = sig ? b64((const unsigned char *)sig, strlen(sig)) : NULL, *out = NULL;

	if (sig2 && pk)
		out = canonical(json_pack("{s:s, s:s, s:{s:{s:{s:s, s:[{s:s, s:s}]}, s:{s:s, s:s}, "
					  "s:{s:s, s:s}}}}",
					  "apiVersion", "0.0.2", "kind", "intoto", "spec",
					  "content", "envelope", "payloadType", DSSE_INTOTO,
					  "signatures", "publicKey", pk, "sig", sig2, "hash",
					  "algorithm", "sha256", "value", env_hex, "payloadHash",
					  "algorithm", "sha256", "value", payload_hex));
	free(sig);
	free(sig2);
	free(pk);
	return out;
}

static char *envelope(const char *payload, const struct sig *s)
{
	char *p = b64((const unsigned char *)payload, strlen(payload));
	char *sig = b64(s->sig, s->sig_len), *out = NULL;

	if (p && sig)
		out = canonical(json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "payloadType", DSSE_INTOTO,
					  "payload", p, "signatures", "keyid", "", "sig", sig));
	free(p);
	free(sig);
	return out;
}

/* ---- outputs ------------------------------------------------------------------------------ */

static json_t *tlog_entry_json(const struct pki *p, const struct entry *e, const char *kind,
			       const char *version)
{
	char li[32], pi[32], ts[32], it[32];
	char *id = b64(p->rekor_id, 32), *set = b64(e->set, e->set_len), *root = b64(e->root, 32);
	char *body = b64((const unsigned char *)e->body, strlen(e->body));
	json_t *hashes = json_array(), *j = NULL;

	if (!id || !set || !root || !body || !hashes)
		goto out;
	for (size_t i = 0; i < e->n_hashes; i++) {
		char *h = b64(e->hashes[i], 32);

		if (!h || json_array_append_new(hashes, json_string(h))) {
			free(h);
			goto out;
		}
		free(h);
	}
	snprintf(li, sizeof(li), "%" PRId64, e->log_index);
	snprintf(pi, sizeof(pi), "%" PRId64, e->proof_index);
	snprintf(ts, sizeof(ts), "%" PRId64, e->tree_size);
	snprintf(it, sizeof(it), "%" PRId64, e->integrated_time);
	j = json_pack("{s:s, s:{s:s}, s:{s:s, s:s}, s:s, s:{s:s}, s:{s:s, s:s, s:s, s:O, s:{s:s}}, "
		      "s:s}",
		      "logIndex", li, "logId", "keyId", id, "kindVersion", "kind", kind, "version",
		      version, "integratedTime", it, "inclusionPromise", "signedEntryTimestamp",
		      set, "inclusionProof", "logIndex", pi, "rootHash", root, "treeSize", ts,
		      "hashes", hashes, "checkpoint", "envelope", e->checkpoint,
		      "canonicalizedBody", body);
out:
	json_decref(hashes);
	free(id);
	free(set);
	free(root);
	free(body);
	return j;
}

/* cosign's dev.sigstore.cosign/bundle annotation: SET and payload, no proof. */
static char *cosign_bundle_annotation(const struct pki *p, const struct entry *e)
{
	char id_hex[65], *set = b64(e->set, e->set_len);
	char *body = b64((const unsigned char *)e->body, strlen(e->body)), *out = NULL;

	hex(p->rekor_id, 32, id_hex);
	if (set && body)
		out = canonical(json_pack("{s:s, s:{s:s, s:I, s:I, s:s}}", "SignedEntryTimestamp",
					  set, "Payload", "body", body, "integratedTime",
					  (json_int_t)e->integrated_time, "logIndex",
					  (json_int_t)e->log_index, "logID", id_hex));
	free(set);
	free(body);
	return out;
}

static int write_layer(const struct sign_opts *o, const struct pki *p, const char *media_type,
		       const char *data, const char *sig_ann, X509 *leaf, const struct entry *e,
		       char err[256])
{
	char *d = b64((const unsigned char *)data, strlen(data));
	char *cert = certs_pem(leaf, NULL), *chain = certs_pem(p->ca_cert, p->root_cert);
	char *bundle = cosign_bundle_annotation(p, e);
	json_t *j = NULL;
	int ret = -ENOMEM;

	if (d && cert && chain && bundle)
		j = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s}}", "mediaType", media_type,
			      "data_b64", d, "annotations", ANN_SIGNATURE, sig_ann, ANN_CERTIFICATE,
			      cert, ANN_CHAIN, chain, ANN_BUNDLE, bundle);
	if (!j)
		snprintf(err, 256, "sign: cannot build the layer description");
	else
		ret = dump_json(o->out, j, JSON_INDENT(2), err);
	json_decref(j);
	free(d);
	free(cert);
	free(chain);
	free(bundle);
	return ret;
}

static int write_bundle(const struct sign_opts *o, json_t *content, const char *content_key,
			X509 *leaf, json_t *tlog, char err[256])
{
	char *cert = cert_b64(leaf);
	json_t *j = NULL;
	int ret = -ENOMEM;

	if (cert && content && tlog)
		j = json_pack("{s:s, s:{s:{s:s}, s:[O]}, s:O}", "mediaType", MT_BUNDLE,
			      "verificationMaterial", "certificate", "rawBytes", cert,
			      "tlogEntries", tlog, content_key, content);
	if (!j)
		snprintf(err, 256, "sign: cannot build the bundle");
	else
		ret = dump_json(o->out, j, JSON_INDENT(2), err);
	json_decref(j);
	free(cert);
	return ret;
}

/* ---- sign --------------------------------------------------------------------------------- */

static int sign_dsse(const struct sign_opts *o, const struct pki *p, EVP_PKEY *k, X509 *leaf,
		     const char *pem, const char *digest_hex, char err[256])
{
	const char *type = o->predicate_type ? o->predicate_type
					     : (o->format == FMT_ATT ? PT_SLSA_V1 : PT_COSIGN_SIGN);
	char *signed_st = statement(o, type, digest_hex, false);
	char *shipped = statement(o, type, digest_hex, o->tamper == TAMPER_PAYLOAD);
	char *env = NULL, *body, env_hex[65], payload_hex[65];
	unsigned char *msg = NULL;
	struct sig s = {0};
	struct entry e = {0};
	json_t *tlog = NULL, *content = NULL;
	size_t msg_len;
	int ret = -ENOMEM;

	if (!signed_st || !shipped || !(msg = pae(DSSE_INTOTO, signed_st, &msg_len)))
		goto out;
	if ((ret = sign_twice(k, msg, msg_len, NULL, o->tamper == TAMPER_BODY, &s)))
		goto out;
	ret = -ENOMEM;
	env = envelope(shipped, &s);
	if (!env)
		goto out;
	sha256_hex(env, strlen(env), env_hex);
	sha256_hex(shipped, strlen(shipped), payload_hex);
	body = o->format == FMT_ATT ? intoto_body(env_hex, payload_hex, &s, pem)
				    : dsse_body(env_hex, payload_hex, &s, pem);
	if (!body || (ret = log_entry(p, body, o->integrated_time, o->tamper == TAMPER_SET, &e)))
		goto out;
	if (o->format == FMT_ATT) {
		ret = write_layer(o, p, MT_DSSE, env, "", leaf, &e, err);
		goto out;
	}
	ret = -ENOMEM;
	tlog = tlog_entry_json(p, &e, "dsse", "0.0.1");
	content = json_loads(env, 0, NULL);
	ret = write_bundle(o, content, "dsseEnvelope", leaf, tlog, err);
out:
	if (ret == -ENOMEM && !err[0])
		snprintf(err, 256, "sign: out of memory");
	json_decref(tlog);
	json_decref(content);
	entry_clear(&e);
	sig_clear(&s);
	free(msg);
	free(env);
	free(shipped);
	free(signed_st);
	return ret;
}

static int sign_legacy(const struct sign_opts *o, const struct pki *p, EVP_PKEY *k, X509 *leaf,
		       const char *pem, const char *digest_hex, char err[256])
{
	char *signed_pl = simplesign(o, digest_hex, false);
	char *shipped = simplesign(o, digest_hex, o->tamper == TAMPER_PAYLOAD);
	char *body, *sig_b64 = NULL, hash_hex[65];
	struct sig s = {0};
	struct entry e = {0};
	int ret = -ENOMEM;

	if (!signed_pl || !shipped)
		goto out;
	if ((ret = sign_twice(k, (const unsigned char *)signed_pl, strlen(signed_pl), NULL,
			      o->tamper == TAMPER_BODY, &s)))
		goto out;
	ret = -ENOMEM;
	sha256_hex(shipped, strlen(shipped), hash_hex);
	body = hashedrekord_body(hash_hex, &s, pem);
	if (!body || (ret = log_entry(p, body, o->integrated_time, o->tamper == TAMPER_SET, &e)))
		goto out;
	ret = -ENOMEM;
	sig_b64 = b64(s.sig, s.sig_len);
	if (!sig_b64)
		goto out;
	ret = write_layer(o, p, MT_SIMPLESIGN, shipped, sig_b64, leaf, &e, err);
out:
	if (ret == -ENOMEM && !err[0])
		snprintf(err, 256, "sign: out of memory");
	entry_clear(&e);
	sig_clear(&s);
	free(sig_b64);
	free(shipped);
	free(signed_pl);
	return ret;
}

/* A message signature over the image manifest digest (hashedrekord). */
static int sign_message(const struct sign_opts *o, const struct pki *p, EVP_PKEY *k, X509 *leaf,
			const char *pem, const unsigned char digest[32], char err[256])
{
	unsigned char other[32];
	char *body, *dg_b64 = b64(digest, 32), *sig_b64 = NULL, hash_hex[65];
	struct sig s = {0};
	struct entry e = {0};
	json_t *tlog = NULL, *content = NULL;
	int ret = -ENOMEM;

	/* --tamper payload: the signature is over another digest than the one shipped */
	memcpy(other, digest, 32);
	other[31] ^= 0xff;
	if (!dg_b64)
		goto out;
	if ((ret = sign_twice(k, NULL, 0, o->tamper == TAMPER_PAYLOAD ? other : digest,
			      o->tamper == TAMPER_BODY, &s)))
		goto out;
	ret = -ENOMEM;
	hex(digest, 32, hash_hex);
	body = hashedrekord_body(hash_hex, &s, pem);
	if (!body || (ret = log_entry(p, body, o->integrated_time, o->tamper == TAMPER_SET, &e)))
		goto out;
	ret = -ENOMEM;
	sig_b64 = b64(s.sig, s.sig_len);
	if (!sig_b64)
		goto out;
	tlog = tlog_entry_json(p, &e, "hashedrekord", "0.0.1");
	content = json_pack("{s:{s:s, s:s}, s:s}", "messageDigest", "algorithm", "SHA2_256",
			    "digest", dg_b64, "signature", sig_b64);
	ret = write_bundle(o, content, "messageSignature", leaf, tlog, err);
out:
	if (ret == -ENOMEM && !err[0])
		snprintf(err, 256, "sign: out of memory");
	json_decref(tlog);
	json_decref(content);
	entry_clear(&e);
	sig_clear(&s);
	free(sig_b64);
	free(dg_b64);
	return ret;
}

static int cmd_sign(const struct sign_opts *o, char err[256])
{
	unsigned char digest[32];
	char digest_hex[65], *pem = NULL;
	struct pki p = {0};
	EVP_PKEY *k = NULL;
	X509 *leaf = NULL;
	int ret;

	if (strncmp(o->digest, "sha256:", 7) || unhex(o->digest + 7, digest, 32)) {
		snprintf(err, 256, "--digest: not sha256:<64 lower-case hex digits>");
		return -EINVAL;
	}
	if (o->tamper == TAMPER_DIGEST)
		digest[0] ^= 0xff; /* every signed statement names another image */
	hex(digest, 32, digest_hex);
	if ((ret = pki_load(o->dir, &p, err)) || (ret = make_leaf(&p, o, &k, &leaf, err)))
		goto out;
	pem = certs_pem(leaf, NULL);
	if (!pem) {
		ret = -ENOMEM;
		goto out;
	}
	if (o->format == FMT_LEGACY)
		ret = sign_legacy(o, &p, k, leaf, pem, digest_hex, err);
	else if (o->message)
		ret = sign_message(o, &p, k, leaf, pem, digest, err);
	else
		ret = sign_dsse(o, &p, k, leaf, pem, digest_hex, err);
out:
	free(pem);
	X509_free(leaf);
	EVP_PKEY_free(k);
	pki_clear(&p);
	return ret;
}

/* ---- main --------------------------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
		"usage: sigstore_signer init DIR\n"
		"       sigstore_signer sign DIR --digest sha256:<hex> --format bundle|legacy|att\n"
		"              --out FILE [--identity S] [--issuer URL] [--predicate-type T]\n"
		"              [--message] [--expired] [--tamper payload|set|body|digest]\n"
		"              [--integrated-time UNIX] [--reference REGISTRY/REPO]\n");
}

static int parse_sign(int argc, char **argv, struct sign_opts *o)
{
	static const char *const tampers[] = {"payload", "set", "body", "digest"};
	static const char *const formats[] = {"bundle", "legacy", "att"};
	const char *format = NULL, *tamper = NULL, *itime = NULL;
	bool known = false;

	memset(o, 0, sizeof(*o));
	o->dir = argv[2];
	o->identity = DEFAULT_IDENTITY;
	o->issuer = DEFAULT_ISSUER;
	o->reference = DEFAULT_REFERENCE;
	for (int i = 3; i < argc; i++) {
		const char *a = argv[i];
		const char **dst = !strcmp(a, "--digest")	     ? &o->digest
				   : !strcmp(a, "--format")	     ? &format
				   : !strcmp(a, "--out")	     ? &o->out
				   : !strcmp(a, "--identity")	     ? &o->identity
				   : !strcmp(a, "--issuer")	     ? &o->issuer
				   : !strcmp(a, "--predicate-type")  ? &o->predicate_type
				   : !strcmp(a, "--tamper")	     ? &tamper
				   : !strcmp(a, "--integrated-time") ? &itime
				   : !strcmp(a, "--reference")	     ? &o->reference
								     : NULL;

		if (!strcmp(a, "--message")) {
			o->message = true;
		} else if (!strcmp(a, "--expired")) {
			o->expired = true;
		} else if (dst && i + 1 < argc) {
			*dst = argv[++i];
		} else {
			fprintf(stderr, "sign: unknown option or missing value: %s\n", a);
			return -EINVAL;
		}
	}
	if (!o->digest || !format || !o->out) {
		fprintf(stderr, "sign: --digest, --format and --out are required\n");
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (!strcmp(format, formats[i])) {
			o->format = (enum format)i;
			known = true;
		}
	}
	if (!known || (o->message && o->format != FMT_BUNDLE)) {
		fprintf(stderr,
			"sign: --format must be bundle, legacy or att (--message: bundle)\n");
		return -EINVAL;
	}
	if (tamper) {
		for (size_t i = 0; i < sizeof(tampers) / sizeof(tampers[0]); i++)
			if (!strcmp(tamper, tampers[i]))
				o->tamper = (enum tamper)(i + 1);
		if (o->tamper == TAMPER_NONE) {
			fprintf(stderr, "sign: --tamper must be payload, set, body or digest\n");
			return -EINVAL;
		}
	}
	o->integrated_time = (int64_t)time(NULL) - 60;
	if (itime) {
		char *end;
		long long v = strtoll(itime, &end, 10);

		if (*itime == 0 || *end || v <= LEAF_LIFETIME * 2) {
			fprintf(stderr, "sign: --integrated-time: not a Unix time\n");
			return -EINVAL;
		}
		o->integrated_time = v;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char err[256] = "";
	struct sign_opts o;
	int ret;

	if (argc == 3 && !strcmp(argv[1], "init")) {
		ret = cmd_init(argv[2], err);
	} else if (argc >= 3 && !strcmp(argv[1], "sign")) {
		if (parse_sign(argc, argv, &o)) {
			usage();
			return 2;
		}
		ret = cmd_sign(&o, err);
	} else {
		usage();
		return 2;
	}
	if (ret) {
		fprintf(stderr, "sigstore_signer: %s\n", err[0] ? err : strerror(-ret));
		return 1;
	}
	return 0;
}
