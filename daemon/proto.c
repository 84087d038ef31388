/*
 * proto.c - hand-written protobuf (proto3) wire codec of the SPIFFE Workload API messages.
 *
 * Decoding: a message is a sequence of (tag, payload) fields; next_field() reads one, checking
 * varints (at most 10 bytes, the 10th at most 0x01), lengths against the buffer, and wire types
 * (groups 3/4 and 6/7 are refused). Known fields with the wrong wire type, strings that are not
 * UTF-8 and counts over PROTO_MAX_REPEATED are errors naming the field path. For a singular field
 * seen twice the last one wins (also for embedded messages: we replace, we do not merge); for a
 * map key seen twice the last entry wins.
 *
 * Encoding appends to a struct proto_buf. Empty singular fields are omitted; repeated elements,
 * map entries (key and value both, as the Go, C++ and upb encoders do) and the member of a oneof
 * are always written, so the output matches protobuf's deterministic serialization.
 *
 * google.protobuf.Struct decodes to jansson: number_value becomes json_integer when the double
 * is integral and within +-2^53 (so JWT claims such as exp/iat come back as integers), json_real
 * otherwise; NaN and infinities are refused (JSON has neither); a Value with no kind set is null;
 * Struct keys with a NUL byte are refused both ways (jansson only partly supports them).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/proto.h"

#define PROTO_VARINT_MAX   10		      /* bytes of a 64-bit varint */
#define PROTO_PATH_MAX	   160		      /* field path in error messages, truncated */
#define PROTO_KEY_SHOW_MAX 40		      /* longer Struct keys show as an index */
#define PROTO_SAFE_INT	   9007199254740992.0 /* 2^53: integral doubles up to this are exact */

enum wire_type {
	WT_VARINT = 0,
	WT_I64 = 1,
	WT_LEN = 2,
	WT_SGROUP = 3,
	WT_EGROUP = 4,
	WT_I32 = 5,
};

/* ------------------------------------------------------------------------------------------ */
/* shared helpers */

static int fail(char *err, int ret, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, PROTO_ERR_MAX, fmt, ap);
	va_end(ap);
	return ret;
}

