/*
 * cosign.c - see cosign.h.
 */
#include "sigstore/cosign.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "sigstore/cert.h"
#include "sigstore/dsse.h"
#include "sigstore/util.h"

#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_END	  "-----END CERTIFICATE-----"
#define MAX_PEMS  (SIGSTORE_BUNDLE_MAX_CHAIN + 2) /* certificates in the chain annotation */

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/*
 * Strict PEM: only CERTIFICATE blocks separated by whitespace. Fills certs[0..*n); on failure
 * the certificates parsed so far are freed.
 */
static int parse_pems(const char *text, size_t max, const char *what, X509 **certs, size_t max_n,
		      size_t *n, char err[256])
{
	size_t len = strlen(text), i = 0;
	int ret = 0;

	*n = 0;
	if (len > max) {
		snprintf(err, 256, "annotation %s: longer than %zu bytes", what, max);
		return -EPROTO;
	}
	while (i < len) {
		const char *end;
		size_t blen;
		BIO *bio;
		X509 *x;

		if (is_space(text[i])) {
			i++;
			continue;
		}
		if (strncmp(text + i, PEM_BEGIN, strlen(PEM_BEGIN))) {
			snprintf(err, 256, "annotation %s: not PEM certificates (text at byte %zu)",
				 what, i);
			ret = -EPROTO;
			goto out;
		}
		end = strstr(text + i, PEM_END);
		if (!end) {
			snprintf(err, 256, "annotation %s: certificate %zu has no END line", what,
				 *n);
			ret = -EPROTO;
			goto out;
		}
		if (*n >= max_n) {
			snprintf(err, 256, "annotation %s: more than %zu certificates", what,
				 max_n);
			ret = -EPROTO;
			goto out;
		}
		blen = (size_t)(end - (text + i)) + strlen(PEM_END);
		bio = BIO_new_mem_buf(text + i, (int)blen);
		if (!bio) {
			ret = -ENOMEM;
			goto out;
		}
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
		ERR_clear_error();
		if (!x) {
			snprintf(err, 256,
				 "annotation %s: certificate %zu is not a valid PEM "
				 "certificate",
				 what, *n);
			ret = -EPROTO;
			goto out;
		}
		certs[(*n)++] = x;
		i += blen;
	}
out:
	if (ret) {
		for (size_t k = 0; k < *n; k++)
			X509_free(certs[k]);
		*n = 0;
	}
	return ret;
}

/* Every member of obj is one of the allowed keys (so no case variants either). */
static int only_keys(const json_t *obj, const char *const *allowed, const char *what, char err[256])
{
	const char *key;
	json_t *v;

	json_object_foreach ((json_t *)obj, key, v) {
		bool ok = false;

		for (size_t i = 0; allowed[i]; i++)
			ok = ok || !strcmp(key, allowed[i]);
		if (!ok) {
			snprintf(err, 256, "%s: unexpected member \"%.60s\"", what, key);
			return -EPROTO;
		}
	}
	return 0;
}

/* A JSON object of at most max bytes whose members are all in keys (NULL-terminated). */
static int load_object(const char *text, size_t len, size_t max, const char *const *keys,
		       const char *what, json_t **out, char err[256])
{
	json_t *root = NULL;
	int ret;

	*out = NULL;
	if (len > max) {
		snprintf(err, 256, "%s: larger than %zu bytes", what, max);
		return -EPROTO;
	}
	ret = sigstore_util_json_parse(text, len, SIGSTORE_COSIGN_MAX_DEPTH, what, &root, err);
	if (ret)
		goto out;
	if (!json_is_object(root)) {
		snprintf(err, 256, "%s: not a JSON object", what);
		ret = -EPROTO;
		goto out;
	}
	ret = only_keys(root, keys, what, err);
	if (ret)
		goto out;
	*out = root;
	root = NULL;
out:
	json_decref(root);
	return ret;
}

