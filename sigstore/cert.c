/*
 * cert.c - see cert.h.
 */
#include "sigstore/cert.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ct.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "sigstore/util.h"

#define OID_ISSUER_V2 "1.3.6.1.4.1.57264.1.8"
#define OID_ISSUER_V1 "1.3.6.1.4.1.57264.1.1"
#define MAX_SCTS      16

static bool asn1_to_unix(const ASN1_TIME *a, int64_t *out)
{
	struct tm tm;

	if (!a || !ASN1_TIME_to_tm(a, &tm))
		return false;
	*out = (int64_t)timegm(&tm);
	return true;
}

bool sigstore_cert_valid_at(X509 *x, int64_t t)
{
	int64_t nb, na;

	if (!asn1_to_unix(X509_get0_notBefore(x), &nb) || !asn1_to_unix(X509_get0_notAfter(x), &na))
		return false;
	return nb <= t && t <= na;
}

bool sigstore_cert_is_self_signed(X509 *x)
{
	bool r = X509_check_issued(x, x) == X509_V_OK;

	ERR_clear_error();
	return r;
}

static int verify_with_ca(X509 *leaf, const struct sigstore_ca *ca, int64_t t, X509 **issuer,
			  char err[256])
{
	STACK_OF(X509) * chain;
	X509_STORE_CTX *ctx = NULL;
	X509_STORE *store = NULL;
	int ret = -ENOMEM;

	store = X509_STORE_new();
	ctx = X509_STORE_CTX_new();
	if (!store || !ctx)
		goto out;
	for (size_t i = 0; i < ca->n_chain; i++)
		if (X509_STORE_add_cert(store, ca->chain[i]) != 1)
			goto out;
	/* Times are checked below, inclusively; OpenSSL treats notAfter as exclusive. */
	X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_NO_CHECK_TIME);
	if (X509_STORE_CTX_init(ctx, store, leaf, NULL) != 1)
		goto out;
	if (X509_verify_cert(ctx) != 1) {
		snprintf(err, 256, "certificate: does not chain to the CA %.100s: %.100s", ca->uri,
			 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		ret = -EBADMSG;
		goto out;
	}
	chain = X509_STORE_CTX_get0_chain(ctx);
	if (sk_X509_num(chain) < 2) {
		snprintf(err, 256, "certificate: is itself a trusted CA certificate");
		ret = -EBADMSG;
		goto out;
	}
	for (int i = 0; i < sk_X509_num(chain); i++) {
		if (!sigstore_cert_valid_at(sk_X509_value(chain, i), t)) {
			snprintf(err, 256, "certificate: %s not valid at %lld (chain position %d)",
				 i == 0 ? "signing certificate" : "CA certificate", (long long)t,
				 i);
			ret = -EKEYEXPIRED;
			goto out;
		}
	}
	if (issuer) {
		*issuer = sk_X509_value(chain, 1);
		X509_up_ref(*issuer);
	}
	ret = 0;
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ERR_clear_error();
	return ret;
}

int sigstore_cert_verify_chain(X509 *leaf, const struct sigstore_trust_root *tr, int64_t t,
			       X509 **issuer, char err[256])
{
	int ret = -ENOENT;

	if (issuer)
		*issuer = NULL;
	snprintf(err, 256, "certificate: no trusted CA valid at %lld", (long long)t);
	for (size_t i = 0; i < tr->n_cas; i++) {
		if (!sigstore_time_range_contains(&tr->cas[i].valid, t))
			continue;
		ret = verify_with_ca(leaf, &tr->cas[i], t, issuer, err);
		if (ret == 0)
			return 0;
	}
	return ret;
}

int sigstore_cert_check_eku(X509 *leaf, char err[256])
{
	uint32_t flags = X509_get_extension_flags(leaf);

	if (!(flags & EXFLAG_XKUSAGE) || !(X509_get_extended_key_usage(leaf) & XKU_CODE_SIGN)) {
		snprintf(err, 256, "certificate: extended key usage lacks codeSigning");
		return -EBADMSG;
	}
	return 0;
}

