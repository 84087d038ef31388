/*
 * util.c - see util.h.
 */
#include "sigstore/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* Longest RFC 3339 string accepted (with a nanosecond fraction and an offset). */
#define MAX_TIME_LEN 64

/* c's value in the standard alphabet ("+/") or the URL-safe one ("-_"), or -1. */
static int b64_value(unsigned char c, bool url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

/* Padded standard base64 (url false), or unpadded base64url (url true). */
static int b64_decode(const char *in, size_t in_len, bool url, unsigned char **out, size_t *out_len)
{
	unsigned char *buf = NULL;
	size_t pad = 0, n = 0, groups;
	int ret = -EINVAL;

	*out = NULL;
	*out_len = 0;
	if (url) {
		if (in_len % 4 == 1)
			goto out;
		pad = (4 - in_len % 4) % 4;
	} else {
		if (in_len % 4 != 0)
			goto out;
		if (in_len > 0 && in[in_len - 1] == '=')
			pad++;
		if (in_len > 1 && in[in_len - 2] == '=')
			pad++;
	}
	groups = (in_len + 3) / 4;
	buf = malloc(groups * 3 + 1);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t g = 0; g < groups; g++) {
		size_t i = g * 4;
		int v[4];
		bool last = g + 1 == groups;

		for (int k = 0; k < 4; k++) {
			bool is_pad = last && (size_t)k >= 4 - pad;

			v[k] = is_pad ? 0 : b64_value((unsigned char)in[i + k], url);
			if (v[k] < 0)
				goto out;
		}
		buf[n++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (!(last && pad == 2))
			buf[n++] = (unsigned char)((v[1] & 0xf) << 4 | v[2] >> 2);
		if (!(last && pad >= 1))
			buf[n++] = (unsigned char)((v[2] & 0x3) << 6 | v[3]);
	}
	buf[n] = 0;
	*out = buf;
	*out_len = n;
	buf = NULL;
	ret = 0;
out:
	free(buf);
	return ret;
}

int sigstore_util_b64_decode(const char *in, size_t in_len, unsigned char **out, size_t *out_len)
{
	return b64_decode(in, in_len, false, out, out_len);
}

int sigstore_util_b64url_decode(const char *in, size_t in_len, unsigned char **out, size_t *out_len)
{
	return b64_decode(in, in_len, true, out, out_len);
}

char *sigstore_util_b64_encode(const unsigned char *in, size_t len)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out;
	size_t o = 0;

	if (len > SIZE_MAX / 2)
		return NULL;
	out = malloc((len + 2) / 3 * 4 + 1);
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16;

		if (i + 1 < len)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = tbl[v >> 18 & 63];
		out[o++] = tbl[v >> 12 & 63];
		out[o++] = i + 1 < len ? tbl[v >> 6 & 63] : '=';
		out[o++] = i + 2 < len ? tbl[v & 63] : '=';
	}
	out[o] = 0;
	return out;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int sigstore_util_hex_decode(const char *in, unsigned char *out, size_t out_len)
{
	if (strlen(in) != out_len * 2)
		return -EINVAL;
	for (size_t i = 0; i < out_len; i++) {
		int hi = hex_value(in[2 * i]), lo = hex_value(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

void sigstore_util_hex_encode(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = 0;
}

int sigstore_util_read_file(const char *path, size_t max, unsigned char **out, size_t *len,
			    char err[256])
{
	unsigned char *buf = NULL;
	size_t n = 0, cap = 0;
	int fd, ret = 0;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, 256, "%s: %s", path, strerror(errno));
		goto out;
	}
	for (;;) {
		ssize_t r;

		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			unsigned char *nb;

			if (cap > max + 1)
				ncap = cap;
			if (ncap > max + 2)
				ncap = max + 2;
			if (ncap <= n) {
				ret = -EFBIG;
				snprintf(err, 256, "%s: larger than %zu bytes", path, max);
				goto out;
			}
			nb = realloc(buf, ncap);
			if (!nb) {
				ret = -ENOMEM;
				snprintf(err, 256, "%s: out of memory", path);
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			snprintf(err, 256, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			ret = -EFBIG;
			snprintf(err, 256, "%s: larger than %zu bytes", path, max);
			goto out;
		}
	}
	if (!buf) {
		buf = malloc(1);
		if (!buf) {
			ret = -ENOMEM;
			goto out;
		}
	}
	buf[n] = 0;
	*out = buf;
	*len = n;
	buf = NULL;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

static int parse_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9')
			return -EINVAL;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

int sigstore_util_parse_time(const char *s, int64_t *out)
{
	struct tm tm = {0};
	int year, mon, day, hour, min, sec, off_h = 0, off_m = 0;
	const char *p = s;
	int64_t t, sign = 0;

	if (strnlen(s, MAX_TIME_LEN + 1) > MAX_TIME_LEN)
		return -EINVAL;
	if (parse_digits(&p, 4, &year) || *p++ != '-' || parse_digits(&p, 2, &mon) || *p++ != '-' ||
	    parse_digits(&p, 2, &day) || (*p != 'T' && *p != 't'))
		return -EINVAL;
	p++;
	if (parse_digits(&p, 2, &hour) || *p++ != ':' || parse_digits(&p, 2, &min) || *p++ != ':' ||
	    parse_digits(&p, 2, &sec))
		return -EINVAL;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		p++;
		if (parse_digits(&p, 2, &off_h) || *p++ != ':' || parse_digits(&p, 2, &off_m))
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60 ||
	    off_h > 23 || off_m > 59)
		return -EINVAL;
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = (int64_t)timegm(&tm);
	if (tm.tm_mday != day) /* 31 February and friends */
		return -EINVAL;
	t -= sign * ((int64_t)off_h * 3600 + (int64_t)off_m * 60);
	*out = t;
	return 0;
}

int sigstore_util_parse_int64(const char *s, int64_t *out)
{
	const char *p = s;
	bool neg = false;
	uint64_t v = 0, limit;

	if (*p == '-') {
		neg = true;
		p++;
	}
	if (!*p)
		return -EINVAL;
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		if (v > (limit - (uint64_t)(*p - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (neg)
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	else
		*out = (int64_t)v;
	return 0;
}

const EVP_MD *sigstore_util_md(enum sigstore_hash h)
{
	switch (h) {
	case SIGSTORE_HASH_SHA256:
		return EVP_sha256();
	case SIGSTORE_HASH_SHA384:
		return EVP_sha384();
	case SIGSTORE_HASH_SHA512:
		return EVP_sha512();
	default:
		return NULL;
	}
}

size_t sigstore_util_hash_len(enum sigstore_hash h)
{
	const EVP_MD *md = sigstore_util_md(h);

	return md ? (size_t)EVP_MD_get_size(md) : 0;
}

int sigstore_util_hash(enum sigstore_hash h, const unsigned char *in, size_t len,
		       unsigned char *out)
{
	const EVP_MD *md = sigstore_util_md(h);
	unsigned int n = 0;

	if (!md)
		return -EINVAL;
	if (!EVP_Digest(in, len, out, &n, md, NULL))
		return -EIO;
	return 0;
}

EVP_PKEY *sigstore_util_pkey_from_der(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	EVP_PKEY *key;

	if (len > LONG_MAX)
		return NULL;
	key = d2i_PUBKEY(NULL, &p, (long)len);
	if (key && p == der + len)
		return key;
	EVP_PKEY_free(key);
	p = der;
	key = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)len);
	if (key && p == der + len)
		return key;
	EVP_PKEY_free(key);
	return NULL;
}

EVP_PKEY *sigstore_util_pkey_from_pem(const unsigned char *pem, size_t len)
{
	EVP_PKEY *key = NULL;
	BIO *bio;

	if (len > INT_MAX)
		return NULL;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio)
		return NULL;
	key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	ERR_clear_error();
	return key;
}

/* The digest that goes with a key: by curve for EC keys, SHA-256 for RSA, none for Ed25519. */
static int key_md(EVP_PKEY *key, const EVP_MD **md)
{
	char group[64];
	size_t glen = 0;

	*md = NULL;
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_ED25519:
		return 0;
	case EVP_PKEY_RSA:
		*md = EVP_sha256();
		return 0;
	case EVP_PKEY_EC:
		if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
						    sizeof(group), &glen))
			return -ENOTSUP;
		if (!strcmp(group, "prime256v1") || !strcmp(group, "P-256"))
			*md = EVP_sha256();
		else if (!strcmp(group, "secp384r1") || !strcmp(group, "P-384"))
			*md = EVP_sha384();
		else if (!strcmp(group, "secp521r1") || !strcmp(group, "P-521"))
			*md = EVP_sha512();
		else
			return -ENOTSUP;
		return 0;
	default:
		return -ENOTSUP;
	}
}

