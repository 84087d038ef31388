// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * exe_hash.c - open the connect-time executable by (dev, ino), hash it, cache the result.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "attest/exe_hash.h"

#define EXE_HASH_CHUNK	 (64u * 1024)
#define EXE_HASH_ERR_LEN 256
#define EXE_HASH_NONE	 UINT32_MAX

#define EXE_HASH_DELETED_SUFFIX " (deleted)"

/* ---- opening ------------------------------------------------------------------------------ */

static void exe_key_from_stat(const struct stat *st, struct exe_file_key *key)
{
	key->dev = st->st_dev;
	key->ino = st->st_ino;
	key->size = st->st_size;
	key->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	key->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

static bool exe_matches(const struct peer_identity *peer, const struct stat *st)
{
	return S_ISREG(st->st_mode) && st->st_dev == peer->exe_dev &&
	       (uint64_t)st->st_ino == peer->exe_ino;
}

/*
 * Tries one candidate. 0 with *fd_out set on a match; -ESTALE if a file exists but is not the
 * captured one; another negative errno if it cannot be opened. why receives a short reason.
 */
static int exe_try(const struct peer_identity *peer, const char *path, bool via_proc, int *fd_out,
		   struct stat *st, char *why, size_t why_len)
{
	int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	int fd = -1, ret;

	if (!via_proc) {
		/* Look before opening: never open a FIFO/device or a different file. */
		if (lstat(path, st) < 0) {
			ret = -errno;
			snprintf(why, why_len, "%s", strerror(errno));
			goto out;
		}
		if (!exe_matches(peer, st)) {
			ret = -ESTALE;
			snprintf(why, why_len, "%s (dev %u:%u ino %llu)",
				 S_ISREG(st->st_mode) ? "different file" : "not a regular file",
				 major(st->st_dev), minor(st->st_dev),
				 (unsigned long long)st->st_ino);
			goto out;
		}
		flags |= O_NOFOLLOW;
	}
	fd = open(path, flags);
	if (fd < 0) {
		ret = -errno;
		snprintf(why, why_len, "open: %s", strerror(errno));
		goto out;
	}
	if (fstat(fd, st) < 0) {
		ret = -errno;
		snprintf(why, why_len, "fstat: %s", strerror(errno));
		goto out;
	}
	if (!exe_matches(peer, st)) {
		ret = -ESTALE;
		snprintf(why, why_len, "different file (dev %u:%u ino %llu)", major(st->st_dev),
			 minor(st->st_dev), (unsigned long long)st->st_ino);
		goto out;
	}
	*fd_out = fd;
	fd = -1;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

int exe_hash_open(const struct peer_identity *peer, int *fd_out, struct exe_file_key *key_out,
		  char err[256])
{
	char proc_path[64], why_proc[96] = "not tried", why_path[96] = "no path captured";
	bool stale = false;
	struct stat st;
	int fd = -1, ret;

	*fd_out = -1;
	if (!peer->exe_known) {
		snprintf(err, EXE_HASH_ERR_LEN, "exe of pid %d: no executable was captured",
			 (int)peer->pid);
		return -ENOENT;
	}

	if (peer->pid > 0) {
		snprintf(proc_path, sizeof(proc_path), EXE_HASH_PROC_ROOT "/%d/exe",
			 (int)peer->pid);
		ret = exe_try(peer, proc_path, true, &fd, &st, why_proc, sizeof(why_proc));
		if (ret == 0)
			goto found;
		stale |= ret == -ESTALE;
	}
	if (peer->exe_path[0] == '/') {
		size_t n = strlen(peer->exe_path), m = strlen(EXE_HASH_DELETED_SUFFIX);

		if (n >= m && strcmp(peer->exe_path + n - m, EXE_HASH_DELETED_SUFFIX) == 0) {
			snprintf(why_path, sizeof(why_path), "deleted");
		} else {
			ret = exe_try(peer, peer->exe_path, false, &fd, &st, why_path,
				      sizeof(why_path));
			if (ret == 0)
				goto found;
			stale |= ret == -ESTALE;
		}
	} else if (peer->exe_path[0]) {
		snprintf(why_path, sizeof(why_path), "not absolute");
	}
	snprintf(err, EXE_HASH_ERR_LEN,
		 "exe of pid %d (dev %u:%u ino %llu): /proc/%d/exe: %.50s; path \"%.50s\": %.50s",
		 (int)peer->pid, major(peer->exe_dev), minor(peer->exe_dev),
		 (unsigned long long)peer->exe_ino, (int)peer->pid, why_proc, peer->exe_path,
		 why_path);
	return stale ? -ESTALE : -ENOENT;
found:
	exe_key_from_stat(&st, key_out);
	*fd_out = fd;
	return 0;
}

/* ---- hashing ------------------------------------------------------------------------------ */

static bool exe_key_same_file_state(const struct exe_file_key *key, const struct stat *st)
{
	struct exe_file_key now;

	exe_key_from_stat(st, &now);
	return now.dev == key->dev && now.ino == key->ino && now.size == key->size &&
	       now.mtime_ns == key->mtime_ns && now.ctime_ns == key->ctime_ns;
}

int exe_hash_sha256_fd(int fd, const struct exe_file_key *key, uint64_t size_limit, char hex[65],
		       char err[256])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = NULL;
	unsigned char *buf = NULL;
	uint64_t total = 0;
	struct stat st;
	int ret;

	hex[0] = '\0';
	if (key->size < 0 || (size_limit && (uint64_t)key->size > size_limit)) {
		snprintf(err, EXE_HASH_ERR_LEN,
			 "exe ino %llu: %lld bytes exceeds the limit of %llu",
			 (unsigned long long)key->ino, (long long)key->size,
			 (unsigned long long)size_limit);
		return -EFBIG;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		snprintf(err, EXE_HASH_ERR_LEN, "exe ino %llu: fstat: %s",
			 (unsigned long long)key->ino, strerror(errno));
		goto out;
	}
	if (!exe_key_same_file_state(key, &st)) {
		ret = -EAGAIN;
		snprintf(err, EXE_HASH_ERR_LEN, "exe ino %llu: changed since it was opened",
			 (unsigned long long)key->ino);
		goto out;
	}
	buf = malloc(EXE_HASH_CHUNK);
	ctx = EVP_MD_CTX_new();
	if (!buf || !ctx) {
		ret = -ENOMEM;
		snprintf(err, EXE_HASH_ERR_LEN, "exe hash: out of memory");
		goto out;
	}
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		ret = -EIO;
		snprintf(err, EXE_HASH_ERR_LEN, "exe hash: EVP_DigestInit_ex failed");
		goto out;
	}
	/* Read to EOF (not just key->size bytes), so growth while hashing is seen. */
	for (;;) {
		ssize_t n = pread(fd, buf, EXE_HASH_CHUNK, (off_t)total);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -EIO;
			snprintf(err, EXE_HASH_ERR_LEN, "exe ino %llu: read at %llu: %s",
				 (unsigned long long)key->ino, (unsigned long long)total,
				 strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
		if (total > (uint64_t)key->size) {
			ret = -EAGAIN;
			snprintf(err, EXE_HASH_ERR_LEN, "exe ino %llu: grew while hashing",
				 (unsigned long long)key->ino);
			goto out;
		}
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
			ret = -EIO;
			snprintf(err, EXE_HASH_ERR_LEN, "exe hash: EVP_DigestUpdate failed");
			goto out;
		}
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		snprintf(err, EXE_HASH_ERR_LEN, "exe ino %llu: fstat: %s",
			 (unsigned long long)key->ino, strerror(errno));
		goto out;
	}
	if (total != (uint64_t)key->size || !exe_key_same_file_state(key, &st)) {
		ret = -EAGAIN;
		snprintf(err, EXE_HASH_ERR_LEN, "exe ino %llu: changed while hashing",
			 (unsigned long long)key->ino);
		goto out;
	}
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen * 2 != EXE_HASH_HEX_LEN) {
		ret = -EIO;
		snprintf(err, EXE_HASH_ERR_LEN, "exe hash: EVP_DigestFinal_ex failed");
		goto out;
	}
	for (unsigned int i = 0; i < mdlen; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 0xf];
	}
	hex[EXE_HASH_HEX_LEN] = '\0';
	ret = 0;
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	return ret;
}