/* A CTLOG_STORE holding the trust root's CT logs (OpenSSL loads stores only from files). */
static int ctlog_store(const struct sigstore_trust_root *tr, CTLOG_STORE **out, char err[256])
{
	CTLOG_STORE *store = NULL;
	char path[64];
	FILE *f = NULL;
	int fd, ret = -EIO;

	*out = NULL;
	fd = memfd_create("sigstore-ctlogs", MFD_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, 256, "SCT: memfd_create: %s", strerror(errno));
		goto out;
	}
	f = fdopen(fd, "w");
	if (!f) {
		ret = -errno;
		close(fd);
		goto out;
	}
	fputs("enabled_logs = ", f);
	for (size_t i = 0; i < tr->n_ctlogs; i++)
		fprintf(f, "%slog%zu", i ? "," : "", i);
	fputs("\n", f);
	for (size_t i = 0; i < tr->n_ctlogs; i++) {
		unsigned char *der = NULL;
		char *b64;
		int len = i2d_PUBKEY(tr->ctlogs[i].key, &der);

		if (len <= 0)
			goto out;
		b64 = sigstore_util_b64_encode(der, (size_t)len);
		OPENSSL_free(der);
		if (!b64) {
			ret = -ENOMEM;
			goto out;
		}
		fprintf(f, "[log%zu]\ndescription = log%zu\nkey = %s\n", i, i, b64);
		free(b64);
	}
	if (fflush(f) != 0)
		goto out;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fileno(f));
	store = CTLOG_STORE_new();
	if (!store) {
		ret = -ENOMEM;
		goto out;
	}
	if (tr->n_ctlogs > 0 && CTLOG_STORE_load_file(store, path) != 1) {
		snprintf(err, 256, "SCT: cannot load the trust root's CT logs into OpenSSL");
		goto out;
	}
	*out = store;
	store = NULL;
	ret = 0;
out:
	CTLOG_STORE_free(store);
	if (f)
		fclose(f);
	ERR_clear_error();
	return ret;
}

int sigstore_cert_verify_sct(X509 *leaf, X509 *issuer, const struct sigstore_trust_root *tr,
			     int64_t now_ms, char err[256])
{
	CT_POLICY_EVAL_CTX *pctx = NULL;
	CTLOG_STORE *store = NULL;
	STACK_OF(SCT) *scts = NULL;
	int ret, n, in_window = 0;

	scts = X509_get_ext_d2i(leaf, NID_ct_precert_scts, NULL, NULL);
	n = scts ? sk_SCT_num(scts) : 0;
	if (n <= 0) {
		snprintf(err, 256, "certificate: no embedded SCT");
		ret = -EBADMSG;
		goto out;
	}
	if (n > MAX_SCTS) {
		snprintf(err, 256, "certificate: more than %d SCTs", MAX_SCTS);
		ret = -EBADMSG;
		goto out;
	}
	ret = ctlog_store(tr, &store, err);
	if (ret)
		goto out;
	ret = -ENOMEM;
	pctx = CT_POLICY_EVAL_CTX_new();
	if (!pctx || CT_POLICY_EVAL_CTX_set1_cert(pctx, leaf) != 1 ||
	    CT_POLICY_EVAL_CTX_set1_issuer(pctx, issuer) != 1)
		goto out;
	CT_POLICY_EVAL_CTX_set_shared_CTLOG_STORE(pctx, store);
	CT_POLICY_EVAL_CTX_set_time(pctx, (uint64_t)now_ms);
	if (SCT_LIST_validate(scts, pctx) != 1) {
		snprintf(err, 256, "certificate: SCT does not verify against the trusted CT logs");
		ret = -EBADMSG;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		SCT *sct = sk_SCT_value(scts, i);
		unsigned char *id;
		size_t id_len = SCT_get0_log_id(sct, &id);
		int64_t t = (int64_t)(SCT_get_timestamp(sct) / 1000);

		for (size_t k = 0; k < tr->n_ctlogs; k++) {
			unsigned char kid[32];

			if (sigstore_util_key_id(tr->ctlogs[k].key, kid) || id_len != 32 ||
			    memcmp(kid, id, 32))
				continue;
			if (sigstore_time_range_contains(&tr->ctlogs[k].valid, t))
				in_window++;
		}
	}
	if (!in_window) {
		snprintf(err, 256, "certificate: no SCT from a CT log valid at the SCT's time");
		ret = -EBADMSG;
		goto out;
	}
	ret = 0;
out:
	CT_POLICY_EVAL_CTX_free(pctx);
	CTLOG_STORE_free(store);
	SCT_LIST_free(scts);
	ERR_clear_error();
	return ret;
}

