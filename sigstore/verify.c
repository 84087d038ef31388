/*
 * verify.c - see verify.h.
 */
#include "sigstore/verify.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "sigstore/cert.h"
#include "sigstore/dsse.h"
#include "sigstore/tlog.h"
#include "sigstore/tsa.h"
#include "sigstore/util.h"

#define BODY_MAX_DEPTH 16
#define MAX_PEM_BYTES  16384
#define MAX_SIG_BYTES  1024
#define MAX_TIMES      (SIGSTORE_BUNDLE_MAX_ENTRIES + SIGSTORE_BUNDLE_MAX_TIMESTAMPS)

struct vctx {
	const struct sigstore_bundle *b;
	const struct sigstore_verify_opts *o;
	int64_t now;
	enum sigstore_hash alg; /* message signature: digest algorithm */
	unsigned char digest[SIGSTORE_MAX_DIGEST];
	size_t digest_len;
	unsigned char payload_sha256[32]; /* DSSE */
	unsigned char *pae;
	size_t pae_len;
	unsigned char pae_sha256[32];
	EVP_PKEY *key; /* signing key (borrowed) */
	X509 *leaf;    /* keyless leaf (borrowed) */
	int64_t tsa_times[SIGSTORE_BUNDLE_MAX_TIMESTAMPS];
	size_t n_tsa;
	int64_t times[MAX_TIMES]; /* every verified observer time */
	size_t n_times;
};

void sigstore_verify_result_clear(struct sigstore_verify_result *res)
{
	free(res->subject);
	free(res->issuer);
	free(res->signature_b64);
	free(res->set_b64);
	free(res->predicate_type);
	memset(res, 0, sizeof(*res));
}

/* ---- does the log entry's body describe this signature, key and digest? ---------------- */

static bool same_key_as_signer(const struct vctx *c, EVP_PKEY *k)
{
	return k && c->key && EVP_PKEY_eq(k, c->key) == 1;
}

/* PEM text (a certificate for keyless, a public key for keyed) names our signer. */
static bool pem_matches(const struct vctx *c, const unsigned char *pem, size_t len)
{
	bool ok = false;
	BIO *bio;

	if (len > MAX_PEM_BYTES)
		return false;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio)
		return false;
	if (c->leaf) {
		X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);

		ok = x && X509_cmp(x, c->leaf) == 0;
		X509_free(x);
	} else {
		EVP_PKEY *k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);

		ok = same_key_as_signer(c, k);
		EVP_PKEY_free(k);
	}
	BIO_free(bio);
	ERR_clear_error();
	return ok;
}

/* A base64 member holding PEM: decode and compare. */
static bool b64_pem_matches(const struct vctx *c, const json_t *obj, const char *key)
{
	unsigned char *pem = NULL;
	size_t len;
	char e[256];
	bool ok;

	if (sigstore_util_json_b64(obj, key, "body", MAX_PEM_BYTES, &pem, &len, e))
		return false;
	ok = pem_matches(c, pem, len);
	free(pem);
	return ok;
}

/* A base64 member equal to bytes. */
static bool b64_equals(const json_t *obj, const char *key, const unsigned char *want, size_t n)
{
	unsigned char *d = NULL;
	size_t len;
	char e[256];
	bool ok;

	if (sigstore_util_json_b64(obj, key, "body", SIGSTORE_BUNDLE_MAX_BLOB, &d, &len, e))
		return false;
	ok = len == n && !memcmp(d, want, n);
	free(d);
	return ok;
}

