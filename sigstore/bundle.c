/*
 * bundle.c - see bundle.h.
 */
#include "sigstore/bundle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define MAX_CERT_BYTES	     16384
#define MAX_SIG_BYTES	     1024
#define MAX_TIMESTAMP_BYTES  65536
#define MAX_CHECKPOINT_BYTES 8192

static const struct {
	const char *media_type;
	int minor;
} media_types[] = {
	{"application/vnd.dev.sigstore.bundle+json;version=0.1", 1},
	{"application/vnd.dev.sigstore.bundle+json;version=0.2", 2},
	{"application/vnd.dev.sigstore.bundle+json;version=0.3", 3},
	{"application/vnd.dev.sigstore.bundle.v0.3+json", 3},
};

static void entry_clear(struct sigstore_tlog_entry *e)
{
	free(e->set);
	free(e->hashes);
	free(e->checkpoint);
	free(e->body);
}

void sigstore_bundle_free(struct sigstore_bundle *b)
{
	if (!b)
		return;
	X509_free(b->leaf);
	for (size_t i = 0; i < b->n_extra; i++)
		X509_free(b->extra[i]);
	for (size_t i = 0; i < b->n_entries; i++)
		entry_clear(&b->entries[i]);
	free(b->entries);
	for (size_t i = 0; i < b->n_timestamps; i++)
		free(b->timestamps[i]);
	free(b->sig);
	free(b->payload_type);
	free(b->payload);
	free(b);
}

static int parse_cert(const json_t *obj, const char *what, X509 **out, char err[256])
{
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len;
	int ret;

	*out = NULL;
	if (!json_is_object(obj)) {
		snprintf(err, 256, "%s: not an object", what);
		return -EPROTO;
	}
	ret = sigstore_util_json_b64(obj, "rawBytes", what, MAX_CERT_BYTES, &der, &len, err);
	if (ret)
		return ret;
	p = der;
	*out = d2i_X509(NULL, &p, (long)len);
	if (!*out || p != der + len) {
		X509_free(*out);
		*out = NULL;
		snprintf(err, 256, "%s.rawBytes: not a DER certificate", what);
		ret = -EPROTO;
	}
	free(der);
	return ret;
}

static int parse_material(const json_t *vm, struct sigstore_bundle *b, char err[256])
{
	json_t *chain, *cert, *pk, *certs, *c;
	const char *hint;
	size_t i;
	int ret, n;

	ret = sigstore_util_json_obj(vm, "x509CertificateChain", "verificationMaterial", &chain,
				     err);
	if (!ret)
		ret = sigstore_util_json_obj(vm, "certificate", "verificationMaterial", &cert, err);
	if (!ret)
		ret = sigstore_util_json_obj(vm, "publicKey", "verificationMaterial", &pk, err);
	if (ret)
		return ret;
	n = !!chain + !!cert + !!pk;
	if (n != 1) {
		snprintf(err, 256, "verificationMaterial: %s",
			 n ? "more than one of x509CertificateChain, certificate, publicKey"
			   : "no x509CertificateChain, certificate or publicKey");
		return -EPROTO;
	}
	if (cert)
		return parse_cert(cert, "verificationMaterial.certificate", &b->leaf, err);
	if (pk) {
		ret = sigstore_util_json_str(pk, "hint", "verificationMaterial.publicKey", &hint,
					     err);
		if (ret)
			return ret;
		if (hint)
			snprintf(b->key_hint, sizeof(b->key_hint), "%s", hint);
		b->has_public_key = true;
		return 0;
	}
	if (b->minor >= 3) {
		snprintf(err, 256,
			 "verificationMaterial.x509CertificateChain: not allowed in a "
			 "v0.3 bundle (use certificate)");
		return -EPROTO;
	}
	ret = sigstore_util_json_arr(chain, "certificates",
				     "verificationMaterial.x509CertificateChain", &certs, err);
	if (ret)
		return ret;
	if (!certs || json_array_size(certs) == 0) {
		snprintf(err, 256, "verificationMaterial.x509CertificateChain: no certificates");
		return -EPROTO;
	}
	if (json_array_size(certs) > SIGSTORE_BUNDLE_MAX_CHAIN + 1) {
		snprintf(err, 256,
			 "verificationMaterial.x509CertificateChain: more than %d certificates",
			 SIGSTORE_BUNDLE_MAX_CHAIN + 1);
		return -EPROTO;
	}
	json_array_foreach (certs, i, c) {
		char what[96];
		X509 *x;

		snprintf(what, sizeof(what), "verificationMaterial.x509CertificateChain[%zu]", i);
		ret = parse_cert(c, what, &x, err);
		if (ret)
			return ret;
		if (i == 0)
			b->leaf = x;
		else
			b->extra[b->n_extra++] = x;
	}
	return 0;
}