static char *dup_bytes(const unsigned char *p, int len)
{
	char *s;

	if (len <= 0 || len > SIGSTORE_CERT_MAX_IDENTITY || memchr(p, 0, (size_t)len))
		return NULL;
	s = malloc((size_t)len + 1);
	if (!s)
		return NULL;
	memcpy(s, p, (size_t)len);
	s[len] = 0;
	return s;
}

static char *san_identity(X509 *leaf)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	static const int order[] = {GEN_URI, GEN_EMAIL, GEN_OTHERNAME};
	char *out = NULL;

	for (size_t o = 0; gens && !out && o < sizeof(order) / sizeof(order[0]); o++) {
		for (int i = 0; !out && i < sk_GENERAL_NAME_num(gens); i++) {
			GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
			const ASN1_STRING *s = NULL;

			if (g->type != order[o])
				continue;
			if (g->type == GEN_URI)
				s = g->d.uniformResourceIdentifier;
			else if (g->type == GEN_EMAIL)
				s = g->d.rfc822Name;
			else if (g->d.otherName->value &&
				 (g->d.otherName->value->type == V_ASN1_UTF8STRING ||
				  g->d.otherName->value->type == V_ASN1_IA5STRING))
				s = g->d.otherName->value->value.asn1_string;
			if (s)
				out = dup_bytes(ASN1_STRING_get0_data(s), ASN1_STRING_length(s));
		}
	}
	GENERAL_NAMES_free(gens);
	return out;
}

static char *issuer_ext(X509 *leaf, const char *oid, bool der_utf8)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	ASN1_UTF8STRING *u = NULL;
	ASN1_OCTET_STRING *data;
	const unsigned char *p;
	char *out = NULL;
	int idx;

	if (!obj)
		return NULL;
	idx = X509_get_ext_by_OBJ(leaf, obj, -1);
	if (idx < 0)
		goto out;
	data = X509_EXTENSION_get_data(X509_get_ext(leaf, idx));
	if (!der_utf8) {
		out = dup_bytes(ASN1_STRING_get0_data(data), ASN1_STRING_length(data));
		goto out;
	}
	p = ASN1_STRING_get0_data(data);
	u = d2i_ASN1_UTF8STRING(NULL, &p, ASN1_STRING_length(data));
	if (u && p == ASN1_STRING_get0_data(data) + ASN1_STRING_length(data))
		out = dup_bytes(ASN1_STRING_get0_data(u), ASN1_STRING_length(u));
out:
	ASN1_UTF8STRING_free(u);
	ASN1_OBJECT_free(obj);
	ERR_clear_error();
	return out;
}

int sigstore_cert_identity(X509 *leaf, char **subject, char **issuer, char err[256])
{
	*subject = san_identity(leaf);
	*issuer = issuer_ext(leaf, OID_ISSUER_V2, true);
	if (!*issuer)
		*issuer = issuer_ext(leaf, OID_ISSUER_V1, false);
	if (*subject && *issuer)
		return 0;
	snprintf(err, 256, "certificate: no %s",
		 *subject ? "OIDC issuer extension" : "subject alternative name");
	free(*subject);
	free(*issuer);
	*subject = *issuer = NULL;
	return -EBADMSG;
}