int sigstore_util_verify(EVP_PKEY *key, const unsigned char *msg, size_t msg_len,
			 const unsigned char *sig, size_t sig_len)
{
	EVP_MD_CTX *ctx = NULL;
	const EVP_MD *md;
	int ret;

	ret = key_md(key, &md);
	if (ret)
		goto out;
	ctx = EVP_MD_CTX_new();
	if (!ctx) {
		ret = -ENOMEM;
		goto out;
	}
	if (EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) != 1) {
		ret = -ENOTSUP;
		goto out;
	}
	ret = EVP_DigestVerify(ctx, sig, sig_len, msg, msg_len) == 1 ? 0 : -EBADMSG;
out:
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ret;
}

int sigstore_util_verify_digest(EVP_PKEY *key, enum sigstore_hash h, const unsigned char *digest,
				size_t digest_len, const unsigned char *sig, size_t sig_len)
{
	EVP_PKEY_CTX *ctx = NULL;
	const EVP_MD *md = sigstore_util_md(h);
	int ret = -ENOTSUP, type = EVP_PKEY_get_base_id(key);

	if (!md || digest_len != sigstore_util_hash_len(h))
		return -EINVAL;
	if (type != EVP_PKEY_EC && type != EVP_PKEY_RSA)
		goto out;
	ctx = EVP_PKEY_CTX_new(key, NULL);
	if (!ctx) {
		ret = -ENOMEM;
		goto out;
	}
	if (EVP_PKEY_verify_init(ctx) != 1 || EVP_PKEY_CTX_set_signature_md(ctx, md) != 1)
		goto out;
	if (type == EVP_PKEY_RSA && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1)
		goto out;
	ret = EVP_PKEY_verify(ctx, sig, sig_len, digest, digest_len) == 1 ? 0 : -EBADMSG;
out:
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return ret;
}