/* Rekor v2 verifier {x509Certificate{rawBytes} | publicKey{rawBytes}}. */
static bool v2_verifier_matches(const struct vctx *c, const json_t *ver)
{
	const json_t *x = json_object_get(ver, "x509Certificate");
	const json_t *pk = json_object_get(ver, "publicKey");
	unsigned char *der = NULL;
	const unsigned char *p;
	bool ok = false;
	size_t len;
	char e[256];

	if (c->leaf && json_is_object(x)) {
		X509 *cert;

		if (sigstore_util_json_b64(x, "rawBytes", "body", MAX_PEM_BYTES, &der, &len, e))
			return false;
		p = der;
		cert = d2i_X509(NULL, &p, (long)len);
		ok = cert && p == der + len && X509_cmp(cert, c->leaf) == 0;
		X509_free(cert);
	} else if (!c->leaf && json_is_object(pk)) {
		EVP_PKEY *k;

		if (sigstore_util_json_b64(pk, "rawBytes", "body", MAX_PEM_BYTES, &der, &len, e))
			return false;
		k = sigstore_util_pkey_from_der(der, len);
		ok = same_key_as_signer(c, k);
		EVP_PKEY_free(k);
	}
	free(der);
	ERR_clear_error();
	return ok;
}

static const char *hex_alg_name(enum sigstore_hash h)
{
	return h == SIGSTORE_HASH_SHA256   ? "sha256"
	       : h == SIGSTORE_HASH_SHA384 ? "sha384"
	       : h == SIGSTORE_HASH_SHA512 ? "sha512"
					   : "";
}

static const char *v2_alg_name(enum sigstore_hash h)
{
	return h == SIGSTORE_HASH_SHA256   ? "SHA2_256"
	       : h == SIGSTORE_HASH_SHA384 ? "SHA2_384"
	       : h == SIGSTORE_HASH_SHA512 ? "SHA2_512"
					   : "";
}

/* {"algorithm": "sha256", "value": "<hex>"} equals the digest. */
static bool hex_hash_equals(const json_t *h, enum sigstore_hash alg, const unsigned char *d,
			    size_t n)
{
	const json_t *a = json_object_get(h, "algorithm"), *v = json_object_get(h, "value");
	unsigned char got[SIGSTORE_MAX_DIGEST];

	return json_is_string(a) && json_is_string(v) &&
	       !strcmp(json_string_value(a), hex_alg_name(alg)) &&
	       !sigstore_util_hex_decode(json_string_value(v), got, n) && !memcmp(got, d, n);
}

/* {"algorithm": "SHA2_256", "digest": "<base64>"} equals the digest. */
static bool v2_hash_equals(const json_t *h, enum sigstore_hash alg, const unsigned char *d,
			   size_t n)
{
	const json_t *a = json_object_get(h, "algorithm");

	return json_is_object(h) && json_is_string(a) &&
	       !strcmp(json_string_value(a), v2_alg_name(alg)) && b64_equals(h, "digest", d, n);
}

static int check_hashedrekord_v1(const struct vctx *c, const json_t *spec, char err[256])
{
	const json_t *data = json_object_get(spec, "data");
	const json_t *sig = json_object_get(spec, "signature");
	const json_t *hash = json_is_object(data) ? json_object_get(data, "hash") : NULL;
	const json_t *pk = json_is_object(sig) ? json_object_get(sig, "publicKey") : NULL;

	if (c->b->is_dsse) {
		snprintf(err, 256, "tlog entry: hashedrekord entry for a DSSE bundle");
		return -EBADMSG;
	}
	if (!json_is_object(hash) || !hex_hash_equals(hash, c->alg, c->digest, c->digest_len)) {
		snprintf(err, 256, "tlog entry: hashedrekord digest is not the artifact's");
		return -EBADMSG;
	}
	if (!json_is_object(sig) || !b64_equals(sig, "content", c->b->sig, c->b->sig_len)) {
		snprintf(err, 256, "tlog entry: hashedrekord signature is not the bundle's");
		return -EBADMSG;
	}
	if (!json_is_object(pk) || !b64_pem_matches(c, pk, "content")) {
		snprintf(err, 256, "tlog entry: hashedrekord key is not the bundle's signer");
		return -EBADMSG;
	}
	return 0;
}

