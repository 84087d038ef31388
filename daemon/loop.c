/*
 * loop.c - epoll event loop with one-shot timers kept in a binary min-heap.
 *
 * Watches are heap objects indexed by fd; epoll carries a pointer to the watch. A watch deleted
 * while a batch of events is being dispatched is marked dead and parked on a list freed after the
 * batch, so later events of the same batch that point at it are recognised and skipped (even if
 * the fd number was reused for a new watch in the meantime).
 */
#include "daemon/loop.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct watch {
	int fd;
	bool dead;
	loop_fd_cb cb;
	void *arg;
	struct watch *next_dead;
};

struct timer {
	uint64_t deadline_ms;
	uint64_t id;
	loop_timer_cb cb;
	void *arg;
};

struct loop {
	int epfd;
	bool stop;
	bool dispatching;
	uint64_t now_ms;
	struct watch **by_fd; /* indexed by fd */
	size_t by_fd_len;
	struct watch *dead; /* deleted during dispatch, freed after the batch */
	struct timer *heap;
	size_t ntimers, timers_cap;
	uint64_t next_timer_id;
};

static uint64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int loop_new(struct loop **out)
{
	struct loop *loop;
	int r;

	loop = calloc(1, sizeof(*loop));
	if (!loop)
		return -ENOMEM;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		r = -errno;
		free(loop);
		return r;
	}
	loop->next_timer_id = 1;
	loop->now_ms = monotonic_ms();
	*out = loop;
	return 0;
}

static void free_dead(struct loop *loop)
{
	while (loop->dead) {
		struct watch *w = loop->dead;

		loop->dead = w->next_dead;
		free(w);
	}
}

void loop_free(struct loop *loop)
{
	if (!loop)
		return;
	for (size_t i = 0; i < loop->by_fd_len; i++)
		free(loop->by_fd[i]);
	free_dead(loop);
	free(loop->by_fd);
	free(loop->heap);
	close(loop->epfd);
	free(loop);
}

static struct watch *watch_get(const struct loop *loop, int fd)
{
	if (fd < 0 || (size_t)fd >= loop->by_fd_len)
		return NULL;
	return loop->by_fd[fd];
}

int loop_add_fd(struct loop *loop, int fd, uint32_t events, loop_fd_cb cb, void *arg)
{
	struct epoll_event ev = {.events = events};
	struct watch *w;

	if (fd < 0 || !cb)
		return -EINVAL;
	if (watch_get(loop, fd))
		return -EEXIST;
	if ((size_t)fd >= loop->by_fd_len) {
		size_t n = loop->by_fd_len ? loop->by_fd_len : 64;
		struct watch **p;

		while (n <= (size_t)fd)
			n *= 2;
		p = realloc(loop->by_fd, n * sizeof(*p));
		if (!p)
			return -ENOMEM;
		memset(p + loop->by_fd_len, 0, (n - loop->by_fd_len) * sizeof(*p));
		loop->by_fd = p;
		loop->by_fd_len = n;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = fd;
	w->cb = cb;
	w->arg = arg;
	ev.data.ptr = w;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int r = -errno;

		free(w);
		return r;
	}
	loop->by_fd[fd] = w;
	return 0;
}

int loop_mod_fd(struct loop *loop, int fd, uint32_t events)
{
	struct watch *w = watch_get(loop, fd);
	struct epoll_event ev = {.events = events};

	if (!w)
		return -ENOENT;
	ev.data.ptr = w;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	return 0;
}

int loop_del_fd(struct loop *loop, int fd)
{
	struct watch *w = watch_get(loop, fd);

	if (!w)
		return -ENOENT;
	/* Fails only if fd was already closed, which removed it from the epoll set anyway. */
	(void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	loop->by_fd[fd] = NULL;
	if (loop->dispatching) {
		w->dead = true;
		w->next_dead = loop->dead;
		loop->dead = w;
	} else {
		free(w);
	}
	return 0;
}

/* ---- timers: min-heap ordered by (deadline, id) ---- */

static bool timer_before(const struct timer *a, const struct timer *b)
{
	if (a->deadline_ms != b->deadline_ms)
		return a->deadline_ms < b->deadline_ms;
	return a->id < b->id;
}

static void heap_swap(struct loop *loop, size_t i, size_t j)
{
	struct timer t = loop->heap[i];

	loop->heap[i] = loop->heap[j];
	loop->heap[j] = t;
}

static void heap_up(struct loop *loop, size_t i)
{
	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!timer_before(&loop->heap[i], &loop->heap[parent]))
			break;
		heap_swap(loop, i, parent);
		i = parent;
	}
}

