// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * runtime.c - container runtime metadata: a container ID -> its OCI bundle's config.json ->
 * the CRI annotations (container name, pod UID/name/namespace, image, sandbox or not).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "attest/runtime.h"

#define RUNTIME_ERR_LEN	      256
#define RUNTIME_READ_CHUNK    65536
#define RUNTIME_PATH_MAX      4096
#define RUNTIME_MAX_DEPTH     4 /* directories opened below a state directory */
#define RUNTIME_IMAGE_KEYS    2 /* annotations tried in order for the image */
#define RUNTIME_CONFIG_NAME   "config.json"
#define RUNTIME_CONTAINERD_V2 "io.containerd.runtime.v2.task"

/* Where CRI-O's containers/storage keeps per-container run data, one directory per driver. */
static const char *const runtime_crio_drivers[] = {
	"overlay-containers", "vfs-containers",	      "btrfs-containers",
	"zfs-containers",     "devmapper-containers",
};

/* The annotations each runtime writes into config.json (containerd pkg/cri/annotations; CRI-O
 * pkg/annotations plus the kubelet's labels, which CRI-O copies into the annotations). */
struct runtime_keys {
	const char *type;
	const char *container_name;
	const char *pod_uid;
	const char *pod_name;
	const char *pod_namespace;
	const char *sandbox_id;
	const char *image[RUNTIME_IMAGE_KEYS];
};

static const struct runtime_keys runtime_containerd_keys = {
	.type = "io.kubernetes.cri.container-type",
	.container_name = "io.kubernetes.cri.container-name",
	.pod_uid = "io.kubernetes.cri.sandbox-uid",
	.pod_name = "io.kubernetes.cri.sandbox-name",
	.pod_namespace = "io.kubernetes.cri.sandbox-namespace",
	.sandbox_id = "io.kubernetes.cri.sandbox-id",
	.image = {"io.kubernetes.cri.image-name", NULL},
};

static const struct runtime_keys runtime_crio_keys = {
	.type = "io.kubernetes.cri-o.ContainerType",
	.container_name = "io.kubernetes.container.name",
	.pod_uid = "io.kubernetes.pod.uid",
	.pod_name = "io.kubernetes.pod.name",
	.pod_namespace = "io.kubernetes.pod.namespace",
	.sandbox_id = "io.kubernetes.cri-o.SandboxID",
	.image = {"io.kubernetes.cri-o.ImageName", "io.kubernetes.cri-o.Image"},
};

#define RUNTIME_TYPE_CONTAINER "container"
#define RUNTIME_TYPE_SANDBOX   "sandbox"

static void runtime_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define _cleanup_close_ __attribute__((cleanup(runtime_close)))

/* ---- validation --------------------------------------------------------------------------- */

static bool runtime_is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool runtime_is_hex(char c)
{
	return (c >= 'a' && c <= 'f') || (c >= '0' && c <= '9');
}

bool runtime_id_valid(const char *s)
{
	size_t i;

	if (!s)
		return false;
	for (i = 0; i < RUNTIME_ID_LEN; i++) {
		if (!runtime_is_hex(s[i]))
			return false;
	}
	return s[i] == '\0';
}

/* DNS-1123 label (dots = false) or subdomain (dots = true), 1..max characters. */
static bool runtime_dns_valid(const char *s, size_t len, size_t max, bool dots)
{
	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool edge =
			i == 0 || i == len - 1 || (dots && (s[i - 1] == '.' || s[i + 1] == '.'));

		if (runtime_is_lower_alnum(c))
			continue;
		if ((c == '-' || (dots && c == '.')) && !edge)
			continue;
		return false;
	}
	return true;
}

static bool runtime_uid_valid(const char *s, size_t len)
{
	if (len == 0 || len > RUNTIME_POD_UID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!runtime_is_lower_alnum(c) && !(c >= 'A' && c <= 'Z') && c != '-' && c != '_')
			return false;
	}
	return true;
}

static bool runtime_image_valid(const char *s, size_t len)
{
	if (len > RUNTIME_IMAGE_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] <= ' ' || s[i] > '~')
			return false;
	}
	return true;
}

static bool runtime_sandbox_id_valid(const char *s, size_t len)
{
	return len == 0 || (len == RUNTIME_ID_LEN && runtime_id_valid(s));
}

/* ---- parsing ------------------------------------------------------------------------------ */

enum runtime_check {
	RUNTIME_CHECK_LABEL,
	RUNTIME_CHECK_SUBDOMAIN,
	RUNTIME_CHECK_UID,
	RUNTIME_CHECK_IMAGE,
	RUNTIME_CHECK_SANDBOX_ID,
};