static int check_hashedrekord_v2(const struct vctx *c, const json_t *spec, char err[256])
{
	const json_t *h = json_object_get(spec, "hashedRekordV002");
	const json_t *data = json_is_object(h) ? json_object_get(h, "data") : NULL;
	const json_t *sig = json_is_object(h) ? json_object_get(h, "signature") : NULL;
	const json_t *ver = json_is_object(sig) ? json_object_get(sig, "verifier") : NULL;
	const unsigned char *d = c->b->is_dsse ? c->pae_sha256 : c->digest;
	enum sigstore_hash alg = c->b->is_dsse ? SIGSTORE_HASH_SHA256 : c->alg;
	size_t n = c->b->is_dsse ? 32 : c->digest_len;

	if (!v2_hash_equals(data, alg, d, n)) {
		snprintf(err, 256, "tlog entry: hashedrekord digest is not the %s",
			 c->b->is_dsse ? "DSSE envelope's (PAE)" : "artifact's");
		return -EBADMSG;
	}
	if (!json_is_object(sig) || !b64_equals(sig, "content", c->b->sig, c->b->sig_len)) {
		snprintf(err, 256, "tlog entry: hashedrekord signature is not the bundle's");
		return -EBADMSG;
	}
	if (!json_is_object(ver) || !v2_verifier_matches(c, ver)) {
		snprintf(err, 256, "tlog entry: hashedrekord key is not the bundle's signer");
		return -EBADMSG;
	}
	return 0;
}

static int check_dsse_v1(const struct vctx *c, const json_t *spec, char err[256])
{
	const json_t *ph = json_object_get(spec, "payloadHash");
	const json_t *sigs = json_object_get(spec, "signatures"), *s;

	if (!c->b->is_dsse) {
		snprintf(err, 256, "tlog entry: dsse entry for a message signature bundle");
		return -EBADMSG;
	}
	if (!json_is_object(ph) ||
	    !hex_hash_equals(ph, SIGSTORE_HASH_SHA256, c->payload_sha256, 32)) {
		snprintf(err, 256, "tlog entry: dsse payload hash is not the envelope's");
		return -EBADMSG;
	}
	if (!json_is_array(sigs) || json_array_size(sigs) != 1) {
		snprintf(err, 256, "tlog entry: dsse entry does not hold exactly one signature");
		return -EBADMSG;
	}
	s = json_array_get(sigs, 0);
	if (!json_is_object(s) || !b64_equals(s, "signature", c->b->sig, c->b->sig_len) ||
	    !b64_pem_matches(c, s, "verifier")) {
		snprintf(err, 256, "tlog entry: dsse signature or key is not the envelope's");
		return -EBADMSG;
	}
	return 0;
}

static int check_dsse_v2(const struct vctx *c, const json_t *spec, char err[256])
{
	const json_t *d = json_object_get(spec, "dsseV002");
	const json_t *ph = json_is_object(d) ? json_object_get(d, "payloadHash") : NULL;
	const json_t *sigs = json_is_object(d) ? json_object_get(d, "signatures") : NULL, *s;

	if (!c->b->is_dsse) {
		snprintf(err, 256, "tlog entry: dsse entry for a message signature bundle");
		return -EBADMSG;
	}
	if (!v2_hash_equals(ph, SIGSTORE_HASH_SHA256, c->payload_sha256, 32)) {
		snprintf(err, 256, "tlog entry: dsse payload hash is not the envelope's");
		return -EBADMSG;
	}
	if (!json_is_array(sigs) || json_array_size(sigs) != 1) {
		snprintf(err, 256, "tlog entry: dsse entry does not hold exactly one signature");
		return -EBADMSG;
	}
	s = json_array_get(sigs, 0);
	if (!json_is_object(s) || !b64_equals(s, "content", c->b->sig, c->b->sig_len) ||
	    !json_is_object(json_object_get(s, "verifier")) ||
	    !v2_verifier_matches(c, json_object_get(s, "verifier"))) {
		snprintf(err, 256, "tlog entry: dsse signature or key is not the envelope's");
		return -EBADMSG;
	}
	return 0;
}

/*
 * intoto 0.0.2 publicKey: base64 of the PEM certificate or key as Rekor writes it; some clients
 * encode it once more, so a value that does not decode to PEM is decoded a second time.
 */
