/*
 * workers.h - a small thread pool for work that blocks or burns CPU (DESIGN.md §6). Jobs run on
 * worker threads; their completions come back into the event loop through an eventfd and run
 * there. The only locking in the daemon lives here: the hand-off queues.
 */
#ifndef DAEMON_WORKERS_H
#define DAEMON_WORKERS_H

#include "daemon/loop.h"

#define WORKERS_MAX_THREADS 64

struct workers;
typedef void (*work_fn)(void *arg);	 /* runs on a worker thread; must not touch loop state */
typedef void (*work_done_fn)(void *arg); /* runs later on the loop thread */

/* Starts threads (1..WORKERS_MAX_THREADS) with all signals blocked, and watches an eventfd in
 * loop. Caller frees with workers_free(). -EINVAL, -ENOMEM or a pthread/eventfd error. */
int workers_new(struct loop *loop, unsigned threads, struct workers **out);
/* Queues fn(arg) for a worker; done(arg) (may be NULL) then runs on the loop thread. Loop thread
 * only. -ENOMEM, -ESHUTDOWN (from a done callback run by workers_free()). */
int workers_submit(struct workers *w, work_fn fn, work_done_fn done, void *arg);
/* Runs the queued work, stops and joins the threads, then calls the done callbacks not yet run
 * on the calling thread so owners can free their state. Not from inside a done callback. */
void workers_free(struct workers *w);
/* Jobs submitted whose done callback has not run yet. */
unsigned workers_pending(const struct workers *w);

#endif /* DAEMON_WORKERS_H */
