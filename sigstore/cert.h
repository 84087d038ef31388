/*
 * cert.h - the Fulcio signing certificate: path validation to a trusted CA at a given time
 * (CA window and every certificate's validity inclusive at both ends), EKU codeSigning, the
 * embedded SCTs checked with OpenSSL's CT API against the trust root's CT logs, and the
 * identity (SAN) and OIDC issuer extensions.
 */
#ifndef SIGSTORE_CERT_H
#define SIGSTORE_CERT_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "sigstore/trust_root.h"

#define SIGSTORE_CERT_MAX_IDENTITY 4096 /* bytes of a SAN or issuer value */

/* notBefore <= t <= notAfter. */
bool sigstore_cert_valid_at(X509 *x, int64_t t);
/* Subject equals issuer and the certificate verifies with its own key. */
bool sigstore_cert_is_self_signed(X509 *x);

/*
 * Verifies leaf against the trust root's CAs at time t. On success *issuer (if not NULL) is
 * the leaf's issuing certificate, a new reference the caller frees with X509_free.
 */
int sigstore_cert_verify_chain(X509 *leaf, const struct sigstore_trust_root *tr, int64_t t,
			       X509 **issuer, char err[256]);
/* The leaf has an extended key usage that includes codeSigning. */
int sigstore_cert_check_eku(X509 *leaf, char err[256]);
/*
 * The leaf's embedded SCTs all verify (SCT_LIST_validate) against the trust root's CT logs
 * at now_ms (Unix milliseconds), and at least one comes from a log whose window holds it.
 */
int sigstore_cert_verify_sct(X509 *leaf, X509 *issuer, const struct sigstore_trust_root *tr,
			     int64_t now_ms, char err[256]);
/*
 * The signer identity (SAN: URI, else email, else OtherName) and OIDC issuer (1.3.6.1.4.1.
 * 57264.1.8 as a DER UTF8String, else .1.1 raw). Both are returned; caller frees both.
 */
int sigstore_cert_identity(X509 *leaf, char **subject, char **issuer, char err[256]);

#endif
