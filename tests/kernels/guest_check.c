/*
 * guest_check.c - the test driver's helper inside the kernel-matrix guests (tests/kernels).
 *
 *   guest_check probe OBJ lsm|fexit      load one program of probe.bpf.o, attach it, connect a
 *                                        Unix stream socket, check that the program ran
 *   guest_check get FILE PATH            print the value at PATH of the attestation in FILE
 *                                        (objects and arrays as compact JSON)
 *   guest_check expect FILE COND...      check conditions on the attestation in FILE:
 *                                        PATH=VALUE (equal) or PATH~VALUE (array contains)
 *
 * FILE is `attestctl attestations --json` output: a record, an array of records or an object
 * with an "attestations" array; the first record is used. PATH is dotted ("peer.pid",
 * "selectors"), numbers index arrays. Prints one line "PASS ..." or "FAIL <reason>"; exit
 * status 0 on PASS, 1 on FAIL, 2 on usage errors. libbpf's own messages go to stderr.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <jansson.h>

#define CHECK_ERR_MAX	 256
#define CHECK_VALUE_MAX	 4096
#define CHECK_PATH_DEPTH 16
#define CHECK_PATH_MAX	 256
#define CHECK_FILE_MAX	 (4u << 20)
#define PROBE_CONNECTS	 3
#define PROBE_SOCK_PATH	 "/tmp/guest_check_probe.sock"
#define PROBE_HIT_SLOTS	 2

/* Listens on PROBE_SOCK_PATH and connects to it PROBE_CONNECTS times. */
static int probe_connect_unix(char err[CHECK_ERR_MAX])
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int lfd = -1, cfd = -1, ret = 0;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", PROBE_SOCK_PATH);
	unlink(PROBE_SOCK_PATH);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, PROBE_CONNECTS) < 0) {
		ret = -errno;
		snprintf(err, CHECK_ERR_MAX, "listen %s: %s", PROBE_SOCK_PATH, strerror(errno));
		goto out;
	}
	for (int i = 0; i < PROBE_CONNECTS; i++) {
		cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (cfd < 0 || connect(cfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			ret = -errno;
			snprintf(err, CHECK_ERR_MAX, "connect %s: %s", PROBE_SOCK_PATH,
				 strerror(errno));
			goto out;
		}
		close(cfd);
		cfd = -1;
	}
out:
	if (cfd >= 0)
		close(cfd);
	if (lfd >= 0)
		close(lfd);
	unlink(PROBE_SOCK_PATH);
	return ret;
}

static int cmd_probe(const char *obj_path, const char *which, char err[CHECK_ERR_MAX])
{
	struct bpf_object *obj = NULL;
	struct bpf_program *prog, *want = NULL;
	struct bpf_link *link = NULL;
	struct bpf_map *map;
	char prog_name[CHECK_PATH_MAX];
	__u32 slot = strcmp(which, "lsm") == 0 ? 0 : 1;
	__u64 hits = 0;
	int ret = 0;

	if (strcmp(which, "lsm") != 0 && strcmp(which, "fexit") != 0) {
		snprintf(err, CHECK_ERR_MAX, "probe: unknown program kind \"%s\"", which);
		return -EINVAL;
	}
	snprintf(prog_name, sizeof(prog_name), "probe_%s", which);
	obj = bpf_object__open_file(obj_path, NULL);
	if (!obj) {
		ret = -errno;
		snprintf(err, CHECK_ERR_MAX, "%.64s: open: %s", obj_path, strerror(-ret));
		goto out;
	}
	bpf_object__for_each_program(prog, obj)
	{
		bool mine = strcmp(bpf_program__name(prog), prog_name) == 0;

		bpf_program__set_autoload(prog, mine);
		if (mine)
			want = prog;
	}
	map = bpf_object__find_map_by_name(obj, "hits");
	if (!want || !map) {
		ret = -ENOENT;
		snprintf(err, CHECK_ERR_MAX, "%.64s: no program %.16s or map hits", obj_path,
			 prog_name);
		goto out;
	}
	ret = bpf_object__load(obj);
	if (ret < 0) {
		snprintf(err, CHECK_ERR_MAX, "load %.16s: %s (libbpf says why above)", prog_name,
			 strerror(-ret));
		goto out;
	}
	link = bpf_program__attach(want);
	if (!link) {
		ret = -errno;
		snprintf(err, CHECK_ERR_MAX, "attach %.16s: %s (libbpf says why above)", prog_name,
			 strerror(-ret));
		goto out;
	}
	ret = probe_connect_unix(err);
	if (ret < 0)
		goto out;
	ret = bpf_map_lookup_elem(bpf_map__fd(map), &slot, &hits);
	if (ret < 0) {
		ret = -errno;
		snprintf(err, CHECK_ERR_MAX, "read hits: %s", strerror(-ret));
		goto out;
	}
	if (hits < PROBE_CONNECTS) {
		ret = -ENODATA;
		snprintf(err, CHECK_ERR_MAX, "%.16s attached but ran %llu times for %d connects",
			 prog_name, (unsigned long long)hits, PROBE_CONNECTS);
		goto out;
	}
	snprintf(err, CHECK_ERR_MAX, "%.16s ran %llu times for %d connects", prog_name,
		 (unsigned long long)hits, PROBE_CONNECTS);
out:
	bpf_link__destroy(link);
	bpf_object__close(obj);
	return ret;
}

