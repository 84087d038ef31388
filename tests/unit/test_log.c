/* Unit tests for daemon/log.c: output is written to a memfd and parsed back with jansson. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "daemon/log.h"

#define TEST_OUT_MAX (1 << 20)

struct sink {
	int fd;
	char out[TEST_OUT_MAX];
	size_t len;
};

static int sink_setup(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->fd = memfd_create("test_log", MFD_CLOEXEC);
	assert_true(s->fd >= 0);
	*state = s;
	return 0;
}

static int sink_teardown(void **state)
{
	struct sink *s = *state;

	close(s->fd);
	free(s);
	return 0;
}

/* Reads everything written so far, NUL-terminated, and empties the memfd. */
static const char *sink_read(struct sink *s)
{
	off_t end = lseek(s->fd, 0, SEEK_CUR);

	assert_true(end >= 0 && end < TEST_OUT_MAX);
	assert_int_equal(pread(s->fd, s->out, (size_t)end, 0), end);
	s->out[end] = '\0';
	s->len = (size_t)end;
	assert_int_equal(ftruncate(s->fd, 0), 0);
	assert_int_equal(lseek(s->fd, 0, SEEK_SET), 0);
	return s->out;
}

static size_t count_lines(const char *text)
{
	size_t n = 0;

	for (const char *p = text; *p; p++)
		n += *p == '\n';
	return n;
}

/* Parses the only line written so far; checks it is one line of valid JSON. */
static json_t *sink_one(struct sink *s)
{
	json_error_t jerr;
	const char *text = sink_read(s);
	json_t *obj;

	assert_int_equal(count_lines(text), 1);
	assert_true(s->len > 0 && text[s->len - 1] == '\n');
	for (size_t i = 0; i + 1 < s->len; i++)
		assert_true((unsigned char)text[i] >= 0x20); /* raw control bytes never appear */
	obj = json_loads(text, 0, &jerr);
	if (!obj)
		fail_msg("invalid JSON (%s): %.200s", jerr.text, text);
	assert_true(json_is_object(obj));
	return obj;
}

static void test_types(void **state)
{
	struct sink *s = *state;
	struct log lg;
	json_t *o;
	const char *t;
	bool yes = true, no = false; /* the literals true/false are ints in C17 */

	log_init(&lg, LOG_DEBUG, s->fd);
	log_info(&lg, "max", "big", (unsigned long long)UINT64_MAX);
	/* jansson cannot hold UINT64_MAX in json_int_t; check the raw text instead */
	assert_non_null(strstr(sink_read(s), ",\"big\":18446744073709551615}\n"));
	log_info(&lg, "hello", "n", -42, "u", 7u, "s", "x", "b", yes, "d", 1.5, "min",
		 (long long)INT64_MIN, "f", no);
	o = sink_one(s);
	assert_string_equal(json_string_value(json_object_get(o, "level")), "info");
	assert_string_equal(json_string_value(json_object_get(o, "msg")), "hello");
	assert_int_equal(json_integer_value(json_object_get(o, "n")), -42);
	assert_int_equal(json_integer_value(json_object_get(o, "u")), 7);
	assert_string_equal(json_string_value(json_object_get(o, "s")), "x");
	assert_true(json_is_true(json_object_get(o, "b")));
	assert_true(json_is_false(json_object_get(o, "f")));
	assert_true(json_is_real(json_object_get(o, "d")));
	assert_true(json_real_value(json_object_get(o, "d")) == 1.5);
	assert_int_equal(json_integer_value(json_object_get(o, "min")), INT64_MIN);
	assert_null(json_object_get(o, "truncated"));
	/* 2026-11-22T21:40:01.123Z */
	t = json_string_value(json_object_get(o, "time"));
	assert_non_null(t);
	assert_int_equal(strlen(t), 24);
	assert_true(t[4] == '-' && t[7] == '-' && t[10] == 'T' && t[13] == ':' && t[16] == ':' &&
		    t[19] == '.' && t[23] == 'Z');
	/* key order: time, level, msg first */
	assert_true(strncmp(s->out, "{\"time\":\"", 9) == 0);
	assert_true(strstr(s->out, "\"level\"") < strstr(s->out, "\"msg\""));
	json_decref(o);
}

