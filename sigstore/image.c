/*
 * image.c - see image.h.
 */
#include "sigstore/image.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sigstore/bundle.h"
#include "sigstore/cosign.h"
#include "sigstore/dsse.h"
#include "sigstore/util.h"
#include "sigstore/verify.h"

static const char *const result_names[SIGSTORE_IMAGE_RESULT_COUNT] = {
	[SIGSTORE_IMAGE_VERIFIED] = "verified",
	[SIGSTORE_IMAGE_NOT_SIGNED] = "not_signed",
	[SIGSTORE_IMAGE_IDENTITY_MISMATCH] = "identity_mismatch",
	[SIGSTORE_IMAGE_NETWORK_ERROR] = "network_error",
	[SIGSTORE_IMAGE_TIMEOUT] = "timeout",
	[SIGSTORE_IMAGE_CANCELLED] = "cancelled",
	[SIGSTORE_IMAGE_ERROR] = "error",
};

const char *sigstore_image_result_name(enum sigstore_image_result r)
{
	return (unsigned)r < SIGSTORE_IMAGE_RESULT_COUNT ? result_names[r] : "error";
}

void sigstore_image_verification_clear(struct sigstore_image_verification *v)
{
	if (!v)
		return;
	free(v->subject);
	free(v->issuer);
	free(v->signature_b64);
	free(v->set_b64);
	free(v->provenance_type);
	memset(v, 0, sizeof(*v));
}

/* out->result = r and out->reason = "<digest>: <fmt...>"; returns the errno for r. */
__attribute__((format(printf, 4, 5))) static int finish(struct sigstore_image_verification *out,
							enum sigstore_image_result r,
							const char *digest, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	out->result = r;
	if (strstr(msg, digest))
		snprintf(out->reason, sizeof(out->reason), "%.255s", msg);
	else
		snprintf(out->reason, sizeof(out->reason), "%.80s: %.170s", digest, msg);
	switch (r) {
	case SIGSTORE_IMAGE_VERIFIED:
		return 0;
	case SIGSTORE_IMAGE_NOT_SIGNED:
		return -ENOENT;
	case SIGSTORE_IMAGE_IDENTITY_MISMATCH:
		return -EACCES;
	case SIGSTORE_IMAGE_NETWORK_ERROR:
		return -EIO;
	case SIGSTORE_IMAGE_TIMEOUT:
		return -ETIMEDOUT;
	case SIGSTORE_IMAGE_CANCELLED:
		return -ECANCELED;
	default:
		return -EBADMSG;
	}
}

static const char *item_name(enum sigstore_oci_sig_kind k)
{
	return k == SIGSTORE_OCI_SIG_BUNDLE   ? "referrer bundle"
	       : k == SIGSTORE_OCI_SIG_LEGACY ? ".sig layer"
					      : ".att layer";
}

static bool is_slsa(const char *predicate_type)
{
	return predicate_type && (!strcmp(predicate_type, SIGSTORE_SLSA_PROVENANCE_V02) ||
				  !strcmp(predicate_type, SIGSTORE_SLSA_PROVENANCE_V1));
}

static bool is_signature_predicate(const char *predicate_type)
{
	return predicate_type && (!strcmp(predicate_type, SIGSTORE_COSIGN_SIGN_V1) ||
				  !strcmp(predicate_type, SIGSTORE_COSIGN_ATTESTATION_V1));
}

/* The verified statement's predicate is a JSON object. */
static int check_predicate(const struct sigstore_bundle *b, char err[256])
{
	json_t *root = NULL;
	int ret;

	ret = sigstore_util_json_parse((const char *)b->payload, b->payload_len,
				       SIGSTORE_DSSE_MAX_DEPTH, "in-toto statement", &root, err);
	if (ret)
		return ret;
	if (!json_is_object(json_object_get(root, "predicate"))) {
		snprintf(err, 256, "in-toto statement: SLSA provenance predicate is not an object");
		ret = -EBADMSG;
	}
	json_decref(root);
	return ret;
}

/* What a verified item says about the image. */
enum item_role {
	ITEM_SIGNATURE,	 /* a message signature, a legacy .sig, or a cosign sign statement */
	ITEM_PROVENANCE, /* a SLSA provenance statement */
	ITEM_OTHER,	 /* another attestation (SBOM, scan result...): not a signature */
};

/*
 * One item: 0 verified under the policy (res filled, *role set), -EACCES verified but not
 * from an allowed identity, another errno when it does not verify; err says why.
 */
