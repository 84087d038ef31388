// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * task_track.bpf.c - keeps what a capture refers to describable after it is gone:
 *   exe_map:    (tgid, start, exe dev, exe ino) -> the exe path, as readlink(/proc/<pid>/exe)
 *               would print it, written at every exec and copied at every fork. A later exec
 *               adds a new entry, so the connect-time executable keeps its own path.
 *   cgroup_map: cgroup v2 id -> path below the cgroup2 root, written at mkdir, flagged at rmdir.
 * User space seeds both from /proc and the cgroup tree at start-up.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "bpf/attestd_api.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define NAME_MASK 255 /* NAME_MAX: one path component */
#define HALF	  ATTESTD_EXE_PATH_MAX
#define HALF_MASK (ATTESTD_EXE_PATH_MAX - 1)

_Static_assert((ATTESTD_EXE_PATH_MAX & (ATTESTD_EXE_PATH_MAX - 1)) == 0, "power of two");

/* Nanoseconds per clock tick (1e9 / sysconf(_SC_CLK_TCK)); set by user space before load. */
const volatile __u64 ns_per_tick = 10000000;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, ATTESTD_EXE_MAP_ENTRIES);
	__type(key, struct attestd_exe_key);
	__type(value, struct attestd_exe_value);
} exe_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, ATTESTD_CGROUP_MAP_ENTRIES);
	__type(key, __u64);
	__type(value, struct attestd_cgroup_value);
} cgroup_map SEC(".maps");

/* Scratch space: the path is assembled backwards in the first half, then copied out. */
struct path_scratch {
	char buf[2 * HALF];
	struct attestd_exe_value value;
	/* Kept in map memory, not registers: the verifier then sees every loop iteration in the
	 * same state and prunes, instead of walking each possible path length. */
	__u32 pos;
	__u32 complete;
	struct dentry *dentry;
	struct mount *mnt;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_scratch);
} path_scratch SEC(".maps");

/*
 * d_path() for an exec'd file without bpf_d_path (not allowed from tracepoints): walk the
 * dentries up to the mount root, hop to the parent mount, until the root of the mount tree.
 * Stops after ATTESTD_PATH_DEPTH_MAX steps (components plus mount hops); the result is then
 * flagged truncated and user space treats the path as unknown.
 */
static __always_inline void build_exe_path(struct file *file, struct path_scratch *s)
{
	struct vfsmount *vfsmnt = BPF_CORE_READ(file, f_path.mnt);
	__u32 len;

	s->dentry = BPF_CORE_READ(file, f_path.dentry);
	s->mnt = container_of(vfsmnt, struct mount, mnt);
	s->pos = HALF; /* next byte to fill is pos - 1 */
	s->complete = 0;

	/* Unrolled: kernels before ~6.3 reject some bounded-loop shapes ("back-edge from insn
	 * N to N+1" after a helper call); straight-line code loads everywhere. */
#pragma unroll
	for (int i = 0; i < ATTESTD_PATH_DEPTH_MAX; i++) {
		struct mount *mnt = s->mnt;
		struct dentry *dentry = s->dentry;
		struct dentry *mnt_root = BPF_CORE_READ(mnt, mnt.mnt_root);
		struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
		struct qstr name;
		__u32 pos = s->pos;

		if (dentry == mnt_root || dentry == parent) {
			struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);

			if (mnt == mnt_parent || !mnt_parent) {
				s->complete = 1;
				break;
			}
			s->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			s->mnt = mnt_parent;
			continue;
		}
		name = BPF_CORE_READ(dentry, d_name);
		len = name.len & NAME_MASK;
		if (len + 1 > pos || pos > HALF)
			break; /* does not fit: truncated */
		pos -= len;
		bpf_probe_read_kernel(&s->buf[pos & HALF_MASK], len, name.name);
		pos -= 1;
		s->buf[pos & HALF_MASK] = '/';
		s->pos = pos;
		s->dentry = parent;
	}
	len = s->pos;
	if (len == HALF || len > HALF) {
		len = HALF - 1;
		s->buf[len] = '/';
	}
	s->value.flags = s->complete ? 0 : ATTESTD_EXE_TRUNCATED;
	s->value.path_len = HALF - len;
	__builtin_memset(s->value.path, 0, 8);
	bpf_probe_read_kernel(s->value.path, (HALF - len) & HALF_MASK, &s->buf[len & HALF_MASK]);
	if (s->value.path_len < ATTESTD_EXE_PATH_MAX)
		s->value.path[s->value.path_len & HALF_MASK] = 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(track_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct attestd_exe_key key = {};
	struct path_scratch *s;
	struct file *file;
	__u32 zero = 0;

	s = bpf_map_lookup_elem(&path_scratch, &zero);
	if (!s)
		return 0;
	file = BPF_CORE_READ(bprm, file);
	if (!file)
		return 0;
	key.tgid = BPF_CORE_READ(p, tgid);
	key.start_ticks = BPF_CORE_READ(p, group_leader, start_boottime) / ns_per_tick;
	key.exe_ino = BPF_CORE_READ(file, f_inode, i_ino);
	key.exe_dev = BPF_CORE_READ(file, f_inode, i_sb, s_dev);
	build_exe_path(file, s);
	s->value.exec_boottime_ns = bpf_ktime_get_boot_ns();
	bpf_map_update_elem(&exe_map, &key, &s->value, BPF_ANY);
	return 0;
}

