/*
 * proto.h - protobuf wire encoding of the SPIFFE Workload API messages, written by hand (there
 * is no proto package; see README). Decoders accept unknown fields (skipped by wire type) and
 * zero-length fields, reject malformed varints, truncated fields, wrong wire types for known
 * fields and messages over PROTO_MAX_MESSAGE, and fill err naming the field. Encoders write
 * into a growable buffer. Shared by attestd and attestctl.
 */
#ifndef DAEMON_PROTO_H
#define DAEMON_PROTO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_MAX_MESSAGE  (4u << 20) /* bytes; larger messages are refused */
#define PROTO_MAX_REPEATED 1024	      /* entries of one repeated/map field */
#define PROTO_MAX_DEPTH	   32	      /* google.protobuf.Struct/Value nesting */
#define PROTO_ERR_MAX	   256

struct proto_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
};
void proto_buf_free(struct proto_buf *b);

/* A borrowed byte string (points into the decoded buffer or the caller's memory). */
struct proto_bytes {
	const uint8_t *data;
	size_t len;
};

/* ---- requests (decoded by attestd, encoded by attestctl) ---- */

/* X509SVIDRequest{}, X509BundlesRequest{}, JWTBundlesRequest{}: only unknown fields allowed. */
int proto_decode_empty(const uint8_t *buf, size_t len, const char *what, char err[PROTO_ERR_MAX]);

struct proto_jwtsvid_request {				 /* JWTSVIDRequest */
	struct proto_bytes audience[PROTO_MAX_REPEATED]; /* field 1, repeated string */
	size_t naudience;
	struct proto_bytes spiffe_id; /* field 2; len 0 = all */
};
int proto_decode_jwtsvid_request(const uint8_t *buf, size_t len, struct proto_jwtsvid_request *out,
				 char err[PROTO_ERR_MAX]);
int proto_encode_jwtsvid_request(const struct proto_jwtsvid_request *in, struct proto_buf *out);

struct proto_validate_request {	     /* ValidateJWTSVIDRequest */
	struct proto_bytes audience; /* field 1 */
	struct proto_bytes svid;     /* field 2 */
};
int proto_decode_validate_request(const uint8_t *buf, size_t len,
				  struct proto_validate_request *out, char err[PROTO_ERR_MAX]);
int proto_encode_validate_request(const struct proto_validate_request *in, struct proto_buf *out);

/* ---- responses (encoded by attestd, decoded by attestctl) ---- */

struct proto_x509svid {			  /* X509SVID */
	struct proto_bytes spiffe_id;	  /* 1 string */
	struct proto_bytes x509_svid;	  /* 2 DER chain, leaf first */
	struct proto_bytes x509_svid_key; /* 3 PKCS#8 DER */
	struct proto_bytes bundle;	  /* 4 DER certs */
	struct proto_bytes hint;	  /* 5 string, may be empty */
};

struct proto_map_entry { /* map<string, bytes> entry: key = 1, value = 2 */
	struct proto_bytes key;
	struct proto_bytes value;
};

struct proto_x509svid_response {      /* X509SVIDResponse */
	struct proto_x509svid *svids; /* 1 */
	size_t nsvids;
	struct proto_bytes *crl; /* 2 repeated bytes */
	size_t ncrl;
	struct proto_map_entry *federated_bundles; /* 3 */
	size_t nfederated_bundles;
};
int proto_encode_x509svid_response(const struct proto_x509svid_response *in, struct proto_buf *out);
/* Decoded arrays are malloc'd (free with proto_x509svid_response_clear); bytes are borrowed. */
int proto_decode_x509svid_response(const uint8_t *buf, size_t len,
				   struct proto_x509svid_response *out, char err[PROTO_ERR_MAX]);
void proto_x509svid_response_clear(struct proto_x509svid_response *r);

struct proto_x509bundles_response { /* X509BundlesResponse */
	struct proto_bytes *crl;    /* 1 */
	size_t ncrl;
	struct proto_map_entry *bundles; /* 2 */
	size_t nbundles;
};
int proto_encode_x509bundles_response(const struct proto_x509bundles_response *in,
				      struct proto_buf *out);
int proto_decode_x509bundles_response(const uint8_t *buf, size_t len,
				      struct proto_x509bundles_response *out,
				      char err[PROTO_ERR_MAX]);
void proto_x509bundles_response_clear(struct proto_x509bundles_response *r);

struct proto_jwtsvid {		      /* JWTSVID */
	struct proto_bytes spiffe_id; /* 1 */
	struct proto_bytes svid;      /* 2 */
	struct proto_bytes hint;      /* 3 */
};
struct proto_jwtsvid_response {	     /* JWTSVIDResponse */
	struct proto_jwtsvid *svids; /* 1 */
	size_t nsvids;
};
int proto_encode_jwtsvid_response(const struct proto_jwtsvid_response *in, struct proto_buf *out);
int proto_decode_jwtsvid_response(const uint8_t *buf, size_t len,
				  struct proto_jwtsvid_response *out, char err[PROTO_ERR_MAX]);
void proto_jwtsvid_response_clear(struct proto_jwtsvid_response *r);

struct proto_jwtbundles_response {	 /* JWTBundlesResponse */
	struct proto_map_entry *bundles; /* 1: trust domain -> JWKS JSON bytes */
	size_t nbundles;
};
int proto_encode_jwtbundles_response(const struct proto_jwtbundles_response *in,
				     struct proto_buf *out);
int proto_decode_jwtbundles_response(const uint8_t *buf, size_t len,
				     struct proto_jwtbundles_response *out,
				     char err[PROTO_ERR_MAX]);
void proto_jwtbundles_response_clear(struct proto_jwtbundles_response *r);

/* ValidateJWTSVIDResponse{spiffe_id = 1, claims = 2 google.protobuf.Struct}. claims is a JSON
 * object; numbers become number_value, strings string_value, true/false bool_value, null
 * null_value, arrays list_value, objects struct_value (at most PROTO_MAX_DEPTH deep). */
int proto_encode_validate_response(const char *spiffe_id, const json_t *claims,
				   struct proto_buf *out);
/* Decodes into a new JSON object (*claims_out, new reference) and copies spiffe_id. */
int proto_decode_validate_response(const uint8_t *buf, size_t len, char *spiffe_id,
				   size_t spiffe_id_len, json_t **claims_out,
				   char err[PROTO_ERR_MAX]);

#endif /* DAEMON_PROTO_H */
