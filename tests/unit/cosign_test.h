/*
 * cosign_test.h - helpers shared by test_sigstore_cosign.c and test_sigstore_image.c: turn a
 * real Sigstore bundle fixture (a Rekor v1 entry with a SET) into the cosign legacy layer that
 * carries the same signature: a .sig layer for a message signature, an .att layer for a DSSE
 * envelope, with cosign's signature/certificate/chain/bundle annotations. Everything is heap
 * allocated, so sigstore_oci_sigs_clear frees it. Also: an identity policy, a fixture guard and
 * an image digest of bytes, as both tests use them. Include after <cmocka.h>.
 */
#ifndef TESTS_UNIT_COSIGN_TEST_H
#define TESTS_UNIT_COSIGN_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "sigstore/identity.h"
#include "sigstore/oci.h"
#include "sigstore/trust_root.h"
#include "sigstore/util.h"
#include "tests/unit/sigstore_test.h"

/* Skips the test when setup found no fixtures (the fixture struct's public_good is NULL). */
#define CT_NEED_FIXTURES(f)            \
	do {                           \
		if (!(f)->public_good) \
			skip();        \
	} while (0)

/* A policy allowing subject (a glob) from issuer; caller frees. Fails the test otherwise. */
static inline struct sigstore_identity_policy *ct_policy(const char *issuer, const char *subject)
{
	struct sigstore_identity_policy *p = sigstore_identity_policy_new();
	char err[256];

	assert_non_null(p);
	assert_int_equal(sigstore_identity_policy_add(p, issuer, subject, err), 0);
	return p;
}

/* out = "sha256:<hex>" of the n bytes at data, as an image digest is written. */
static inline void ct_sha256_digest(const void *data, size_t n, char out[72])
{
	unsigned char h[32];
	char hex[65];

	sigstore_util_hash(SIGSTORE_HASH_SHA256, (const unsigned char *)data, n, h);
	sigstore_util_hex_encode(h, 32, hex);
	snprintf(out, 72, "sha256:%s", hex);
}

/* A conformance case: its bundle, its trusted root (parsed) and the artifact it signs. */
struct ct_case {
	char *bundle;
	size_t bundle_len;
	char *artifact;
	size_t artifact_len;
	struct sigstore_trust_root *tr;
};

/* Frees what ct_case_load read. */
static inline void ct_case_free(struct ct_case *c)
{
	sigstore_trust_root_free(c->tr);
	free(c->bundle);
	free(c->artifact);
	memset(c, 0, sizeof(*c));
}

/*
 * Loads sigstore/conformance/<dir>/bundle.sigstore.json and trusted_root.json (which must
 * parse) and the artifact: the fixture path given, or <dir>/artifact when NULL. 0, or -1
 * after a SKIP line naming a missing file (c is then empty).
 */
static inline int ct_case_load(const char *dir, const char *artifact, struct ct_case *c)
{
	char path[512], err[256], *tr_json;
	size_t tr_len;

	memset(c, 0, sizeof(*c));
	snprintf(path, sizeof(path), "sigstore/conformance/%s/bundle.sigstore.json", dir);
	c->bundle = sst_read_fixture(path, &c->bundle_len);
	snprintf(path, sizeof(path), "sigstore/conformance/%s/trusted_root.json", dir);
	tr_json = sst_read_fixture(path, &tr_len);
	if (!artifact)
		snprintf(path, sizeof(path), "sigstore/conformance/%s/artifact", dir);
	c->artifact = sst_read_fixture(artifact ? artifact : path, &c->artifact_len);
	if (!c->bundle || !tr_json || !c->artifact) {
		free(tr_json);
		ct_case_free(c);
		return -1;
	}
	assert_int_equal(sigstore_trust_root_parse(tr_json, tr_len, &c->tr, err), 0);
	free(tr_json);
	return 0;
}

/* PEM text of one certificate (caller frees), or NULL. */
static inline char *ct_pem(X509 *x)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long n;

	if (bio && PEM_write_bio_X509(bio, x) == 1) {
		n = BIO_get_mem_data(bio, &data);
		out = strndup(data, (size_t)n);
	}
	BIO_free(bio);
	return out;
}

/* PEM of a base64 DER certificate. */
static inline char *ct_pem_b64(const char *b64)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len;
	char *out = NULL;
	X509 *x;

	if (!b64 || sigstore_util_b64_decode(b64, strlen(b64), &der, &len))
		return NULL;
	p = der;
	x = d2i_X509(NULL, &p, (long)len);
	if (x)
		out = ct_pem(x);
	X509_free(x);
	free(der);
	return out;
}

/* A cosign chain annotation: every certificate of the trust root's last CA with an
 * intermediate (intermediate, then the self-signed root); *n = how many. */
