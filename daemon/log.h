/*
 * log.h - structured logging: one JSON object per line on stderr (or any fd).
 *   log_info(lg, "kubelet: fetched pod list", "pods", n, "ms", ms);
 * A message, then up to LOG_MAX_KV key/value pairs; a value may be any integer type, a
 * string (NULL prints null), a double or a bool. The struct log is owned by the caller
 * (daemon/main.c); there is no global logger.
 */
#ifndef DAEMON_LOG_H
#define DAEMON_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level {
	LOG_DEBUG = 0,
	LOG_INFO,
	LOG_WARN,
	LOG_ERROR
};

struct log {
	enum log_level min_level;
	int fd; /* usually STDERR_FILENO */
};

#define LOG_MAX_KV 12

enum log_kv_type {
	LOG_KV_INT,
	LOG_KV_UINT,
	LOG_KV_STR,
	LOG_KV_DOUBLE,
	LOG_KV_BOOL
};

struct log_kv {
	const char *key;
	enum log_kv_type type;
	union {
		long long i;
		unsigned long long u;
		const char *s;
		double d;
		bool b;
	};
};

/* "debug" ... "error"; -EINVAL for anything else. */
int log_level_from_name(const char *name, enum log_level *out);
const char *log_level_name(enum log_level level);

void log_init(struct log *lg, enum log_level min_level, int fd);
bool log_enabled(const struct log *lg, enum log_level level);
/* Writes one line; kv has n entries. Never fails visibly (logging must not break the daemon). */
void log_emit(const struct log *lg, enum log_level level, const char *msg, const struct log_kv *kv,
	      int n);

/* ---- typed key/value pairs: _Generic picks a constructor, so only that one sees v ---- */
static inline struct log_kv log_kv_i_(const char *k, long long v)
{
	return (struct log_kv){.key = k, .type = LOG_KV_INT, .i = v};
}
static inline struct log_kv log_kv_u_(const char *k, unsigned long long v)
{
	return (struct log_kv){.key = k, .type = LOG_KV_UINT, .u = v};
}
static inline struct log_kv log_kv_d_(const char *k, double v)
{
	return (struct log_kv){.key = k, .type = LOG_KV_DOUBLE, .d = v};
}
static inline struct log_kv log_kv_b_(const char *k, bool v)
{
	return (struct log_kv){.key = k, .type = LOG_KV_BOOL, .b = v};
}
static inline struct log_kv log_kv_s_(const char *k, const char *v)
{
	return (struct log_kv){.key = k, .type = LOG_KV_STR, .s = v};
}
#define LOG_KV_(k, v)                            \
	_Generic((v), _Bool                      \
		 : log_kv_b_, char               \
		 : log_kv_i_, signed char        \
		 : log_kv_i_, short              \
		 : log_kv_i_, int                \
		 : log_kv_i_, long               \
		 : log_kv_i_, long long          \
		 : log_kv_i_, unsigned char      \
		 : log_kv_u_, unsigned short     \
		 : log_kv_u_, unsigned int       \
		 : log_kv_u_, unsigned long      \
		 : log_kv_u_, unsigned long long \
		 : log_kv_u_, float              \
		 : log_kv_d_, double             \
		 : log_kv_d_, default            \
		 : log_kv_s_)(k, v)

#define LOG_PAIRS_0()		    (struct log_kv[1]){{0}}, 0
#define LOG_PAIRS_2(k1, v1)	    (struct log_kv[]){LOG_KV_(k1, v1)}, 1
#define LOG_PAIRS_4(k1, v1, k2, v2) (struct log_kv[]){LOG_KV_(k1, v1), LOG_KV_(k2, v2)}, 2
#define LOG_PAIRS_6(k1, v1, k2, v2, k3, v3) \
	(struct log_kv[]){LOG_KV_(k1, v1), LOG_KV_(k2, v2), LOG_KV_(k3, v3)}, 3
#define LOG_PAIRS_8(k1, v1, k2, v2, k3, v3, k4, v4) \
	(struct log_kv[]){LOG_KV_(k1, v1), LOG_KV_(k2, v2), LOG_KV_(k3, v3), LOG_KV_(k4, v4)}, 4
#define LOG_PAIRS_10(k1, v1, k2, v2, k3, v3, k4, v4, k5, v5)                                  \
	(struct log_kv[]){LOG_KV_(k1, v1), LOG_KV_(k2, v2), LOG_KV_(k3, v3), LOG_KV_(k4, v4), \
			  LOG_KV_(k5, v5)},                                                   \
		5
#define LOG_PAIRS_12(k1, v1, k2, v2, k3, v3, k4, v4, k5, v5, k6, v6)          \
	(struct log_kv[]){LOG_KV_(k1, v1), LOG_KV_(k2, v2), LOG_KV_(k3, v3),  \
			  LOG_KV_(k4, v4), LOG_KV_(k5, v5), LOG_KV_(k6, v6)}, \
		6
#define LOG_PAIRS_14(k1, v1, k2, v2, k3, v3, k4, v4, k5, v5, k6, v6, k7, v7)                  \
	(struct log_kv[]){LOG_KV_(k1, v1), LOG_KV_(k2, v2), LOG_KV_(k3, v3), LOG_KV_(k4, v4), \
			  LOG_KV_(k5, v5), LOG_KV_(k6, v6), LOG_KV_(k7, v7)},                 \
		7
#define LOG_PAIRS_16(k1, v1, k2, v2, k3, v3, k4, v4, k5, v5, k6, v6, k7, v7, k8, v8)           \
	(struct log_kv[]){LOG_KV_(k1, v1), LOG_KV_(k2, v2), LOG_KV_(k3, v3), LOG_KV_(k4, v4),  \
			  LOG_KV_(k5, v5), LOG_KV_(k6, v6), LOG_KV_(k7, v7), LOG_KV_(k8, v8)}, \
		8
/* Counts the key/value arguments (0, 2, 4, ...). __VA_OPT__ is supported by gcc >= 8 and
 * clang >= 6 in every C mode. */
#define LOG_NARGS_(...)                                                                          \
	LOG_NARGS_I_(_ __VA_OPT__(, ) __VA_ARGS__, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, \
		     3, 2, 1, 0)
#define LOG_NARGS_I_(_0, _1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, N, \
		     ...)                                                                          \
	N
#define LOG_CAT_(a, b)	 LOG_CAT_I_(a, b)
#define LOG_CAT_I_(a, b) a##b
#define LOG_PAIRS_(...)	 LOG_CAT_(LOG_PAIRS_, LOG_NARGS_(__VA_ARGS__))(__VA_ARGS__)

#define log_at_(lg, level, msg, ...)                                             \
	do {                                                                     \
		if (log_enabled((lg), (level)))                                  \
			log_emit((lg), (level), (msg), LOG_PAIRS_(__VA_ARGS__)); \
	} while (0)

/* log_info(lg, "msg") or log_info(lg, "msg", "key", value, ...) */
#define log_debug(lg, ...) log_at_(lg, LOG_DEBUG, __VA_ARGS__)
#define log_info(lg, ...)  log_at_(lg, LOG_INFO, __VA_ARGS__)
#define log_warn(lg, ...)  log_at_(lg, LOG_WARN, __VA_ARGS__)
#define log_error(lg, ...) log_at_(lg, LOG_ERROR, __VA_ARGS__)

#endif /* DAEMON_LOG_H */