static int parse_kind(const json_t *e, const char *what, struct sigstore_tlog_entry *t,
		      char err[256])
{
	const char *kind, *version;
	json_t *kv;
	int ret;

	ret = sigstore_util_json_obj(e, "kindVersion", what, &kv, err);
	if (ret)
		return ret;
	if (!kv) {
		snprintf(err, 256, "%s.kindVersion: missing", what);
		return -EPROTO;
	}
	ret = sigstore_util_json_str(kv, "kind", what, &kind, err);
	if (!ret)
		ret = sigstore_util_json_str(kv, "version", what, &version, err);
	if (ret)
		return ret;
	if (!kind || !version || strlen(kind) >= sizeof(t->kind) ||
	    strlen(version) >= sizeof(t->version)) {
		snprintf(err, 256, "%s.kindVersion: missing or too long", what);
		return -EPROTO;
	}
	memcpy(t->kind, kind, strlen(kind) + 1);
	memcpy(t->version, version, strlen(version) + 1);
	return 0;
}

static int parse_proof(const json_t *p, const char *what, struct sigstore_tlog_entry *t,
		       char err[256])
{
	unsigned char *root = NULL;
	json_t *hashes, *h, *cp;
	const char *env;
	size_t len, i;
	bool present;
	int ret;

	ret = sigstore_util_json_int64(p, "logIndex", what, &t->proof_index, &present, err);
	if (ret)
		goto out;
	if (t->proof_index < 0) {
		snprintf(err, 256, "%s.logIndex: negative", what);
		ret = -EPROTO;
		goto out;
	}
	ret = sigstore_util_json_int64(p, "treeSize", what, &t->tree_size, &present, err);
	if (ret)
		goto out;
	if (!present || t->tree_size <= 0) {
		snprintf(err, 256, "%s.treeSize: missing or not positive", what);
		ret = -EPROTO;
		goto out;
	}
	ret = sigstore_util_json_b64(p, "rootHash", what, 64, &root, &len, err);
	if (ret)
		goto out;
	if (len != 32) {
		snprintf(err, 256, "%s.rootHash: not 32 bytes", what);
		ret = -EPROTO;
		goto out;
	}
	memcpy(t->root_hash, root, 32);
	ret = sigstore_util_json_arr(p, "hashes", what, &hashes, err);
	if (ret)
		goto out;
	if (hashes && json_array_size(hashes) > SIGSTORE_BUNDLE_MAX_PROOF) {
		snprintf(err, 256, "%s.hashes: more than %d", what, SIGSTORE_BUNDLE_MAX_PROOF);
		ret = -EPROTO;
		goto out;
	}
	if (hashes && json_array_size(hashes) > 0) {
		t->hashes = calloc(json_array_size(hashes), 32);
		if (!t->hashes) {
			ret = -ENOMEM;
			goto out;
		}
		json_array_foreach (hashes, i, h) {
			unsigned char *d = NULL;

			if (!json_is_string(h) ||
			    sigstore_util_b64_decode(json_string_value(h), json_string_length(h),
						     &d, &len) ||
			    len != 32) {
				free(d);
				snprintf(err, 256, "%s.hashes[%zu]: not a base64 SHA-256 hash",
					 what, i);
				ret = -EPROTO;
				goto out;
			}
			memcpy(t->hashes[i], d, 32);
			free(d);
			t->n_hashes = i + 1;
		}
	}
	ret = sigstore_util_json_obj(p, "checkpoint", what, &cp, err);
	if (ret)
		goto out;
	if (cp) {
		ret = sigstore_util_json_str(cp, "envelope", what, &env, err);
		if (ret)
			goto out;
		if (env) {
			if (strlen(env) > MAX_CHECKPOINT_BYTES) {
				snprintf(err, 256, "%s.checkpoint: longer than %d bytes", what,
					 MAX_CHECKPOINT_BYTES);
				ret = -EPROTO;
				goto out;
			}
			t->checkpoint = strdup(env);
			if (!t->checkpoint) {
				ret = -ENOMEM;
				goto out;
			}
		}
	}
	t->has_proof = true;
out:
	free(root);
	return ret;
}

