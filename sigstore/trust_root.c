/*
 * trust_root.c - see trust_root.h.
 */
#include "sigstore/trust_root.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sigstore/util.h"

#define TR_MAX_DEPTH	  16
#define TR_MAX_KEY_BYTES  8192
#define TR_MAX_CERT_BYTES 16384
#define TR_MEDIA_PREFIX	  "application/vnd.dev.sigstore.trustedroot"

bool sigstore_time_range_contains(const struct sigstore_time_range *r, int64_t t)
{
	if (t < r->start)
		return false;
	if (r->has_end && t > r->end)
		return false;
	return true;
}

static int parse_range(const json_t *parent, const char *what, struct sigstore_time_range *r,
		       char err[256])
{
	const char *start, *end;
	json_t *vf;
	int ret;

	memset(r, 0, sizeof(*r));
	ret = sigstore_util_json_obj(parent, "validFor", what, &vf, err);
	if (ret)
		return ret;
	if (!vf) {
		snprintf(err, 256, "%s.validFor: missing", what);
		return -EPROTO;
	}
	ret = sigstore_util_json_str(vf, "start", what, &start, err);
	if (!ret)
		ret = sigstore_util_json_str(vf, "end", what, &end, err);
	if (ret)
		return ret;
	if (!start) {
		snprintf(err, 256, "%s.validFor.start: missing", what);
		return -EPROTO;
	}
	if (sigstore_util_parse_time(start, &r->start)) {
		snprintf(err, 256, "%s.validFor.start: not an RFC 3339 time", what);
		return -EPROTO;
	}
	if (end) {
		if (sigstore_util_parse_time(end, &r->end)) {
			snprintf(err, 256, "%s.validFor.end: not an RFC 3339 time", what);
			return -EPROTO;
		}
		r->has_end = true;
		if (r->end < r->start) {
			snprintf(err, 256, "%s.validFor: ends before it starts", what);
			return -EPROTO;
		}
	}
	return 0;
}