int sigstore_util_key_id(EVP_PKEY *key, unsigned char out[32])
{
	unsigned char *der = NULL;
	int len, ret = 0;

	len = i2d_PUBKEY(key, &der);
	if (len <= 0)
		return -EINVAL;
	if (!EVP_Digest(der, (size_t)len, out, NULL, EVP_sha256(), NULL))
		ret = -EIO;
	OPENSSL_free(der);
	return ret;
}

static size_t json_depth(const json_t *j, size_t limit)
{
	size_t best = 0;
	const char *key;
	json_t *v;
	size_t i;

	if (!json_is_object(j) && !json_is_array(j))
		return 0;
	if (limit == 0)
		return 1;
	if (json_is_object(j)) {
		json_object_foreach ((json_t *)j, key, v) {
			size_t d = json_depth(v, limit - 1);

			if (d > best)
				best = d;
			if (best >= limit)
				break;
		}
	} else {
		json_array_foreach (j, i, v) {
			size_t d = json_depth(v, limit - 1);

			if (d > best)
				best = d;
			if (best >= limit)
				break;
		}
	}
	return best + 1;
}

bool sigstore_util_json_depth_ok(const char *s, size_t len, size_t max_depth)
{
	size_t depth = 0;
	bool in_str = false;

	for (size_t i = 0; i < len; i++) {
		if (in_str) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				in_str = false;
		} else if (s[i] == '"') {
			in_str = true;
		} else if (s[i] == '{' || s[i] == '[') {
			if (++depth > max_depth)
				return false;
		} else if ((s[i] == '}' || s[i] == ']') && depth > 0) {
			depth--;
		}
	}
	return true;
}

