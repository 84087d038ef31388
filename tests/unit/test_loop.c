/* test_loop.c - the epoll event loop: fd callbacks, timer order and cancellation, deleting
 * watches from inside callbacks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "daemon/loop.h"

struct pipe_ctx {
	int fds[2];
	int calls;
	uint32_t last_events;
	char data[16];
	size_t len;
};

static void on_readable(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct pipe_ctx *p = arg;
	ssize_t n = read(fd, p->data + p->len, sizeof(p->data) - p->len);

	p->calls++;
	p->last_events = events;
	if (n > 0)
		p->len += (size_t)n;
	loop_stop(loop);
}

static void make_pipe(struct pipe_ctx *p)
{
	memset(p, 0, sizeof(*p));
	assert_int_equal(pipe2(p->fds, O_NONBLOCK | O_CLOEXEC), 0);
}

static void close_pipe(struct pipe_ctx *p)
{
	close(p->fds[0]);
	close(p->fds[1]);
}

static void test_fd_callback(void **state)
{
	struct loop *loop;
	struct pipe_ctx p;

	make_pipe(&p);
	assert_int_equal(loop_new(&loop), 0);
	assert_int_equal(loop_add_fd(loop, p.fds[0], EPOLLIN, on_readable, &p), 0);
	assert_int_equal(loop_add_fd(loop, p.fds[0], EPOLLIN, on_readable, &p), -EEXIST);
	assert_int_equal(loop_add_fd(loop, -1, EPOLLIN, on_readable, &p), -EINVAL);
	assert_int_equal(loop_mod_fd(loop, p.fds[1], EPOLLOUT), -ENOENT);
	assert_int_equal(write(p.fds[1], "hi", 2), 2);
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(p.calls, 1);
	assert_true(p.last_events & EPOLLIN);
	assert_int_equal(p.len, 2);
	assert_memory_equal(p.data, "hi", 2);
	/* the stop request was cleared: run again */
	assert_int_equal(write(p.fds[1], "!", 1), 1);
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(p.calls, 2);
	assert_int_equal(loop_del_fd(loop, p.fds[0]), 0);
	assert_int_equal(loop_del_fd(loop, p.fds[0]), -ENOENT);
	loop_free(loop);
	/* loop_free did not close the fd */
	assert_int_equal(fcntl(p.fds[0], F_GETFD), FD_CLOEXEC);
	close_pipe(&p);
}

struct order_ctx {
	int seq[16];
	int n;
	uint64_t ids[16];
	struct loop *loop;
};

struct tagged {
	struct order_ctx *o;
	int tag;
};

static void on_timer(struct loop *loop, void *arg)
{
	struct tagged *t = arg;

	t->o->seq[t->o->n++] = t->tag;
	if (t->tag == 99)
		loop_stop(loop);
}

static void test_timer_order_and_cancel(void **state)
{
	struct loop *loop;
	struct order_ctx o = {0};
	struct tagged t[6];
	uint64_t t0, ids[6];
	/* delays in ms; tags record firing order */
	static const uint64_t delays[] = {30, 10, 10, 0, 20, 40};
	static const int want[] = {3, 1, 4, 0, 99};

	assert_int_equal(loop_new(&loop), 0);
	for (int i = 0; i < 6; i++) {
		t[i].o = &o;
		t[i].tag = i == 5 ? 99 : i;
		assert_int_equal(loop_add_timer(loop, delays[i], on_timer, &t[i], &ids[i]), 0);
		assert_true(ids[i] > 0);
	}
	/* 2 shares its deadline with 1 but is cancelled */
	assert_int_equal(loop_cancel_timer(loop, ids[2]), 0);
	assert_int_equal(loop_cancel_timer(loop, ids[2]), -ENOENT);
	t0 = loop_now_ms(loop);
	assert_int_equal(loop_run(loop), 0);
	assert_true(loop_now_ms(loop) - t0 >= 40);
	assert_int_equal(o.n, 5);
	assert_memory_equal(o.seq, want, sizeof(want));
	/* fired timers cannot be cancelled */
	assert_int_equal(loop_cancel_timer(loop, ids[0]), -ENOENT);
	loop_free(loop);
}

static void test_timer_same_deadline_fifo(void **state)
{
	struct loop *loop;
	struct order_ctx o = {0};
	struct tagged t[9];

	assert_int_equal(loop_new(&loop), 0);
	for (int i = 0; i < 9; i++) {
		t[i].o = &o;
		t[i].tag = i == 8 ? 99 : i;
		assert_int_equal(loop_add_timer(loop, 5, on_timer, &t[i], NULL), 0);
	}
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(o.n, 9);
	for (int i = 0; i < 8; i++)
		assert_int_equal(o.seq[i], i);
	loop_free(loop);
}

/* A timer that re-adds itself with delay 0 must not starve fd events. */
struct starve_ctx {
	int rearms;
	struct pipe_ctx *p;
};