static bool intoto_key_matches(const struct vctx *c, const json_t *s)
{
	unsigned char *once = NULL, *twice = NULL;
	size_t n1, n2;
	char e[256];
	bool ok = false;

	if (sigstore_util_json_b64(s, "publicKey", "body", 2 * MAX_PEM_BYTES, &once, &n1, e))
		return false;
	if (n1 >= 5 && !memcmp(once, "-----", 5))
		ok = pem_matches(c, once, n1);
	else if (!sigstore_util_b64_decode((const char *)once, n1, &twice, &n2))
		ok = pem_matches(c, twice, n2);
	free(once);
	free(twice);
	return ok;
}

/* intoto 0.0.2 stores the envelope's payload and signatures base64-encoded once more. */
static bool intoto_sig_matches(const struct vctx *c, const json_t *s)
{
	unsigned char *once = NULL, *twice = NULL;
	size_t n1, n2;
	char e[256];
	bool ok = false;

	if (sigstore_util_json_b64(s, "sig", "body", 2 * MAX_SIG_BYTES, &once, &n1, e))
		return false;
	if (n1 == c->b->sig_len && !memcmp(once, c->b->sig, n1))
		ok = true;
	else if (!sigstore_util_b64_decode((const char *)once, n1, &twice, &n2))
		ok = n2 == c->b->sig_len && !memcmp(twice, c->b->sig, n2);
	free(once);
	free(twice);
	return ok && intoto_key_matches(c, s);
}

static int check_intoto_v2(const struct vctx *c, const json_t *spec, char err[256])
{
	const json_t *content = json_object_get(spec, "content");
	const json_t *ph = json_is_object(content) ? json_object_get(content, "payloadHash") : NULL;
	const json_t *env = json_is_object(content) ? json_object_get(content, "envelope") : NULL;
	const json_t *sigs = json_is_object(env) ? json_object_get(env, "signatures") : NULL;
	const json_t *type = json_is_object(env) ? json_object_get(env, "payloadType") : NULL;

	if (!c->b->is_dsse) {
		snprintf(err, 256, "tlog entry: intoto entry for a message signature bundle");
		return -EBADMSG;
	}
	if (!json_is_object(ph) ||
	    !hex_hash_equals(ph, SIGSTORE_HASH_SHA256, c->payload_sha256, 32)) {
		snprintf(err, 256, "tlog entry: intoto payload hash is not the envelope's");
		return -EBADMSG;
	}
	if (!json_is_string(type) || strcmp(json_string_value(type), c->b->payload_type)) {
		snprintf(err, 256, "tlog entry: intoto payloadType is not the envelope's");
		return -EBADMSG;
	}
	if (!json_is_array(sigs) || json_array_size(sigs) != 1 ||
	    !json_is_object(json_array_get(sigs, 0)) ||
	    !intoto_sig_matches(c, json_array_get(sigs, 0))) {
		snprintf(err, 256, "tlog entry: intoto signature or key is not the envelope's");
		return -EBADMSG;
	}
	return 0;
}

enum entry_kind {
	KIND_UNKNOWN,
	KIND_HASHEDREKORD_V1,
	KIND_DSSE_V1,
	KIND_INTOTO_V2,
	KIND_HASHEDREKORD_V2,
	KIND_DSSE_V2,
};

static enum entry_kind entry_kind(const char *kind, const char *version)
{
	static const struct {
		const char *kind, *version;
		enum entry_kind k;
	} kinds[] = {
		{"hashedrekord", "0.0.1", KIND_HASHEDREKORD_V1},
		{"dsse", "0.0.1", KIND_DSSE_V1},
		{"intoto", "0.0.2", KIND_INTOTO_V2},
		{"hashedrekord", "0.0.2", KIND_HASHEDREKORD_V2},
		{"dsse", "0.0.2", KIND_DSSE_V2},
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kind, kinds[i].kind) && !strcmp(version, kinds[i].version))
			return kinds[i].k;
	return KIND_UNKNOWN;
}

static bool is_rekor_v2(enum entry_kind k)
{
	return k == KIND_HASHEDREKORD_V2 || k == KIND_DSSE_V2;
}