int sigstore_util_json_parse(const char *text, size_t len, size_t max_depth, const char *what,
			     json_t **out, char err[256])
{
	json_error_t jerr;
	json_t *j;

	*out = NULL;
	/* Checked on the text first: a deep document is refused before jansson builds it. */
	if (!sigstore_util_json_depth_ok(text, len, max_depth)) {
		snprintf(err, 256, "%s: JSON nested deeper than %zu", what, max_depth);
		return -EPROTO;
	}
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		snprintf(err, 256, "%s: invalid JSON at line %d: %s", what, jerr.line, jerr.text);
		return -EPROTO;
	}
	if (json_depth(j, max_depth + 1) > max_depth) {
		snprintf(err, 256, "%s: JSON nested deeper than %zu", what, max_depth);
		json_decref(j);
		return -EPROTO;
	}
	*out = j;
	return 0;
}

int sigstore_util_json_str(const json_t *obj, const char *key, const char *what, const char **out,
			   char err[256])
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		snprintf(err, 256, "%s.%s: not a string", what, key);
		return -EPROTO;
	}
	*out = json_string_value(v);
	return 0;
}

int sigstore_util_json_int64(const json_t *obj, const char *key, const char *what, int64_t *out,
			     bool *present, char err[256])
{
	json_t *v = json_object_get(obj, key);

	*present = false;
	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
	} else if (!json_is_string(v) || sigstore_util_parse_int64(json_string_value(v), out)) {
		snprintf(err, 256, "%s.%s: not an integer", what, key);
		return -EPROTO;
	}
	*present = true;
	return 0;
}

int sigstore_util_json_obj(const json_t *obj, const char *key, const char *what, json_t **out,
			   char err[256])
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v)) {
		snprintf(err, 256, "%s.%s: not an object", what, key);
		return -EPROTO;
	}
	*out = v;
	return 0;
}

int sigstore_util_json_arr(const json_t *obj, const char *key, const char *what, json_t **out,
			   char err[256])
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v)) {
		snprintf(err, 256, "%s.%s: not an array", what, key);
		return -EPROTO;
	}
	*out = v;
	return 0;
}

int sigstore_util_json_b64(const json_t *obj, const char *key, const char *what, size_t max,
			   unsigned char **out, size_t *len, char err[256])
{
	const char *s;
	int ret;

	*out = NULL;
	*len = 0;
	ret = sigstore_util_json_str(obj, key, what, &s, err);
	if (ret)
		return ret;
	if (!s) {
		snprintf(err, 256, "%s.%s: missing", what, key);
		return -EPROTO;
	}
	if (strlen(s) / 4 * 3 > max) {
		snprintf(err, 256, "%s.%s: longer than %zu bytes", what, key, max);
		return -EPROTO;
	}
	ret = sigstore_util_b64_decode(s, strlen(s), out, len);
	if (ret == -EINVAL) {
		snprintf(err, 256, "%s.%s: invalid base64", what, key);
		return -EPROTO;
	}
	return ret;
}

void sigstore_util_err_prefix(char err[256], const char *prefix)
{
	char tmp[256];
	size_t pl = strnlen(prefix, 200), el = strnlen(err, 255);

	memcpy(tmp, prefix, pl);
	memcpy(tmp + pl, ": ", 2);
	if (el > 255 - pl - 2)
		el = 255 - pl - 2;
	memcpy(tmp + pl + 2, err, el);
	tmp[pl + 2 + el] = 0;
	memcpy(err, tmp, pl + 3 + el);
}
