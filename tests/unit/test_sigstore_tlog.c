/*
 * test_sigstore_tlog.c - RFC 9162 inclusion proofs on synthetic trees of every size up to 33,
 * signed checkpoints (ECDSA and Ed25519 logs, witness lines, tampering), SETs, and the real
 * public-good entry of ../shared/fixtures/sigstore/conformance/happy-path-v0.3 with bit flips.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "sigstore/bundle.h"
#include "sigstore/tlog.h"
#include "sigstore/trust_root.h"
#include "sigstore/util.h"
#include "tests/unit/sigstore_test.h"

#define MAX_LEAVES 33

static void leaf_of(size_t i, unsigned char out[32])
{
	char body[32];

	snprintf(body, sizeof(body), "leaf %zu", i);
	sigstore_tlog_leaf_hash((const unsigned char *)body, strlen(body), out);
}

static void node(const unsigned char l[32], const unsigned char r[32], unsigned char out[32])
{
	unsigned char buf[65];

	buf[0] = 1;
	memcpy(buf + 1, l, 32);
	memcpy(buf + 33, r, 32);
	EVP_Digest(buf, sizeof(buf), out, NULL, EVP_sha256(), NULL);
}

static size_t split(size_t n)
{
	size_t k = 1;

	while (k * 2 < n)
		k *= 2;
	return k;
}

/* MTH(D[lo:hi]) */
static void mth(size_t lo, size_t hi, unsigned char out[32])
{
	unsigned char l[32], r[32];
	size_t k;

	if (hi - lo == 1) {
		leaf_of(lo, out);
		return;
	}
	k = split(hi - lo);
	mth(lo, lo + k, l);
	mth(lo + k, hi, r);
	node(l, r, out);
}

/* PATH(m, D[lo:hi]) appended to path */
static void audit_path(size_t m, size_t lo, size_t hi, unsigned char (*path)[32], size_t *n)
{
	size_t k;

	if (hi - lo == 1)
		return;
	k = split(hi - lo);
	if (m < k) {
		audit_path(m, lo, lo + k, path, n);
		mth(lo + k, hi, path[(*n)++]);
	} else {
		audit_path(m - k, lo + k, hi, path, n);
		mth(lo, lo + k, path[(*n)++]);
	}
}

static void test_inclusion_all_sizes(void **state)
{
	for (size_t size = 1; size <= MAX_LEAVES; size++) {
		unsigned char root[32];

		mth(0, size, root);
		for (size_t i = 0; i < size; i++) {
			unsigned char path[64][32], leaf[32];
			size_t n = 0;

			leaf_of(i, leaf);
			audit_path(i, 0, size, path, &n);
			assert_int_equal(
				sigstore_tlog_verify_inclusion(i, size, leaf, path, n, root), 0);
			/* wrong index, short and long paths, flipped hashes (the size is bound by the
			 * signed checkpoint, not by the path) */
			if (size > 1)
				assert_int_not_equal(sigstore_tlog_verify_inclusion((i + 1) % size,
										    size, leaf,
										    path, n, root),
						     0);

			if (n > 0)
				assert_int_not_equal(sigstore_tlog_verify_inclusion(
							     i, size, leaf, path, n - 1, root),
						     0);
			memcpy(path[n], path[0], 32);
			assert_int_not_equal(
				sigstore_tlog_verify_inclusion(i, size, leaf, path, n + 1, root),
				0);
			for (size_t k = 0; k < n; k++) {
				path[k][31] ^= 0x80;
				assert_int_equal(sigstore_tlog_verify_inclusion(i, size, leaf, path,
										n, root),
						 -EBADMSG);
				path[k][31] ^= 0x80;
			}
			leaf[0] ^= 1;
			assert_int_equal(
				sigstore_tlog_verify_inclusion(i, size, leaf, path, n, root),
				-EBADMSG);
		}
		assert_int_equal(sigstore_tlog_verify_inclusion(size, size, root, NULL, 0, root),
				 -EBADMSG);
	}
}

/* ---- checkpoints ------------------------------------------------------------------------ */

struct test_log {
	EVP_PKEY *priv;
	struct sigstore_log log;
};

static void test_log_init(struct test_log *t, bool ed25519)
{
	memset(t, 0, sizeof(*t));
	t->priv = ed25519 ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519") : EVP_EC_gen("P-256");
	assert_non_null(t->priv);
	assert_true(EVP_PKEY_up_ref(t->priv));
	t->log.key = t->priv;
	assert_int_equal(sigstore_util_key_id(t->priv, t->log.log_id), 0);
	t->log.valid.start = 0;
}