static int copy_url(const json_t *obj, const char *key, const char *what, char *dst, char err[256])
{
	const char *s;
	int ret;

	dst[0] = 0;
	ret = sigstore_util_json_str(obj, key, what, &s, err);
	if (ret || !s)
		return ret;
	if (strlen(s) >= SIGSTORE_TR_MAX_URL) {
		snprintf(err, 256, "%s.%s: longer than %d bytes", what, key,
			 SIGSTORE_TR_MAX_URL - 1);
		return -EPROTO;
	}
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

static int parse_log(const json_t *j, const char *what, struct sigstore_log *log, char err[256])
{
	unsigned char *raw = NULL, *id = NULL;
	size_t raw_len, id_len;
	json_t *pk, *lid;
	char w[96];
	int ret;

	if (!json_is_object(j)) {
		snprintf(err, 256, "%s: not an object", what);
		return -EPROTO;
	}
	ret = copy_url(j, "baseUrl", what, log->base_url, err);
	if (ret)
		goto out;
	ret = sigstore_util_json_obj(j, "publicKey", what, &pk, err);
	if (!ret)
		ret = sigstore_util_json_obj(j, "logId", what, &lid, err);
	if (ret)
		goto out;
	if (!pk || !lid) {
		snprintf(err, 256, "%s: %s missing", what, pk ? "logId" : "publicKey");
		ret = -EPROTO;
		goto out;
	}
	snprintf(w, sizeof(w), "%s.publicKey", what);
	ret = sigstore_util_json_b64(pk, "rawBytes", w, TR_MAX_KEY_BYTES, &raw, &raw_len, err);
	if (ret)
		goto out;
	ret = parse_range(pk, w, &log->valid, err);
	if (ret)
		goto out;
	log->key = sigstore_util_pkey_from_der(raw, raw_len);
	if (!log->key) {
		snprintf(err, 256, "%s.rawBytes: not a supported public key", w);
		ret = -EPROTO;
		goto out;
	}
	snprintf(w, sizeof(w), "%s.logId", what);
	ret = sigstore_util_json_b64(lid, "keyId", w, 64, &id, &id_len, err);
	if (ret)
		goto out;
	if (id_len != sizeof(log->log_id)) {
		snprintf(err, 256, "%s.keyId: not 32 bytes", w);
		ret = -EPROTO;
		goto out;
	}
	memcpy(log->log_id, id, id_len);
out:
	free(raw);
	free(id);
	return ret;
}

static int parse_ca(const json_t *j, const char *what, struct sigstore_ca *ca, char err[256])
{
	json_t *chain, *certs, *c;
	char w[128];
	size_t i;
	int ret;

	if (!json_is_object(j)) {
		snprintf(err, 256, "%s: not an object", what);
		return -EPROTO;
	}
	ret = copy_url(j, "uri", what, ca->uri, err);
	if (!ret)
		ret = parse_range(j, what, &ca->valid, err);
	if (!ret)
		ret = sigstore_util_json_obj(j, "certChain", what, &chain, err);
	if (ret)
		return ret;
	certs = NULL;
	if (chain) {
		ret = sigstore_util_json_arr(chain, "certificates", what, &certs, err);
		if (ret)
			return ret;
	}
	if (!certs || json_array_size(certs) == 0) {
		snprintf(err, 256, "%s.certChain: no certificates", what);
		return -EPROTO;
	}
	if (json_array_size(certs) > SIGSTORE_TR_MAX_CHAIN) {
		snprintf(err, 256, "%s.certChain: more than %d certificates", what,
			 SIGSTORE_TR_MAX_CHAIN);
		return -EPROTO;
	}
	json_array_foreach (certs, i, c) {
		unsigned char *der = NULL;
		const unsigned char *p;
		size_t len;

		snprintf(w, sizeof(w), "%s.certChain.certificates[%zu]", what, i);
		if (!json_is_object(c)) {
			snprintf(err, 256, "%s: not an object", w);
			return -EPROTO;
		}
		ret = sigstore_util_json_b64(c, "rawBytes", w, TR_MAX_CERT_BYTES, &der, &len, err);
		if (ret)
			return ret;
		p = der;
		ca->chain[i] = d2i_X509(NULL, &p, (long)len);
		if (!ca->chain[i] || p != der + len) {
			X509_free(ca->chain[i]);
			ca->chain[i] = NULL;
			free(der);
			snprintf(err, 256, "%s.rawBytes: not a DER certificate", w);
			return -EPROTO;
		}
		free(der);
		ca->n_chain = i + 1;
	}
	return 0;
}

static int parse_list(const json_t *root, const char *key, bool is_log, void **out, size_t *n,
		      char err[256])
{
	size_t elem = is_log ? sizeof(struct sigstore_log) : sizeof(struct sigstore_ca);
	json_t *arr, *v;
	char what[64];
	size_t i;
	int ret;

	*out = NULL;
	*n = 0;
	ret = sigstore_util_json_arr(root, key, "trusted root", &arr, err);
	if (ret || !arr || json_array_size(arr) == 0)
		return ret;
	if (json_array_size(arr) > SIGSTORE_TR_MAX_ENTRIES) {
		snprintf(err, 256, "trusted root.%s: more than %d entries", key,
			 SIGSTORE_TR_MAX_ENTRIES);
		return -EPROTO;
	}
	*out = calloc(json_array_size(arr), elem);
	if (!*out)
		return -ENOMEM;
	json_array_foreach (arr, i, v) {
		snprintf(what, sizeof(what), "trusted root.%s[%zu]", key, i);
		*n = i + 1;
		if (is_log)
			ret = parse_log(v, what, (struct sigstore_log *)*out + i, err);
		else
			ret = parse_ca(v, what, (struct sigstore_ca *)*out + i, err);
		if (ret)
			return ret;
	}
	return 0;
}

static void free_logs(struct sigstore_log *logs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		EVP_PKEY_free(logs[i].key);
	free(logs);
}

static void free_cas(struct sigstore_ca *cas, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < cas[i].n_chain; k++)
			X509_free(cas[i].chain[k]);
	free(cas);
}

