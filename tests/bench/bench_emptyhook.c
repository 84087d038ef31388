/*
 * bench_emptyhook - the floor under the connect_unix backend's overhead: attaches two do-nothing
 * BPF programs ("return 1") at cgroup/connect_unix and cgroup/getsockname_unix of a cgroup2
 * directory (the root, for tests/bench/run-all), prints "attached", and keeps them attached until
 * stdin reaches EOF. What an unrelated connect()/getsockname() then costs extra is the price of
 * the hook itself, whatever the program does.
 *
 *   bench_emptyhook CGROUP2_DIR
 *
 * The links are not pinned: they go away with the process. Errors: stderr, exit status 1.
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* libbpf 1.1 and its UAPI headers predate these (kernel 6.7) */
#define BE_ATTACH_UNIX_CONNECT	   49
#define BE_ATTACH_UNIX_GETSOCKNAME 53
#define BE_NHOOKS		   2

static int attach_empty(int cgroup_fd, int attach_type, int *prog_fd, int *link_fd)
{
	const struct bpf_insn insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1},
		{.code = BPF_JMP | BPF_EXIT},
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = attach_type);

	*prog_fd = bpf_prog_load(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, "bench_empty", "GPL", insns,
				 sizeof(insns) / sizeof(insns[0]), &opts);
	if (*prog_fd < 0)
		return -errno;
	*link_fd = bpf_link_create(*prog_fd, cgroup_fd, attach_type, NULL);
	if (*link_fd < 0)
		return -errno;
	return 0;
}

int main(int argc, char **argv)
{
	const int types[BE_NHOOKS] = {BE_ATTACH_UNIX_CONNECT, BE_ATTACH_UNIX_GETSOCKNAME};
	int prog_fds[BE_NHOOKS] = {-1, -1}, link_fds[BE_NHOOKS] = {-1, -1};
	int cgroup_fd = -1, r = -EINVAL;
	char buf[64];

	if (argc != 2) {
		fprintf(stderr, "usage: bench_emptyhook CGROUP2_DIR\n");
		goto out;
	}
	cgroup_fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgroup_fd < 0) {
		r = -errno;
		fprintf(stderr, "bench_emptyhook: %s: %s\n", argv[1], strerror(-r));
		goto out;
	}
	for (int i = 0; i < BE_NHOOKS; i++) {
		r = attach_empty(cgroup_fd, types[i], &prog_fds[i], &link_fds[i]);
		if (r < 0) {
			fprintf(stderr, "bench_emptyhook: attach type %d on %s: %s\n", types[i],
				argv[1], strerror(-r));
			goto out;
		}
	}
	printf("attached\n");
	fflush(stdout);
	while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
		;
	r = 0;
out:
	for (int i = BE_NHOOKS - 1; i >= 0; i--) {
		if (link_fds[i] >= 0)
			close(link_fds[i]);
		if (prog_fds[i] >= 0)
			close(prog_fds[i]);
	}
	if (cgroup_fd >= 0)
		close(cgroup_fd);
	return r < 0 ? 1 : 0;
}