static void test_log_free(struct test_log *t)
{
	EVP_PKEY_free(t->log.key);
	EVP_PKEY_free(t->priv);
}

/* "— name base64(hint || sig)\n" for text, signed with key; hint from id. */
static void sig_line(EVP_PKEY *key, const unsigned char id[4], const char *name, const char *text,
		     char *out, size_t out_len)
{
	unsigned char buf[4 + 256];
	size_t sig_len = sizeof(buf) - 4;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	const EVP_MD *md = EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
	char *b64;

	memcpy(buf, id, 4);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, md, NULL, key), 1);
	assert_int_equal(
		EVP_DigestSign(ctx, buf + 4, &sig_len, (const unsigned char *)text, strlen(text)),
		1);
	b64 = sigstore_util_b64_encode(buf, 4 + sig_len);
	snprintf(out, out_len, "\xe2\x80\x94 %s %s\n", name, b64);
	free(b64);
	EVP_MD_CTX_free(ctx);
}

static void test_checkpoint(void **state)
{
	for (int ed = 0; ed < 2; ed++) {
		struct test_log t, other;
		unsigned char root[32], bad_root[32];
		char text[512], note[2048], line[512], witness[512], *root_b64;
		char err[256];

		test_log_init(&t, ed);
		test_log_init(&other, !ed);
		memset(root, 0x42, 32);
		memcpy(bad_root, root, 32);
		bad_root[0] ^= 1;
		root_b64 = sigstore_util_b64_encode(root, 32);
		snprintf(text, sizeof(text), "log.example - 1234\n736\n%s\nTimestamp: 1\n",
			 root_b64);
		sig_line(t.priv, t.log.log_id, "log.example", text, line, sizeof(line));
		sig_line(other.priv, other.log.log_id, "witness.example", text, witness,
			 sizeof(witness));

		snprintf(note, sizeof(note), "%s\n%s", text, line);
		assert_int_equal(sigstore_tlog_verify_checkpoint(note, &t.log, 736, root, err), 0);
		assert_int_equal(sigstore_tlog_verify_checkpoint(note, &t.log, 737, root, err),
				 -EBADMSG);
		assert_int_equal(sigstore_tlog_verify_checkpoint(note, &t.log, 736, bad_root, err),
				 -EBADMSG);
		/* another log's key: its hint does not match, so no signature is found */
		assert_int_equal(sigstore_tlog_verify_checkpoint(note, &other.log, 736, root, err),
				 -EBADMSG);
		/* witness line first, log line second: still verified */
		snprintf(note, sizeof(note), "%s\n%s%s", text, witness, line);
		assert_int_equal(sigstore_tlog_verify_checkpoint(note, &t.log, 736, root, err), 0);
		/* only the witness line */
		snprintf(note, sizeof(note), "%s\n%s", text, witness);
		assert_int_equal(sigstore_tlog_verify_checkpoint(note, &t.log, 736, root, err),
				 -EBADMSG);
		/* no signature at all */
		snprintf(note, sizeof(note), "%s\n", text);
		assert_int_equal(sigstore_tlog_verify_checkpoint(note, &t.log, 736, root, err),
				 -EPROTO);
		/* body changed after signing */
		snprintf(note, sizeof(note), "%s\n%s", text, line);
		note[0] = 'L';
		assert_int_equal(sigstore_tlog_verify_checkpoint(note, &t.log, 736, root, err),
				 -EBADMSG);
		/* signer name that is not the origin */
		sig_line(t.priv, t.log.log_id, "evil.example", text, line, sizeof(line));
		snprintf(note, sizeof(note), "%s\n%s", text, line);
		assert_int_equal(sigstore_tlog_verify_checkpoint(note, &t.log, 736, root, err),
				 -EBADMSG);
		/* no blank line */
		assert_int_equal(sigstore_tlog_verify_checkpoint("a\n1\nx\n", &t.log, 1, root, err),
				 -EPROTO);
		free(root_b64);
		test_log_free(&t);
		test_log_free(&other);
	}
}

