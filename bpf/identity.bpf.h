/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * identity.bpf.h - reads the identity of the current task into struct attestd_peer_identity.
 * Shared by every capture program; everything goes through CO-RE reads so one object runs on
 * kernels from 5.x (with BTF) to today.
 */
#ifndef ATTESTD_IDENTITY_BPF_H
#define ATTESTD_IDENTITY_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "bpf/attestd_api.h"

/* Kernels before 5.5 called start_boottime real_start_time. */
struct task_struct___pre55 {
	u64 real_start_time;
} __attribute__((preserve_access_index));

static __always_inline __u64 task_start_boottime(struct task_struct *task)
{
	if (bpf_core_field_exists(task->start_boottime))
		return BPF_CORE_READ(task, start_boottime);
	return BPF_CORE_READ((struct task_struct___pre55 *)task, real_start_time);
}

static __always_inline void identity_read_groups(struct attestd_peer_identity *id,
						 const struct cred *cred)
{
	struct group_info *gi = BPF_CORE_READ(cred, group_info);
	int n;

	if (!gi)
		return;
	n = BPF_CORE_READ(gi, ngroups);
	if (n <= 0)
		return;
	id->ngroups = n;
	if (n > ATTESTD_MAX_GROUPS) {
		id->flags |= ATTESTD_ID_GROUPS_TRUNCATED;
		n = ATTESTD_MAX_GROUPS;
	}
	/* One read per group: typically a handful, and the verifier sees a constant size. */
	for (int i = 0; i < ATTESTD_MAX_GROUPS; i++) {
		if (i >= n)
			break;
		bpf_core_read(&id->groups[i], sizeof(__u32), &gi->gid[i]);
	}
}

/* Fills *id from the current task: the process that is calling connect(). */
static __always_inline void identity_fill_current(struct attestd_peer_identity *id, __u32 hook)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	const struct cred *cred;
	struct file *exe;
	struct pid *pid;
	struct upid upid = {};
	unsigned int level;

	__builtin_memset(id, 0, sizeof(*id));
	id->tgid = pid_tgid >> 32;
	id->tid = (__u32)pid_tgid;
	id->hook = hook;
	id->start_boottime_ns = task_start_boottime(BPF_CORE_READ(task, group_leader));
	id->capture_boottime_ns = bpf_ktime_get_boot_ns();
	id->cgroup_id = bpf_get_current_cgroup_id();

	cred = BPF_CORE_READ(task, cred);
	id->uid = BPF_CORE_READ(cred, uid.val);
	id->gid = BPF_CORE_READ(cred, gid.val);
	id->euid = BPF_CORE_READ(cred, euid.val);
	id->egid = BPF_CORE_READ(cred, egid.val);
	id->user_ns = BPF_CORE_READ(cred, user_ns, ns.inum);
	identity_read_groups(id, cred);

	id->mnt_ns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	id->net_ns = BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
	/* The task's own pid namespace: the deepest level of its struct pid. */
	pid = BPF_CORE_READ(task, thread_pid);
	if (pid) {
		level = BPF_CORE_READ(pid, level);
		bpf_core_read(&upid, sizeof(upid), &pid->numbers[level]);
		id->pid_ns = BPF_CORE_READ(upid.ns, ns.inum);
	}

	exe = BPF_CORE_READ(task, mm, exe_file);
	if (exe) {
		id->exe_ino = BPF_CORE_READ(exe, f_inode, i_ino);
		id->exe_dev = BPF_CORE_READ(exe, f_inode, i_sb, s_dev);
	} else {
		id->flags |= ATTESTD_ID_NO_EXE;
	}
	bpf_probe_read_kernel_str(id->comm, sizeof(id->comm), &task->comm);
}

#endif /* ATTESTD_IDENTITY_BPF_H */