static int verify_item(const struct sigstore_oci_sig *s, const char *digest,
		       const unsigned char digest_bin[32], const struct sigstore_image_opts *o,
		       struct sigstore_verify_result *res, enum item_role *role, char err[256])
{
	struct sigstore_bundle *b = NULL;
	struct sigstore_verify_opts vo = {
		.trust_root = o->trust_root,
		.artifact_sha256 = digest_bin,
		.policy = o->policy,
		.skip_sct = o->skip_sct,
		.rekor_url = o->rekor_url,
		.now = o->now,
		.skip_tlog = o->skip_transparency_log,
	};
	int ret;

	*role = ITEM_SIGNATURE;
	if (s->kind == SIGSTORE_OCI_SIG_BUNDLE) {
		ret = sigstore_bundle_parse(s->data, s->data_len, &b, err);
	} else {
		if (s->kind == SIGSTORE_OCI_SIG_LEGACY) {
			/* the payload names the image (oci.c checked it too) and is the artifact */
			ret = sigstore_oci_simplesign_check(s->data, s->data_len, digest, err);
			if (ret)
				goto out;
			vo.artifact = (const unsigned char *)s->data;
			vo.artifact_len = s->data_len;
			vo.artifact_sha256 = NULL;
		}
		ret = sigstore_cosign_bundle(s, &b, err);
	}
	if (ret)
		goto out;
	ret = sigstore_verify_bundle(b, &vo, res, err);
	if (ret)
		goto out;
	if (b->is_dsse && is_slsa(res->predicate_type)) {
		ret = check_predicate(b, err);
		if (ret) {
			sigstore_verify_result_clear(res);
			goto out;
		}
		*role = ITEM_PROVENANCE;
	} else if (b->is_dsse && !is_signature_predicate(res->predicate_type)) {
		/* Whoever may sign may also attest other things (a scanner's findings, an SBOM):
		 * those statements say nothing about who vouches for the image. */
		*role = ITEM_OTHER;
	}
out:
	sigstore_bundle_free(b);
	return ret;
}

/* Moves the first verified signature's details into out. */
static void take_signature(struct sigstore_image_verification *out,
			   struct sigstore_verify_result *res)
{
	out->subject = res->subject;
	out->issuer = res->issuer;
	out->signature_b64 = res->signature_b64;
	out->set_b64 = res->set_b64;
	res->subject = res->issuer = res->signature_b64 = res->set_b64 = NULL;
	memcpy(out->log_id_hex, res->log_id_hex, sizeof(out->log_id_hex));
	out->log_index = res->log_index;
	out->integrated_time = res->signed_time;
}

static void drop_signature(struct sigstore_image_verification *out)
{
	free(out->subject);
	free(out->issuer);
	free(out->signature_b64);
	free(out->set_b64);
	out->subject = out->issuer = out->signature_b64 = out->set_b64 = NULL;
	out->log_id_hex[0] = '\0';
	out->log_index = -1;
	out->integrated_time = 0;
}

int sigstore_image_verify_sigs(const struct sigstore_oci_sigs *sigs, const char *digest,
			       const struct sigstore_image_opts *o,
			       struct sigstore_image_verification *out)
{
	char first_err[256] = "", mismatch_err[256] = "", err[256];
	unsigned char digest_bin[32];
	size_t n_sig = 0, n_prov = 0, n_other = 0;
	char other_type[128] = "";
	int first_ret = 0, ret;

