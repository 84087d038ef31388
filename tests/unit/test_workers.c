/* test_workers.c - the thread pool: jobs run off the loop thread, completions come back on it,
 * and freeing with queued work runs everything and calls every done callback once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "daemon/workers.h"

#define NJOBS 500

struct job_state {
	pthread_t loop_thread;
	pthread_t ran_on;
	bool ran, done, done_on_loop;
	unsigned value;
	struct shared *sh;
};

struct shared {
	struct loop *loop;
	struct workers *w;
	unsigned done_count;
	unsigned expected;
	atomic_uint running, max_running;
};

static void work(void *arg)
{
	struct job_state *j = arg;
	unsigned now = atomic_fetch_add(&j->sh->running, 1) + 1, max;
	struct timespec ts = {0, 200000}; /* 0.2 ms: lets jobs overlap across threads */

	max = atomic_load(&j->sh->max_running);
	while (now > max && !atomic_compare_exchange_weak(&j->sh->max_running, &max, now))
		;
	nanosleep(&ts, NULL);
	j->ran_on = pthread_self();
	j->value = j->value * 2 + 1;
	j->ran = true;
	atomic_fetch_sub(&j->sh->running, 1);
}

static void work_done(void *arg)
{
	struct job_state *j = arg;

	assert_true(j->ran);
	assert_false(j->done);
	j->done = true;
	j->done_on_loop = pthread_equal(pthread_self(), j->loop_thread);
	if (++j->sh->done_count == j->sh->expected)
		loop_stop(j->sh->loop);
}

static void on_timeout(struct loop *loop, void *arg)
{
	fail_msg("timed out waiting for completions");
}

static void test_many_jobs(void **state)
{
	struct shared sh = {0};
	struct job_state *jobs = calloc(NJOBS, sizeof(*jobs));
	uint64_t tid;

	assert_non_null(jobs);
	assert_int_equal(loop_new(&sh.loop), 0);
	assert_int_equal(workers_new(sh.loop, 0, &sh.w), -EINVAL);
	assert_int_equal(workers_new(sh.loop, 4, &sh.w), 0);
	sh.expected = NJOBS;
	for (unsigned i = 0; i < NJOBS; i++) {
		jobs[i].loop_thread = pthread_self();
		jobs[i].value = i;
		jobs[i].sh = &sh;
		assert_int_equal(workers_submit(sh.w, work, work_done, &jobs[i]), 0);
	}
	assert_int_equal(workers_pending(sh.w), NJOBS);
	assert_int_equal(loop_add_timer(sh.loop, 20000, on_timeout, NULL, &tid), 0);
	assert_int_equal(loop_run(sh.loop), 0);
	assert_int_equal(loop_cancel_timer(sh.loop, tid), 0);
	assert_int_equal(workers_pending(sh.w), 0);
	for (unsigned i = 0; i < NJOBS; i++) {
		assert_true(jobs[i].done);
		assert_true(jobs[i].done_on_loop);
		assert_false(pthread_equal(jobs[i].ran_on, pthread_self()));
		assert_int_equal(jobs[i].value, i * 2 + 1);
	}
	assert_true(atomic_load(&sh.max_running) > 1); /* really a pool */
	workers_free(sh.w);
	loop_free(sh.loop);
	free(jobs);
}

/* Done callbacks may submit more work. */
struct chain {
	struct shared *sh;
	int left;
	bool loop_ok;
	pthread_t loop_thread;
};

static void chain_work(void *arg)
{
}

static void chain_done(void *arg)
{
	struct chain *c = arg;

	c->loop_ok = c->loop_ok && pthread_equal(pthread_self(), c->loop_thread);
	if (--c->left == 0)
		loop_stop(c->sh->loop);
	else
		assert_int_equal(workers_submit(c->sh->w, chain_work, chain_done, c), 0);
}

static void test_submit_from_done(void **state)
{
	struct shared sh = {0};
	struct chain c = {&sh, 50, true, pthread_self()};

	assert_int_equal(loop_new(&sh.loop), 0);
	assert_int_equal(workers_new(sh.loop, 2, &sh.w), 0);
	assert_int_equal(workers_submit(sh.w, chain_work, chain_done, &c), 0);
	assert_int_equal(loop_run(sh.loop), 0);
	assert_int_equal(c.left, 0);
	assert_true(c.loop_ok);
	workers_free(sh.w);
	loop_free(sh.loop);
}

/* Free with queued work: every job runs, every done callback runs once on this thread, and a
 * submit from such a late done callback is refused. Heap-allocated state is freed by done
 * (ASan reports leaks if a callback is skipped). */
struct owned {
	bool *ran;
	struct workers **w;
	int *done_calls;
	int *refused;
};

static void owned_work(void *arg)
{
	struct owned *o = arg;
	struct timespec ts = {0, 1000000};

	nanosleep(&ts, NULL);
	*o->ran = true;
}

static void owned_done(void *arg)
{
	struct owned *o = arg;

	assert_true(*o->ran);
	(*o->done_calls)++;
	if (workers_submit(*o->w, owned_work, owned_done, o) == -ESHUTDOWN)
		(*o->refused)++;
	free(o);
}

static void test_free_with_queued(void **state)
{
	struct loop *loop;
	struct workers *w;
	bool ran[40] = {0};
	int done_calls = 0, refused = 0;

	assert_int_equal(loop_new(&loop), 0);
	assert_int_equal(workers_new(loop, 2, &w), 0);
	for (int i = 0; i < 40; i++) {
		struct owned *o = malloc(sizeof(*o));

		assert_non_null(o);
		*o = (struct owned){&ran[i], &w, &done_calls, &refused};
		assert_int_equal(workers_submit(w, owned_work, owned_done, o), 0);
	}
	/* the loop never runs: all completions are still pending */
	assert_int_equal(workers_pending(w), 40);
	workers_free(w);
	for (int i = 0; i < 40; i++)
		assert_true(ran[i]);
	assert_int_equal(done_calls, 40);
	assert_int_equal(refused, 40);
	loop_free(loop);
}

static void test_null_done(void **state)
{
	struct loop *loop;
	struct workers *w;
	bool ran = false;
	struct owned o = {&ran, &w, NULL, NULL};

	assert_int_equal(loop_new(&loop), 0);
	assert_int_equal(workers_new(loop, 1, &w), 0);
	assert_int_equal(workers_submit(w, owned_work, NULL, &o), 0);
	assert_int_equal(workers_submit(w, NULL, NULL, &o), -EINVAL);
	workers_free(w);
	assert_true(ran);
	loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_jobs),
		cmocka_unit_test(test_submit_from_done),
		cmocka_unit_test(test_free_with_queued),
		cmocka_unit_test(test_null_done),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