/* Field paths are only for error messages: truncation is fine. */
static void path_fmt(char *dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void path_fmt(char *dst, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, PROTO_PATH_MAX, fmt, ap);
	va_end(ap);
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		size_t n;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (len - i - 1 < n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

static bool bytes_utf8(const struct proto_bytes *b)
{
	return b->len == 0 || utf8_valid(b->data, b->len);
}

/* Make room for element n of a malloc'd array whose capacity is the next power of two >= n. */
static int arr_grow(void **arr, size_t n, size_t elem)
{
	void *p;

	if (n != 0 && (n & (n - 1)) != 0)
		return 0;
	p = reallocarray(*arr, n ? 2 * n : 1, elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	return 0;
}

void proto_buf_free(struct proto_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* decoding */

struct reader {
	const uint8_t *p, *end;
	const char *path; /* message path, for errors */
	char *err;
};

struct field {
	uint32_t num;
	unsigned int wt;
	uint64_t u;	      /* WT_VARINT, WT_I64, WT_I32 */
	struct proto_bytes b; /* WT_LEN */
};

static void reader_init(struct reader *r, const uint8_t *buf, size_t len, const char *path,
			char *err)
{
	static const uint8_t empty[1];

	if (!buf) /* no arithmetic on NULL, even + 0 */
		buf = empty, len = 0;
	r->p = buf;
	r->end = buf + len;
	r->path = path;
	r->err = err;
}

static int read_varint(struct reader *r, uint64_t *out, const char *what)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < PROTO_VARINT_MAX; i++) {
		uint8_t c;

		if (r->p == r->end)
			return fail(r->err, -EPROTO, "%s: truncated varint (%s)", r->path, what);
		c = *r->p++;
		if (i == PROTO_VARINT_MAX - 1 && (c & 0x80))
			return fail(r->err, -EPROTO, "%s: varint (%s) longer than 10 bytes",
				    r->path, what);
		if (i == PROTO_VARINT_MAX - 1 && c > 0x01)
			return fail(r->err, -EPROTO, "%s: varint (%s) overflows 64 bits", r->path,
				    what);
		v |= (uint64_t)(c & 0x7f) << (7 * i);
		if (!(c & 0x80))
			break;
	}
	*out = v;
	return 0;
}

static uint64_t read_le(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Reads the next field: 1 = *f filled, 0 = end of message, < 0 = error. */
static int next_field(struct reader *r, struct field *f)
{
	uint64_t tag, len;
	size_t left;
	int ret;

	if (r->p == r->end)
		return 0;
	ret = read_varint(r, &tag, "tag");
	if (ret < 0)
		return ret;
	if (tag > UINT32_MAX || (tag >> 3) == 0)
		return fail(r->err, -EPROTO, "%s: invalid field number %llu", r->path,
			    (unsigned long long)(tag >> 3));
	f->num = (uint32_t)(tag >> 3);
	f->wt = (unsigned int)(tag & 7);
	f->u = 0;
	f->b.data = NULL;
	f->b.len = 0;
	switch (f->wt) {
	case WT_VARINT:
		return read_varint(r, &f->u, "value") < 0 ? -EPROTO : 1;
	case WT_I64:
	case WT_I32: {
		unsigned int n = f->wt == WT_I64 ? 8 : 4;

		if ((size_t)(r->end - r->p) < n)
			return fail(r->err, -EPROTO, "%s: field %u: truncated fixed%u", r->path,
				    f->num, 8 * n);
		f->u = read_le(r->p, n);
		r->p += n;
		return 1;
	}
	case WT_LEN:
		ret = read_varint(r, &len, "length");
		if (ret < 0)
			return ret;
		left = (size_t)(r->end - r->p);
		if (len > left)
			return fail(
				r->err, -EPROTO,
				"%s: field %u: length %llu beyond end of buffer (%zu bytes left)",
				r->path, f->num, (unsigned long long)len, left);
		f->b.data = r->p;
		f->b.len = (size_t)len;
		r->p += len;
		return 1;
	case WT_SGROUP:
	case WT_EGROUP:
		return fail(r->err, -EPROTO, "%s: field %u: group wire type %u not supported",
			    r->path, f->num, f->wt);
	default:
		return fail(r->err, -EPROTO, "%s: field %u: invalid wire type %u", r->path, f->num,
			    f->wt);
	}
}

/* A known field must have its declared wire type. name may carry an index ("svids[2]"). */
static int want_wt(struct reader *r, const struct field *f, unsigned int wt, const char *name)
{
	if (f->wt == wt)
		return 0;
	return fail(r->err, -EPROTO, "%s.%s: wrong wire type %u (want %u)", r->path, name, f->wt,
		    wt);
}

/* A known string field: length-delimited and valid UTF-8. */
static int want_string(struct reader *r, const struct field *f, const char *name)
{
	int ret = want_wt(r, f, WT_LEN, name);

	if (ret < 0)
		return ret;
	if (!bytes_utf8(&f->b))
		return fail(r->err, -EPROTO, "%s.%s: invalid UTF-8", r->path, name);
	return 0;
}

static int check_size(size_t len, const char *what, char *err)
{
	if (len > PROTO_MAX_MESSAGE)
		return fail(err, -EMSGSIZE, "%s: message of %zu bytes exceeds the limit of %u",
			    what, len, PROTO_MAX_MESSAGE);
	return 0;
}

static int too_many(char *err, const char *path, const char *name)
{
	return fail(err, -EPROTO, "%s.%s: more than %d entries", path, name, PROTO_MAX_REPEATED);
}

int proto_decode_empty(const uint8_t *buf, size_t len, const char *what, char err[PROTO_ERR_MAX])
{
	struct reader r;
	struct field f;
	int ret;

	what = what ? what : "message";
	ret = check_size(len, what, err);
	if (ret < 0)
		return ret;
	reader_init(&r, buf, len, what, err);
	while ((ret = next_field(&r, &f)) > 0)
		; /* every field is unknown: skip */
	return ret;
}

int proto_decode_jwtsvid_request(const uint8_t *buf, size_t len, struct proto_jwtsvid_request *out,
				 char err[PROTO_ERR_MAX])
{
	char name[PROTO_PATH_MAX];
	struct reader r;
	struct field f;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = check_size(len, "JWTSVIDRequest", err);
	if (ret < 0)
		goto out;
	reader_init(&r, buf, len, "JWTSVIDRequest", err);
	while ((ret = next_field(&r, &f)) > 0) {
		switch (f.num) {
		case 1:
			if (out->naudience == PROTO_MAX_REPEATED) {
				ret = too_many(err, r.path, "audience");
				goto out;
			}
			path_fmt(name, "audience[%zu]", out->naudience);
			ret = want_string(&r, &f, name);
			if (ret < 0)
				goto out;
			out->audience[out->naudience++] = f.b;
			break;
		case 2:
			ret = want_string(&r, &f, "spiffe_id");
			if (ret < 0)
				goto out;
			out->spiffe_id = f.b;
			break;
		default:
			break;
		}
	}
out:
	if (ret < 0)
		memset(out, 0, sizeof(*out));
	return ret;
}

int proto_decode_validate_request(const uint8_t *buf, size_t len,
				  struct proto_validate_request *out, char err[PROTO_ERR_MAX])
{
	struct reader r;
	struct field f;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = check_size(len, "ValidateJWTSVIDRequest", err);
	if (ret < 0)
		goto out;
	reader_init(&r, buf, len, "ValidateJWTSVIDRequest", err);
	while ((ret = next_field(&r, &f)) > 0) {
		switch (f.num) {
		case 1:
			ret = want_string(&r, &f, "audience");
			if (ret < 0)
				goto out;
			out->audience = f.b;
			break;
		case 2:
			ret = want_string(&r, &f, "svid");
			if (ret < 0)
				goto out;
			out->svid = f.b;
			break;
		default:
			break;
		}
	}
out:
	if (ret < 0)
		memset(out, 0, sizeof(*out));
	return ret;
}

/* One map<string, bytes> entry; key or value may be missing (empty). */
static int decode_map_entry(const struct proto_bytes *in, const char *path,
			    struct proto_map_entry *e, char *err)
{
	struct reader r;
	struct field f;
	int ret;

	memset(e, 0, sizeof(*e));
	reader_init(&r, in->data, in->len, path, err);
	while ((ret = next_field(&r, &f)) > 0) {
		if (f.num == 1) {
			ret = want_string(&r, &f, "key");
			if (ret < 0)
				return ret;
			e->key = f.b;
		} else if (f.num == 2) {
			ret = want_wt(&r, &f, WT_LEN, "value");
			if (ret < 0)
				return ret;
			e->value = f.b;
		}
	}
	return ret;
}

/*
 * Adds the entry in *field (wire occurrence number *seen) to a map array; a key already present
 * gets the new value (last one wins).
 */
static int map_add(struct proto_map_entry **arr, size_t *n, size_t *seen, const struct field *f,
		   const char *msg_path, const char *name, char *err)
{
	char path[PROTO_PATH_MAX];
	struct proto_map_entry e;
	int ret;

	if (*seen == PROTO_MAX_REPEATED)
		return too_many(err, msg_path, name);
	path_fmt(path, "%s.%s[%zu]", msg_path, name, *seen);
	(*seen)++;
	if (f->wt != WT_LEN)
		return fail(err, -EPROTO, "%s: wrong wire type %u (want %u)", path, f->wt, WT_LEN);
	ret = decode_map_entry(&f->b, path, &e, err);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < *n; i++) {
		if ((*arr)[i].key.len == e.key.len &&
		    (e.key.len == 0 || memcmp((*arr)[i].key.data, e.key.data, e.key.len) == 0)) {
			(*arr)[i].value = e.value;
			return 0;
		}
	}
	ret = arr_grow((void **)arr, *n, sizeof(**arr));
	if (ret < 0)
		return fail(err, ret, "%s: out of memory", path);
	(*arr)[(*n)++] = e;
	return 0;
}

/* Appends a repeated bytes element. */
static int bytes_add(struct proto_bytes **arr, size_t *n, const struct field *f,
		     const char *msg_path, const char *name, char *err)
{
	int ret;

	if (*n == PROTO_MAX_REPEATED)
		return too_many(err, msg_path, name);
	if (f->wt != WT_LEN)
		return fail(err, -EPROTO, "%s.%s[%zu]: wrong wire type %u (want %u)", msg_path,
			    name, *n, f->wt, WT_LEN);
	ret = arr_grow((void **)arr, *n, sizeof(**arr));
	if (ret < 0)
		return fail(err, ret, "%s.%s: out of memory", msg_path, name);
	(*arr)[(*n)++] = f->b;
	return 0;
}

static int decode_x509svid(const struct proto_bytes *in, const char *path, struct proto_x509svid *s,
			   char *err)
{
	struct reader r;
	struct field f;
	int ret;

	memset(s, 0, sizeof(*s));
	reader_init(&r, in->data, in->len, path, err);
	while ((ret = next_field(&r, &f)) > 0) {
		switch (f.num) {
		case 1:
			ret = want_string(&r, &f, "spiffe_id");
			s->spiffe_id = f.b;
			break;
		case 2:
			ret = want_wt(&r, &f, WT_LEN, "x509_svid");
			s->x509_svid = f.b;
			break;
		case 3:
			ret = want_wt(&r, &f, WT_LEN, "x509_svid_key");
			s->x509_svid_key = f.b;
			break;
		case 4:
			ret = want_wt(&r, &f, WT_LEN, "bundle");
			s->bundle = f.b;
			break;
		case 5:
			ret = want_string(&r, &f, "hint");
			s->hint = f.b;
			break;
		default:
			break;
		}
		if (ret < 0)
			return ret;
	}
	return ret;
}

int proto_decode_x509svid_response(const uint8_t *buf, size_t len,
				   struct proto_x509svid_response *out, char err[PROTO_ERR_MAX])
{
	static const char *const msg = "X509SVIDResponse";
	char path[PROTO_PATH_MAX];
	size_t nfed_seen = 0;
	struct reader r;
	struct field f;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = check_size(len, msg, err);
	if (ret < 0)
		goto out;
	reader_init(&r, buf, len, msg, err);
	while ((ret = next_field(&r, &f)) > 0) {
		switch (f.num) {
		case 1:
			if (out->nsvids == PROTO_MAX_REPEATED) {
				ret = too_many(err, msg, "svids");
				goto out;
			}
			path_fmt(path, "svids[%zu]", out->nsvids);
			ret = want_wt(&r, &f, WT_LEN, path);
			if (ret < 0)
				goto out;
			ret = arr_grow((void **)&out->svids, out->nsvids, sizeof(*out->svids));
			if (ret < 0) {
				fail(err, ret, "%s.svids: out of memory", msg);
				goto out;
			}
			path_fmt(path, "%s.svids[%zu]", msg, out->nsvids);
			ret = decode_x509svid(&f.b, path, &out->svids[out->nsvids], err);
			if (ret < 0)
				goto out;
			out->nsvids++;
			break;
		case 2:
			ret = bytes_add(&out->crl, &out->ncrl, &f, msg, "crl", err);
			break;
		case 3:
			ret = map_add(&out->federated_bundles, &out->nfederated_bundles, &nfed_seen,
				      &f, msg, "federated_bundles", err);
			break;
		default:
			break;
		}
		if (ret < 0)
			goto out;
	}
out:
	if (ret < 0)
		proto_x509svid_response_clear(out);
	return ret;
}

void proto_x509svid_response_clear(struct proto_x509svid_response *r)
{
	if (!r)
		return;
	free(r->svids);
	free(r->crl);
	free(r->federated_bundles);
	memset(r, 0, sizeof(*r));
}

int proto_decode_x509bundles_response(const uint8_t *buf, size_t len,
				      struct proto_x509bundles_response *out,
				      char err[PROTO_ERR_MAX])
{
	static const char *const msg = "X509BundlesResponse";
	size_t nseen = 0;
	struct reader r;
	struct field f;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = check_size(len, msg, err);
	if (ret < 0)
		goto out;
	reader_init(&r, buf, len, msg, err);
	while ((ret = next_field(&r, &f)) > 0) {
		if (f.num == 1)
			ret = bytes_add(&out->crl, &out->ncrl, &f, msg, "crl", err);
		else if (f.num == 2)
			ret = map_add(&out->bundles, &out->nbundles, &nseen, &f, msg, "bundles",
				      err);
		if (ret < 0)
			goto out;
	}
out:
	if (ret < 0)
		proto_x509bundles_response_clear(out);
	return ret;
}

void proto_x509bundles_response_clear(struct proto_x509bundles_response *r)
{
	if (!r)
		return;
	free(r->crl);
	free(r->bundles);
	memset(r, 0, sizeof(*r));
}

static int decode_jwtsvid(const struct proto_bytes *in, const char *path, struct proto_jwtsvid *s,
			  char *err)
{
	struct reader r;
	struct field f;
	int ret;

	memset(s, 0, sizeof(*s));
	reader_init(&r, in->data, in->len, path, err);
	while ((ret = next_field(&r, &f)) > 0) {
		switch (f.num) {
		case 1:
			ret = want_string(&r, &f, "spiffe_id");
			s->spiffe_id = f.b;
			break;
		case 2:
			ret = want_string(&r, &f, "svid");
			s->svid = f.b;
			break;
		case 3:
			ret = want_string(&r, &f, "hint");
			s->hint = f.b;
			break;
		default:
			break;
		}
		if (ret < 0)
			return ret;
	}
	return ret;
}

int proto_decode_jwtsvid_response(const uint8_t *buf, size_t len,
				  struct proto_jwtsvid_response *out, char err[PROTO_ERR_MAX])
{
	static const char *const msg = "JWTSVIDResponse";
	char path[PROTO_PATH_MAX];
	struct reader r;
	struct field f;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = check_size(len, msg, err);
	if (ret < 0)
		goto out;
	reader_init(&r, buf, len, msg, err);
	while ((ret = next_field(&r, &f)) > 0) {
		if (f.num != 1)
			continue;
		if (out->nsvids == PROTO_MAX_REPEATED) {
			ret = too_many(err, msg, "svids");
			goto out;
		}
		path_fmt(path, "svids[%zu]", out->nsvids);
		ret = want_wt(&r, &f, WT_LEN, path);
		if (ret < 0)
			goto out;
		ret = arr_grow((void **)&out->svids, out->nsvids, sizeof(*out->svids));
		if (ret < 0) {
			fail(err, ret, "%s.svids: out of memory", msg);
			goto out;
		}
		path_fmt(path, "%s.svids[%zu]", msg, out->nsvids);
		ret = decode_jwtsvid(&f.b, path, &out->svids[out->nsvids], err);
		if (ret < 0)
			goto out;
		out->nsvids++;
	}
out:
	if (ret < 0)
		proto_jwtsvid_response_clear(out);
	return ret;
}

void proto_jwtsvid_response_clear(struct proto_jwtsvid_response *r)
{
	if (!r)
		return;
	free(r->svids);
	memset(r, 0, sizeof(*r));
}

int proto_decode_jwtbundles_response(const uint8_t *buf, size_t len,
				     struct proto_jwtbundles_response *out, char err[PROTO_ERR_MAX])
{
	static const char *const msg = "JWTBundlesResponse";
	size_t nseen = 0;
	struct reader r;
	struct field f;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = check_size(len, msg, err);
	if (ret < 0)
		goto out;
	reader_init(&r, buf, len, msg, err);
	while ((ret = next_field(&r, &f)) > 0) {
		if (f.num != 1)
			continue;
		ret = map_add(&out->bundles, &out->nbundles, &nseen, &f, msg, "bundles", err);
		if (ret < 0)
			goto out;
	}
out:
	if (ret < 0)
		proto_jwtbundles_response_clear(out);
	return ret;
}

void proto_jwtbundles_response_clear(struct proto_jwtbundles_response *r)
{
	if (!r)
		return;
	free(r->bundles);
	memset(r, 0, sizeof(*r));
}

/* ---- google.protobuf.Struct / Value / ListValue -> jansson ---- */

static int decode_struct(const struct proto_bytes *in, const char *path, unsigned int depth,
			 json_t **out, char *err);
static int decode_list(const struct proto_bytes *in, const char *path, unsigned int depth,
		       json_t **out, char *err);

static bool key_printable(const struct proto_bytes *k)
{
	if (k->len > PROTO_KEY_SHOW_MAX)
		return false;
	for (size_t i = 0; i < k->len; i++) {
		if (k->data[i] < 0x20 || k->data[i] > 0x7e || k->data[i] == '"' ||
		    k->data[i] == '\\')
			return false;
	}
	return true;
}

static json_t *number_to_json(double d)
{
	/* range first: the cast is only defined for values that fit (no libm: not linked) */
	if (d >= -PROTO_SAFE_INT && d <= PROTO_SAFE_INT && d == (double)(json_int_t)d)
		return json_integer((json_int_t)d);
	return json_real(d);
}

/* Value: depth is that of the enclosing Struct or ListValue. An empty Value is null. */
static int decode_value(const struct proto_bytes *in, const char *path, unsigned int depth,
			json_t **out, char *err)
{
	char sub[PROTO_PATH_MAX];
	json_t *v = NULL, *nv;
	struct reader r;
	struct field f;
	double d;
	int ret;

	reader_init(&r, in->data, in->len, path, err);
	while ((ret = next_field(&r, &f)) > 0) {
		nv = NULL;
		switch (f.num) {
		case 1:
			ret = want_wt(&r, &f, WT_VARINT, "null_value");
			if (ret == 0)
				nv = json_null();
			break;
		case 2:
			ret = want_wt(&r, &f, WT_I64, "number_value");
			if (ret < 0)
				break;
			memcpy(&d, &f.u, sizeof(d));
			if (!isfinite(d)) {
				ret = fail(err, -EPROTO, "%s.number_value: not finite", path);
				break;
			}
			nv = number_to_json(d);
			break;
		case 3:
			ret = want_string(&r, &f, "string_value");
			if (ret == 0)
				nv = json_stringn(f.b.len ? (const char *)f.b.data : "", f.b.len);
			break;
		case 4:
			ret = want_wt(&r, &f, WT_VARINT, "bool_value");
			if (ret == 0)
				nv = json_boolean(f.u != 0);
			break;
		case 5:
			ret = want_wt(&r, &f, WT_LEN, "struct_value");
			if (ret < 0)
				break;
			path_fmt(sub, "%s.struct_value", path);
			ret = decode_struct(&f.b, sub, depth + 1, &nv, err);
			break;
		case 6:
			ret = want_wt(&r, &f, WT_LEN, "list_value");
			if (ret < 0)
				break;
			path_fmt(sub, "%s.list_value", path);
			ret = decode_list(&f.b, sub, depth + 1, &nv, err);
			break;
		default:
			continue;
		}
		if (ret < 0)
			goto out;
		if (!nv) {
			ret = fail(err, -ENOMEM, "%s: out of memory", path);
			goto out;
		}
		json_decref(v); /* oneof: the last member wins */
		v = nv;
	}
	if (ret < 0)
		goto out;
	if (!v) {
		v = json_null();
		if (!v) {
			ret = fail(err, -ENOMEM, "%s: out of memory", path);
			goto out;
		}
	}
	*out = v;
	v = NULL;
out:
	json_decref(v);
	return ret;
}

/* Struct.fields entry {key = 1 string, value = 2 Value}, added to obj. */
static int decode_struct_entry(const struct proto_bytes *in, const char *path, size_t idx,
			       unsigned int depth, json_t *obj, char *err)
{
	struct proto_bytes key = {NULL, 0}, val = {NULL, 0};
	char epath[PROTO_PATH_MAX], vpath[PROTO_PATH_MAX];
	json_t *v = NULL;
	struct reader r;
	struct field f;
	int ret;

	path_fmt(epath, "%s.fields[%zu]", path, idx);
	reader_init(&r, in->data, in->len, epath, err);
	while ((ret = next_field(&r, &f)) > 0) {
		if (f.num == 1) {
			ret = want_string(&r, &f, "key");
			key = f.b;
		} else if (f.num == 2) {
			ret = want_wt(&r, &f, WT_LEN, "value");
			val = f.b;
		}
		if (ret < 0)
			goto out;
	}
	if (ret < 0)
		goto out;
	/* jansson handles NUL inside keys only in part (json_equal misses them): refuse */
	if (key.len && memchr(key.data, '\0', key.len)) {
		ret = fail(err, -EPROTO, "%s.key: contains a NUL byte", epath);
		goto out;
	}
	if (key_printable(&key))
		path_fmt(vpath, "%s.fields[\"%.*s\"]", path, (int)key.len,
			 key.len ? (const char *)key.data : "");
	else
		path_fmt(vpath, "%s.fields[%zu].value", path, idx);
	ret = decode_value(&val, vpath, depth, &v, err);
	if (ret < 0)
		goto out;
	/* json_object_setn_new steals v even on failure */
	ret = json_object_setn_new(obj, key.len ? (const char *)key.data : "", key.len, v);
	v = NULL;
	if (ret < 0)
		ret = fail(err, -ENOMEM, "%s: out of memory", epath);
out:
	json_decref(v);
	return ret;
}

/* Struct at nesting depth depth (the top-level claims are depth 1). */
static int decode_struct(const struct proto_bytes *in, const char *path, unsigned int depth,
			 json_t **out, char *err)
{
	json_t *obj = NULL;
	size_t n = 0;
	struct reader r;
	struct field f;
	int ret;

	if (depth > PROTO_MAX_DEPTH) {
		ret = fail(err, -EPROTO, "%s: nested deeper than %d", path, PROTO_MAX_DEPTH);
		goto out;
	}
	obj = json_object();
	if (!obj) {
		ret = fail(err, -ENOMEM, "%s: out of memory", path);
		goto out;
	}
	reader_init(&r, in->data, in->len, path, err);
	while ((ret = next_field(&r, &f)) > 0) {
		if (f.num != 1)
			continue;
		if (n == PROTO_MAX_REPEATED) {
			ret = too_many(err, path, "fields");
			goto out;
		}
		if (f.wt != WT_LEN) {
			ret = fail(err, -EPROTO, "%s.fields[%zu]: wrong wire type %u (want %u)",
				   path, n, f.wt, WT_LEN);
			goto out;
		}
		ret = decode_struct_entry(&f.b, path, n, depth, obj, err);
		if (ret < 0)
			goto out;
		n++;
	}
	if (ret < 0)
		goto out;
	*out = obj;
	obj = NULL;
out:
	json_decref(obj);
	return ret;
}

static int decode_list(const struct proto_bytes *in, const char *path, unsigned int depth,
		       json_t **out, char *err)
{
	char sub[PROTO_PATH_MAX];
	json_t *arr = NULL, *v;
	struct reader r;
	struct field f;
	int ret;

	if (depth > PROTO_MAX_DEPTH) {
		ret = fail(err, -EPROTO, "%s: nested deeper than %d", path, PROTO_MAX_DEPTH);
		goto out;
	}
	arr = json_array();
	if (!arr) {
		ret = fail(err, -ENOMEM, "%s: out of memory", path);
		goto out;
	}
	reader_init(&r, in->data, in->len, path, err);
	while ((ret = next_field(&r, &f)) > 0) {
		size_t n = json_array_size(arr);

		if (f.num != 1)
			continue;
		if (n == PROTO_MAX_REPEATED) {
			ret = too_many(err, path, "values");
			goto out;
		}
		path_fmt(sub, "%s.values[%zu]", path, n);
		if (f.wt != WT_LEN) {
			ret = fail(err, -EPROTO, "%s: wrong wire type %u (want %u)", sub, f.wt,
				   WT_LEN);
			goto out;
		}
		ret = decode_value(&f.b, sub, depth, &v, err);
		if (ret < 0)
			goto out;
		if (json_array_append_new(arr, v) < 0) {
			ret = fail(err, -ENOMEM, "%s: out of memory", sub);
			goto out;
		}
	}
	if (ret < 0)
		goto out;
	*out = arr;
	arr = NULL;
out:
	json_decref(arr);
	return ret;
}

int proto_decode_validate_response(const uint8_t *buf, size_t len, char *spiffe_id,
				   size_t spiffe_id_len, json_t **claims_out,
				   char err[PROTO_ERR_MAX])
{
	static const char *const msg = "ValidateJWTSVIDResponse";
	struct proto_bytes id = {NULL, 0};
	json_t *claims = NULL, *c;
	struct reader r;
	struct field f;
	int ret;

	*claims_out = NULL;
	ret = check_size(len, msg, err);
	if (ret < 0)
		goto out;
	reader_init(&r, buf, len, msg, err);
	while ((ret = next_field(&r, &f)) > 0) {
		if (f.num == 1) {
			ret = want_string(&r, &f, "spiffe_id");
			if (ret < 0)
				goto out;
			id = f.b;
		} else if (f.num == 2) {
			ret = want_wt(&r, &f, WT_LEN, "claims");
			if (ret < 0)
				goto out;
			ret = decode_struct(&f.b, "ValidateJWTSVIDResponse.claims", 1, &c, err);
			if (ret < 0)
				goto out;
			json_decref(claims); /* last one wins */
			claims = c;
		}
	}
	if (ret < 0)
		goto out;
	if (id.len && memchr(id.data, '\0', id.len)) {
		ret = fail(err, -EPROTO, "%s.spiffe_id: contains a NUL byte", msg);
		goto out;
	}
	if (id.len >= spiffe_id_len) {
		ret = fail(err, -ENOSPC, "%s.spiffe_id: %zu bytes do not fit in %zu", msg, id.len,
			   spiffe_id_len);
		goto out;
	}
	if (!claims) {
		claims = json_object();
		if (!claims) {
			ret = fail(err, -ENOMEM, "%s.claims: out of memory", msg);
			goto out;
		}
	}
	if (id.len)
		memcpy(spiffe_id, id.data, id.len);
	spiffe_id[id.len] = '\0';
	*claims_out = claims;
	claims = NULL;
out:
	json_decref(claims);
	return ret;
}

/* ------------------------------------------------------------------------------------------ */
/* encoding */

struct enc {
	struct proto_buf *b;
	size_t base; /* out->len when this message started; restored on failure */
};

static int enc_reserve(struct enc *e, size_t n)
{
	struct proto_buf *b = e->b;
	size_t cap;
	uint8_t *p;

	if (n > PROTO_MAX_MESSAGE || b->len - e->base > PROTO_MAX_MESSAGE - n)
		return -EMSGSIZE;
	if (b->cap - b->len >= n)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap - b->len < n)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

static size_t varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static void varint_write(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p = (uint8_t)v;
}

static int put_varint(struct enc *e, uint64_t v)
{
	int ret = enc_reserve(e, varint_size(v));

	if (ret < 0)
		return ret;
	varint_write(e->b->data + e->b->len, v);
	e->b->len += varint_size(v);
	return 0;
}

static int put_tag(struct enc *e, uint32_t num, unsigned int wt)
{
	return put_varint(e, ((uint64_t)num << 3) | wt);
}

static int put_fixed64(struct enc *e, uint32_t num, uint64_t v)
{
	int ret = put_tag(e, num, WT_I64);

	if (ret < 0)
		return ret;
	ret = enc_reserve(e, 8);
	if (ret < 0)
		return ret;
	for (unsigned int i = 0; i < 8; i++)
		e->b->data[e->b->len++] = (uint8_t)(v >> (8 * i));
	return 0;
}

/* A length-delimited field, written even when empty (repeated elements, map entries, oneof). */
static int put_len(struct enc *e, uint32_t num, const void *data, size_t len)
{
	int ret = put_tag(e, num, WT_LEN);

	if (ret < 0)
		return ret;
	ret = put_varint(e, len);
	if (ret < 0)
		return ret;
	ret = enc_reserve(e, len);
	if (ret < 0)
		return ret;
	if (len)
		memcpy(e->b->data + e->b->len, data, len);
	e->b->len += len;
	return 0;
}

/* Singular bytes field: omitted when empty. */
static int put_bytes_opt(struct enc *e, uint32_t num, const struct proto_bytes *v)
{
	return v->len ? put_len(e, num, v->data, v->len) : 0;
}

/* String field: must be UTF-8; omitted when empty unless always. */
static int put_string(struct enc *e, uint32_t num, const struct proto_bytes *v, bool always)
{
	if (!bytes_utf8(v))
		return -EINVAL;
	if (!v->len && !always)
		return 0;
	return put_len(e, num, v->data, v->len);
}

/* Embedded message: writes the tag and a one-byte length placeholder; nest_end fixes it. */
static int nest_begin(struct enc *e, uint32_t num, size_t *mark)
{
	int ret = put_tag(e, num, WT_LEN);

	if (ret < 0)
		return ret;
	ret = enc_reserve(e, 1);
	if (ret < 0)
		return ret;
	*mark = e->b->len++;
	return 0;
}

static int nest_end(struct enc *e, size_t mark)
{
	size_t len = e->b->len - mark - 1, k = varint_size(len);
	int ret;

	if (k > 1) {
		ret = enc_reserve(e, k - 1);
		if (ret < 0)
			return ret;
		memmove(e->b->data + mark + k, e->b->data + mark + 1, len);
		e->b->len += k - 1;
	}
	varint_write(e->b->data + mark, len);
	return 0;
}

static int put_map_entry(struct enc *e, uint32_t num, const struct proto_map_entry *m)
{
	size_t mark;
	int ret;

	ret = nest_begin(e, num, &mark);
	if (ret < 0)
		return ret;
	ret = put_string(e, 1, &m->key, true);
	if (ret < 0)
		return ret;
	ret = put_len(e, 2, m->value.data, m->value.len);
	if (ret < 0)
		return ret;
	return nest_end(e, mark);
}

/* Runs an encoder body; on failure out->len is restored, so out holds what it held before. */
static int enc_finish(struct enc *e, int ret)
{
	if (ret < 0)
		e->b->len = e->base;
	return ret;
}

int proto_encode_jwtsvid_request(const struct proto_jwtsvid_request *in, struct proto_buf *out)
{
	struct enc e = {out, out->len};
	int ret = 0;

	if (in->naudience > PROTO_MAX_REPEATED)
		return -E2BIG;
	for (size_t i = 0; i < in->naudience && ret == 0; i++)
		ret = put_string(&e, 1, &in->audience[i], true);
	if (ret == 0)
		ret = put_string(&e, 2, &in->spiffe_id, false);
	return enc_finish(&e, ret);
}

int proto_encode_validate_request(const struct proto_validate_request *in, struct proto_buf *out)
{
	struct enc e = {out, out->len};
	int ret;

	ret = put_string(&e, 1, &in->audience, false);
	if (ret == 0)
		ret = put_string(&e, 2, &in->svid, false);
	return enc_finish(&e, ret);
}

static int put_x509svid(struct enc *e, const struct proto_x509svid *s)
{
	size_t mark;
	int ret;

	ret = nest_begin(e, 1, &mark);
	if (ret == 0)
		ret = put_string(e, 1, &s->spiffe_id, false);
	if (ret == 0)
		ret = put_bytes_opt(e, 2, &s->x509_svid);
	if (ret == 0)
		ret = put_bytes_opt(e, 3, &s->x509_svid_key);
	if (ret == 0)
		ret = put_bytes_opt(e, 4, &s->bundle);
	if (ret == 0)
		ret = put_string(e, 5, &s->hint, false);
	if (ret == 0)
		ret = nest_end(e, mark);
	return ret;
}

int proto_encode_x509svid_response(const struct proto_x509svid_response *in, struct proto_buf *out)
{
	struct enc e = {out, out->len};
	int ret = 0;

	if (in->nsvids > PROTO_MAX_REPEATED || in->ncrl > PROTO_MAX_REPEATED ||
	    in->nfederated_bundles > PROTO_MAX_REPEATED)
		return -E2BIG;
	for (size_t i = 0; i < in->nsvids && ret == 0; i++)
		ret = put_x509svid(&e, &in->svids[i]);
	for (size_t i = 0; i < in->ncrl && ret == 0; i++)
		ret = put_len(&e, 2, in->crl[i].data, in->crl[i].len);
	for (size_t i = 0; i < in->nfederated_bundles && ret == 0; i++)
		ret = put_map_entry(&e, 3, &in->federated_bundles[i]);
	return enc_finish(&e, ret);
}

int proto_encode_x509bundles_response(const struct proto_x509bundles_response *in,
				      struct proto_buf *out)
{
	struct enc e = {out, out->len};
	int ret = 0;

	if (in->ncrl > PROTO_MAX_REPEATED || in->nbundles > PROTO_MAX_REPEATED)
		return -E2BIG;
	for (size_t i = 0; i < in->ncrl && ret == 0; i++)
		ret = put_len(&e, 1, in->crl[i].data, in->crl[i].len);
	for (size_t i = 0; i < in->nbundles && ret == 0; i++)
		ret = put_map_entry(&e, 2, &in->bundles[i]);
	return enc_finish(&e, ret);
}

int proto_encode_jwtsvid_response(const struct proto_jwtsvid_response *in, struct proto_buf *out)
{
	struct enc e = {out, out->len};
	int ret = 0;

	if (in->nsvids > PROTO_MAX_REPEATED)
		return -E2BIG;
	for (size_t i = 0; i < in->nsvids && ret == 0; i++) {
		const struct proto_jwtsvid *s = &in->svids[i];
		size_t mark;

		ret = nest_begin(&e, 1, &mark);
		if (ret == 0)
			ret = put_string(&e, 1, &s->spiffe_id, false);
		if (ret == 0)
			ret = put_string(&e, 2, &s->svid, false);
		if (ret == 0)
			ret = put_string(&e, 3, &s->hint, false);
		if (ret == 0)
			ret = nest_end(&e, mark);
	}
	return enc_finish(&e, ret);
}

int proto_encode_jwtbundles_response(const struct proto_jwtbundles_response *in,
				     struct proto_buf *out)
{
	struct enc e = {out, out->len};
	int ret = 0;

	if (in->nbundles > PROTO_MAX_REPEATED)
		return -E2BIG;
	for (size_t i = 0; i < in->nbundles && ret == 0; i++)
		ret = put_map_entry(&e, 1, &in->bundles[i]);
	return enc_finish(&e, ret);
}

/* ---- jansson -> google.protobuf.Struct ---- */

static int put_struct_body(struct enc *e, const json_t *obj, unsigned int depth);
static int put_list_body(struct enc *e, const json_t *arr, unsigned int depth);

/* The oneof member of a Value, always written (even null, false, 0 and ""). */
static int put_value_body(struct enc *e, const json_t *v, unsigned int depth)
{
	struct proto_bytes s;
	size_t mark;
	uint64_t u;
	double d;
	int ret;

	switch (json_typeof(v)) {
	case JSON_NULL:
		ret = put_tag(e, 1, WT_VARINT);
		return ret < 0 ? ret : put_varint(e, 0);
	case JSON_TRUE:
	case JSON_FALSE:
		ret = put_tag(e, 4, WT_VARINT);
		return ret < 0 ? ret : put_varint(e, json_is_true(v));
	case JSON_INTEGER:
	case JSON_REAL:
		d = json_number_value(v);
		memcpy(&u, &d, sizeof(u));
		return put_fixed64(e, 2, u);
	case JSON_STRING:
		s.data = (const uint8_t *)json_string_value(v);
		s.len = json_string_length(v);
		return put_string(e, 3, &s, true);
	case JSON_OBJECT:
		ret = nest_begin(e, 5, &mark);
		if (ret == 0)
			ret = put_struct_body(e, v, depth + 1);
		return ret < 0 ? ret : nest_end(e, mark);
	case JSON_ARRAY:
		ret = nest_begin(e, 6, &mark);
		if (ret == 0)
			ret = put_list_body(e, v, depth + 1);
		return ret < 0 ? ret : nest_end(e, mark);
	}
	return -EINVAL;
}

static int put_struct_body(struct enc *e, const json_t *obj, unsigned int depth)
{
	const char *key;
	size_t keylen;
	json_t *v;
	int ret;

	if (depth > PROTO_MAX_DEPTH)
		return -EINVAL;
	if (json_object_size(obj) > PROTO_MAX_REPEATED)
		return -E2BIG;
	json_object_keylen_foreach((json_t *)obj, key, keylen, v)
	{
		struct proto_bytes k = {(const uint8_t *)key, keylen};
		size_t entry, val;

		if (keylen && memchr(key, '\0', keylen))
			return -EINVAL; /* the decoder refuses these */
		ret = nest_begin(e, 1, &entry);
		if (ret == 0)
			ret = put_string(e, 1, &k, true);
		if (ret == 0)
			ret = nest_begin(e, 2, &val);
		if (ret == 0)
			ret = put_value_body(e, v, depth);
		if (ret == 0)
			ret = nest_end(e, val);
		if (ret == 0)
			ret = nest_end(e, entry);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int put_list_body(struct enc *e, const json_t *arr, unsigned int depth)
{
	size_t mark;
	int ret;

	if (depth > PROTO_MAX_DEPTH)
		return -EINVAL;
	if (json_array_size(arr) > PROTO_MAX_REPEATED)
		return -E2BIG;
	for (size_t i = 0; i < json_array_size(arr); i++) {
		ret = nest_begin(e, 1, &mark);
		if (ret == 0)
			ret = put_value_body(e, json_array_get(arr, i), depth);
		if (ret == 0)
			ret = nest_end(e, mark);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int proto_encode_validate_response(const char *spiffe_id, const json_t *claims,
				   struct proto_buf *out)
{
	struct enc e = {out, out->len};
	struct proto_bytes id = {(const uint8_t *)spiffe_id, spiffe_id ? strlen(spiffe_id) : 0};
	size_t mark;
	int ret;

	if (claims && !json_is_object(claims))
		return -EINVAL;
	ret = put_string(&e, 1, &id, false);
	if (ret == 0 && claims) {
		ret = nest_begin(&e, 2, &mark);
		if (ret == 0)
			ret = put_struct_body(&e, claims, 1);
		if (ret == 0)
			ret = nest_end(&e, mark);
	}
	return enc_finish(&e, ret);
}