static int parse_entry(const json_t *e, const char *what, struct sigstore_tlog_entry *t,
		       char err[256])
{
	unsigned char *id = NULL;
	json_t *lid, *promise, *proof;
	char w[96];
	bool present;
	int ret;

	if (!json_is_object(e)) {
		snprintf(err, 256, "%s: not an object", what);
		return -EPROTO;
	}
	ret = sigstore_util_json_int64(e, "logIndex", what, &t->log_index, &present, err);
	if (ret)
		goto out;
	if (t->log_index < 0) {
		snprintf(err, 256, "%s.logIndex: negative", what);
		ret = -EPROTO;
		goto out;
	}
	ret = sigstore_util_json_obj(e, "logId", what, &lid, err);
	if (ret)
		goto out;
	if (!lid) {
		snprintf(err, 256, "%s.logId: missing", what);
		ret = -EPROTO;
		goto out;
	}
	snprintf(w, sizeof(w), "%s.logId", what);
	ret = sigstore_util_json_b64(lid, "keyId", w, 64, &id, &t->log_id_len, err);
	if (ret)
		goto out;
	if (t->log_id_len != 32) {
		snprintf(err, 256, "%s.keyId: not 32 bytes", w);
		ret = -EPROTO;
		goto out;
	}
	memcpy(t->log_id, id, 32);
	ret = parse_kind(e, what, t, err);
	if (ret)
		goto out;
	ret = sigstore_util_json_int64(e, "integratedTime", what, &t->integrated_time,
				       &t->has_integrated_time, err);
	if (ret)
		goto out;
	if (t->integrated_time < 0) {
		snprintf(err, 256, "%s.integratedTime: negative", what);
		ret = -EPROTO;
		goto out;
	}
	if (t->integrated_time == 0)
		t->has_integrated_time = false; /* proto3 default: not set (Rekor v2) */
	ret = sigstore_util_json_obj(e, "inclusionPromise", what, &promise, err);
	if (ret)
		goto out;
	if (promise) {
		snprintf(w, sizeof(w), "%s.inclusionPromise", what);
		ret = sigstore_util_json_b64(promise, "signedEntryTimestamp", w, MAX_SIG_BYTES,
					     &t->set, &t->set_len, err);
		if (ret)
			goto out;
	}
	ret = sigstore_util_json_obj(e, "inclusionProof", what, &proof, err);
	if (ret)
		goto out;
	if (proof) {
		snprintf(w, sizeof(w), "%s.inclusionProof", what);
		ret = parse_proof(proof, w, t, err);
		if (ret)
			goto out;
	}
	ret = sigstore_util_json_b64(e, "canonicalizedBody", what, SIGSTORE_BUNDLE_MAX_BLOB,
				     &t->body, &t->body_len, err);
out:
	free(id);
	return ret;
}

static int parse_entries(const json_t *vm, struct sigstore_bundle *b, char err[256])
{
	json_t *arr, *e;
	size_t i;
	int ret;

	ret = sigstore_util_json_arr(vm, "tlogEntries", "verificationMaterial", &arr, err);
	if (ret || !arr || json_array_size(arr) == 0)
		return ret;
	if (json_array_size(arr) > SIGSTORE_BUNDLE_MAX_ENTRIES) {
		snprintf(err, 256, "verificationMaterial.tlogEntries: more than %d",
			 SIGSTORE_BUNDLE_MAX_ENTRIES);
		return -EPROTO;
	}
	b->entries = calloc(json_array_size(arr), sizeof(*b->entries));
	if (!b->entries)
		return -ENOMEM;
	json_array_foreach (arr, i, e) {
		char what[64];

		snprintf(what, sizeof(what), "tlogEntries[%zu]", i);
		b->n_entries = i + 1;
		ret = parse_entry(e, what, &b->entries[i], err);
		if (ret)
			return ret;
	}
	return 0;
}

