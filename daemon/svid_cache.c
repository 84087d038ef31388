/*
 * svid_cache.c - X.509-SVIDs by identity on the loop thread. A hash table maps a canonical key
 * (length-prefixed SPIFFE ID, ttl, dns names, hint, subject) to an entry: a private copy of the
 * identity, the current SVID, the gets waiting for an issuance and a rotation timer. At most
 * one issuance per entry is in flight; its job borrows the entry, so an entry with a job in
 * flight is never freed by anyone but that job's completion.
 */
#include "daemon/svid_cache.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#define SVID_CACHE_MIN_BUCKETS 64
#define SVID_CACHE_KEY_MAX     (64 * 1024) /* bytes of a canonical cache key */

struct waiter {
	svid_cache_done_fn done;
	void *arg;
	uint64_t gen; /* the issuance this waiter waits for */
	struct waiter *next;
};

struct entry {
	struct svid_cache *c;
	char *key;
	size_t key_len;
	uint64_t hash;
	struct entry *next;	   /* hash chain */
	struct policy_identity id; /* private copy, immutable: read by the worker */
	struct svid_x509 *svid;	   /* current; NULL until the first issuance */
	struct waiter *waiters, *waiters_tail;
	uint64_t gen;	   /* bumped per issuance */
	bool issuing;	   /* a job is in flight */
	bool fetched;	   /* handed out since the last (re)issuance */
	uint64_t timer_id; /* rotation or retry timer; 0 = none */
};

struct job {
	struct entry *e;
	uint64_t default_ttl_s;
	uint64_t gen;
	struct svid_x509 *result;
	int rc;
	char err[SVID_ERR_MAX];
};

struct subscriber {
	uint64_t token;
	svid_cache_rotated_fn fn; /* NULL = unsubscribed during a notification */
	void *arg;
};

struct svid_cache {
	struct loop *loop;
	struct workers *workers;
	const struct svid_ca *ca;
	uint64_t default_ttl_s;
	struct entry **buckets;
	size_t nbuckets, nentries;
	unsigned inflight; /* jobs whose completion has not run */
	bool closing;	   /* svid_cache_free() ran; freed by the last completion */
	struct subscriber *subs;
	size_t nsubs, subs_cap;
	unsigned notifying;
	uint64_t next_token;
	struct svid_cache_stats stats;
};

/* ---- identity copies and keys ------------------------------------------------------------- */

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static int strv_copy(char *const *src, size_t n, char ***dst)
{
	char **v;

	*dst = NULL;
	if (n == 0)
		return 0;
	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		v[i] = strdup(src[i] ? src[i] : "");
		if (!v[i]) {
			strv_free(v, n);
			return -ENOMEM;
		}
	}
	*dst = v;
	return 0;
}

static void identity_clear(struct policy_identity *id)
{
	strv_free(id->dns_names, id->ndns_names);
	free(id->hint);
	free(id->subject.common_name);
	strv_free(id->subject.organization, id->subject.norganization);
	strv_free(id->subject.organizational_unit, id->subject.norganizational_unit);
	strv_free(id->subject.country, id->subject.ncountry);
	strv_free(id->subject.province, id->subject.nprovince);
	strv_free(id->subject.locality, id->subject.nlocality);
	memset(id, 0, sizeof(*id));
}

/* What issuance needs (no JWT claims). */
static int identity_copy(const struct policy_identity *src, struct policy_identity *dst)
{
	const struct policy_subject *s = &src->subject;
	struct policy_subject *d = &dst->subject;

	memset(dst, 0, sizeof(*dst));
	memcpy(dst->spiffe_id, src->spiffe_id, sizeof(dst->spiffe_id));
	memcpy(dst->source, src->source, sizeof(dst->source));
	dst->x509_ttl_s = src->x509_ttl_s;
	dst->ndns_names = src->ndns_names;
	d->norganization = s->norganization;
	d->norganizational_unit = s->norganizational_unit;
	d->ncountry = s->ncountry;
	d->nprovince = s->nprovince;
	d->nlocality = s->nlocality;
	if (strv_copy(src->dns_names, src->ndns_names, &dst->dns_names) < 0 ||
	    (src->hint && !(dst->hint = strdup(src->hint))) ||
	    (s->common_name && !(d->common_name = strdup(s->common_name))) ||
	    strv_copy(s->organization, s->norganization, &d->organization) < 0 ||
	    strv_copy(s->organizational_unit, s->norganizational_unit, &d->organizational_unit) <
		    0 ||
	    strv_copy(s->country, s->ncountry, &d->country) < 0 ||
	    strv_copy(s->province, s->nprovince, &d->province) < 0 ||
	    strv_copy(s->locality, s->nlocality, &d->locality) < 0) {
		identity_clear(dst);
		return -ENOMEM;
	}
	return 0;
}