static void test_null_and_nonfinite(void **state)
{
	struct sink *s = *state;
	struct log lg;
	const char *nul = NULL;
	json_t *o;

	log_init(&lg, LOG_DEBUG, s->fd);
	log_warn(&lg, "edge", "nul", nul, "nan", NAN, "inf", -INFINITY, "tenth", 0.1, "e", 1e300);
	o = sink_one(s);
	assert_string_equal(json_string_value(json_object_get(o, "level")), "warn");
	assert_true(json_is_null(json_object_get(o, "nul")));
	assert_true(json_is_null(json_object_get(o, "nan")));
	assert_true(json_is_null(json_object_get(o, "inf")));
	assert_true(json_real_value(json_object_get(o, "tenth")) == 0.1);
	assert_non_null(strstr(s->out, "\"tenth\":0.1,"));
	assert_true(json_real_value(json_object_get(o, "e")) == 1e300);
	json_decref(o);
}

struct escape_case {
	const char *name;
	const char *in;
	const char *decoded; /* what a JSON parser must read back */
	const char *raw;     /* a substring the raw line must contain, or NULL */
};

static const struct escape_case escape_cases[] = {
	{"plain", "abc", "abc", "\"abc\""},
	{"quote", "a\"b", "a\"b", "\"a\\\"b\""},
	{"backslash", "a\\b", "a\\b", "\"a\\\\b\""},
	{"newline", "a\nb\r\t", "a\nb\r\t", "\"a\\nb\\r\\t\""},
	{"control", "\x01\x1f", "\x01\x1f", "\"\\u0001\\u001f\""},
	{"del", "\x7f", "\x7f", "\"\\u007f\""},
	{"utf8", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	 "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", NULL},
	{"invalid byte",
	 "a\xff"
	 "b",
	 "a\xef\xbf\xbd"
	 "b",
	 "\"a\\ufffdb\""},
	{"overlong", "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd", NULL},
	{"surrogate", "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", NULL},
	{"cut sequence", "x\xe2\x82", "x\xef\xbf\xbd\xef\xbf\xbd", NULL},
	{"above max", "\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", NULL},
	{"lone continuation", "\x80", "\xef\xbf\xbd", NULL},
	{"empty", "", "", "\"v\":\"\""},
};

static void test_escaping(void **state)
{
	struct sink *s = *state;
	struct log lg;

	log_init(&lg, LOG_DEBUG, s->fd);
	for (size_t i = 0; i < sizeof(escape_cases) / sizeof(escape_cases[0]); i++) {
		const struct escape_case *c = &escape_cases[i];
		json_t *o;

		log_info(&lg, c->in, "v", c->in);
		o = sink_one(s);
		if (strcmp(json_string_value(json_object_get(o, "v")), c->decoded) != 0)
			fail_msg("%s: value decoded wrong: %s", c->name, s->out);
		if (strcmp(json_string_value(json_object_get(o, "msg")), c->decoded) != 0)
			fail_msg("%s: msg decoded wrong: %s", c->name, s->out);
		if (c->raw && !strstr(s->out, c->raw))
			fail_msg("%s: raw %s not in %s", c->name, c->raw, s->out);
		json_decref(o);
	}
}

static void test_escaped_key(void **state)
{
	struct sink *s = *state;
	struct log lg;
	json_t *o;

	log_init(&lg, LOG_DEBUG, s->fd);
	log_info(&lg, "k", "we\"ird\n", 1);
	o = sink_one(s);
	assert_int_equal(json_integer_value(json_object_get(o, "we\"ird\n")), 1);
	json_decref(o);
}

static void test_levels(void **state)
{
	struct sink *s = *state;
	struct log lg;
	const char *text;

	log_init(&lg, LOG_WARN, s->fd);
	assert_false(log_enabled(&lg, LOG_DEBUG));
	assert_false(log_enabled(&lg, LOG_INFO));
	assert_true(log_enabled(&lg, LOG_WARN));
	assert_true(log_enabled(&lg, LOG_ERROR));
	log_debug(&lg, "d");
	log_info(&lg, "i", "k", 1);
	log_warn(&lg, "w");
	log_error(&lg, "e", "k", "v");
	text = sink_read(s);
	assert_int_equal(count_lines(text), 2);
	assert_non_null(strstr(text, "\"level\":\"warn\",\"msg\":\"w\"}\n"));
	assert_non_null(strstr(text, "\"level\":\"error\",\"msg\":\"e\",\"k\":\"v\"}\n"));
	assert_null(strstr(text, "\"msg\":\"i\""));
	/* a direct log_emit below the minimum level writes nothing either */
	log_emit(&lg, LOG_INFO, "x", NULL, 0);
	assert_int_equal(strlen(sink_read(s)), 0);
	/* no logger or no fd: nothing, and no crash */
	assert_false(log_enabled(NULL, LOG_ERROR));
	log_init(&lg, LOG_DEBUG, -1);
	log_error(&lg, "nowhere");
}