static int parse_timestamps(const json_t *vm, struct sigstore_bundle *b, char err[256])
{
	json_t *tvd, *arr, *t;
	size_t i;
	int ret;

	ret = sigstore_util_json_obj(vm, "timestampVerificationData", "verificationMaterial", &tvd,
				     err);
	if (ret || !tvd)
		return ret;
	ret = sigstore_util_json_arr(tvd, "rfc3161Timestamps", "timestampVerificationData", &arr,
				     err);
	if (ret || !arr)
		return ret;
	if (json_array_size(arr) > SIGSTORE_BUNDLE_MAX_TIMESTAMPS) {
		snprintf(err, 256, "rfc3161Timestamps: more than %d",
			 SIGSTORE_BUNDLE_MAX_TIMESTAMPS);
		return -EPROTO;
	}
	json_array_foreach (arr, i, t) {
		char what[64];

		snprintf(what, sizeof(what), "rfc3161Timestamps[%zu]", i);
		if (!json_is_object(t)) {
			snprintf(err, 256, "%s: not an object", what);
			return -EPROTO;
		}
		ret = sigstore_util_json_b64(t, "signedTimestamp", what, MAX_TIMESTAMP_BYTES,
					     &b->timestamps[i], &b->timestamp_len[i], err);
		if (ret)
			return ret;
		b->n_timestamps = i + 1;
	}
	return 0;
}

static int parse_message(const json_t *ms, struct sigstore_bundle *b, char err[256])
{
	unsigned char *d = NULL;
	const char *alg;
	json_t *md;
	size_t len;
	int ret;

	ret = sigstore_util_json_obj(ms, "messageDigest", "messageSignature", &md, err);
	if (ret)
		goto out;
	if (md) {
		ret = sigstore_util_json_str(md, "algorithm", "messageSignature.messageDigest",
					     &alg, err);
		if (ret)
			goto out;
		if (alg && !strcmp(alg, "SHA2_256"))
			b->digest_alg = SIGSTORE_HASH_SHA256;
		else if (alg && !strcmp(alg, "SHA2_384"))
			b->digest_alg = SIGSTORE_HASH_SHA384;
		else if (alg && !strcmp(alg, "SHA2_512"))
			b->digest_alg = SIGSTORE_HASH_SHA512;
		else {
			snprintf(err, 256, "messageSignature.messageDigest.algorithm: %s",
				 alg ? "unsupported" : "missing");
			ret = -EPROTO;
			goto out;
		}
		ret = sigstore_util_json_b64(md, "digest", "messageSignature.messageDigest",
					     SIGSTORE_MAX_DIGEST, &d, &len, err);
		if (ret)
			goto out;
		if (len != sigstore_util_hash_len(b->digest_alg)) {
			snprintf(err, 256, "messageSignature.messageDigest.digest: wrong length");
			ret = -EPROTO;
			goto out;
		}
		memcpy(b->digest, d, len);
		b->digest_len = len;
	}
	ret = sigstore_util_json_b64(ms, "signature", "messageSignature", MAX_SIG_BYTES, &b->sig,
				     &b->sig_len, err);
	if (ret)
		goto out;
	b->n_sigs = 1;
out:
	free(d);
	return ret;
}