static int check_body(const struct vctx *c, const struct sigstore_tlog_entry *e, enum entry_kind k,
		      char err[256])
{
	const json_t *kind, *ver, *spec;
	json_t *body = NULL;
	int ret;

	ret = sigstore_util_json_parse((const char *)e->body, e->body_len, BODY_MAX_DEPTH,
				       "tlog entry body", &body, err);
	if (ret)
		goto out;
	ret = -EBADMSG;
	kind = json_object_get(body, "kind");
	ver = json_object_get(body, "apiVersion");
	spec = json_object_get(body, "spec");
	if (!json_is_string(kind) || !json_is_string(ver) || !json_is_object(spec) ||
	    strcmp(json_string_value(kind), e->kind) ||
	    strcmp(json_string_value(ver), e->version)) {
		snprintf(err, 256,
			 "tlog entry: body kind/apiVersion/spec do not match kindVersion");
		goto out;
	}
	switch (k) {
	case KIND_HASHEDREKORD_V1:
		ret = check_hashedrekord_v1(c, spec, err);
		break;
	case KIND_DSSE_V1:
		ret = check_dsse_v1(c, spec, err);
		break;
	case KIND_INTOTO_V2:
		ret = check_intoto_v2(c, spec, err);
		break;
	case KIND_HASHEDREKORD_V2:
		ret = check_hashedrekord_v2(c, spec, err);
		break;
	case KIND_DSSE_V2:
		ret = check_dsse_v2(c, spec, err);
		break;
	default:
		break;
	}
out:
	json_decref(body);
	return ret;
}

/* ---- the steps ----------------------------------------------------------------------- */

static int prepare(struct vctx *c, char err[256])
{
	const struct sigstore_bundle *b = c->b;
	const struct sigstore_verify_opts *o = c->o;
	int ret;

	if (!o->artifact && !o->artifact_sha256) {
		snprintf(err, 256, "verify: no artifact or artifact digest given");
		return -EINVAL;
	}
	/* the artifact digest (for DSSE: the statement's subject digest, SHA-256) */
	c->alg = !b->is_dsse && b->digest_len ? b->digest_alg : SIGSTORE_HASH_SHA256;
	c->digest_len = sigstore_util_hash_len(c->alg);
	if (o->artifact) {
		ret = sigstore_util_hash(c->alg, o->artifact, o->artifact_len, c->digest);
		if (ret)
			return ret;
	} else if (c->alg == SIGSTORE_HASH_SHA256) {
		memcpy(c->digest, o->artifact_sha256, 32);
	} else {
		snprintf(err, 256, "bundle: message digest is not SHA-256; the artifact is needed");
		return -EINVAL;
	}
	if (!b->is_dsse && b->digest_len && memcmp(b->digest, c->digest, c->digest_len) != 0) {
		snprintf(err, 256, "bundle: messageDigest is not the artifact's digest");
		return -EBADMSG;
	}
	if (b->is_dsse) {
		if (b->n_sigs != 1) {
			snprintf(err, 256, "DSSE: %zu signatures; exactly one is accepted",
				 b->n_sigs);
			return -EBADMSG;
		}
		if (strcmp(b->payload_type, SIGSTORE_DSSE_PAYLOAD_TYPE)) {
			snprintf(err, 256, "DSSE: payloadType is not %s",
				 SIGSTORE_DSSE_PAYLOAD_TYPE);
			return -EBADMSG;
		}
		ret = sigstore_util_hash(SIGSTORE_HASH_SHA256, b->payload, b->payload_len,
					 c->payload_sha256);
		if (!ret)
			ret = sigstore_dsse_pae(b->payload_type, b->payload, b->payload_len,
						&c->pae, &c->pae_len);
		if (!ret)
			ret = sigstore_util_hash(SIGSTORE_HASH_SHA256, c->pae, c->pae_len,
						 c->pae_sha256);
		if (ret)
			return ret;
	}
	/* the signer's key */
	if (o->public_key) {
		if (!b->has_public_key) {
			snprintf(err, 256, "bundle: signed with a certificate, a key was expected");
			return -EBADMSG;
		}
		c->key = o->public_key;
		return 0;
	}
	if (!b->leaf) {
		snprintf(err, 256, "bundle: signed with a key; no key given to verify it");
		return -EBADMSG;
	}
	if (sigstore_cert_is_self_signed(b->leaf)) {
		snprintf(err, 256, "bundle: the signing certificate is self-signed");
		return -EBADMSG;
	}
	for (size_t i = 0; i < b->n_extra; i++) {
		if (sigstore_cert_is_self_signed(b->extra[i])) {
			snprintf(err, 256, "bundle: certificate chain contains a root certificate");
			return -EBADMSG;
		}
	}
	if (!o->expected_subject && !o->expected_issuer && !o->policy) {
		snprintf(err, 256, "verify: no identity policy for a keyless signature");
		return -EINVAL;
	}
	c->leaf = b->leaf;
	c->key = X509_get0_pubkey(b->leaf);
	if (!c->key) {
		snprintf(err, 256, "certificate: unreadable public key");
		return -EBADMSG;
	}
	return 0;
}

