/*
 * svid.h - the local CA and SVID issuance (SPIFFE X509-SVID and JWT-SVID standards).
 * A struct svid_ca is immutable once opened: svid_issue_* and svid_validate_jwt may run on
 * worker threads at the same time. X.509-SVIDs are P-256 leaf certificates with exactly one URI
 * SAN, KeyUsage critical digitalSignature, BasicConstraints cA=false, EKU serverAuth+clientAuth,
 * a CSPRNG serial and NotBefore backdated by SVID_BACKDATE_S. JWT-SVIDs are ES256 with kid and
 * typ JWT, signed by a JWT key separate from the X.509 CA key.
 */
#ifndef DAEMON_SVID_H
#define DAEMON_SVID_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/policy.h"

#define SVID_ERR_MAX	   256
#define SVID_BACKDATE_S	   30
#define SVID_JWT_MAX	   8192 /* bytes of a token we accept */
#define SVID_JWT_SKEW_S	   30	/* exp/nbf leeway when validating */
#define SVID_MAX_AUDIENCES 32

struct svid_ca_opts {
	const char *trust_domain;
	const char *state_dir; /* generate: CA and JWT keys live here (0600), reused on restart */
	bool generate;	       /* ca: {generate: true} */
	const char *cert_path; /* ca: {cert, key, bundle}: PEM files (bundle optional) */
	const char *key_path;
	const char *bundle_path;
	uint64_t ca_ttl_s; /* lifetime of a generated CA certificate (e.g. 1 year) */
};

struct svid_ca;

/* Generates (first start) or loads the CA and JWT signing keys. Errors name the file and the
 * problem, e.g. "ca.key /etc/x.pem: does not match ca.cert". Caller frees. */
int svid_ca_open(const struct svid_ca_opts *opts, struct svid_ca **out, char err[SVID_ERR_MAX]);
void svid_ca_free(struct svid_ca *ca);

/* Open-time facts, for logs and tests: the JWT key's kid; the CA certificate's expiry; NULL if
 * an existing CA was used, else why one was generated ("no CA in state_dir", ...). */
const char *svid_ca_kid(const struct svid_ca *ca);
int64_t svid_ca_not_after(const struct svid_ca *ca);
const char *svid_ca_generated(const struct svid_ca *ca);

/* Trust anchors for the trust domain, concatenated DER certificates (X509SVID.bundle). */
void svid_ca_bundle_der(const struct svid_ca *ca, const uint8_t **der, size_t *len);
/* JWKS for JWTBundlesResponse: {"keys":[{"kty":"EC","crv":"P-256","x","y","kid","use":
 * "jwt-svid"}], "spiffe_sequence": seq, "spiffe_refresh_hint": hint_s}. New reference. */
json_t *svid_ca_jwks(const struct svid_ca *ca, uint64_t sequence, uint64_t refresh_hint_s);

/* An issued X.509-SVID. Immutable; refcounted by its owner (svid_cache) on the loop thread. */
struct svid_x509 {
	char spiffe_id[SPIFFE_ID_MAX + 1];
	uint8_t *chain_der; /* leaf first, then the CA's intermediates if any */
	size_t chain_len;
	uint8_t *key_pkcs8; /* PKCS#8 DER private key of the leaf */
	size_t key_len;
	int64_t not_before; /* unix seconds */
	int64_t not_after;
	char *hint; /* NULL = none */
	unsigned refs;
};

/* Issues a fresh key and certificate for id (ttl: id->x509_ttl_s, else default_ttl_s; never
 * beyond the CA's own expiry). Thread-safe. *out has refs = 1. */
int svid_issue_x509(const struct svid_ca *ca, const struct policy_identity *id,
		    uint64_t default_ttl_s, struct svid_x509 **out, char err[SVID_ERR_MAX]);
struct svid_x509 *svid_x509_ref(struct svid_x509 *s);
void svid_x509_unref(struct svid_x509 *s); /* frees (wiping the key) at zero */

/* Signs a JWT-SVID: header {alg: ES256, kid, typ: JWT}; claims sub, aud (string if one, else
 * array), exp (now + ttl_s), iat, plus id->jwt_claims as strings. Thread-safe. Caller frees. */
int svid_issue_jwt(const struct svid_ca *ca, const struct policy_identity *id,
		   const char *const *audiences, size_t naudiences, uint64_t ttl_s,
		   char **token_out, char err[SVID_ERR_MAX]);

/*
 * ValidateJWTSVID: compact JWS, alg one of RS/ES/PS 256/384/512 (anything else, "none" and HS*
 * included, is rejected), kid must name a key of this trust domain's JWKS, signature valid,
 * exp/nbf within SVID_JWT_SKEW_S, `audience` in aud, sub a valid SPIFFE ID. On success fills
 * spiffe_id and *claims_out (new reference, the whole claims object). -EINVAL with err = the
 * reason ("token expired at 2026-11-22T21:00:00Z", "audience \"x\" not in aud"). Thread-safe.
 */
int svid_validate_jwt(const struct svid_ca *ca, const char *token, const char *audience,
		      char spiffe_id[SPIFFE_ID_MAX + 1], json_t **claims_out,
		      char err[SVID_ERR_MAX]);

#endif /* DAEMON_SVID_H */