/*
 * Copies annotations[key] into dst (size dst_len) after checking it. A missing key is -ENOENT
 * (err filled only when required); a non-string or invalid value is -EPROTO.
 */
static int runtime_take(json_t *ann, const char *key, bool required, enum runtime_check check,
			char *dst, size_t dst_len, const char *name, char err[RUNTIME_ERR_LEN])
{
	json_t *v = json_object_get(ann, key);
	const char *s;
	size_t len;
	bool ok = false;

	dst[0] = '\0';
	if (!v || json_is_null(v)) {
		if (required)
			snprintf(err, RUNTIME_ERR_LEN, "%s: annotations[\"%s\"]: missing", name,
				 key);
		return -ENOENT;
	}
	if (!json_is_string(v)) {
		snprintf(err, RUNTIME_ERR_LEN, "%s: annotations[\"%s\"]: not a string", name, key);
		return -EPROTO;
	}
	s = json_string_value(v);
	len = json_string_length(v);
	switch (check) {
	case RUNTIME_CHECK_LABEL:
		ok = runtime_dns_valid(s, len, RUNTIME_CONTAINER_NAME_MAX, false);
		break;
	case RUNTIME_CHECK_SUBDOMAIN:
		ok = runtime_dns_valid(s, len, RUNTIME_POD_NAME_MAX, true);
		break;
	case RUNTIME_CHECK_UID:
		ok = runtime_uid_valid(s, len);
		break;
	case RUNTIME_CHECK_IMAGE:
		ok = runtime_image_valid(s, len);
		break;
	case RUNTIME_CHECK_SANDBOX_ID:
		ok = runtime_sandbox_id_valid(s, len);
		break;
	}
	if (!ok || len >= dst_len) {
		snprintf(err, RUNTIME_ERR_LEN, "%s: annotations[\"%s\"]: invalid value (%zu bytes)",
			 name, key, len);
		return -EPROTO;
	}
	memcpy(dst, s, len + 1);
	return 0;
}

static int runtime_fill(json_t *ann, const struct runtime_keys *k, const char *name,
			struct runtime_container *out, char err[RUNTIME_ERR_LEN])
{
	int ret;

	if (!out->sandbox) {
		ret = runtime_take(ann, k->container_name, true, RUNTIME_CHECK_LABEL,
				   out->container_name, sizeof(out->container_name), name, err);
		if (ret)
			goto out;
	}
	ret = runtime_take(ann, k->pod_uid, true, RUNTIME_CHECK_UID, out->pod_uid,
			   sizeof(out->pod_uid), name, err);
	if (ret)
		goto out;
	ret = runtime_take(ann, k->pod_name, true, RUNTIME_CHECK_SUBDOMAIN, out->pod_name,
			   sizeof(out->pod_name), name, err);
	if (ret)
		goto out;
	ret = runtime_take(ann, k->pod_namespace, true, RUNTIME_CHECK_LABEL, out->pod_namespace,
			   sizeof(out->pod_namespace), name, err);
	if (ret)
		goto out;
	ret = runtime_take(ann, k->sandbox_id, false, RUNTIME_CHECK_SANDBOX_ID, out->sandbox_id,
			   sizeof(out->sandbox_id), name, err);
	if (ret && ret != -ENOENT)
		goto out;
	ret = 0;
	for (size_t i = 0; i < RUNTIME_IMAGE_KEYS && k->image[i] && !out->image[0]; i++) {
		ret = runtime_take(ann, k->image[i], false, RUNTIME_CHECK_IMAGE, out->image,
				   sizeof(out->image), name, err);
		if (ret && ret != -ENOENT)
			goto out;
		ret = 0;
	}
out:
	/* A missing required annotation is malformed input, not "no such container". */
	return ret == -ENOENT ? -EPROTO : ret;
}

int runtime_parse_config(const char *json, size_t len, enum runtime_kind kind, const char *name,
			 struct runtime_container *out, char err[RUNTIME_ERR_LEN])
{
	const struct runtime_keys *k;
	struct runtime_container tmp;
	json_error_t jerr;
	json_t *root = NULL, *ann, *type;
	const char *t;
	int ret;