static int add_time(struct vctx *c, int64_t t)
{
	if (c->n_times >= MAX_TIMES)
		return -E2BIG;
	c->times[c->n_times++] = t;
	return 0;
}

static int verify_timestamps(struct vctx *c, char err[256])
{
	for (size_t i = 0; i < c->b->n_timestamps; i++) {
		int64_t t;
		int ret = sigstore_tsa_verify(c->b->timestamps[i], c->b->timestamp_len[i],
					      c->b->sig, c->b->sig_len, c->o->trust_root, &t, err);

		if (ret)
			return ret;
		c->tsa_times[c->n_tsa++] = t;
		ret = add_time(c, t);
		if (ret)
			return ret;
	}
	return 0;
}

/* One entry from a trusted log: 0 verified, or an error that rejects the bundle. */
static int verify_entry(struct vctx *c, const struct sigstore_tlog_entry *e,
			const struct sigstore_log *log, struct sigstore_verify_result *res,
			bool first, char err[256])
{
	enum entry_kind k = entry_kind(e->kind, e->version);
	int64_t when;
	int ret;

	if (k == KIND_UNKNOWN) {
		snprintf(err, 256, "tlog entry %" PRId64 ": unsupported kind %s %s", e->log_index,
			 e->kind, e->version);
		return -EPROTO;
	}
	ret = check_body(c, e, k, err);
	if (ret)
		return ret;
	if (is_rekor_v2(k)) {
		/* Rekor v2: no SET, no integrated time; the proof is required, time comes
		 * from the RFC 3161 timestamps */
		if (!e->has_proof) {
			snprintf(err, 256,
				 "tlog entry %" PRId64 ": Rekor v2 entry without an "
				 "inclusion proof",
				 e->log_index);
			return -EBADMSG;
		}
		if (c->n_tsa == 0) {
			snprintf(err, 256,
				 "tlog entry %" PRId64 ": Rekor v2 entry without a "
				 "verified RFC 3161 timestamp",
				 e->log_index);
			return -EBADMSG;
		}
		ret = sigstore_tlog_verify_proof(e, log, err);
		if (ret)
			return ret;
		for (size_t i = 0; i < c->n_tsa; i++) {
			if (!sigstore_time_range_contains(&log->valid, c->tsa_times[i])) {
				snprintf(err, 256,
					 "tlog entry %" PRId64 ": timestamp outside the "
					 "log key's validity",
					 e->log_index);
				return -EKEYEXPIRED;
			}
		}
		when = c->tsa_times[0];
	} else {
		if (!e->set && !e->has_proof) {
			snprintf(err, 256,
				 "tlog entry %" PRId64 ": neither inclusion promise "
				 "nor proof",
				 e->log_index);
			return -EBADMSG;
		}
		if (c->b->minor == 1 && !e->set) {
			snprintf(err, 256,
				 "tlog entry %" PRId64 ": v0.1 bundle without an "
				 "inclusion promise",
				 e->log_index);
			return -EBADMSG;
		}
		if (c->b->minor >= 2 && !e->has_proof) {
			snprintf(err, 256,
				 "tlog entry %" PRId64 ": v0.%d bundle without an "
				 "inclusion proof",
				 e->log_index, c->b->minor);
			return -EBADMSG;
		}
		if (e->has_proof) {
			ret = sigstore_tlog_verify_proof(e, log, err);
			if (ret)
				return ret;
		}
		when = c->n_tsa ? c->tsa_times[0] : 0;
		if (e->set) {
			ret = sigstore_tlog_verify_set(e, log, err);
			if (ret)
				return ret;
			if (e->integrated_time > c->now + SIGSTORE_VERIFY_MAX_SKEW) {
				snprintf(err, 256,
					 "tlog entry %" PRId64 ": integrated time in the "
					 "future",
					 e->log_index);
				return -EBADMSG;
			}
			if (!sigstore_time_range_contains(&log->valid, e->integrated_time)) {
				snprintf(err, 256,
					 "tlog entry %" PRId64 ": integrated time outside "
					 "the log key's validity",
					 e->log_index);
				return -EKEYEXPIRED;
			}
			ret = add_time(c, e->integrated_time);
			if (ret)
				return ret;
			when = e->integrated_time;
		}
	}
	if (first) {
		sigstore_util_hex_encode(e->log_id, 32, res->log_id_hex);
		res->log_index = e->log_index;
		res->signed_time = when;
		if (e->set) {
			res->set_b64 = sigstore_util_b64_encode(e->set, e->set_len);
			if (!res->set_b64)
				return -ENOMEM;
		}
	}
	return 0;
}