static inline char *ct_chain_pem(const struct sigstore_trust_root *tr, size_t *n)
{
	const struct sigstore_ca *ca = NULL;
	char *out = strdup("");

	for (size_t i = 0; i < tr->n_cas; i++)
		if (tr->cas[i].n_chain >= 2)
			ca = &tr->cas[i];
	*n = ca ? ca->n_chain : 0;
	for (size_t i = 0; out && ca && i < ca->n_chain; i++) {
		char *pem = ct_pem(ca->chain[i]), *cat = NULL;

		if (pem && asprintf(&cat, "%s%s", out, pem) < 0)
			cat = NULL;
		free(pem);
		free(out);
		out = cat;
	}
	return out;
}

/*
 * Fills s from bundle JSON text (its first tlog entry must carry an inclusion promise): kind
 * LEGACY for a messageSignature bundle (data = artifact, which the caller gives), ATTESTATION
 * for a dsseEnvelope bundle (data = the envelope JSON). 0 or -1.
 */
static inline int ct_layer_from_bundle(const char *bundle_json, const char *artifact,
				       size_t artifact_len, struct sigstore_oci_sig *s)
{
	json_t *root = json_loads(bundle_json, 0, NULL), *vm, *e, *ms, *env, *ann = NULL;
	const char *cert_b64, *kid;
	unsigned char *id = NULL;
	size_t id_len;
	char hex[65];
	int ret = -1;

	memset(s, 0, sizeof(*s));
	if (!root)
		return -1;
	vm = json_object_get(root, "verificationMaterial");
	e = json_array_get(json_object_get(vm, "tlogEntries"), 0);
	cert_b64 =
		json_string_value(json_object_get(json_object_get(vm, "certificate"), "rawBytes"));
	if (!cert_b64)
		cert_b64 = json_string_value(json_object_get(
			json_array_get(json_object_get(json_object_get(vm, "x509CertificateChain"),
						       "certificates"),
				       0),
			"rawBytes"));
	kid = json_string_value(json_object_get(json_object_get(e, "logId"), "keyId"));
	if (!e || !kid || sigstore_util_b64_decode(kid, strlen(kid), &id, &id_len) || id_len != 32)
		goto out;
	sigstore_util_hex_encode(id, 32, hex);
	ann = json_pack(
		"{s:O, s:{s:O, s:I, s:I, s:s}}", "SignedEntryTimestamp",
		json_object_get(json_object_get(e, "inclusionPromise"), "signedEntryTimestamp"),
		"Payload", "body", json_object_get(e, "canonicalizedBody"), "integratedTime",
		(json_int_t)atoll(json_string_value(json_object_get(e, "integratedTime"))),
		"logIndex", (json_int_t)atoll(json_string_value(json_object_get(e, "logIndex"))),
		"logID", hex);
	if (!ann)
		goto out;
	s->layer.bundle = json_dumps(ann, JSON_COMPACT);
	s->layer.certificate = ct_pem_b64(cert_b64);
	ms = json_object_get(root, "messageSignature");
	env = json_object_get(root, "dsseEnvelope");
	if (ms) {
		s->kind = SIGSTORE_OCI_SIG_LEGACY;
		snprintf(s->media_type, sizeof(s->media_type),
			 "application/vnd.dev.cosign.simplesigning.v1+json");
		s->layer.signature = strdup(json_string_value(json_object_get(ms, "signature")));
		s->data = malloc(artifact_len + 1);
		if (s->data) {
			memcpy(s->data, artifact, artifact_len);
			s->data[artifact_len] = '\0';
			s->data_len = artifact_len;
		}
	} else if (env) {
		json_t *sig0 = json_array_get(json_object_get(env, "signatures"), 0);
		json_t *out_env = json_pack("{s:O, s:O, s:[{s:s, s:O}]}", "payloadType",
					    json_object_get(env, "payloadType"), "payload",
					    json_object_get(env, "payload"), "signatures", "keyid",
					    "", "sig", json_object_get(sig0, "sig"));

		s->kind = SIGSTORE_OCI_SIG_ATTESTATION;
		snprintf(s->media_type, sizeof(s->media_type),
			 "application/vnd.dsse.envelope.v1+json");
		s->layer.signature = strdup("");
		s->data = out_env ? json_dumps(out_env, JSON_COMPACT) : NULL;
		s->data_len = s->data ? strlen(s->data) : 0;
		json_decref(out_env);
	}
	if (s->data && s->layer.bundle && s->layer.certificate && s->layer.signature)
		ret = 0;
out:
	free(id);
	json_decref(ann);
	json_decref(root);
	return ret;
}

/* Frees what ct_layer_from_bundle allocated. */
static inline void ct_layer_clear(struct sigstore_oci_sig *s)
{
	free(s->data);
	free(s->layer.signature);
	free(s->layer.certificate);
	free(s->layer.chain);
	free(s->layer.bundle);
	memset(s, 0, sizeof(*s));
}

#endif
