/*
 * workers.c - thread pool with two mutex-protected FIFO queues: todo (loop -> workers) and done
 * (workers -> loop). A worker that finishes a job moves it to done and bumps an eventfd the loop
 * watches; the loop then runs the done callbacks. pending is touched only by the loop thread.
 */
#include "daemon/workers.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct job {
	work_fn fn;
	work_done_fn done;
	void *arg;
	struct job *next;
};

struct job_queue {
	struct job *head, *tail;
};

struct workers {
	struct loop *loop;
	int efd;
	unsigned nthreads;
	pthread_t *threads;
	unsigned pending; /* loop thread only */
	bool closing;	  /* loop thread only: workers_free() started */

	pthread_mutex_t lock; /* protects everything below */
	pthread_cond_t cond;
	bool shutdown;
	struct job_queue todo, done;
};

static void queue_push(struct job_queue *q, struct job *j)
{
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
}

static struct job *queue_pop(struct job_queue *q)
{
	struct job *j = q->head;

	if (j) {
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
	}
	return j;
}

static void *worker_main(void *arg)
{
	struct workers *w = arg;
	const uint64_t one = 1;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct job *j = queue_pop(&w->todo);

		if (!j) {
			if (w->shutdown)
				break;
			pthread_cond_wait(&w->cond, &w->lock);
			continue;
		}
		pthread_mutex_unlock(&w->lock);
		j->fn(j->arg);
		pthread_mutex_lock(&w->lock);
		queue_push(&w->done, j);
		/* Cannot fail short of overflowing the 64-bit counter. */
		(void)!write(w->efd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void run_done(struct workers *w)
{
	struct job *list;

	pthread_mutex_lock(&w->lock);
	list = w->done.head;
	w->done.head = w->done.tail = NULL;
	pthread_mutex_unlock(&w->lock);
	while (list) {
		struct job *j = list;

		list = j->next;
		w->pending--;
		if (j->done)
			j->done(j->arg);
		free(j);
	}
}

static void on_eventfd(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct workers *w = arg;
	uint64_t n;

	/* Non-blocking: EAGAIN just means another wakeup already drained the counter. */
	(void)!read(fd, &n, sizeof(n));
	run_done(w);
}

static void stop_threads(struct workers *w, unsigned n)
{
	pthread_mutex_lock(&w->lock);
	w->shutdown = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	for (unsigned i = 0; i < n; i++)
		pthread_join(w->threads[i], NULL);
}

int workers_new(struct loop *loop, unsigned threads, struct workers **out)
{
	struct workers *w;
	sigset_t all, old;
	unsigned started = 0;
	int r;

	if (threads == 0 || threads > WORKERS_MAX_THREADS)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->loop = loop;
	w->efd = -1;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->threads = calloc(threads, sizeof(*w->threads));
	if (!w->threads) {
		r = -ENOMEM;
		goto fail;
	}
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0) {
		r = -errno;
		goto fail;
	}
	r = loop_add_fd(loop, w->efd, EPOLLIN, on_eventfd, w);
	if (r < 0)
		goto fail;
	/* Signals belong to the loop thread (signalfd); threads inherit this mask. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (; started < threads; started++) {
		r = -pthread_create(&w->threads[started], NULL, worker_main, w);
		if (r < 0)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		loop_del_fd(loop, w->efd);
		goto fail;
	}
	w->nthreads = threads;
	*out = w;
	return 0;
fail:
	stop_threads(w, started);
	if (w->efd >= 0)
		close(w->efd);
	free(w->threads);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
	return r;
}

int workers_submit(struct workers *w, work_fn fn, work_done_fn done, void *arg)
{
	struct job *j;

	if (!fn)
		return -EINVAL;
	if (w->closing)
		return -ESHUTDOWN;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->fn = fn;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&w->lock);
	queue_push(&w->todo, j);
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	w->pending++;
	return 0;
}

void workers_free(struct workers *w)
{
	if (!w)
		return;
	w->closing = true;
	stop_threads(w, w->nthreads); /* workers drain todo before they exit */
	loop_del_fd(w->loop, w->efd);
	run_done(w);
	close(w->efd);
	free(w->threads);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

unsigned workers_pending(const struct workers *w)
{
	return w->pending;
}