static int verify_entries(struct vctx *c, struct sigstore_verify_result *res, char err[256])
{
	const struct sigstore_bundle *b = c->b;
	const struct sigstore_log *required = NULL;
	size_t verified = 0;
	int ret;

	if (b->n_entries == 0) {
		snprintf(err, 256, "bundle: no transparency log entry");
		return -EBADMSG;
	}
	for (size_t i = 0; i < b->n_entries; i++) {
		for (size_t k = i + 1; k < b->n_entries; k++) {
			if (!memcmp(b->entries[i].log_id, b->entries[k].log_id, 32) &&
			    b->entries[i].log_index == b->entries[k].log_index) {
				snprintf(err, 256, "bundle: duplicate tlog entries");
				return -EBADMSG;
			}
		}
	}
	if (c->o->rekor_url) {
		required = sigstore_trust_root_find_tlog_url(c->o->trust_root, c->o->rekor_url);
		if (!required) {
			snprintf(err, 256, "trusted root: no transparency log at %.200s",
				 c->o->rekor_url);
			return -ENOENT;
		}
	}
	for (size_t i = 0; i < b->n_entries; i++) {
		const struct sigstore_tlog_entry *e = &b->entries[i];
		const struct sigstore_log *log =
			sigstore_trust_root_find_tlog(c->o->trust_root, e->log_id, 32);

		if (!log || (required && log != required))
			continue; /* not a log we trust (or were asked for) */
		ret = verify_entry(c, e, log, res, verified == 0, err);
		if (ret)
			return ret;
		verified++;
	}
	if (verified == 0) {
		snprintf(err, 256, "bundle: no entry from a %s transparency log",
			 required ? "required" : "trusted");
		return -ENOENT;
	}
	return 0;
}

/* skip_tlog: the entries are ignored; only RFC 3161 timestamps can give a keyless time. */
static int skip_entries(struct vctx *c, struct sigstore_verify_result *res, char err[256])
{
	if (c->leaf && c->n_tsa == 0) {
		snprintf(err, 256,
			 "bundle: keyless signatures need the transparency log (it is skipped and "
			 "no RFC 3161 timestamp gives a verified time)");
		return -EBADMSG;
	}
	res->log_id_hex[0] = '\0';
	res->log_index = -1;
	res->signed_time = c->n_tsa ? c->tsa_times[0] : 0;
	return 0;
}