static void heap_down(struct loop *loop, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < loop->ntimers && timer_before(&loop->heap[l], &loop->heap[m]))
			m = l;
		if (r < loop->ntimers && timer_before(&loop->heap[r], &loop->heap[m]))
			m = r;
		if (m == i)
			break;
		heap_swap(loop, i, m);
		i = m;
	}
}

static void heap_remove(struct loop *loop, size_t i)
{
	loop->ntimers--;
	if (i == loop->ntimers)
		return;
	loop->heap[i] = loop->heap[loop->ntimers];
	heap_down(loop, i);
	heap_up(loop, i);
}

int loop_add_timer(struct loop *loop, uint64_t delay_ms, loop_timer_cb cb, void *arg,
		   uint64_t *id_out)
{
	struct timer *t;

	if (!cb)
		return -EINVAL;
	if (loop->ntimers >= LOOP_MAX_TIMERS)
		return -E2BIG;
	if (loop->ntimers == loop->timers_cap) {
		size_t n = loop->timers_cap ? loop->timers_cap * 2 : 16;
		struct timer *p = realloc(loop->heap, n * sizeof(*p));

		if (!p)
			return -ENOMEM;
		loop->heap = p;
		loop->timers_cap = n;
	}
	t = &loop->heap[loop->ntimers];
	t->deadline_ms =
		delay_ms > UINT64_MAX - loop->now_ms ? UINT64_MAX : loop->now_ms + delay_ms;
	t->id = loop->next_timer_id++;
	t->cb = cb;
	t->arg = arg;
	if (id_out)
		*id_out = t->id;
	loop->ntimers++;
	heap_up(loop, loop->ntimers - 1);
	return 0;
}

int loop_cancel_timer(struct loop *loop, uint64_t id)
{
	for (size_t i = 0; i < loop->ntimers; i++) {
		if (loop->heap[i].id == id) {
			heap_remove(loop, i);
			return 0;
		}
	}
	return -ENOENT;
}

static void run_timers(struct loop *loop)
{
	/* Timers added by these callbacks get ids >= limit and sort after every timer that was
	 * already due, so stopping at the first such id defers them to the next iteration. */
	uint64_t limit = loop->next_timer_id;

	while (loop->ntimers > 0 && loop->heap[0].deadline_ms <= loop->now_ms &&
	       loop->heap[0].id < limit) {
		struct timer t = loop->heap[0];

		heap_remove(loop, 0);
		t.cb(loop, t.arg);
		if (loop->stop)
			break;
	}
}

static int next_timeout(const struct loop *loop)
{
	uint64_t d;

	if (loop->ntimers == 0)
		return -1;
	if (loop->heap[0].deadline_ms <= loop->now_ms)
		return 0;
	d = loop->heap[0].deadline_ms - loop->now_ms;
	return d > 60000 ? 60000 : (int)d; /* re-evaluated each wakeup */
}

int loop_run(struct loop *loop)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];
	int r = 0;

	while (!loop->stop) {
		int n;

		loop->now_ms = monotonic_ms();
		n = epoll_wait(loop->epfd, evs, LOOP_MAX_EVENTS, next_timeout(loop));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		loop->now_ms = monotonic_ms();
		loop->dispatching = true;
		for (int i = 0; i < n && !loop->stop; i++) {
			struct watch *w = evs[i].data.ptr;

			if (w->dead)
				continue;
			w->cb(loop, w->fd, evs[i].events, w->arg);
		}
		loop->dispatching = false;
		free_dead(loop);
		if (!loop->stop)
			run_timers(loop);
	}
	loop->stop = false;
	return r;
}

void loop_stop(struct loop *loop)
{
	loop->stop = true;
}

uint64_t loop_now_ms(const struct loop *loop)
{
	return loop->now_ms;
}