	err[0] = '\0';
	if (!name)
		name = RUNTIME_CONFIG_NAME;
	switch (kind) {
	case RUNTIME_CONTAINERD:
		k = &runtime_containerd_keys;
		break;
	case RUNTIME_CRIO:
		k = &runtime_crio_keys;
		break;
	default:
		snprintf(err, RUNTIME_ERR_LEN, "%s: unknown runtime kind %d", name, (int)kind);
		return -EINVAL;
	}
	if (len > RUNTIME_CONFIG_MAX) {
		snprintf(err, RUNTIME_ERR_LEN, "%s: %zu bytes, more than the limit of %u", name,
			 len, RUNTIME_CONFIG_MAX);
		return -EFBIG;
	}
	memset(&tmp, 0, sizeof(tmp));
	tmp.runtime = kind;

	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, RUNTIME_ERR_LEN, "%s: line %d column %d: %s", name, jerr.line,
			 jerr.column, jerr.text);
		ret = -EPROTO;
		goto out;
	}
	if (!json_is_object(root)) {
		snprintf(err, RUNTIME_ERR_LEN, "%s: not a JSON object", name);
		ret = -EPROTO;
		goto out;
	}
	ann = json_object_get(root, "annotations");
	if (!ann || json_is_null(ann)) {
		snprintf(err, RUNTIME_ERR_LEN,
			 "%s: no annotations: not a Kubernetes (%s) container", name,
			 runtime_kind_name(kind));
		ret = -ENODATA;
		goto out;
	}
	if (!json_is_object(ann)) {
		snprintf(err, RUNTIME_ERR_LEN, "%s: annotations: not an object", name);
		ret = -EPROTO;
		goto out;
	}
	type = json_object_get(ann, k->type);
	if (!type || json_is_null(type)) {
		snprintf(err, RUNTIME_ERR_LEN,
			 "%s: no annotations[\"%s\"]: not a Kubernetes (%s) container", name,
			 k->type, runtime_kind_name(kind));
		ret = -ENODATA;
		goto out;
	}
	t = json_string_value(type);
	if (t && strcmp(t, RUNTIME_TYPE_SANDBOX) == 0) {
		tmp.sandbox = true;
	} else if (!t || strcmp(t, RUNTIME_TYPE_CONTAINER) != 0) {
		snprintf(err, RUNTIME_ERR_LEN, "%s: annotations[\"%s\"]: not \"%s\" or \"%s\"",
			 name, k->type, RUNTIME_TYPE_CONTAINER, RUNTIME_TYPE_SANDBOX);
		ret = -EPROTO;
		goto out;
	}
	ret = runtime_fill(ann, k, name, &tmp, err);
	if (ret)
		goto out;
	*out = tmp;
out:
	json_decref(root);
	return ret;
}

const char *runtime_kind_name(enum runtime_kind kind)
{
	switch (kind) {
	case RUNTIME_CONTAINERD:
		return "containerd";
	case RUNTIME_CRIO:
		return "cri-o";
	default:
		return "none";
	}
}

/* ---- the file system ---------------------------------------------------------------------- */

/*
 * Opens <state>/<dirs[0]>/.../<dirs[n-1]>/config.json without following a symlink below state
 * and reads it into *buf (malloc'd, caller frees; *len bytes, NUL-terminated). -ENOENT if any
 * part is missing. path is the file's path, for messages.
 */
