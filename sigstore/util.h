/*
 * util.h - small helpers shared by the sigstore/ modules: strict base64 and hex, bounded file
 * reads, RFC 3339 and decimal parsing, public-key loading and signature checks (OpenSSL 3).
 * Nothing here keeps state; every allocation is returned to the caller, who frees it.
 */
#ifndef SIGSTORE_UTIL_H
#define SIGSTORE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

/* Largest file any sigstore/ module reads (bundles, trust roots, artifacts). */
#define SIGSTORE_MAX_FILE_SIZE (64u << 20)

enum sigstore_hash {
	SIGSTORE_HASH_NONE = 0,
	SIGSTORE_HASH_SHA256,
	SIGSTORE_HASH_SHA384,
	SIGSTORE_HASH_SHA512,
};

#define SIGSTORE_MAX_DIGEST 64

/* Standard base64 with '=' padding (no whitespace). *out is NUL-terminated; caller frees. */
int sigstore_util_b64_decode(const char *in, size_t in_len, unsigned char **out, size_t *out_len);
/* Standard base64 with padding; returns a NUL-terminated string the caller frees, or NULL. */
char *sigstore_util_b64_encode(const unsigned char *in, size_t len);
/* Unpadded base64url (RFC 4648 §5, as in JWS); *out is NUL-terminated; caller frees. */
int sigstore_util_b64url_decode(const char *in, size_t in_len, unsigned char **out,
				size_t *out_len);
/* Exactly 2*out_len hex digits (either case) into out. */
int sigstore_util_hex_decode(const char *in, unsigned char *out, size_t out_len);
/* out must hold 2*len+1 bytes; lower case. */
void sigstore_util_hex_encode(const unsigned char *in, size_t len, char *out);

/* Reads a whole file of at most max bytes; *out is NUL-terminated; caller frees. */
int sigstore_util_read_file(const char *path, size_t max, unsigned char **out, size_t *len,
			    char err[256]);

/* RFC 3339 ("2023-07-12T15:56:36Z", fractions and offsets allowed) to Unix seconds (floor). */
int sigstore_util_parse_time(const char *s, int64_t *out);
/* Decimal integer with optional '-', no spaces, within int64. */
int sigstore_util_parse_int64(const char *s, int64_t *out);

/* Prepends "prefix: " to the message in err (truncating at 255 characters). */
void sigstore_util_err_prefix(char err[256], const char *prefix);

/* Hash helpers; out holds sigstore_util_hash_len(h) bytes. */
const EVP_MD *sigstore_util_md(enum sigstore_hash h);
size_t sigstore_util_hash_len(enum sigstore_hash h);
int sigstore_util_hash(enum sigstore_hash h, const unsigned char *in, size_t len,
		       unsigned char *out);

/* DER SubjectPublicKeyInfo, or a PKCS#1 RSAPublicKey. Caller frees with EVP_PKEY_free. */
EVP_PKEY *sigstore_util_pkey_from_der(const unsigned char *der, size_t len);
/* PEM "PUBLIC KEY" (SubjectPublicKeyInfo). Caller frees. */
EVP_PKEY *sigstore_util_pkey_from_pem(const unsigned char *pem, size_t len);

/*
 * Verifies sig over msg with key: ECDSA and RSA (PKCS#1 v1.5) hash msg with the digest that
 * matches the key (SHA-256 for P-256 and RSA, SHA-384 for P-384, SHA-512 for P-521); Ed25519
 * signs msg itself. Returns 0, -EBADMSG on a bad signature, -ENOTSUP for other key types.
 */
int sigstore_util_verify(EVP_PKEY *key, const unsigned char *msg, size_t msg_len,
			 const unsigned char *sig, size_t sig_len);
/* Verifies sig over an already computed digest (ECDSA, RSA); Ed25519 gives -ENOTSUP. */
int sigstore_util_verify_digest(EVP_PKEY *key, enum sigstore_hash h, const unsigned char *digest,
				size_t digest_len, const unsigned char *sig, size_t sig_len);

/* SHA-256 of the key's DER SubjectPublicKeyInfo (the Rekor / CT log ID). */
int sigstore_util_key_id(EVP_PKEY *key, unsigned char out[32]);

/* False when objects/arrays in the JSON text s nest deeper than max_depth (strings honoured). */
bool sigstore_util_json_depth_ok(const char *s, size_t len, size_t max_depth);
/*
 * Parses JSON text (duplicate keys rejected, at most max_depth nested containers); the
 * caller owns the result (json_decref). what names the input in err.
 */
int sigstore_util_json_parse(const char *text, size_t len, size_t max_depth, const char *what,
			     json_t **out, char err[256]);
/*
 * Optional string member: *out = NULL when absent or null; -EPROTO (err filled, naming
 * what.key) when present with another type.
 */
int sigstore_util_json_str(const json_t *obj, const char *key, const char *what, const char **out,
			   char err[256]);
/* Member that is an int64 as a JSON string ("123") or number; *present tells if it was there. */
int sigstore_util_json_int64(const json_t *obj, const char *key, const char *what, int64_t *out,
			     bool *present, char err[256]);
/* Optional object (NULL when absent or null), -EPROTO for another type. */
int sigstore_util_json_obj(const json_t *obj, const char *key, const char *what, json_t **out,
			   char err[256]);
/* Optional array (NULL when absent or null), -EPROTO for another type. */
int sigstore_util_json_arr(const json_t *obj, const char *key, const char *what, json_t **out,
			   char err[256]);
/* Required base64 string member, decoded (at most max bytes); caller frees *out. */
int sigstore_util_json_b64(const json_t *obj, const char *key, const char *what, size_t max,
			   unsigned char **out, size_t *len, char err[256]);

#endif
