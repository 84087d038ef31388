/*
 * config.h - attestd's YAML configuration (DESIGN.md §7), parsed with libyaml.
 * Every key is checked: unknown keys, wrong types and bad values are errors that name the key
 * path and the reason. Keys that belong to capabilities this build does not have yet are
 * rejected with a message saying so, never silently ignored. With no file, the embedded
 * defaults (config_defaults) apply.
 */
#ifndef DAEMON_CONFIG_H
#define DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/peer.h"
#include "daemon/log.h"

#define CONFIG_MAX_FILE_SIZE   (1u << 20) /* bytes */
#define CONFIG_MAX_DEPTH       16
#define CONFIG_SOCKET_PATH_MAX 108 /* sizeof(sun_path) */
#define CONFIG_PATH_MAX	       4096
#define CONFIG_NAME_MAX	       256
#define CONFIG_ERR_MAX	       256

struct config {
	char trust_domain[CONFIG_NAME_MAX];		/* trust_domain: example.org */
	char socket_path[CONFIG_SOCKET_PATH_MAX];	/* socket: /run/attestd/agent.sock */
	char admin_socket_path[CONFIG_SOCKET_PATH_MAX]; /* admin_socket: /run/attestd/admin.sock */
	char state_dir[CONFIG_PATH_MAX];		/* state_dir: /var/lib/attestd */
	enum log_level log_level;			/* log: {level: info} */
	enum peer_backend peer_backend;			/* peer: {backend: auto} */
	bool require_race_free;				/* peer: {require_race_free: false} */
	char bpf_pin_dir[CONFIG_PATH_MAX];		/* peer: {pin_dir: /sys/fs/bpf/attestd} */
	uint32_t audit_entries;				/* audit: {entries: 4096} */
	uint32_t worker_threads;			/* workers: {threads: 2} (1..64) */
	bool unix_enabled;				/* attestors: {unix: {enabled: true}} */
	uint64_t hash_size_limit; /* attestors.unix.hash_size_limit: 0 = none */
};

/* Fills *out with the embedded defaults. */
void config_defaults(struct config *out);

/*
 * Parses YAML text into *out, starting from the defaults. `name` names the input in errors
 * (e.g. the file path). Returns 0, or -EINVAL / -EPROTO with err filled like
 * "/etc/attestd.yaml: peer.backend: unknown backend \"bfp\" (expected auto, lsm, fexit, ...)".
 */
int config_parse(const char *yaml, size_t len, const char *name, struct config *out,
		 char err[CONFIG_ERR_MAX]);

/* Reads and parses a file (at most CONFIG_MAX_FILE_SIZE bytes). -ENOENT etc. on I/O errors. */
int config_load_file(const char *path, struct config *out, char err[CONFIG_ERR_MAX]);

/* "90s", "5m", "1h", "2h30m", "250ms" -> milliseconds. -EINVAL on anything else or overflow. */
int config_parse_duration_ms(const char *text, uint64_t *out_ms);

/* The embedded defaults as a YAML document (for `attestd --print-defaults` and the README). */
const char *config_defaults_yaml(void);

#endif /* DAEMON_CONFIG_H */