static void on_rearm(struct loop *loop, void *arg)
{
	struct starve_ctx *s = arg;

	s->rearms++;
	if (s->rearms < 1000)
		assert_int_equal(loop_add_timer(loop, 0, on_rearm, s, NULL), 0);
}

static void test_timer_readd_zero(void **state)
{
	struct loop *loop;
	struct pipe_ctx p;
	struct starve_ctx s = {0, &p};

	make_pipe(&p);
	assert_int_equal(loop_new(&loop), 0);
	assert_int_equal(loop_add_timer(loop, 0, on_rearm, &s, NULL), 0);
	assert_int_equal(loop_add_fd(loop, p.fds[0], EPOLLIN, on_readable, &p), 0);
	assert_int_equal(write(p.fds[1], "x", 1), 1);
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(p.calls, 1);
	/* the fd was served within the first couple of iterations */
	assert_true(s.rearms <= 2);
	loop_free(loop);
	close_pipe(&p);
}

static void on_stop_timer(struct loop *loop, void *arg)
{
	loop_stop(loop);
}

/* Two readable pipes in one batch: whichever callback runs first deletes both watches, closes
 * the other pipe and puts a new, idle pipe under the same fd number with a new watch. The stale
 * event of the batch must reach neither the old watch (freed memory) nor the new one. */
struct del_ctx {
	struct pipe_ctx a, b;
	int calls;
	int spare[2];
};

static void on_reused(struct loop *loop, int fd, uint32_t events, void *arg)
{
	fail_msg("the new watch got the old watch's event");
}

static void on_del_both(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct del_ctx *d = arg;
	int other = fd == d->a.fds[0] ? d->b.fds[0] : d->a.fds[0];

	d->calls++;
	assert_int_equal(loop_del_fd(loop, fd), 0);
	assert_int_equal(loop_del_fd(loop, other), 0);
	assert_int_equal(dup2(d->spare[0], other), other); /* closes the old pipe end */
	assert_int_equal(loop_add_fd(loop, other, EPOLLIN, on_reused, d), 0);
	assert_int_equal(loop_add_timer(loop, 20, on_stop_timer, NULL, NULL), 0);
}

static void test_del_inside_callback(void **state)
{
	struct loop *loop;
	struct del_ctx d = {0};

	make_pipe(&d.a);
	make_pipe(&d.b);
	assert_int_equal(pipe2(d.spare, O_CLOEXEC), 0);
	assert_int_equal(loop_new(&loop), 0);
	assert_int_equal(loop_add_fd(loop, d.a.fds[0], EPOLLIN, on_del_both, &d), 0);
	assert_int_equal(loop_add_fd(loop, d.b.fds[0], EPOLLIN, on_del_both, &d), 0);
	assert_int_equal(write(d.a.fds[1], "a", 1), 1);
	assert_int_equal(write(d.b.fds[1], "b", 1), 1);
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(d.calls, 1);
	loop_free(loop);
	close_pipe(&d.a);
	close_pipe(&d.b);
	close(d.spare[0]);
	close(d.spare[1]);
}

/* Level-triggered EPOLLOUT, switched on and off with loop_mod_fd; the callback may delete its
 * own watch while a timer still refers to nothing of it. */
struct mod_ctx {
	struct pipe_ctx p;
	int out_calls;
};

static void on_writable(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct mod_ctx *m = arg;

	assert_true(events & EPOLLOUT);
	if (++m->out_calls == 3) {
		assert_int_equal(loop_mod_fd(loop, fd, 0), 0);
		assert_int_equal(loop_add_timer(loop, 20, on_stop_timer, NULL, NULL), 0);
	}
}

static void test_mod_fd(void **state)
{
	struct loop *loop;
	struct mod_ctx m = {0};

	make_pipe(&m.p);
	assert_int_equal(loop_new(&loop), 0);
	assert_int_equal(loop_add_fd(loop, m.p.fds[1], EPOLLOUT, on_writable, &m), 0);
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(m.out_calls, 3); /* no more events after the mask was cleared */
	loop_free(loop);
	close_pipe(&m.p);
}

static void test_free_with_timers_and_fds(void **state)
{
	struct loop *loop;
	struct pipe_ctx p;

	make_pipe(&p);
	assert_int_equal(loop_new(&loop), 0);
	assert_int_equal(loop_add_fd(loop, p.fds[0], EPOLLIN, on_readable, &p), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(loop_add_timer(loop, 1000 + i, on_stop_timer, NULL, NULL), 0);
	loop_free(loop); /* ASan checks nothing leaks */
	close_pipe(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fd_callback),
		cmocka_unit_test(test_timer_order_and_cancel),
		cmocka_unit_test(test_timer_same_deadline_fifo),
		cmocka_unit_test(test_timer_readd_zero),
		cmocka_unit_test(test_del_inside_callback),
		cmocka_unit_test(test_mod_fd),
		cmocka_unit_test(test_free_with_timers_and_fds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