struct keybuf {
	char *buf;
	size_t len, cap;
	int err;
};

/* Appends "<len>:<bytes>" (or "-" for NULL), so distinct inputs never share a key. */
static void key_add(struct keybuf *k, const char *s)
{
	char head[32];
	size_t slen = s ? strlen(s) : 0;
	int hl = s ? snprintf(head, sizeof(head), "%zu:", slen) : snprintf(head, sizeof(head), "-");

	if (k->err)
		return;
	if (k->len + (size_t)hl + slen > SVID_CACHE_KEY_MAX) {
		k->err = -E2BIG;
		return;
	}
	if (k->len + (size_t)hl + slen + 1 > k->cap) {
		size_t cap = (k->len + (size_t)hl + slen + 1) * 2;
		char *n = realloc(k->buf, cap);

		if (!n) {
			k->err = -ENOMEM;
			return;
		}
		k->buf = n;
		k->cap = cap;
	}
	memcpy(k->buf + k->len, head, (size_t)hl);
	k->len += (size_t)hl;
	if (s)
		memcpy(k->buf + k->len, s, slen);
	k->len += slen;
}

static void key_add_list(struct keybuf *k, char *const *v, size_t n)
{
	char num[32];

	snprintf(num, sizeof(num), "%zu", n);
	key_add(k, num);
	for (size_t i = 0; i < n; i++)
		key_add(k, v[i] ? v[i] : "");
}

static int make_key(const struct policy_identity *id, char **key, size_t *len)
{
	const struct policy_subject *s = &id->subject;
	struct keybuf k = {0};
	char ttl[32];

	snprintf(ttl, sizeof(ttl), "%llu", (unsigned long long)id->x509_ttl_s);
	key_add(&k, id->spiffe_id);
	key_add(&k, ttl);
	key_add_list(&k, id->dns_names, id->ndns_names);
	key_add(&k, id->hint);
	key_add(&k, s->common_name);
	key_add_list(&k, s->organization, s->norganization);
	key_add_list(&k, s->organizational_unit, s->norganizational_unit);
	key_add_list(&k, s->country, s->ncountry);
	key_add_list(&k, s->province, s->nprovince);
	key_add_list(&k, s->locality, s->nlocality);
	if (k.err) {
		free(k.buf);
		return k.err;
	}
	*key = k.buf;
	*len = k.len;
	return 0;
}