static int parse_dsse(const json_t *env, struct sigstore_bundle *b, char err[256])
{
	const char *type;
	json_t *sigs, *s;
	size_t i;
	int ret;

	ret = sigstore_util_json_str(env, "payloadType", "dsseEnvelope", &type, err);
	if (ret)
		return ret;
	if (!type) {
		snprintf(err, 256, "dsseEnvelope.payloadType: missing");
		return -EPROTO;
	}
	b->payload_type = strdup(type);
	if (!b->payload_type)
		return -ENOMEM;
	ret = sigstore_util_json_b64(env, "payload", "dsseEnvelope", SIGSTORE_BUNDLE_MAX_BLOB,
				     &b->payload, &b->payload_len, err);
	if (ret)
		return ret;
	ret = sigstore_util_json_arr(env, "signatures", "dsseEnvelope", &sigs, err);
	if (ret)
		return ret;
	if (!sigs || json_array_size(sigs) == 0) {
		snprintf(err, 256, "dsseEnvelope.signatures: none");
		return -EPROTO;
	}
	if (json_array_size(sigs) > SIGSTORE_BUNDLE_MAX_SIGS) {
		snprintf(err, 256, "dsseEnvelope.signatures: more than %d",
			 SIGSTORE_BUNDLE_MAX_SIGS);
		return -EPROTO;
	}
	json_array_foreach (sigs, i, s) {
		char what[64];
		unsigned char *sig;
		size_t len;

		snprintf(what, sizeof(what), "dsseEnvelope.signatures[%zu]", i);
		if (!json_is_object(s)) {
			snprintf(err, 256, "%s: not an object", what);
			return -EPROTO;
		}
		ret = sigstore_util_json_b64(s, "sig", what, MAX_SIG_BYTES, &sig, &len, err);
		if (ret)
			return ret;
		if (i == 0) {
			b->sig = sig;
			b->sig_len = len;
		} else {
			free(sig);
		}
	}
	b->n_sigs = json_array_size(sigs);
	b->is_dsse = true;
	return 0;
}

int sigstore_bundle_parse(const char *json, size_t len, struct sigstore_bundle **out, char err[256])
{
	struct sigstore_bundle *b = NULL;
	json_t *root = NULL, *vm, *ms, *env;
	const char *media;
	int ret;

	*out = NULL;
	if (len > SIGSTORE_BUNDLE_MAX_SIZE) {
		snprintf(err, 256, "bundle: larger than %u bytes", SIGSTORE_BUNDLE_MAX_SIZE);
		ret = -EFBIG;
		goto out;
	}
	ret = sigstore_util_json_parse(json, len, SIGSTORE_BUNDLE_MAX_DEPTH, "bundle", &root, err);
	if (ret)
		goto out;
	ret = -EPROTO;
	if (!json_is_object(root)) {
		snprintf(err, 256, "bundle: not a JSON object");
		goto out;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		ret = -ENOMEM;
		goto out;
	}
	ret = sigstore_util_json_str(root, "mediaType", "bundle", &media, err);
	if (ret)
		goto out;
	for (size_t i = 0; media && i < sizeof(media_types) / sizeof(media_types[0]); i++)
		if (!strcmp(media, media_types[i].media_type))
			b->minor = media_types[i].minor;
	if (!b->minor) {
		snprintf(err, 256, "bundle.mediaType: %s", media ? "unsupported" : "missing");
		ret = -EPROTO;
		goto out;
	}
	ret = sigstore_util_json_obj(root, "verificationMaterial", "bundle", &vm, err);
	if (ret)
		goto out;
	if (!vm) {
		snprintf(err, 256, "bundle.verificationMaterial: missing");
		ret = -EPROTO;
		goto out;
	}
	ret = parse_material(vm, b, err);
	if (!ret)
		ret = parse_entries(vm, b, err);
	if (!ret)
		ret = parse_timestamps(vm, b, err);
	if (ret)
		goto out;
	ret = sigstore_util_json_obj(root, "messageSignature", "bundle", &ms, err);
	if (!ret)
		ret = sigstore_util_json_obj(root, "dsseEnvelope", "bundle", &env, err);
	if (ret)
		goto out;
	if (!!ms + !!env != 1) {
		snprintf(err, 256, "bundle: needs exactly one of messageSignature, dsseEnvelope");
		ret = -EPROTO;
		goto out;
	}
	ret = ms ? parse_message(ms, b, err) : parse_dsse(env, b, err);
	if (ret)
		goto out;
	*out = b;
	b = NULL;
out:
	sigstore_bundle_free(b);
	json_decref(root);
	return ret;
}

int sigstore_bundle_load(const char *path, struct sigstore_bundle **out, char err[256])
{
	unsigned char *buf = NULL;
	size_t len;
	int ret;

	*out = NULL;
	ret = sigstore_util_read_file(path, SIGSTORE_BUNDLE_MAX_SIZE, &buf, &len, err);
	if (ret)
		goto out;
	ret = sigstore_bundle_parse((const char *)buf, len, out, err);
	if (ret)
		sigstore_util_err_prefix(err, path);
out:
	free(buf);
	return ret;
}