static int verify_certificate(struct vctx *c, struct sigstore_verify_result *res, char err[256])
{
	const struct sigstore_verify_opts *o = c->o;
	X509 *issuer = NULL;
	int ret = 0;

	if (c->n_times == 0) {
		snprintf(err, 256,
			 "bundle: no verified time (signed entry timestamp or RFC 3161 "
			 "timestamp) for the certificate");
		return -EBADMSG;
	}
	for (size_t i = 0; i < c->n_times; i++) {
		X509_free(issuer);
		issuer = NULL;
		ret = sigstore_cert_verify_chain(c->leaf, o->trust_root, c->times[i], &issuer, err);
		if (ret)
			goto out;
	}
	ret = sigstore_cert_check_eku(c->leaf, err);
	if (ret)
		goto out;
	if (!o->skip_sct) {
		ret = sigstore_cert_verify_sct(c->leaf, issuer, o->trust_root, c->now * 1000, err);
		if (ret)
			goto out;
	}
	ret = sigstore_cert_identity(c->leaf, &res->subject, &res->issuer, err);
out:
	X509_free(issuer);
	return ret;
}

static int verify_signature(struct vctx *c, char err[256])
{
	const struct sigstore_bundle *b = c->b;
	int ret;

	if (b->is_dsse) {
		ret = sigstore_util_verify(c->key, c->pae, c->pae_len, b->sig, b->sig_len);
	} else if (EVP_PKEY_get_base_id(c->key) == EVP_PKEY_ED25519) {
		if (!c->o->artifact) {
			snprintf(err, 256, "signature: Ed25519 needs the artifact, not its digest");
			return -EINVAL;
		}
		ret = sigstore_util_verify(c->key, c->o->artifact, c->o->artifact_len, b->sig,
					   b->sig_len);
	} else {
		ret = sigstore_util_verify_digest(c->key, c->alg, c->digest, c->digest_len, b->sig,
						  b->sig_len);
	}
	if (ret) {
		snprintf(err, 256, "signature: does not verify over the %s",
			 b->is_dsse ? "DSSE envelope" : "artifact");
		return -EBADMSG;
	}
	return 0;
}

static int verify_identity(const struct vctx *c, const struct sigstore_verify_result *res,
			   char err[256])
{
	const struct sigstore_verify_opts *o = c->o;

	if (o->expected_subject && strcmp(o->expected_subject, res->subject)) {
		snprintf(err, 256, "identity: signed by %.200s, not the expected identity",
			 res->subject);
		return -EACCES;
	}
	if (o->expected_issuer && strcmp(o->expected_issuer, res->issuer)) {
		snprintf(err, 256, "identity: issuer %.200s is not the expected issuer",
			 res->issuer);
		return -EACCES;
	}
	if (o->policy && !sigstore_identity_policy_allows(o->policy, res->issuer, res->subject)) {
		snprintf(err, 256, "identity: %.100s from %.100s is not allowed", res->subject,
			 res->issuer);
		return -EACCES;
	}
	return 0;
}

int sigstore_verify_bundle(const struct sigstore_bundle *b, const struct sigstore_verify_opts *o,
			   struct sigstore_verify_result *res, char err[256])
{
	struct vctx c = {.b = b, .o = o};
	int ret;

	memset(res, 0, sizeof(*res));
	if (!o->trust_root) {
		snprintf(err, 256, "verify: no trusted root");
		ret = -EINVAL;
		goto out;
	}
	c.now = o->now ? o->now : (int64_t)time(NULL);
	ret = prepare(&c, err);
	if (!ret)
		ret = verify_timestamps(&c, err);
	if (!ret)
		ret = o->skip_tlog ? skip_entries(&c, res, err) : verify_entries(&c, res, err);
	if (!ret && c.leaf)
		ret = verify_certificate(&c, res, err);
	if (!ret)
		ret = verify_signature(&c, err);
	if (!ret && b->is_dsse)
		ret = sigstore_dsse_check_statement(b->payload, b->payload_len,
						    SIGSTORE_HASH_SHA256, c.digest, 32,
						    &res->predicate_type, err);
	if (!ret && c.leaf)
		ret = verify_identity(&c, res, err);
	if (ret)
		goto out;
	res->keyed = !c.leaf;
	res->signature_b64 = sigstore_util_b64_encode(b->sig, b->sig_len);
	if (!res->signature_b64)
		ret = -ENOMEM;
out:
	free(c.pae);
	if (ret)
		sigstore_verify_result_clear(res);
	return ret;
}
