/* fuzz_grpc_server.c - libFuzzer target: arbitrary client bytes into a gRPC server connection
 * (daemon/grpc.c) over a socketpair, in a real event loop. The application echoes messages and
 * finishes on half-close; "/fail" paths finish at once, "/close" paths close the connection from
 * inside a callback. Checks that every call ends exactly once (finish or on_cancel) before
 * on_close, and that what reaches the application is within the transport's limits. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/grpc.h"

/* not CHECK(): must hold in NDEBUG builds too */
#define CHECK(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

struct fz {
	struct loop *loop;
	struct grpc_conn *conn;
	int peer; /* the client's end */
	const uint8_t *data;
	size_t size, off;
	int live; /* calls owned by the application */
	bool closed;
};

static void finish(struct grpc_call *call, struct fz *fz, enum grpc_status st, const char *msg)
{
	CHECK(grpc_call_finish(call, st, msg) == 0);
	CHECK(grpc_call_finish(call, st, msg) == -EINVAL); /* once only */
	fz->live--;
}

static void on_call(struct grpc_call *call, const char *path, void *conn_arg)
{
	struct fz *fz = conn_arg;
	const char *p = grpc_call_header(call, ":path");

	CHECK(!fz->closed);
	CHECK(path[0] == '/' && p && strcmp(p, path) == 0);
	CHECK(strcmp(grpc_call_header(call, ":method"), "POST") == 0);
	CHECK(strlen(path) <= GRPC_MAX_HEADER);
	fz->live++;
	grpc_call_set_data(call, fz);
	if (strncmp(path, "/fail", 5) == 0)
		finish(call, fz, GRPC_PERMISSION_DENIED, "no \xff\x01 identity 100%");
}

static void on_message(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	struct fz *fz = grpc_call_data(call);
	const char *path = grpc_call_header(call, ":path");

	CHECK(msg != NULL && len <= GRPC_MAX_MESSAGE);
	if (strncmp(path, "/close", 6) == 0) {
		grpc_conn_close(fz->conn); /* deferred until the callback returns */
		return;
	}
	grpc_call_send(call, msg, len);
}

static void on_half_close(struct grpc_call *call)
{
	struct fz *fz = grpc_call_data(call);

	finish(call, fz, GRPC_OK, NULL);
}

static void on_cancel(struct grpc_call *call)
{
	struct fz *fz = grpc_call_data(call);

	CHECK(fz->live > 0);
	fz->live--;
}

static void on_close(void *conn_arg)
{
	struct fz *fz = conn_arg;

	CHECK(!fz->closed);
	CHECK(fz->live == 0);
	fz->closed = true;
	loop_stop(fz->loop);
}

static const struct grpc_server_ops ops = {
	.on_call = on_call,
	.on_message = on_message,
	.on_half_close = on_half_close,
	.on_cancel = on_cancel,
	.on_close = on_close,
};

/* The client side: feeds the input, then shuts down its sending side; drains the responses. */
static void on_peer(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct fz *fz = arg;
	uint8_t buf[65536];

	if (events & EPOLLIN)
		while (read(fd, buf, sizeof(buf)) > 0)
			;
	if (!(events & EPOLLOUT))
		return;
	while (fz->off < fz->size) {
		ssize_t n = send(fd, fz->data + fz->off, fz->size - fz->off, MSG_DONTWAIT);

		if (n <= 0)
			return;
		fz->off += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	loop_mod_fd(loop, fd, EPOLLIN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz fz = {.data = data, .size = size};
	int sv[2];

	if (loop_new(&fz.loop) < 0)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
		loop_free(fz.loop);
		return 0;
	}
	fz.peer = sv[1];
	CHECK(grpc_conn_new(fz.loop, sv[0], &ops, &fz, &fz.conn) == 0);
	CHECK(loop_add_fd(fz.loop, sv[1], EPOLLIN | EPOLLOUT, on_peer, &fz) == 0);
	CHECK(loop_run(fz.loop) == 0);
	CHECK(fz.closed);
	loop_free(fz.loop);
	close(sv[1]);
	return 0;
}