/* A required base64 string member, decoded to 1..max bytes; caller frees *out. */
static int b64_member(const json_t *obj, const char *key, const char *what, size_t max,
		      unsigned char **out, size_t *len, char err[256])
{
	const json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!json_is_string(v)) {
		snprintf(err, 256, "%s.%s: %s", what, key, v ? "not a string" : "missing");
		return -EPROTO;
	}
	if (json_string_length(v) > (max + 2) / 3 * 4 ||
	    sigstore_util_b64_decode(json_string_value(v), json_string_length(v), out, len)) {
		snprintf(err, 256, "%s.%s: not base64 of at most %zu bytes", what, key, max);
		return -EPROTO;
	}
	if (*len == 0) {
		free(*out);
		*out = NULL;
		snprintf(err, 256, "%s.%s: empty", what, key);
		return -EPROTO;
	}
	return 0;
}

static int int_member(const json_t *obj, const char *key, const char *what, int64_t *out,
		      char err[256])
{
	const json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		snprintf(err, 256, "%s.%s: %s", what, key,
			 v ? "not a non-negative integer" : "missing");
		return -EPROTO;
	}
	*out = json_integer_value(v);
	return 0;
}

/* kind and apiVersion of the decoded entry body. */
static int body_kind(struct sigstore_tlog_entry *t, const char *what, char err[256])
{
	const json_t *kind, *ver;
	json_t *body = NULL;
	char w[96];
	int ret;

	snprintf(w, sizeof(w), "%s: Payload.body", what);
	ret = sigstore_util_json_parse((const char *)t->body, t->body_len,
				       SIGSTORE_COSIGN_MAX_BODY_DEPTH, w, &body, err);
	if (ret)
		goto out;
	ret = -EPROTO;
	kind = json_object_get(body, "kind");
	ver = json_object_get(body, "apiVersion");
	if (!json_is_object(body) || !json_is_string(kind) || !json_is_string(ver) ||
	    json_string_length(kind) >= sizeof(t->kind) ||
	    json_string_length(ver) >= sizeof(t->version)) {
		snprintf(err, 256, "%s: no short kind and apiVersion strings", w);
		goto out;
	}
	memcpy(t->kind, json_string_value(kind), json_string_length(kind) + 1);
	memcpy(t->version, json_string_value(ver), json_string_length(ver) + 1);
	ret = 0;
out:
	json_decref(body);
	return ret;
}

/* cosign's bundle annotation: {"SignedEntryTimestamp", "Payload": {body, integratedTime,
 * logIndex, logID}}. */
static int parse_rekor_bundle(const char *text, struct sigstore_tlog_entry *t, char err[256])
{
	static const char *const top_keys[] = {"SignedEntryTimestamp", "Payload", NULL};
	static const char *const payload_keys[] = {"body", "integratedTime", "logIndex", "logID",
						   NULL};
	const char *what = "annotation " SIGSTORE_COSIGN_ANN_BUNDLE;
	const json_t *payload, *id;
	json_t *root = NULL;
	char w[96];
	int ret;

	ret = load_object(text, strlen(text), SIGSTORE_COSIGN_MAX_BUNDLE, top_keys, what, &root,
			  err);
	if (ret)
		goto out;
	if (!json_object_get(root, "SignedEntryTimestamp")) {
		snprintf(err, 256, "%s: no SignedEntryTimestamp (the log's promise is required)",
			 what);
		ret = -EPROTO;
		goto out;
	}
	ret = b64_member(root, "SignedEntryTimestamp", what, SIGSTORE_COSIGN_MAX_SIG, &t->set,
			 &t->set_len, err);
	if (ret)
		goto out;
	payload = json_object_get(root, "Payload");
	snprintf(w, sizeof(w), "%s: Payload", what);
	if (!json_is_object(payload)) {
		snprintf(err, 256, "%s: %s", w, payload ? "not an object" : "missing");
		ret = -EPROTO;
		goto out;
	}
	if ((ret = only_keys(payload, payload_keys, w, err)) ||
	    (ret = int_member(payload, "integratedTime", w, &t->integrated_time, err)) ||
	    (ret = int_member(payload, "logIndex", w, &t->log_index, err)) ||
	    (ret = b64_member(payload, "body", w, SIGSTORE_BUNDLE_MAX_BLOB, &t->body, &t->body_len,
			      err)))
		goto out;
	t->has_integrated_time = true;
	id = json_object_get(payload, "logID");
	if (!json_is_string(id) || json_string_length(id) != 64 ||
	    sigstore_util_hex_decode(json_string_value(id), t->log_id, 32)) {
		snprintf(err, 256, "%s.logID: %s", w, id ? "not 64 hex digits" : "missing");
		ret = -EPROTO;
		goto out;
	}
	t->log_id_len = 32;
	ret = body_kind(t, what, err);
out:
	json_decref(root);
	return ret;
}

