/*
 * tsa.c - see tsa.h.
 */
#include "sigstore/tsa.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ts.h>
#include <openssl/x509.h>

static int verify_with_tsa(TS_RESP *resp, const struct sigstore_ca *tsa, int64_t t,
			   const unsigned char *data, size_t data_len)
{
	STACK_OF(X509) *certs = NULL;
	X509_STORE *store = NULL;
	TS_VERIFY_CTX *ctx = NULL;
	BIO *bio = NULL;
	int ret = -ENOMEM;

	ctx = TS_VERIFY_CTX_new();
	store = X509_STORE_new();
	certs = sk_X509_new_null();
	bio = BIO_new_mem_buf(data, (int)data_len);
	if (!ctx || !store || !certs || !bio)
		goto out;
	for (size_t i = 0; i < tsa->n_chain; i++) {
		if (X509_STORE_add_cert(store, tsa->chain[i]) != 1)
			goto out;
		if (!sk_X509_push(certs, tsa->chain[i]))
			goto out;
		X509_up_ref(tsa->chain[i]);
	}
	X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
	X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store), (time_t)t);
	TS_VERIFY_CTX_set_flags(ctx, TS_VFY_VERSION | TS_VFY_SIGNATURE | TS_VFY_DATA);
	TS_VERIFY_CTX_set_store(ctx, store);
	store = NULL;
	TS_VERIFY_CTX_set_certs(ctx, certs);
	certs = NULL;
	TS_VERIFY_CTX_set_data(ctx, bio);
	bio = NULL;
	ret = TS_RESP_verify_response(ctx, resp) == 1 ? 0 : -EBADMSG;
out:
	BIO_free(bio);
	sk_X509_pop_free(certs, X509_free);
	X509_STORE_free(store);
	TS_VERIFY_CTX_free(ctx);
	ERR_clear_error();
	return ret;
}

int sigstore_tsa_verify(const unsigned char *der, size_t len, const unsigned char *data,
			size_t data_len, const struct sigstore_trust_root *tr, int64_t *t,
			char err[256])
{
	const unsigned char *p = der;
	TS_RESP *resp = NULL;
	TS_TST_INFO *info;
	bool in_window = false;
	struct tm tm;
	int64_t gen;
	int ret = -EPROTO;

	*t = 0;
	if (len > LONG_MAX || data_len > INT_MAX) {
		snprintf(err, 256, "timestamp: too large");
		goto out;
	}
	resp = d2i_TS_RESP(NULL, &p, (long)len);
	if (!resp || p != der + len) {
		snprintf(err, 256, "timestamp: not a DER TimeStampResp");
		goto out;
	}
	info = TS_RESP_get_tst_info(resp);
	if (!info || !ASN1_TIME_to_tm(TS_TST_INFO_get_time(info), &tm)) {
		snprintf(err, 256, "timestamp: no token or no time in it");
		goto out;
	}
	gen = (int64_t)timegm(&tm);
	ret = -ENOENT;
	snprintf(err, 256, "timestamp: no trusted TSA signed it at %lld", (long long)gen);
	for (size_t i = 0; i < tr->n_tsas; i++) {
		if (!sigstore_time_range_contains(&tr->tsas[i].valid, gen))
			continue;
		in_window = true;
		if (verify_with_tsa(resp, &tr->tsas[i], gen, data, data_len) == 0) {
			*t = gen;
			ret = 0;
			goto out;
		}
	}
	if (in_window) {
		snprintf(err, 256,
			 "timestamp: does not verify against a trusted TSA for its "
			 "signature and data");
		ret = -EBADMSG;
	}
out:
	TS_RESP_free(resp);
	ERR_clear_error();
	return ret;
}
