/*
 * loop.h - the daemon's single-threaded event loop (DESIGN.md §6): epoll fd watches and
 * one-shot millisecond timers. Everything here runs on the loop thread; nothing is thread-safe
 * (other threads hand work back through daemon/workers.h). Callbacks may add, modify and delete
 * any watch or timer, including their own.
 */
#ifndef DAEMON_LOOP_H
#define DAEMON_LOOP_H

#include <stdint.h>
#include <sys/epoll.h>

#define LOOP_MAX_EVENTS 64 /* epoll events handled per iteration */
#define LOOP_MAX_TIMERS 65536

struct loop;
typedef void (*loop_fd_cb)(struct loop *loop, int fd, uint32_t events, void *arg);
typedef void (*loop_timer_cb)(struct loop *loop, void *arg);

/* Caller frees with loop_free(). -ENOMEM or the epoll_create1() error. */
int loop_new(struct loop **out);
/* Frees watches and timers; does not close watched fds. Not from inside a callback. */
void loop_free(struct loop *loop);

/* Watches fd (level-triggered) for events (EPOLLIN, EPOLLOUT, ...; EPOLLHUP/EPOLLERR are always
 * reported). -EEXIST if fd is already watched, -EINVAL for a negative fd. */
int loop_add_fd(struct loop *loop, int fd, uint32_t events, loop_fd_cb cb, void *arg);
/* -ENOENT if fd is not watched. */
int loop_mod_fd(struct loop *loop, int fd, uint32_t events);
/* Stops watching fd. Safe from inside any callback, including for the fd being dispatched:
 * no further events of this iteration reach the old watch. -ENOENT if fd is not watched. */
int loop_del_fd(struct loop *loop, int fd);

/* One-shot timer firing delay_ms after loop_now_ms(). Timers with the same deadline fire in the
 * order they were added. A timer added from a timer callback fires at the earliest in the next
 * iteration. *id_out (if not NULL) receives an id > 0 for loop_cancel_timer(). */
int loop_add_timer(struct loop *loop, uint64_t delay_ms, loop_timer_cb cb, void *arg,
		   uint64_t *id_out);
/* -ENOENT if the timer already fired or was cancelled (ids are never reused). */
int loop_cancel_timer(struct loop *loop, uint64_t id);

/* Dispatches events and timers until loop_stop(); returns 0, or -errno if epoll_wait failed.
 * The stop request is cleared on return, so the loop can be run again. */
int loop_run(struct loop *loop);
/* Makes loop_run() return after the current iteration. Loop thread only. */
void loop_stop(struct loop *loop);
/* CLOCK_MONOTONIC in ms, refreshed once per iteration (and by loop_new). */
uint64_t loop_now_ms(const struct loop *loop);

#endif /* DAEMON_LOOP_H */
