// SPDX-License-Identifier: GPL-2.0
/*
 * probe.bpf.c - the smallest proof that a kernel lets BPF watch unix_stream_connect() through
 * the two trampoline-based backends attestd uses (DESIGN.md §3): an LSM hook and an fexit
 * program. Each counts its calls in `hits`; guest_check loads one of them, connects a Unix
 * stream socket and checks that the counter moved. Built without vmlinux.h: the programs only
 * take pointers, so forward declarations are enough and the object loads on any kernel.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define PROBE_HIT_SLOTS 2 /* 0 = lsm, 1 = fexit */

struct socket;
struct sock;
struct sockaddr;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PROBE_HIT_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

static __always_inline void count(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&hits, &slot);

	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("lsm/unix_stream_connect")
int BPF_PROG(probe_lsm, struct socket *sock, struct sock *other, struct sock *newsk)
{
	count(0);
	return 0;
}

SEC("fexit/unix_stream_connect")
int BPF_PROG(probe_fexit, struct socket *sock, struct sockaddr *uaddr, int addr_len, int flags,
	     int ret)
{
	count(1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