/* ---- LRU cache ---------------------------------------------------------------------------- */

struct exe_hash_entry {
	struct exe_file_key key;
	char hex[EXE_HASH_HEX_LEN + 1];
	uint32_t prev, next; /* LRU list: head = most recently used */
	uint32_t hnext;	     /* bucket chain */
};

struct exe_hash_cache {
	struct exe_hash_entry *entries;
	uint32_t *buckets;
	uint32_t capacity, n, nbuckets; /* nbuckets: power of two */
	uint32_t head, tail;
};

static uint64_t exe_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static uint32_t exe_bucket(const struct exe_hash_cache *c, const struct exe_file_key *k)
{
	uint64_t h = exe_mix((uint64_t)k->dev);

	h = exe_mix(h ^ (uint64_t)k->ino);
	h = exe_mix(h ^ (uint64_t)k->size);
	h = exe_mix(h ^ (uint64_t)k->mtime_ns);
	h = exe_mix(h ^ (uint64_t)k->ctime_ns);
	return (uint32_t)(h & (c->nbuckets - 1));
}

static bool exe_key_eq(const struct exe_file_key *a, const struct exe_file_key *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

int exe_hash_cache_new(size_t capacity, struct exe_hash_cache **out)
{
	struct exe_hash_cache *c = NULL;
	uint32_t nb = 1;
	int ret;

	if (capacity == 0 || capacity > EXE_HASH_CACHE_MAX)
		return -EINVAL;
	while (nb < 2 * capacity)
		nb <<= 1;
	c = calloc(1, sizeof(*c));
	if (!c) {
		ret = -ENOMEM;
		goto out;
	}
	c->entries = calloc(capacity, sizeof(*c->entries));
	c->buckets = malloc(nb * sizeof(*c->buckets));
	if (!c->entries || !c->buckets) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < nb; i++)
		c->buckets[i] = EXE_HASH_NONE;
	c->capacity = (uint32_t)capacity;
	c->nbuckets = nb;
	c->head = c->tail = EXE_HASH_NONE;
	*out = c;
	c = NULL;
	ret = 0;
out:
	exe_hash_cache_free(c);
	return ret;
}