static uint64_t hash_key(const char *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)key[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* ---- the table ---------------------------------------------------------------------------- */

static struct entry *table_find(struct svid_cache *c, const char *key, size_t len, uint64_t h)
{
	for (struct entry *e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->next)
		if (e->hash == h && e->key_len == len && memcmp(e->key, key, len) == 0)
			return e;
	return NULL;
}

static int table_insert(struct svid_cache *c, struct entry *e)
{
	struct entry **b;

	if (c->nentries + 1 > c->nbuckets * 2) {
		size_t nb = c->nbuckets * 2;
		struct entry **nbk = calloc(nb, sizeof(*nbk));

		if (!nbk)
			return -ENOMEM;
		for (size_t i = 0; i < c->nbuckets; i++) {
			struct entry *x = c->buckets[i], *next;

			for (; x; x = next) {
				next = x->next;
				x->next = nbk[x->hash & (nb - 1)];
				nbk[x->hash & (nb - 1)] = x;
			}
		}
		free(c->buckets);
		c->buckets = nbk;
		c->nbuckets = nb;
	}
	b = &c->buckets[e->hash & (c->nbuckets - 1)];
	e->next = *b;
	*b = e;
	c->nentries++;
	return 0;
}

static void table_remove(struct svid_cache *c, struct entry *e)
{
	struct entry **p = &c->buckets[e->hash & (c->nbuckets - 1)];

	for (; *p; p = &(*p)->next) {
		if (*p == e) {
			*p = e->next;
			c->nentries--;
			return;
		}
	}
}

static void entry_free(struct entry *e)
{
	if (!e)
		return;
	while (e->waiters) {
		struct waiter *w = e->waiters;

		e->waiters = w->next;
		free(w);
	}
	svid_x509_unref(e->svid);
	identity_clear(&e->id);
	free(e->key);
	free(e);
}

/* ---- issuance and rotation ---------------------------------------------------------------- */

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool svid_valid(const struct svid_x509 *s)
{
	return s && s->not_after * 1000 > wall_ms();
}

static void on_timer(struct loop *loop, void *arg);

static void arm_timer(struct entry *e, uint64_t delay_ms)
{
	if (e->timer_id)
		loop_cancel_timer(e->c->loop, e->timer_id);
	e->timer_id = 0;
	/* on failure (ENOMEM, too many timers) the entry simply is not rotated: it is then
	 * re-issued by the first get after it expired */
	if (loop_add_timer(e->c->loop, delay_ms, on_timer, e, &e->timer_id) < 0)
		e->timer_id = 0;
}

/* Half the remaining lifetime +- jitter, at most SVID_CACHE_MAX_ROTATE_PCT of it. */
static uint64_t rotation_delay_ms(const struct svid_x509 *s)
{
	int64_t life = s->not_after * 1000 - wall_ms(), jitter_span, delay;
	uint32_t r = 0;

	if (life <= 0)
		return 0;
	jitter_span = life * SVID_CACHE_JITTER_PCT / 100;
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = 0;
	delay = life / 2;
	if (jitter_span > 0)
		delay += (int64_t)(r % (uint64_t)(2 * jitter_span + 1)) - jitter_span;
	if (delay > life * SVID_CACHE_MAX_ROTATE_PCT / 100)
		delay = life * SVID_CACHE_MAX_ROTATE_PCT / 100;
	return delay > 0 ? (uint64_t)delay : 0;
}

static void job_run(void *arg)
{
	struct job *j = arg;

	j->rc = svid_issue_x509(j->e->c->ca, &j->e->id, j->default_ttl_s, &j->result, j->err);
}

static void maybe_free_cache(struct svid_cache *c)
{
	if (c->closing && c->inflight == 0) {
		free(c->subs);
		free(c->buckets);
		free(c);
	}
}

static void notify_rotated(struct svid_cache *c, const char *spiffe_id)
{
	size_t n = c->nsubs, o = 0;

	c->notifying++;
	for (size_t i = 0; i < n && !c->closing; i++) {
		struct subscriber s = c->subs[i]; /* c->subs may move */

		if (s.fn)
			s.fn(s.arg, spiffe_id);
	}
	if (--c->notifying == 0) {
		for (size_t i = 0; i < c->nsubs; i++)
			if (c->subs[i].fn)
				c->subs[o++] = c->subs[i];
		c->nsubs = o;
	}
}

/* Calls and frees the waiters of issuance gen (later ones stay queued). */
static void dispatch_waiters(struct entry *e, uint64_t gen, struct svid_x509 *svid, int rc,
			     const char *err)
{
	struct waiter *w;

	while ((w = e->waiters) && w->gen == gen) {
		e->waiters = w->next;
		if (!e->waiters)
			e->waiters_tail = NULL;
		if (svid)
			e->fetched = true;
		w->done(w->arg, svid, rc, err);
		free(w);
	}
}

static void job_done(void *arg);

static int start_issue(struct entry *e)
{
	struct svid_cache *c = e->c;
	struct job *j;
	int ret;

	if (c->closing)
		return -ESHUTDOWN;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->e = e;
	j->default_ttl_s = c->default_ttl_s;
	j->gen = ++e->gen;
	ret = workers_submit(c->workers, job_run, job_done, j);
	if (ret < 0) {
		e->gen--;
		free(j);
		return ret;
	}
	if (e->timer_id)
		loop_cancel_timer(c->loop, e->timer_id);
	e->timer_id = 0;
	e->issuing = true;
	c->inflight++;
	return 0;
}

static void drop_entry(struct svid_cache *c, struct entry *e)
{
	if (e->timer_id)
		loop_cancel_timer(c->loop, e->timer_id);
	e->timer_id = 0;
	table_remove(c, e);
	entry_free(e);
}

static void job_done(void *arg)
{
	struct job *j = arg;
	struct entry *e = j->e;
	struct svid_cache *c = e->c;
	struct svid_x509 *svid;
	bool rotation;

	c->inflight--;
	e->issuing = false;
	if (c->closing) {
		/* svid_cache_free() orphaned e for us */
		svid_x509_unref(j->result);
		entry_free(e);
		free(j);
		maybe_free_cache(c);
		return;
	}
	if (j->rc < 0) {
		c->stats.failures++;
		if (svid_valid(e->svid)) {
			/* a failed rotation: keep serving the old SVID, retry soon */
			int64_t left = e->svid->not_after * 1000 - wall_ms();

			e->fetched = true;
			arm_timer(e, left / 2 < SVID_CACHE_RETRY_MS ? (uint64_t)(left / 2)
								    : SVID_CACHE_RETRY_MS);
		}
		dispatch_waiters(e, j->gen, NULL, j->rc, j->err);
		/* nothing to serve and nobody waiting (a waiter may have started a new try) */
		if (!e->issuing && !e->waiters && !svid_valid(e->svid))
			drop_entry(c, e);
		free(j);
		return;
	}
	rotation = e->svid != NULL;
	svid_x509_unref(e->svid);
	e->svid = j->result;
	e->fetched = false;
	c->stats.issued++;
	if (rotation)
		c->stats.rotations++;
	arm_timer(e, rotation_delay_ms(e->svid));
	svid = svid_x509_ref(e->svid); /* stays valid whatever the callbacks do */
	dispatch_waiters(e, j->gen, svid, 0, NULL);
	if (rotation)
		notify_rotated(c, svid->spiffe_id);
	svid_x509_unref(svid);
	free(j);
}

static void on_timer(struct loop *loop, void *arg)
{
	struct entry *e = arg;
	struct svid_cache *c = e->c;

	e->timer_id = 0;
	if (e->issuing)
		return;
	if (!e->fetched) {
		c->stats.dropped++;
		drop_entry(c, e);
		return;
	}
	if (start_issue(e) < 0) {
		/* keep serving the current SVID; try again later */
		if (svid_valid(e->svid))
			arm_timer(e, SVID_CACHE_RETRY_MS);
		else
			drop_entry(c, e);
	}
}

/* ---- public ------------------------------------------------------------------------------- */

int svid_cache_new(struct loop *loop, struct workers *workers, const struct svid_ca *ca,
		   uint64_t default_x509_ttl_s, struct svid_cache **out)
{
	struct svid_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->buckets = calloc(SVID_CACHE_MIN_BUCKETS, sizeof(*c->buckets));
	if (!c->buckets) {
		free(c);
		return -ENOMEM;
	}
	c->nbuckets = SVID_CACHE_MIN_BUCKETS;
	c->loop = loop;
	c->workers = workers;
	c->ca = ca;
	c->default_ttl_s = default_x509_ttl_s;
	c->next_token = 1;
	*out = c;
	return 0;
}

void svid_cache_free(struct svid_cache *c)
{
	if (!c)
		return;
	c->closing = true;
	for (size_t i = 0; i < c->nbuckets; i++) {
		struct entry *e = c->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			if (e->timer_id)
				loop_cancel_timer(c->loop, e->timer_id);
			e->timer_id = 0;
			while (e->waiters) {
				struct waiter *w = e->waiters;

				e->waiters = w->next;
				w->done(w->arg, NULL, -ECANCELED, "svid cache: shutting down");
				free(w);
			}
			e->waiters_tail = NULL;
			if (!e->issuing)
				entry_free(e); /* else job_done() frees it */
		}
		c->buckets[i] = NULL;
	}
	c->nentries = 0;
	maybe_free_cache(c);
}