/* The .att layer: {"payloadType", "payload", "signatures": [{"keyid", "sig"}]}. */
static int parse_envelope(const struct sigstore_oci_sig *s, struct sigstore_bundle *b,
			  char err[256])
{
	static const char *const env_keys[] = {"payloadType", "payload", "signatures", NULL};
	static const char *const sig_keys[] = {"keyid", "sig", NULL};
	const char *what = "attestation layer (DSSE envelope)";
	const json_t *type, *sigs, *sig0, *keyid;
	json_t *root = NULL;
	int ret;

	ret = load_object(s->data, s->data_len, SIGSTORE_COSIGN_MAX_ENVELOPE, env_keys, what, &root,
			  err);
	if (ret)
		goto out;
	ret = -EPROTO;
	type = json_object_get(root, "payloadType");
	if (!json_is_string(type) || json_string_length(type) == 0 ||
	    json_string_length(type) > SIGSTORE_DSSE_MAX_TYPE) {
		snprintf(err, 256, "%s: payloadType missing or not a string of 1..%d bytes", what,
			 SIGSTORE_DSSE_MAX_TYPE);
		goto out;
	}
	b->payload_type = strdup(json_string_value(type));
	if (!b->payload_type) {
		ret = -ENOMEM;
		goto out;
	}
	ret = b64_member(root, "payload", what, SIGSTORE_BUNDLE_MAX_BLOB, &b->payload,
			 &b->payload_len, err);
	if (ret)
		goto out;
	ret = -EPROTO;
	sigs = json_object_get(root, "signatures");
	if (!json_is_array(sigs) || json_array_size(sigs) != 1) {
		snprintf(err, 256, "%s: signatures: %s", what,
			 !json_is_array(sigs)	      ? "missing or not an array"
			 : json_array_size(sigs) == 0 ? "none"
						      : "more than one (exactly one is accepted)");
		goto out;
	}
	sig0 = json_array_get(sigs, 0);
	if (!json_is_object(sig0)) {
		snprintf(err, 256, "%s: signatures[0]: not an object", what);
		goto out;
	}
	ret = only_keys(sig0, sig_keys, "DSSE envelope signatures[0]", err);
	if (ret)
		goto out;
	keyid = json_object_get(sig0, "keyid");
	if (keyid && !json_is_string(keyid)) {
		snprintf(err, 256, "%s: signatures[0].keyid: not a string", what);
		ret = -EPROTO;
		goto out;
	}
	ret = b64_member(sig0, "sig", "DSSE envelope signatures[0]", SIGSTORE_COSIGN_MAX_SIG,
			 &b->sig, &b->sig_len, err);
	if (ret)
		goto out;
	b->n_sigs = 1;
	b->is_dsse = true;
out:
	json_decref(root);
	return ret;
}

static int parse_legacy_sig(const struct sigstore_oci_sig *s, struct sigstore_bundle *b,
			    char err[256])
{
	const char *sig = s->layer.signature;
	const char *what = "annotation " SIGSTORE_COSIGN_ANN_SIGNATURE;
	size_t len = sig ? strlen(sig) : 0;

	if (!sig || len == 0) {
		snprintf(err, 256, "%s: missing or empty", what);
		return -EPROTO;
	}
	if (len > (SIGSTORE_COSIGN_MAX_SIG + 2) / 3 * 4 ||
	    sigstore_util_b64_decode(sig, len, &b->sig, &b->sig_len) || b->sig_len == 0) {
		free(b->sig);
		b->sig = NULL;
		b->sig_len = 0;
		snprintf(err, 256, "%s: not base64 of at most %d bytes", what,
			 SIGSTORE_COSIGN_MAX_SIG);
		return -EPROTO;
	}
	b->n_sigs = 1;
	return 0;
}