void exe_hash_cache_free(struct exe_hash_cache *c)
{
	if (!c)
		return;
	free(c->entries);
	free(c->buckets);
	free(c);
}

size_t exe_hash_cache_size(const struct exe_hash_cache *c)
{
	return c->n;
}

static void lru_unlink(struct exe_hash_cache *c, uint32_t i)
{
	struct exe_hash_entry *e = &c->entries[i];

	if (e->prev != EXE_HASH_NONE)
		c->entries[e->prev].next = e->next;
	else
		c->head = e->next;
	if (e->next != EXE_HASH_NONE)
		c->entries[e->next].prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = EXE_HASH_NONE;
}

static void lru_push_front(struct exe_hash_cache *c, uint32_t i)
{
	struct exe_hash_entry *e = &c->entries[i];

	e->prev = EXE_HASH_NONE;
	e->next = c->head;
	if (c->head != EXE_HASH_NONE)
		c->entries[c->head].prev = i;
	c->head = i;
	if (c->tail == EXE_HASH_NONE)
		c->tail = i;
}

static uint32_t exe_find(const struct exe_hash_cache *c, const struct exe_file_key *key)
{
	for (uint32_t i = c->buckets[exe_bucket(c, key)]; i != EXE_HASH_NONE;
	     i = c->entries[i].hnext)
		if (exe_key_eq(&c->entries[i].key, key))
			return i;
	return EXE_HASH_NONE;
}

static void bucket_remove(struct exe_hash_cache *c, uint32_t i)
{
	uint32_t *p = &c->buckets[exe_bucket(c, &c->entries[i].key)];

	while (*p != EXE_HASH_NONE && *p != i)
		p = &c->entries[*p].hnext;
	if (*p == i)
		*p = c->entries[i].hnext;
	c->entries[i].hnext = EXE_HASH_NONE;
}

bool exe_hash_cache_get(struct exe_hash_cache *c, const struct exe_file_key *key, char hex[65])
{
	uint32_t i = exe_find(c, key);

	if (i == EXE_HASH_NONE)
		return false;
	lru_unlink(c, i);
	lru_push_front(c, i);
	memcpy(hex, c->entries[i].hex, EXE_HASH_HEX_LEN + 1);
	return true;
}

static bool exe_hex_valid(const char *hex)
{
	for (int i = 0; i < EXE_HASH_HEX_LEN; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			return false;
	return hex[EXE_HASH_HEX_LEN] == '\0';
}

int exe_hash_cache_put(struct exe_hash_cache *c, const struct exe_file_key *key, const char hex[65])
{
	uint32_t i, b;

	if (!exe_hex_valid(hex))
		return -EINVAL;
	i = exe_find(c, key);
	if (i != EXE_HASH_NONE) {
		lru_unlink(c, i);
	} else {
		if (c->n < c->capacity) {
			i = c->n++;
		} else {
			i = c->tail;
			lru_unlink(c, i);
			bucket_remove(c, i);
		}
		c->entries[i].key = *key;
		b = exe_bucket(c, key);
		c->entries[i].hnext = c->buckets[b];
		c->buckets[b] = i;
	}
	memcpy(c->entries[i].hex, hex, EXE_HASH_HEX_LEN + 1);
	lru_push_front(c, i);
	return 0;
}
