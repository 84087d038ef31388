/*
 * tsa.h - RFC 3161 signed timestamps (OpenSSL TS API) checked against the trust root's
 * timestamp authorities: the token's signer chains to a TSA valid at the token's time (TSA
 * window inclusive), the signature verifies, and the message imprint covers the given data.
 */
#ifndef SIGSTORE_TSA_H
#define SIGSTORE_TSA_H

#include <stddef.h>
#include <stdint.h>

#include "sigstore/trust_root.h"

/*
 * der is a DER TimeStampResp; data the bytes it must cover (the bundle's signature). On
 * success *t is the token's genTime in Unix seconds.
 */
int sigstore_tsa_verify(const unsigned char *der, size_t len, const unsigned char *data,
			size_t data_len, const struct sigstore_trust_root *tr, int64_t *t,
			char err[256]);

#endif