/* Caller frees with json_decref(). */
static int load_json(const char *path, json_t **out, char err[CHECK_ERR_MAX])
{
	json_error_t jerr;
	json_t *root;

	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, CHECK_ERR_MAX, "%s: line %d: %s", path, jerr.line, jerr.text);
		return -EPROTO;
	}
	*out = root;
	return 0;
}

/* The first record of `attestctl attestations --json` output (borrowed reference). */
static json_t *pick_record(json_t *root)
{
	json_t *list = root;

	if (json_is_object(root) && json_is_array(json_object_get(root, "attestations")))
		list = json_object_get(root, "attestations");
	if (json_is_array(list))
		return json_array_get(list, 0);
	return root;
}

static json_t *lookup_path(json_t *rec, const char *path, char err[CHECK_ERR_MAX])
{
	char buf[CHECK_PATH_MAX];
	char *save = NULL, *tok;
	json_t *cur = rec;
	int depth = 0;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		snprintf(err, CHECK_ERR_MAX, "path too long: %.64s...", path);
		return NULL;
	}
	for (tok = strtok_r(buf, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save)) {
		char *end;
		unsigned long idx;

		if (++depth > CHECK_PATH_DEPTH) {
			snprintf(err, CHECK_ERR_MAX, "%.64s: deeper than %d", path,
				 CHECK_PATH_DEPTH);
			return NULL;
		}
		if (json_is_array(cur)) {
			idx = strtoul(tok, &end, 10);
			cur = *end ? NULL : json_array_get(cur, idx);
		} else {
			cur = json_object_get(cur, tok);
		}
	}
	if (!cur)
		snprintf(err, CHECK_ERR_MAX, "%.64s: missing", path);
	return cur;
}

/* Text form of a scalar: strings as they are, numbers in decimal, true/false/null. An object
 * {"type": T, "value": V} (a selector) reads as "T:V". */