static void test_set(void **state)
{
	struct sigstore_tlog_entry e = {0};
	unsigned char body[] = "{\"kind\":\"x\"}", sig[128];
	char id_hex[65], *b64, *msg = NULL, err[256];
	struct test_log t;
	size_t sig_len = sizeof(sig);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	test_log_init(&t, false);
	e.body = body;
	e.body_len = strlen((char *)body);
	e.integrated_time = 1689177396;
	e.has_integrated_time = true;
	e.log_index = 27246492;
	memcpy(e.log_id, t.log.log_id, 32);
	sigstore_util_hex_encode(e.log_id, 32, id_hex);
	b64 = sigstore_util_b64_encode(body, e.body_len);
	assert_true(asprintf(&msg,
			     "{\"body\":\"%s\",\"integratedTime\":%" PRId64 ",\"logID\":\"%s\","
			     "\"logIndex\":%" PRId64 "}",
			     b64, e.integrated_time, id_hex, e.log_index) > 0);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, t.priv), 1);
	assert_int_equal(EVP_DigestSign(ctx, sig, &sig_len, (unsigned char *)msg, strlen(msg)), 1);
	e.set = sig;
	e.set_len = sig_len;
	assert_int_equal(sigstore_tlog_verify_set(&e, &t.log, err), 0);
	e.integrated_time++;
	assert_int_equal(sigstore_tlog_verify_set(&e, &t.log, err), -EBADMSG);
	e.integrated_time--;
	e.log_index++;
	assert_int_equal(sigstore_tlog_verify_set(&e, &t.log, err), -EBADMSG);
	e.log_index--;
	e.log_id[0] ^= 1;
	assert_int_equal(sigstore_tlog_verify_set(&e, &t.log, err), -EBADMSG);
	e.log_id[0] ^= 1;
	body[2] ^= 1;
	assert_int_equal(sigstore_tlog_verify_set(&e, &t.log, err), -EBADMSG);
	body[2] ^= 1;
	sig[sig_len - 1] ^= 1;
	assert_int_equal(sigstore_tlog_verify_set(&e, &t.log, err), -EBADMSG);
	e.set = NULL;
	assert_int_equal(sigstore_tlog_verify_set(&e, &t.log, err), -ENOENT);
	free(b64);
	free(msg);
	EVP_MD_CTX_free(ctx);
	test_log_free(&t);
}

/* The real public-good entry: SET and proof verify; flipped bits do not. */
static void test_public_good_entry(void **state)
{
	struct sigstore_trust_root *tr = NULL;
	struct sigstore_bundle *b = NULL;
	const struct sigstore_log *log;
	struct sigstore_tlog_entry *e;
	char *tr_json, *b_json, err[256];
	size_t tr_len, b_len;

	tr_json = sst_read_fixture("sigstore/public-good/trusted_root.json", &tr_len);
	b_json = sst_read_fixture("sigstore/conformance/happy-path-v0.3/bundle.sigstore.json",
				  &b_len);
	if (!tr_json || !b_json)
		goto out;
	assert_int_equal(sigstore_trust_root_parse(tr_json, tr_len, &tr, err), 0);
	assert_int_equal(sigstore_bundle_parse(b_json, b_len, &b, err), 0);
	e = &b->entries[0];
	log = sigstore_trust_root_find_tlog(tr, e->log_id, 32);
	assert_non_null(log);
	assert_int_equal(sigstore_tlog_verify_set(e, log, err), 0);
	assert_int_equal(sigstore_tlog_verify_proof(e, log, err), 0);
	/* a bit flip in each proof hash */
	for (size_t i = 0; i < e->n_hashes; i++) {
		e->hashes[i][7] ^= 4;
		assert_int_equal(sigstore_tlog_verify_proof(e, log, err), -EBADMSG);
		e->hashes[i][7] ^= 4;
	}
	e->root_hash[0] ^= 1;
	assert_int_not_equal(sigstore_tlog_verify_proof(e, log, err), 0);
	e->root_hash[0] ^= 1;
	e->set[10] ^= 1;
	assert_int_equal(sigstore_tlog_verify_set(e, log, err), -EBADMSG);
	e->set[10] ^= 1;
	e->body[e->body_len / 2] ^= 1;
	assert_int_equal(sigstore_tlog_verify_set(e, log, err), -EBADMSG);
	assert_int_equal(sigstore_tlog_verify_proof(e, log, err), -EBADMSG);
	e->body[e->body_len / 2] ^= 1;
	assert_int_equal(sigstore_tlog_verify_proof(e, log, err), 0);
out:
	sigstore_bundle_free(b);
	sigstore_trust_root_free(tr);
	free(tr_json);
	free(b_json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inclusion_all_sizes),
		cmocka_unit_test(test_checkpoint),
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_public_good_entry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
