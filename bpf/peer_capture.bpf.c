// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * peer_capture.bpf.c - records who called connect() on attestd's sockets, in the caller's own
 * context, into socket storage of the socket attestd's accept() will return. Three hooks, one
 * per backend; user space enables exactly one (autoload) after probing:
 *   lsm/unix_stream_connect           newsk exists; store on it directly.
 *   fexit/security_unix_stream_connect the same arguments without needing BPF LSM active.
 *   cgroup/connect_unix (+ getsockname_unix) kernels >= 6.7: store on the client socket, copy
 *                                     onto the accepted socket when attestd calls getsockname().
 * Unrelated connects cost one map lookup (or a short path compare for connect_unix).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "bpf/attestd_api.h"
#include "bpf/identity.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define SOCKADDR_UN_PATH_OFF 2 /* offsetof(struct sockaddr_un, sun_path) */

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct attestd_peer_identity);
} peer_storage SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ATTESTD_MAX_LISTENERS);
	__type(key, struct attestd_listener_key);
	__type(value, __u32);
} listen_inodes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ATTESTD_MAX_LISTENERS);
	__type(key, __u32);
	__type(value, struct attestd_listener_path);
} listen_paths SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct attestd_config);
} capture_config SEC(".maps");

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym __weak;

/* Is `sk` (a listening or just-connected unix socket) bound to one of attestd's files? */
static __always_inline bool listener_matches_sock(struct sock *sk)
{
	struct unix_sock *u = (struct unix_sock *)sk;
	struct attestd_listener_key key = {};
	struct inode *inode;

	inode = BPF_CORE_READ(u, path.dentry, d_inode);
	if (!inode)
		return false; /* abstract or unbound */
	key.ino = BPF_CORE_READ(inode, i_ino);
	key.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	return bpf_map_lookup_elem(&listen_inodes, &key) != NULL;
}

static __always_inline int capture_into(struct sock *newsk, __u32 hook)
{
	struct attestd_peer_identity *id;

	id = bpf_sk_storage_get(&peer_storage, newsk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!id)
		return 0;
	identity_fill_current(id, hook);
	return 0;
}

SEC("lsm/unix_stream_connect")
int BPF_PROG(capture_lsm_connect, struct sock *sock, struct sock *other, struct sock *newsk,
	     int ret)
{
	if (ret)
		return ret; /* an earlier LSM refused: nothing will connect */
	if (listener_matches_sock(other))
		capture_into(newsk, ATTESTD_HOOK_LSM);
	return 0;
}

/*
 * Not fexit/unix_stream_connect: by the time that returns, the connection is already queued and
 * attestd may have accepted it and looked for the capture. security_unix_stream_connect() runs
 * before the queueing, with newsk in hand, whether or not BPF LSM is active.
 */
SEC("fexit/security_unix_stream_connect")
int BPF_PROG(capture_fexit_connect, struct sock *sock, struct sock *other, struct sock *newsk,
	     int ret)
{
	if (ret)
		return 0;
	if (listener_matches_sock(other))
		capture_into(newsk, ATTESTD_HOOK_FEXIT);
	return 0;
}

static __always_inline bool listener_matches_path(const char *path, __u32 len)
{
	for (__u32 slot = 0; slot < ATTESTD_MAX_LISTENERS; slot++) {
		__u32 key = slot;
		struct attestd_listener_path *lp = bpf_map_lookup_elem(&listen_paths, &key);
		bool same = true;
		__u32 want;

		if (!lp)
			continue;
		want = lp->len;
		if (want == 0 || want >= ATTESTD_SUN_PATH_MAX || want > len)
			continue;
		/* addrlen may count a trailing NUL (or more); the kernel stops at the first. */
		if (want < len && path[want] != 0)
			continue;
		for (__u32 i = 0; i < ATTESTD_SUN_PATH_MAX; i++) {
			if (i >= want)
				break;
			if (path[i] != lp->path[i]) {
				same = false;
				break;
			}
		}
		if (same)
			return true;
	}
	return false;
}

/* Section name "cgroup/connect_unix" needs libbpf >= 1.3; user space sets the program and
 * attach types by hand, so an older libbpf only has to carry it. */
SEC("cgroup/connect_unix")
int capture_connect_unix(struct bpf_sock_addr *ctx)
{
	struct bpf_sock_addr_kern *sa;
	char path[ATTESTD_SUN_PATH_MAX] = {};
	struct attestd_peer_identity *id;
	__u32 len;

	if (!bpf_cast_to_kern_ctx)
		return 1;
	sa = bpf_cast_to_kern_ctx(ctx);
	len = BPF_CORE_READ(sa, uaddrlen);
	if (len <= SOCKADDR_UN_PATH_OFF)
		return 1;
	len -= SOCKADDR_UN_PATH_OFF;
	if (len > ATTESTD_SUN_PATH_MAX)
		len = ATTESTD_SUN_PATH_MAX;
	bpf_probe_read_kernel(path, sizeof(path),
			      (char *)BPF_CORE_READ(sa, uaddr) + SOCKADDR_UN_PATH_OFF);
	if (path[0] == 0)
		return 1; /* abstract socket: never ours */
	if (path[0] == '/' && !listener_matches_path(path, len))
		return 1;
	if (!ctx->sk)
		return 1;
	id = bpf_sk_storage_get(&peer_storage, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (id)
		identity_fill_current(id, ATTESTD_HOOK_CONNECT_UNIX);
	return 1;
}

/*
 * attestd calls getsockname() on each accepted socket: ctx->sk is that socket, its peer is the
 * client socket that connect_unix stamped. Copy the stamp across so attestd can look it up with
 * the accepted fd. Only attestd's own calls do anything.
 */
SEC("cgroup/getsockname_unix")
int capture_getsockname_unix(struct bpf_sock_addr *ctx)
{
	struct attestd_peer_identity *src, *dst;
	struct attestd_config *cfg;
	struct unix_sock *u;
	struct sock *peer;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&capture_config, &zero);
	if (!cfg || cfg->daemon_tgid != (bpf_get_current_pid_tgid() >> 32))
		return 1;
	if (!ctx->sk)
		return 1;
	u = bpf_skc_to_unix_sock(ctx->sk);
	if (!u)
		return 1;
	peer = u->peer;
	if (!peer)
		return 1;
	src = bpf_sk_storage_get(&peer_storage, peer, 0, 0);
	if (!src)
		return 1;
	dst = bpf_sk_storage_get(&peer_storage, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!dst)
		return 1;
	__builtin_memcpy(dst, src, sizeof(*dst));
	dst->flags |= ATTESTD_ID_COPIED;
	return 1;
}