	memset(out, 0, sizeof(*out));
	out->log_index = -1;
	if (!digest)
		digest = "(no digest)";
	if (strncmp(digest, "sha256:", 7) || strlen(digest) != 71 ||
	    sigstore_util_hex_decode(digest + 7, digest_bin, 32))
		return finish(out, SIGSTORE_IMAGE_ERROR, digest,
			      "not an image digest (sha256:<hex>)");
	if (!o || !o->trust_root || !o->policy || sigstore_identity_policy_count(o->policy) == 0)
		return finish(out, SIGSTORE_IMAGE_ERROR, digest,
			      "no trusted root or no allowed identities");
	out->n_found = sigs ? sigs->n : 0;
	if (out->n_found == 0)
		return finish(out, SIGSTORE_IMAGE_NOT_SIGNED, digest, "no signatures found");
	for (size_t i = 0; i < sigs->n; i++) {
		struct sigstore_verify_result res = {0};
		enum item_role role;

		err[0] = '\0';
		ret = verify_item(&sigs->v[i], digest, digest_bin, o, &res, &role, err);
		if (ret == -ENOMEM) {
			sigstore_verify_result_clear(&res);
			sigstore_image_verification_clear(out);
			out->result = SIGSTORE_IMAGE_ERROR;
			snprintf(out->reason, sizeof(out->reason), "%s: out of memory", digest);
			return -ENOMEM;
		}
		if (ret == -EACCES) {
			if (!mismatch_err[0])
				snprintf(mismatch_err, sizeof(mismatch_err), "%s %zu: %.200s",
					 item_name(sigs->v[i].kind), i, err);
		} else if (ret) {
			if (!first_ret) {
				first_ret = ret;
				snprintf(first_err, sizeof(first_err), "%s %zu: %.200s",
					 item_name(sigs->v[i].kind), i, err);
			}
		} else {
			if (role == ITEM_PROVENANCE) {
				if (n_prov++ == 0) {
					out->provenance_type = res.predicate_type;
					res.predicate_type = NULL;
				}
			} else if (role == ITEM_OTHER) {
				if (n_other++ == 0)
					snprintf(other_type, sizeof(other_type), "%.120s",
						 res.predicate_type ? res.predicate_type
								    : "(none)");
			} else {
				out->n_verified++;
				if (n_sig++ == 0)
					take_signature(out, &res);
			}
		}
		sigstore_verify_result_clear(&res);
	}
	out->provenance_verified = n_prov > 0;
	if (n_sig && (n_prov || o->skip_provenance))
		return finish(out, SIGSTORE_IMAGE_VERIFIED, digest,
			      "signed by %.80s (issuer %.60s); %zu of %zu verified", out->subject,
			      out->issuer, out->n_verified, out->n_found);
	if (n_sig) {
		snprintf(err, sizeof(err), "%.100s", out->subject);
		drop_signature(out); /* the fields describe a verified image only */
		return finish(out, SIGSTORE_IMAGE_ERROR, digest,
			      "no SLSA provenance from an allowed identity (signed by %s)", err);
	}
	if (mismatch_err[0])
		return finish(out, SIGSTORE_IMAGE_IDENTITY_MISMATCH, digest,
			      "no signature from an allowed identity: %s", mismatch_err);
	if (n_prov || n_other)
		return finish(out, SIGSTORE_IMAGE_ERROR, digest,
			      "no image signature: only attestations verified (%s%s%s)",
			      n_prov ? "SLSA provenance" : "", n_prov && n_other ? ", " : "",
			      n_other ? other_type : "");
	return finish(out, SIGSTORE_IMAGE_ERROR, digest, "%s", first_err);
}

int sigstore_image_verify(struct sigstore_oci_client *c, const struct sigstore_oci_ref *ref,
			  const struct sigstore_image_opts *o,
			  struct sigstore_image_verification *out)
{
	struct sigstore_oci_sigs sigs = {0};
	char err[256] = "";
	int ret;

	memset(out, 0, sizeof(*out));
	out->log_index = -1;
	if (!ref->digest[0])
		return finish(out, SIGSTORE_IMAGE_ERROR, ref->repo,
			      "no image digest (resolve the tag first)");
	ret = sigstore_oci_fetch_bundles(c, ref, &sigs, err);
	switch (ret) {
	case 0:
		ret = sigstore_image_verify_sigs(&sigs, ref->digest, o, out);
		break;
	case -ENOENT:
		ret = finish(out, SIGSTORE_IMAGE_NOT_SIGNED, ref->digest, "%s", err);
		break;
	case -EACCES:
	case -EIO:
		ret = finish(out, SIGSTORE_IMAGE_NETWORK_ERROR, ref->digest, "%s", err);
		break;
	case -ETIMEDOUT:
		ret = finish(out, SIGSTORE_IMAGE_TIMEOUT, ref->digest, "%s", err);
		break;
	case -ECANCELED:
		ret = finish(out, SIGSTORE_IMAGE_CANCELLED, ref->digest, "%s", err);
		break;
	default:
		finish(out, SIGSTORE_IMAGE_ERROR, ref->digest, "%s", err);
		break; /* keeps fetch's errno (-EPROTO, -E2BIG, -ENOMEM...) */
	}
	sigstore_oci_sigs_clear(&sigs);
	return ret;
}