int svid_cache_get(struct svid_cache *c, const struct policy_identity *id, svid_cache_done_fn done,
		   void *arg)
{
	struct waiter *w = NULL;
	struct entry *e = NULL;
	bool fresh = false, inserted = false;
	char *key = NULL;
	size_t key_len = 0;
	uint64_t h;
	int ret;

	if (c->closing)
		return -ESHUTDOWN;
	ret = make_key(id, &key, &key_len);
	if (ret < 0)
		return ret;
	h = hash_key(key, key_len);
	e = table_find(c, key, key_len, h);
	if (e && svid_valid(e->svid)) {
		struct svid_x509 *s = svid_x509_ref(e->svid);

		free(key);
		e->fetched = true;
		c->stats.hits++;
		done(arg, s, 0, NULL);
		svid_x509_unref(s);
		return 0;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		ret = -ENOMEM;
		goto out;
	}
	if (!e) {
		if (c->nentries >= SVID_CACHE_MAX_ENTRIES) {
			ret = -ENOSPC;
			goto out;
		}
		e = calloc(1, sizeof(*e));
		if (!e) {
			ret = -ENOMEM;
			goto out;
		}
		fresh = true;
		e->c = c;
		e->key = key;
		e->key_len = key_len;
		e->hash = h;
		key = NULL;
		ret = identity_copy(id, &e->id);
		if (ret < 0)
			goto out;
		ret = table_insert(c, e);
		if (ret < 0)
			goto out;
		inserted = true;
	}
	if (!e->issuing) {
		ret = start_issue(e);
		if (ret < 0)
			goto out;
	}
	w->done = done;
	w->arg = arg;
	w->gen = e->gen;
	if (e->waiters_tail)
		e->waiters_tail->next = w;
	else
		e->waiters = w;
	e->waiters_tail = w;
	w = NULL;
	ret = 0;
out:
	free(w);
	free(key);
	if (ret < 0 && fresh) {
		/* a new entry that never got going (an existing one is left to its owner) */
		if (inserted)
			table_remove(c, e);
		entry_free(e);
	}
	return ret;
}