static int scalar_text(json_t *v, char out[CHECK_VALUE_MAX])
{
	int n;

	if (json_is_string(v))
		n = snprintf(out, CHECK_VALUE_MAX, "%s", json_string_value(v));
	else if (json_is_integer(v))
		n = snprintf(out, CHECK_VALUE_MAX, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		n = snprintf(out, CHECK_VALUE_MAX, "%.17g", json_real_value(v));
	else if (json_is_boolean(v))
		n = snprintf(out, CHECK_VALUE_MAX, "%s", json_is_true(v) ? "true" : "false");
	else if (json_is_null(v))
		n = snprintf(out, CHECK_VALUE_MAX, "null");
	else if (json_is_object(v) && json_is_string(json_object_get(v, "type")) &&
		 json_is_string(json_object_get(v, "value")))
		n = snprintf(out, CHECK_VALUE_MAX, "%s:%s",
			     json_string_value(json_object_get(v, "type")),
			     json_string_value(json_object_get(v, "value")));
	else
		return -EINVAL;
	return n < CHECK_VALUE_MAX ? 0 : -E2BIG;
}

static int cmd_get(const char *file, const char *path, char err[CHECK_ERR_MAX])
{
	char text[CHECK_VALUE_MAX];
	json_t *root = NULL, *v;
	int ret;

	ret = load_json(file, &root, err);
	if (ret < 0)
		goto out;
	v = lookup_path(pick_record(root), path, err);
	if (!v) {
		ret = -ENOENT;
		goto out;
	}
	ret = scalar_text(v, text);
	if (ret == 0) {
		printf("%s\n", text);
		goto out;
	}
	ret = json_dumpf(v, stdout, JSON_COMPACT);
	if (ret < 0) {
		ret = -EIO;
		snprintf(err, CHECK_ERR_MAX, "%.64s: cannot print", path);
		goto out;
	}
	putchar('\n');
out:
	json_decref(root);
	return ret;
}

/* One condition "PATH=VALUE" or "PATH~VALUE"; appends a reason to err when it does not hold. */
static int check_one(json_t *rec, const char *cond, char err[CHECK_ERR_MAX])
{
	char path[CHECK_PATH_MAX], text[CHECK_VALUE_MAX], why[CHECK_ERR_MAX] = "";
	const char *op = strpbrk(cond, "=~");
	const char *want;
	json_t *v, *el;
	size_t i, plen;
	int ret = -ENOENT;

	if (!op || op == cond || (size_t)(op - cond) >= sizeof(path))
		return -EINVAL;
	plen = (size_t)(op - cond);
	memcpy(path, cond, plen);
	path[plen] = '\0';
	want = op + 1;
	v = lookup_path(rec, path, why);
	if (!v)
		goto out;
	if (*op == '~') {
		if (!json_is_array(v)) {
			snprintf(why, sizeof(why), "%.64s: not an array", path);
			goto out;
		}
		json_array_foreach (v, i, el) {
			if (scalar_text(el, text) == 0 && strcmp(text, want) == 0)
				return 0;
		}
		snprintf(why, sizeof(why), "%.64s: no element \"%.80s\"", path, want);
		goto out;
	}
	if (scalar_text(v, text) < 0) {
		snprintf(why, sizeof(why), "%.64s: not a scalar", path);
		goto out;
	}
	if (strcmp(text, want) == 0)
		return 0;
	snprintf(why, sizeof(why), "%.64s=\"%.80s\" want \"%.80s\"", path, text, want);
out:
	if (strlen(err) + strlen(why) + 3 < CHECK_ERR_MAX) {
		if (*err)
			strcat(err, "; ");
		strcat(err, why);
	}
	return ret;
}

static int cmd_expect(const char *file, int n, char **conds, char err[CHECK_ERR_MAX])
{
	json_t *root = NULL, *rec;
	int ret, failed = 0;

	ret = load_json(file, &root, err);
	if (ret < 0)
		goto out;
	rec = pick_record(root);
	if (!json_is_object(rec)) {
		ret = -ENOENT;
		snprintf(err, CHECK_ERR_MAX, "%s: no attestation record", file);
		goto out;
	}
	err[0] = '\0';
	for (int i = 0; i < n; i++) {
		int r = check_one(rec, conds[i], err);

		if (r == -EINVAL) {
			ret = -EINVAL;
			snprintf(err, CHECK_ERR_MAX, "bad condition \"%.64s\"", conds[i]);
			goto out;
		}
		if (r < 0)
			failed++;
	}
	if (failed)
		ret = -EDOM;
	else
		snprintf(err, CHECK_ERR_MAX, "%d conditions hold", n);
out:
	json_decref(root);
	return ret;
}

static int usage(void)
{
	fprintf(stderr, "usage: guest_check probe OBJ lsm|fexit\n"
			"       guest_check get FILE PATH\n"
			"       guest_check expect FILE PATH=VALUE|PATH~VALUE...\n");
	return 2;
}

int main(int argc, char **argv)
{
	char msg[CHECK_ERR_MAX] = "";
	int ret;

	if (argc == 4 && strcmp(argv[1], "probe") == 0) {
		ret = cmd_probe(argv[2], argv[3], msg);
	} else if (argc == 4 && strcmp(argv[1], "get") == 0) {
		ret = cmd_get(argv[2], argv[3], msg);
		if (ret == 0)
			return 0;
	} else if (argc >= 4 && strcmp(argv[1], "expect") == 0) {
		ret = cmd_expect(argv[2], argc - 3, argv + 3, msg);
		if (ret == -EINVAL) {
			fprintf(stderr, "guest_check: %s\n", msg);
			return 2;
		}
	} else {
		return usage();
	}
	printf("%s %s\n", ret == 0 ? "PASS" : "FAIL", msg);
	return ret == 0 ? 0 : 1;
}