void sigstore_trust_root_free(struct sigstore_trust_root *tr)
{
	if (!tr)
		return;
	free_logs(tr->tlogs, tr->n_tlogs);
	free_logs(tr->ctlogs, tr->n_ctlogs);
	free_cas(tr->cas, tr->n_cas);
	free_cas(tr->tsas, tr->n_tsas);
	free(tr);
}

int sigstore_trust_root_parse(const char *json, size_t len, struct sigstore_trust_root **out,
			      char err[256])
{
	struct sigstore_trust_root *tr = NULL;
	const char *media;
	json_t *root = NULL;
	int ret;

	*out = NULL;
	if (len > SIGSTORE_TR_MAX_SIZE) {
		snprintf(err, 256, "trusted root: larger than %u bytes", SIGSTORE_TR_MAX_SIZE);
		ret = -EFBIG;
		goto out;
	}
	ret = sigstore_util_json_parse(json, len, TR_MAX_DEPTH, "trusted root", &root, err);
	if (ret)
		goto out;
	if (!json_is_object(root)) {
		snprintf(err, 256, "trusted root: not a JSON object");
		ret = -EPROTO;
		goto out;
	}
	ret = sigstore_util_json_str(root, "mediaType", "trusted root", &media, err);
	if (ret)
		goto out;
	if (!media || strncmp(media, TR_MEDIA_PREFIX, strlen(TR_MEDIA_PREFIX)) != 0) {
		snprintf(err, 256, "trusted root.mediaType: %s", media ? "unsupported" : "missing");
		ret = -EPROTO;
		goto out;
	}
	tr = calloc(1, sizeof(*tr));
	if (!tr) {
		ret = -ENOMEM;
		goto out;
	}
	ret = parse_list(root, "tlogs", true, (void **)&tr->tlogs, &tr->n_tlogs, err);
	if (!ret)
		ret = parse_list(root, "ctlogs", true, (void **)&tr->ctlogs, &tr->n_ctlogs, err);
	if (!ret)
		ret = parse_list(root, "certificateAuthorities", false, (void **)&tr->cas,
				 &tr->n_cas, err);
	if (!ret)
		ret = parse_list(root, "timestampAuthorities", false, (void **)&tr->tsas,
				 &tr->n_tsas, err);
	if (ret)
		goto out;
	*out = tr;
	tr = NULL;
out:
	sigstore_trust_root_free(tr);
	json_decref(root);
	return ret;
}

int sigstore_trust_root_load(const char *path, struct sigstore_trust_root **out, char err[256])
{
	unsigned char *buf = NULL;
	size_t len;
	int ret;

	*out = NULL;
	ret = sigstore_util_read_file(path, SIGSTORE_TR_MAX_SIZE, &buf, &len, err);
	if (ret)
		goto out;
	ret = sigstore_trust_root_parse((const char *)buf, len, out, err);
	if (ret)
		sigstore_util_err_prefix(err, path);
out:
	free(buf);
	return ret;
}

const struct sigstore_log *sigstore_trust_root_find_tlog(const struct sigstore_trust_root *tr,
							 const unsigned char *log_id, size_t len)
{
	if (len != 32)
		return NULL;
	for (size_t i = 0; i < tr->n_tlogs; i++)
		if (!memcmp(tr->tlogs[i].log_id, log_id, 32))
			return &tr->tlogs[i];
	return NULL;
}

static size_t url_len(const char *u)
{
	size_t n = strlen(u);

	while (n > 0 && u[n - 1] == '/')
		n--;
	return n;
}

const struct sigstore_log *sigstore_trust_root_find_tlog_url(const struct sigstore_trust_root *tr,
							     const char *url)
{
	size_t n = url_len(url);

	for (size_t i = 0; i < tr->n_tlogs; i++) {
		const char *b = tr->tlogs[i].base_url;

		if (url_len(b) == n && !strncmp(b, url, n))
			return &tr->tlogs[i];
	}
	return NULL;
}