static int runtime_read_config(const char *state, const char *const *dirs, size_t n,
			       const char *path, char **buf, size_t *len, char err[RUNTIME_ERR_LEN])
{
	_cleanup_close_ int dfd = -1;
	_cleanup_close_ int fd = -1;
	struct stat st;
	char *data = NULL;
	size_t used = 0;
	int ret;

	if (n > RUNTIME_MAX_DEPTH) {
		ret = -EINVAL;
		snprintf(err, RUNTIME_ERR_LEN, "%s: too deep", path);
		goto out;
	}
	dfd = open(state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		ret = -errno;
		snprintf(err, RUNTIME_ERR_LEN, "%s: %s", state, strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		int next = openat(dfd, dirs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (next < 0) {
			ret = -errno;
			/* With O_DIRECTORY a symlink may fail as ENOTDIR rather than ELOOP. */
			if (ret == -ENOTDIR &&
			    fstatat(dfd, dirs[i], &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(st.st_mode))
				ret = -ELOOP;
			if (ret == -ELOOP)
				snprintf(err, RUNTIME_ERR_LEN, "%s: symlink refused at %s", path,
					 dirs[i]);
			else
				snprintf(err, RUNTIME_ERR_LEN, "%s: %s: %s", path, dirs[i],
					 strerror(-ret));
			goto out;
		}
		close(dfd);
		dfd = next;
	}
	fd = openat(dfd, RUNTIME_CONFIG_NAME, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, RUNTIME_ERR_LEN, "%s: %s", path,
			 ret == -ELOOP ? "a symlink: refused" : strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		snprintf(err, RUNTIME_ERR_LEN, "%s: fstat: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		snprintf(err, RUNTIME_ERR_LEN, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > (off_t)RUNTIME_CONFIG_MAX) {
		ret = -EFBIG;
		snprintf(err, RUNTIME_ERR_LEN, "%s: %lld bytes, more than the limit of %u", path,
			 (long long)st.st_size, RUNTIME_CONFIG_MAX);
		goto out;
	}
	/* Read up to the limit plus one byte, whatever fstat said: the file may grow. */
	data = malloc(RUNTIME_CONFIG_MAX + 2);
	if (!data) {
		ret = -ENOMEM;
		snprintf(err, RUNTIME_ERR_LEN, "%s: out of memory", path);
		goto out;
	}
	for (;;) {
		size_t want = RUNTIME_CONFIG_MAX + 1 - used;
		ssize_t r;

		if (want > RUNTIME_READ_CHUNK)
			want = RUNTIME_READ_CHUNK;
		if (want == 0)
			break;
		r = read(fd, data + used, want);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			snprintf(err, RUNTIME_ERR_LEN, "%s: read: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		used += (size_t)r;
	}
	if (used > RUNTIME_CONFIG_MAX) {
		ret = -EFBIG;
		snprintf(err, RUNTIME_ERR_LEN, "%s: more than the limit of %u bytes", path,
			 RUNTIME_CONFIG_MAX);
		goto out;
	}
	data[used] = '\0';
	*buf = data;
	*len = used;
	data = NULL;
	ret = 0;
out:
	free(data);
	return ret;
}

/* One runtime: 0 and *out, -ENOENT if this runtime does not have the container, else an error. */
static int runtime_try(const char *state, const char *const *dirs, size_t n, enum runtime_kind kind,
		       struct runtime_container *out, char err[RUNTIME_ERR_LEN])
{
	char path[RUNTIME_PATH_MAX];
	char *buf = NULL;
	size_t len = 0, off;
	int ret;

	off = (size_t)snprintf(path, sizeof(path), "%s", state);
	for (size_t i = 0; i < n && off < sizeof(path); i++)
		off += (size_t)snprintf(path + off, sizeof(path) - off, "/%s", dirs[i]);
	if (off < sizeof(path))
		snprintf(path + off, sizeof(path) - off, "/%s", RUNTIME_CONFIG_NAME);

	ret = runtime_read_config(state, dirs, n, path, &buf, &len, err);
	if (ret)
		goto out;
	ret = runtime_parse_config(buf, len, kind, path, out, err);
out:
	free(buf);
	return ret;
}

int runtime_lookup(const struct runtime_paths *paths, const char *container_id,
		   struct runtime_container *out, char err[RUNTIME_ERR_LEN])
{
	const char *containerd = RUNTIME_CONTAINERD_STATE_DEFAULT;
	const char *crio = RUNTIME_CRIO_STATE_DEFAULT;
	char scratch[RUNTIME_ERR_LEN];
	int ret = -ENOENT;

	err[0] = '\0';
	if (paths && paths->containerd_state)
		containerd = paths->containerd_state;
	if (paths && paths->crio_state)
		crio = paths->crio_state;
	if (!runtime_id_valid(container_id)) {
		snprintf(err, RUNTIME_ERR_LEN,
			 "container id \"%.80s\": not %d lowercase hex digits",
			 container_id ? container_id : "(null)", RUNTIME_ID_LEN);
		return -EINVAL;
	}
	if (containerd[0]) {
		const char *dirs[] = {RUNTIME_CONTAINERD_V2, RUNTIME_CONTAINERD_NAMESPACE,
				      container_id};

		ret = runtime_try(containerd, dirs, sizeof(dirs) / sizeof(dirs[0]),
				  RUNTIME_CONTAINERD, out, scratch);
		if (ret != -ENOENT)
			goto out;
	}
	for (size_t i = 0;
	     crio[0] && i < sizeof(runtime_crio_drivers) / sizeof(runtime_crio_drivers[0]); i++) {
		const char *dirs[] = {runtime_crio_drivers[i], container_id, "userdata"};

		ret = runtime_try(crio, dirs, sizeof(dirs) / sizeof(dirs[0]), RUNTIME_CRIO, out,
				  scratch);
		if (ret != -ENOENT)
			goto out;
	}
	ret = -ENOENT;
	snprintf(scratch, sizeof(scratch),
		 "container %.64s: no config.json under containerd (%s) or CRI-O (%s)",
		 container_id, containerd[0] ? containerd : "off", crio[0] ? crio : "off");
out:
	if (ret)
		memcpy(err, scratch, RUNTIME_ERR_LEN);
	return ret;
}
