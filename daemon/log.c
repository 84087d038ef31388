/*
 * log.c - structured logging: one JSON object per line, built in a stack buffer and written
 * with one write(2). No allocation and no shared mutable state, so any thread may log.
 */
#include "daemon/log.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX	 8192 /* bytes per line, including the final newline */
#define LOG_STR_MAX	 4096 /* escaped bytes per string value, so one value cannot starve others */
#define LOG_TAIL_RESERVE 32   /* room kept for ,"truncated":true}\n */
#define LOG_TRUNC_MARK	 "...[truncated]"
#define LOG_TRUNC_LEN	 (sizeof(LOG_TRUNC_MARK) - 1)

static const char *const level_names[] = {
	[LOG_DEBUG] = "debug",
	[LOG_INFO] = "info",
	[LOG_WARN] = "warn",
	[LOG_ERROR] = "error",
};

struct line {
	char buf[LOG_LINE_MAX];
	size_t len;
	size_t limit; /* content limit; the tail reserve lies beyond it */
	bool truncated;
};

int log_level_from_name(const char *name, enum log_level *out)
{
	if (!name)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *log_level_name(enum log_level level)
{
	if ((unsigned)level >= sizeof(level_names) / sizeof(level_names[0]))
		return "unknown";
	return level_names[level];
}

void log_init(struct log *lg, enum log_level min_level, int fd)
{
	lg->min_level = min_level;
	lg->fd = fd;
}

bool log_enabled(const struct log *lg, enum log_level level)
{
	return lg && lg->fd >= 0 && level >= lg->min_level;
}

static bool line_put(struct line *l, const char *s, size_t n)
{
	if (n > l->limit - l->len)
		return false;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
	return true;
}

static bool line_puts(struct line *l, const char *s)
{
	return line_put(l, s, strlen(s));
}

/*
 * Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if it is invalid
 * (overlong forms, surrogates and code points above U+10FFFF are invalid).
 */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/*
 * Appends s as a JSON string. If it does not fit in the line (or in LOG_STR_MAX), it is cut at
 * a character boundary and ends with LOG_TRUNC_MARK. Returns false only if not even the quotes
 * and the marker fit.
 */
static bool line_put_str(struct line *l, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	size_t cap = l->limit - l->len;

	if (cap > LOG_STR_MAX)
		cap = LOG_STR_MAX;
	if (cap < 2 + LOG_TRUNC_LEN)
		return false;
	/* room for the escaped text, keeping space for the marker and the closing quote */
	size_t room = cap - 2 - LOG_TRUNC_LEN;

	l->buf[l->len++] = '"';
	while (n > 0) {
		char esc[8];
		const char *out = esc;
		size_t outlen;
		size_t used = 1;
		unsigned char c = *p;

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			outlen = 2;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			esc[0] = '\\';
			esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
			outlen = 2;
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			outlen = 6;
		} else if (c < 0x80) {
			esc[0] = (char)c;
			outlen = 1;
		} else {
			used = utf8_seq_len(p, n);
			if (used == 0) {
				used = 1;
				out = "\\ufffd";
				outlen = 6;
			} else {
				out = (const char *)p;
				outlen = used;
			}
		}
		/* the last piece may use the marker's space if nothing follows it */
		if (outlen > room && !(used == n && outlen <= room + LOG_TRUNC_LEN))
			break;
		memcpy(l->buf + l->len, out, outlen);
		l->len += outlen;
		room -= outlen < room ? outlen : room;
		p += used;
		n -= used;
	}
	if (n > 0) {
		memcpy(l->buf + l->len, LOG_TRUNC_MARK, LOG_TRUNC_LEN);
		l->len += LOG_TRUNC_LEN;
		l->truncated = true;
	}
	l->buf[l->len++] = '"';
	return true;
}

static bool line_put_double(struct line *l, double d)
{
	char num[40];

	if (!isfinite(d))
		return line_puts(l, "null");
	snprintf(num, sizeof(num), "%.15g", d);
	if (strtod(num, NULL) != d)
		snprintf(num, sizeof(num), "%.17g", d);
	return line_puts(l, num);
}

static bool line_put_kv(struct line *l, const struct log_kv *kv)
{
	char num[32];

	if (!line_puts(l, ",") || !line_put_str(l, kv->key ? kv->key : "") || !line_puts(l, ":"))
		return false;
	switch (kv->type) {
	case LOG_KV_INT:
		snprintf(num, sizeof(num), "%lld", kv->i);
		return line_puts(l, num);
	case LOG_KV_UINT:
		snprintf(num, sizeof(num), "%llu", kv->u);
		return line_puts(l, num);
	case LOG_KV_DOUBLE:
		return line_put_double(l, kv->d);
	case LOG_KV_BOOL:
		return line_puts(l, kv->b ? "true" : "false");
	case LOG_KV_STR:
		return kv->s ? line_put_str(l, kv->s) : line_puts(l, "null");
	}
	return line_puts(l, "null");
}

static void line_put_time(struct line *l)
{
	struct timespec ts;
	struct tm tm;
	char t[64];

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || !gmtime_r(&ts.tv_sec, &tm)) {
		line_puts(l, "null");
		return;
	}
	snprintf(t, sizeof(t), "\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\"", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	line_puts(l, t);
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		buf += w;
		len -= (size_t)w;
	}
}

void log_emit(const struct log *lg, enum log_level level, const char *msg, const struct log_kv *kv,
	      int n)
{
	struct line l;
	int saved_errno = errno;

	if (!log_enabled(lg, level))
		return;
	l.len = 0;
	l.limit = sizeof(l.buf) - LOG_TAIL_RESERVE;
	l.truncated = false;

	/* the fixed head always fits: time, level and the start of msg are short */
	line_puts(&l, "{\"time\":");
	line_put_time(&l);
	line_puts(&l, ",\"level\":");
	line_put_str(&l, log_level_name(level));
	line_puts(&l, ",\"msg\":");
	/* leave the message at most half the line, so the key/value pairs show too */
	l.limit = sizeof(l.buf) / 2;
	line_put_str(&l, msg ? msg : "");
	l.limit = sizeof(l.buf) - LOG_TAIL_RESERVE;

	if (n > LOG_MAX_KV) {
		n = LOG_MAX_KV;
		l.truncated = true;
	}
	for (int i = 0; kv && i < n; i++) {
		size_t mark = l.len;

		if (!line_put_kv(&l, &kv[i])) {
			l.len = mark; /* drop the partial pair and all that follow */
			l.truncated = true;
			break;
		}
	}
	l.limit = sizeof(l.buf);
	if (l.truncated)
		line_puts(&l, ",\"truncated\":true");
	line_puts(&l, "}\n");
	write_all(lg->fd, l.buf, l.len);
	errno = saved_errno;
}