static void test_level_names(void **state)
{
	static const struct {
		const char *name;
		int rc;
		enum log_level level;
	} cases[] = {
		{"debug", 0, LOG_DEBUG}, {"info", 0, LOG_INFO}, {"warn", 0, LOG_WARN},
		{"error", 0, LOG_ERROR}, {"INFO", -EINVAL, 0},	{"warning", -EINVAL, 0},
		{"", -EINVAL, 0},	 {"inf", -EINVAL, 0},	{NULL, -EINVAL, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum log_level l = LOG_ERROR;

		assert_int_equal(log_level_from_name(cases[i].name, &l), cases[i].rc);
		if (cases[i].rc == 0) {
			assert_int_equal(l, cases[i].level);
			assert_string_equal(log_level_name(l), cases[i].name);
		}
	}
	assert_string_equal(log_level_name((enum log_level)99), "unknown");
}

static void test_long_value_truncated(void **state)
{
	struct sink *s = *state;
	struct log lg;
	size_t n = 20000;
	char *big = malloc(n + 1);
	const char *v;
	json_t *o;

	assert_non_null(big);
	/* two-byte characters, so a cut in the middle of one would be invalid UTF-8 */
	for (size_t i = 0; i + 1 < n; i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	big[n] = '\0';
	log_init(&lg, LOG_DEBUG, s->fd);
	log_info(&lg, big, "big", big, "after", 5);
	o = sink_one(s);
	assert_true(s->len <= 8192);
	v = json_string_value(json_object_get(o, "big"));
	assert_non_null(v);
	assert_true(strlen(v) > 1000 && strlen(v) < n);
	assert_non_null(strstr(v, "...[truncated]"));
	assert_true(strlen(json_string_value(json_object_get(o, "msg"))) < n);
	assert_true(json_is_true(json_object_get(o, "truncated")));
	json_decref(o);

	/* a value that needs escaping everywhere expands 6x */
	memset(big, 1, n);
	log_error(&lg, "ctl", "a", big, "b", big, "c", big, "d", 1);
	o = sink_one(s);
	assert_true(s->len <= 8192);
	assert_true(json_is_true(json_object_get(o, "truncated")));
	json_decref(o);
	free(big);
}

static void test_many_pairs(void **state)
{
	struct sink *s = *state;
	struct log lg;
	struct log_kv kv[LOG_MAX_KV + 3];
	json_t *o;

	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
		static const char *const keys[] = {"k0",  "k1",	 "k2",	"k3",  "k4",
						   "k5",  "k6",	 "k7",	"k8",  "k9",
						   "k10", "k11", "k12", "k13", "k14"};
		kv[i] = (struct log_kv){.key = keys[i], .type = LOG_KV_INT, .i = (long long)i};
	}
	log_init(&lg, LOG_DEBUG, s->fd);
	log_emit(&lg, LOG_INFO, "many", kv, (int)(sizeof(kv) / sizeof(kv[0])));
	o = sink_one(s);
	assert_int_equal(json_integer_value(json_object_get(o, "k11")), 11);
	assert_null(json_object_get(o, "k12"));
	assert_true(json_is_true(json_object_get(o, "truncated")));
	json_decref(o);

	log_info(&lg, "eight", "a", 1, "b", 2, "c", 3, "d", 4, "e", 5, "f", 6, "g", 7, "h", 8);
	o = sink_one(s);
	assert_int_equal(json_object_size(o), 3 + 8);
	json_decref(o);
}

static void test_errno_preserved(void **state)
{
	struct sink *s = *state;
	struct log lg;

	log_init(&lg, LOG_DEBUG, s->fd);
	errno = ENOENT;
	log_info(&lg, "x");
	assert_int_equal(errno, ENOENT);
	log_init(&lg, LOG_DEBUG, 9999); /* EBADF inside */
	errno = EAGAIN;
	log_info(&lg, "x");
	assert_int_equal(errno, EAGAIN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_types, sink_setup, sink_teardown),
		cmocka_unit_test_setup_teardown(test_null_and_nonfinite, sink_setup, sink_teardown),
		cmocka_unit_test_setup_teardown(test_escaping, sink_setup, sink_teardown),
		cmocka_unit_test_setup_teardown(test_escaped_key, sink_setup, sink_teardown),
		cmocka_unit_test_setup_teardown(test_levels, sink_setup, sink_teardown),
		cmocka_unit_test(test_level_names),
		cmocka_unit_test_setup_teardown(test_long_value_truncated, sink_setup,
						sink_teardown),
		cmocka_unit_test_setup_teardown(test_many_pairs, sink_setup, sink_teardown),
		cmocka_unit_test_setup_teardown(test_errno_preserved, sink_setup, sink_teardown),
	};

	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
