/*
 * exe_hash.h - SHA-256 of the executable a peer ran at connect time, never of a guess.
 * exe_hash_open (loop thread) opens only a file whose (dev, ino) match the captured ones;
 * exe_hash_sha256_fd (worker thread, no shared state) hashes that fd and reports a file that
 * changed while hashing; the LRU cache (loop thread only, no locks) is keyed by
 * (dev, ino, size, mtime, ctime) so a rewritten file is hashed again.
 */
#ifndef ATTEST_EXE_HASH_H
#define ATTEST_EXE_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "attest/peer.h"

#define EXE_HASH_HEX_LEN   64
#define EXE_HASH_CACHE_MAX (1u << 20) /* largest capacity accepted */
#define EXE_HASH_PROC_ROOT "/proc"

struct exe_file_key {
	dev_t dev;
	ino_t ino;
	off_t size;
	int64_t mtime_ns;
	int64_t ctime_ns; /* utimes() can restore mtime, not ctime: a rewrite always shows */
};

/*
 * Loop thread. Opens the captured executable: /proc/<pid>/exe if it still refers to the same
 * (dev, ino), else peer->exe_path if that names a regular file with the same (dev, ino)
 * (checked with lstat before opening and fstat after; opened O_NONBLOCK|O_NOFOLLOW so a FIFO or
 * symlink swapped in cannot block or redirect). Returns 0 with an O_RDONLY|O_CLOEXEC fd (caller
 * closes) and its key; -ENOENT if nothing was found (exe unknown, process gone, no path);
 * -ESTALE if a file exists but its (dev, ino) differ (replaced since connect). err says what was
 * tried and why it failed.
 */
int exe_hash_open(const struct peer_identity *peer, int *fd_out, struct exe_file_key *key_out,
		  char err[256]);

/*
 * Worker thread, pure. Hashes fd from offset 0 with pread into hex (64 lowercase hex digits +
 * NUL). -EFBIG if the file is larger than size_limit (0 = no limit); -EAGAIN if the file's size
 * or mtime differ from key (before or after hashing) or fewer/more bytes than key->size were read
 * (it changed while hashing: the caller may reopen and retry); -EIO on read errors.
 */
int exe_hash_sha256_fd(int fd, const struct exe_file_key *key, uint64_t size_limit, char hex[65],
		       char err[256]);

/* LRU cache of hashes, fixed capacity, keyed by exe_file_key. Loop thread only. */
struct exe_hash_cache;
/* -EINVAL for capacity 0 or > EXE_HASH_CACHE_MAX, -ENOMEM. Caller frees. */
int exe_hash_cache_new(size_t capacity, struct exe_hash_cache **out);
void exe_hash_cache_free(struct exe_hash_cache *c);
/* True and hex filled on a hit (the entry becomes most recently used). */
bool exe_hash_cache_get(struct exe_hash_cache *c, const struct exe_file_key *key, char hex[65]);
/* Inserts or refreshes; evicts the least recently used entry when full. -EINVAL unless hex is 64
 * lowercase hex digits. */
int exe_hash_cache_put(struct exe_hash_cache *c, const struct exe_file_key *key,
		       const char hex[65]);
/* Entries currently held. */
size_t exe_hash_cache_size(const struct exe_hash_cache *c);

#endif /* ATTEST_EXE_HASH_H */