static int parse_material(const struct sigstore_oci_sig *s, struct sigstore_bundle *b,
			  char err[256])
{
	X509 *pems[MAX_PEMS];
	size_t n = 0;
	int ret;

	if (!s->layer.certificate || !s->layer.certificate[0]) {
		snprintf(err, 256,
			 "annotation %s: missing (keyed signatures are not supported; a Fulcio "
			 "certificate is required)",
			 SIGSTORE_COSIGN_ANN_CERTIFICATE);
		return -EPROTO;
	}
	ret = parse_pems(s->layer.certificate, SIGSTORE_COSIGN_MAX_CERT,
			 SIGSTORE_COSIGN_ANN_CERTIFICATE, pems, 2, &n, err);
	if (ret)
		return ret;
	if (n != 1) {
		for (size_t i = 0; i < n; i++)
			X509_free(pems[i]);
		snprintf(err, 256, "annotation %s: %s", SIGSTORE_COSIGN_ANN_CERTIFICATE,
			 n ? "more than one certificate" : "no certificate");
		return -EPROTO;
	}
	b->leaf = pems[0];
	if (!s->layer.chain || !s->layer.chain[0])
		return 0;
	ret = parse_pems(s->layer.chain, SIGSTORE_COSIGN_MAX_CHAIN, SIGSTORE_COSIGN_ANN_CHAIN, pems,
			 MAX_PEMS, &n, err);
	if (ret)
		return ret;
	for (size_t i = 0; i < n; i++) {
		if (sigstore_cert_is_self_signed(pems[i])) {
			X509_free(pems[i]); /* the root: it must come from the trust root */
		} else if (b->n_extra >= SIGSTORE_BUNDLE_MAX_CHAIN) {
			X509_free(pems[i]);
			snprintf(err, 256, "annotation %s: more than %d intermediates",
				 SIGSTORE_COSIGN_ANN_CHAIN, SIGSTORE_BUNDLE_MAX_CHAIN);
			ret = -EPROTO;
		} else {
			b->extra[b->n_extra++] = pems[i];
		}
	}
	return ret;
}

int sigstore_cosign_bundle(const struct sigstore_oci_sig *s, struct sigstore_bundle **out,
			   char err[256])
{
	struct sigstore_bundle *b = NULL;
	int ret;

	*out = NULL;
	if (s->kind != SIGSTORE_OCI_SIG_LEGACY && s->kind != SIGSTORE_OCI_SIG_ATTESTATION) {
		snprintf(err, 256, "cosign: not a legacy .sig or .att layer");
		return -EINVAL;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		ret = -ENOMEM;
		goto out;
	}
	b->minor = 1; /* v0.1 semantics: the SET is required, the inclusion proof optional */
	ret = parse_material(s, b, err);
	if (ret)
		goto out;
	ret = s->kind == SIGSTORE_OCI_SIG_LEGACY ? parse_legacy_sig(s, b, err)
						 : parse_envelope(s, b, err);
	if (ret)
		goto out;
	if (!s->layer.bundle || !s->layer.bundle[0]) {
		snprintf(err, 256, "annotation %s: missing (no transparency log entry)",
			 SIGSTORE_COSIGN_ANN_BUNDLE);
		ret = -EPROTO;
		goto out;
	}
	b->entries = calloc(1, sizeof(*b->entries));
	if (!b->entries) {
		ret = -ENOMEM;
		goto out;
	}
	b->n_entries = 1;
	ret = parse_rekor_bundle(s->layer.bundle, &b->entries[0], err);
	if (ret)
		goto out;
	*out = b;
	b = NULL;
out:
	sigstore_bundle_free(b);
	return ret;
}
