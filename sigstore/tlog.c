/*
 * tlog.c - see tlog.h.
 */
#include "sigstore/tlog.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "sigstore/util.h"

#define NOTE_MAX_LEN	 8192
#define NOTE_MAX_ORIGIN	 256
#define NOTE_SIG_PREFIX	 "\xe2\x80\x94 " /* U+2014 EM DASH, space */
#define NOTE_MAX_SIG_B64 1024

void sigstore_tlog_leaf_hash(const unsigned char *body, size_t len, unsigned char out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	const unsigned char zero = 0;

	memset(out, 0, 32);
	if (!ctx)
		return;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, &zero, 1) != 1 || EVP_DigestUpdate(ctx, body, len) != 1 ||
	    EVP_DigestFinal_ex(ctx, out, NULL) != 1)
		memset(out, 0, 32);
	EVP_MD_CTX_free(ctx);
}

static void node_hash(const unsigned char l[32], const unsigned char r[32], unsigned char out[32])
{
	unsigned char buf[65];

	buf[0] = 1;
	memcpy(buf + 1, l, 32);
	memcpy(buf + 33, r, 32);
	EVP_Digest(buf, sizeof(buf), out, NULL, EVP_sha256(), NULL);
}

int sigstore_tlog_verify_inclusion(uint64_t index, uint64_t size, const unsigned char leaf[32],
				   const unsigned char (*path)[32], size_t n,
				   const unsigned char root[32])
{
	uint64_t fn = index, sn;
	unsigned char r[32];

	if (size == 0 || index >= size)
		return -EBADMSG;
	sn = size - 1;
	memcpy(r, leaf, 32);
	for (size_t i = 0; i < n; i++) {
		if (sn == 0)
			return -EBADMSG;
		if ((fn & 1) || fn == sn) {
			node_hash(path[i], r, r);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			node_hash(r, path[i], r);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || memcmp(r, root, 32) != 0)
		return -EBADMSG;
	return 0;
}

/* True when a signature line's name belongs to the note's origin. */
static bool name_matches(const char *origin, const char *name, size_t name_len)
{
	size_t olen = strlen(origin);

	if (name_len == 0)
		return false;
	if (olen == name_len)
		return !memcmp(origin, name, name_len);
	/* Rekor v1: "rekor.sigstore.dev - 2605736670972794746" is signed as "rekor.sigstore.dev" */
	return olen > name_len + 3 && !memcmp(origin, name, name_len) &&
	       !memcmp(origin + name_len, " - ", 3);
}

/* Tries one "— name base64" line; 0 when it is the log's signature and it verifies. */
static int try_sig_line(const char *line, size_t len, const char *origin, const char *text,
			size_t text_len, const struct sigstore_log *log)
{
	const char *name, *sp, *b64;
	unsigned char *raw = NULL;
	size_t raw_len;
	int ret = -ENOENT;

	if (len < strlen(NOTE_SIG_PREFIX) || memcmp(line, NOTE_SIG_PREFIX, strlen(NOTE_SIG_PREFIX)))
		return -EPROTO;
	name = line + strlen(NOTE_SIG_PREFIX);
	sp = memchr(name, ' ', len - (size_t)(name - line));
	if (!sp)
		return -EPROTO;
	b64 = sp + 1;
	if ((size_t)(line + len - b64) > NOTE_MAX_SIG_B64)
		return -EPROTO;
	if (sigstore_util_b64_decode(b64, (size_t)(line + len - b64), &raw, &raw_len))
		return -EPROTO;
	if (raw_len < 5 || memcmp(raw, log->log_id, 4) != 0 ||
	    !name_matches(origin, name, (size_t)(sp - name)))
		goto out;
	ret = sigstore_util_verify(log->key, (const unsigned char *)text, text_len, raw + 4,
				   raw_len - 4);
out:
	free(raw);
	return ret;
}

int sigstore_tlog_verify_checkpoint(const char *note, const struct sigstore_log *log, uint64_t size,
				    const unsigned char root[32], char err[256])
{
	char origin[NOTE_MAX_ORIGIN], size_str[32], root_b64[64];
	unsigned char *root_raw = NULL;
	const char *sep, *p, *end, *nl;
	size_t text_len, root_len, n_sigs = 0;
	int64_t note_size;
	bool verified = false;
	int ret = -EBADMSG;

	if (strlen(note) > NOTE_MAX_LEN) {
		snprintf(err, 256, "checkpoint: longer than %d bytes", NOTE_MAX_LEN);
		return -EPROTO;
	}
	sep = strstr(note, "\n\n");
	if (!sep) {
		snprintf(err, 256, "checkpoint: no blank line before the signatures");
		return -EPROTO;
	}
	text_len = (size_t)(sep - note) + 1;
	/* origin, tree size, root hash, then optional extension lines */
	p = note;
	nl = memchr(p, '\n', text_len);
	if (!nl || nl == p || (size_t)(nl - p) >= sizeof(origin))
		goto bad_body;
	memcpy(origin, p, (size_t)(nl - p));
	origin[nl - p] = 0;
	p = nl + 1;
	nl = memchr(p, '\n', text_len - (size_t)(p - note));
	if (!nl || (size_t)(nl - p) >= sizeof(size_str))
		goto bad_body;
	memcpy(size_str, p, (size_t)(nl - p));
	size_str[nl - p] = 0;
	if (sigstore_util_parse_int64(size_str, &note_size) || note_size < 0 || size_str[0] == '-')
		goto bad_body;
	p = nl + 1;
	nl = memchr(p, '\n', text_len - (size_t)(p - note));
	if (!nl || (size_t)(nl - p) >= sizeof(root_b64))
		goto bad_body;
	memcpy(root_b64, p, (size_t)(nl - p));
	root_b64[nl - p] = 0;
	if (sigstore_util_b64_decode(root_b64, strlen(root_b64), &root_raw, &root_len) ||
	    root_len != 32)
		goto bad_body;

	/* signature lines */
	p = sep + 2;
	end = note + strlen(note);
	if (p == end) {
		snprintf(err, 256, "checkpoint: no signature");
		ret = -EPROTO;
		goto out;
	}
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			snprintf(err, 256, "checkpoint: signature line without a newline");
			ret = -EPROTO;
			goto out;
		}
		if (++n_sigs > SIGSTORE_TLOG_MAX_NOTE_SIGS) {
			snprintf(err, 256, "checkpoint: more than %d signatures",
				 SIGSTORE_TLOG_MAX_NOTE_SIGS);
			ret = -EPROTO;
			goto out;
		}
		ret = try_sig_line(p, (size_t)(nl - p), origin, note, text_len, log);
		if (ret == -EPROTO) {
			snprintf(err, 256, "checkpoint: malformed signature line %zu", n_sigs);
			goto out;
		}
		if (ret == 0)
			verified = true;
		p = nl + 1;
	}
	if (!verified) {
		snprintf(err, 256, "checkpoint: no valid signature from the log (origin %.120s)",
			 origin);
		ret = -EBADMSG;
		goto out;
	}
	if ((uint64_t)note_size != size || memcmp(root_raw, root, 32) != 0) {
		snprintf(err, 256, "checkpoint: tree size or root hash differs from the proof");
		ret = -EBADMSG;
		goto out;
	}
	ret = 0;
	goto out;