unsigned svid_cache_cancel(struct svid_cache *c, void *arg)
{
	unsigned n = 0;

	for (size_t i = 0; i < c->nbuckets; i++) {
		for (struct entry *e = c->buckets[i]; e; e = e->next) {
			struct waiter **p = &e->waiters, *prev = NULL;

			while (*p) {
				struct waiter *w = *p;

				if (w->arg == arg) {
					*p = w->next;
					free(w);
					n++;
					continue;
				}
				prev = w;
				p = &w->next;
			}
			e->waiters_tail = prev;
		}
	}
	return n;
}

int svid_cache_subscribe(struct svid_cache *c, svid_cache_rotated_fn rotated, void *arg,
			 uint64_t *token_out)
{
	if (c->nsubs == c->subs_cap) {
		size_t cap = c->subs_cap ? c->subs_cap * 2 : 16;
		struct subscriber *n = realloc(c->subs, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		c->subs = n;
		c->subs_cap = cap;
	}
	c->subs[c->nsubs].token = c->next_token++;
	c->subs[c->nsubs].fn = rotated;
	c->subs[c->nsubs].arg = arg;
	if (token_out)
		*token_out = c->subs[c->nsubs].token;
	c->nsubs++;
	return 0;
}

void svid_cache_unsubscribe(struct svid_cache *c, uint64_t token)
{
	for (size_t i = 0; i < c->nsubs; i++) {
		if (c->subs[i].token != token)
			continue;
		if (c->notifying) {
			c->subs[i].fn = NULL; /* compacted after the notification */
		} else {
			memmove(&c->subs[i], &c->subs[i + 1],
				(c->nsubs - i - 1) * sizeof(c->subs[0]));
			c->nsubs--;
		}
		return;
	}
}

void svid_cache_stats(const struct svid_cache *c, struct svid_cache_stats *out)
{
	*out = c->stats;
	out->entries = c->nentries;
}