/*
 * A forked child runs its parent's executable without exec: give it its own entry (the key has
 * its own pid and start time) so its path survives it. Threads share the parent's entry.
 */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(track_fork, struct task_struct *parent, struct task_struct *child)
{
	struct attestd_exe_key pkey = {}, ckey = {};
	struct attestd_exe_value *pval;
	struct file *exe;

	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0;
	exe = BPF_CORE_READ(child, mm, exe_file);
	if (!exe)
		return 0;
	pkey.tgid = BPF_CORE_READ(parent, tgid);
	pkey.start_ticks = BPF_CORE_READ(parent, group_leader, start_boottime) / ns_per_tick;
	pkey.exe_ino = BPF_CORE_READ(exe, f_inode, i_ino);
	pkey.exe_dev = BPF_CORE_READ(exe, f_inode, i_sb, s_dev);
	pval = bpf_map_lookup_elem(&exe_map, &pkey);
	if (!pval)
		return 0;
	ckey = pkey;
	ckey.tgid = BPF_CORE_READ(child, tgid);
	ckey.start_ticks = BPF_CORE_READ(child, start_boottime) / ns_per_tick;
	bpf_map_update_elem(&exe_map, &ckey, pval, BPF_ANY);
	return 0;
}

/* Only the default (v2) hierarchy has hierarchy_id 0; v1 hierarchies are ignored. */
static __always_inline bool cgroup_is_v2(struct cgroup *cgrp)
{
	return BPF_CORE_READ(cgrp, root, hierarchy_id) == 0;
}

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(track_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	struct attestd_cgroup_value *v;
	struct path_scratch *s;
	__u32 zero = 0;
	__u64 id;
	long n;

	if (!cgroup_is_v2(cgrp))
		return 0;
	s = bpf_map_lookup_elem(&path_scratch, &zero);
	if (!s)
		return 0;
	/* Reuse the scratch buffer: cgroup values are no larger than its first half. */
	v = (struct attestd_cgroup_value *)s->buf;
	__builtin_memset(v, 0, sizeof(*v));
	id = BPF_CORE_READ(cgrp, kn, id);
	n = bpf_probe_read_kernel_str(v->path, sizeof(v->path), path);
	if (n <= 0)
		return 0;
	v->path_len = n - 1;
	if (v->path_len == sizeof(v->path) - 1)
		v->flags |= ATTESTD_CGROUP_TRUNCATED;
	v->mkdir_boottime_ns = bpf_ktime_get_boot_ns();
	bpf_map_update_elem(&cgroup_map, &id, v, BPF_ANY);
	return 0;
}

SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(track_cgroup_rmdir, struct cgroup *cgrp, const char *path)
{
	struct attestd_cgroup_value *v;
	__u64 id;

	if (!cgroup_is_v2(cgrp))
		return 0;
	id = BPF_CORE_READ(cgrp, kn, id);
	v = bpf_map_lookup_elem(&cgroup_map, &id);
	if (v) {
		v->flags |= ATTESTD_CGROUP_REMOVED;
		v->rmdir_boottime_ns = bpf_ktime_get_boot_ns();
	}
	return 0;
}