bad_body:
	snprintf(err, 256, "checkpoint: malformed note body (origin, size, root hash)");
	ret = -EPROTO;
out:
	free(root_raw);
	return ret;
}

int sigstore_tlog_verify_set(const struct sigstore_tlog_entry *e, const struct sigstore_log *log,
			     char err[256])
{
	char id_hex[65], *body_b64 = NULL, *msg = NULL;
	int ret, n;

	if (!e->set) {
		snprintf(err, 256, "tlog entry %" PRId64 ": no signed entry timestamp",
			 e->log_index);
		return -ENOENT;
	}
	if (!e->has_integrated_time) {
		snprintf(err, 256, "tlog entry %" PRId64 ": SET without integratedTime",
			 e->log_index);
		return -EPROTO;
	}
	sigstore_util_hex_encode(e->log_id, 32, id_hex);
	body_b64 = sigstore_util_b64_encode(e->body, e->body_len);
	if (!body_b64) {
		ret = -ENOMEM;
		goto out;
	}
	n = asprintf(&msg,
		     "{\"body\":\"%s\",\"integratedTime\":%" PRId64 ",\"logID\":\"%s\","
		     "\"logIndex\":%" PRId64 "}",
		     body_b64, e->integrated_time, id_hex, e->log_index);
	if (n < 0) {
		msg = NULL;
		ret = -ENOMEM;
		goto out;
	}
	ret = sigstore_util_verify(log->key, (const unsigned char *)msg, (size_t)n, e->set,
				   e->set_len);
	if (ret)
		snprintf(err, 256, "tlog entry %" PRId64 ": signed entry timestamp does not verify",
			 e->log_index);
out:
	free(body_b64);
	free(msg);
	return ret;
}

int sigstore_tlog_verify_proof(const struct sigstore_tlog_entry *e, const struct sigstore_log *log,
			       char err[256])
{
	unsigned char leaf[32];
	int ret;

	if (!e->has_proof) {
		snprintf(err, 256, "tlog entry %" PRId64 ": no inclusion proof", e->log_index);
		return -ENOENT;
	}
	sigstore_tlog_leaf_hash(e->body, e->body_len, leaf);
	ret = sigstore_tlog_verify_inclusion((uint64_t)e->proof_index, (uint64_t)e->tree_size, leaf,
					     (const unsigned char(*)[32])e->hashes, e->n_hashes,
					     e->root_hash);
	if (ret) {
		snprintf(err, 256,
			 "tlog entry %" PRId64 ": inclusion proof does not lead to the root",
			 e->log_index);
		return ret;
	}
	if (!e->checkpoint) {
		snprintf(err, 256, "tlog entry %" PRId64 ": inclusion proof without a checkpoint",
			 e->log_index);
		return -EPROTO;
	}
	ret = sigstore_tlog_verify_checkpoint(e->checkpoint, log, (uint64_t)e->tree_size,
					      e->root_hash, err);
	return ret;
}
