/*
 * tlog.h - transparency log proofs, offline: the RFC 9162 Merkle inclusion proof, the signed
 * checkpoint (C2SP signed note, ECDSA or Ed25519 log key; unknown signature lines such as
 * witness cosignatures are ignored), and the Rekor v1 signed entry timestamp (SET).
 */
#ifndef SIGSTORE_TLOG_H
#define SIGSTORE_TLOG_H

#include <stddef.h>
#include <stdint.h>

#include "sigstore/bundle.h"
#include "sigstore/trust_root.h"

#define SIGSTORE_TLOG_MAX_NOTE_SIGS 32 /* signature lines in a checkpoint */

/* SHA-256(0x00 || body): the Merkle leaf hash of a log entry. */
void sigstore_tlog_leaf_hash(const unsigned char *body, size_t len, unsigned char out[32]);

/* RFC 9162 §2.1.3.2. Returns 0 when the path leads from leaf at index to root, -EBADMSG if not. */
int sigstore_tlog_verify_inclusion(uint64_t index, uint64_t size, const unsigned char leaf[32],
				   const unsigned char (*path)[32], size_t n,
				   const unsigned char root[32]);

/*
 * Verifies a checkpoint: some signature line from log (key hint = first 4 bytes of its log ID,
 * name = the origin or its host part) verifies over the note text, and the note's tree size and
 * root hash equal size and root.
 */
int sigstore_tlog_verify_checkpoint(const char *note, const struct sigstore_log *log, uint64_t size,
				    const unsigned char root[32], char err[256]);

/* Verifies e's SET with log: ECDSA over canonical JSON {body, integratedTime, logID, logIndex}. */
int sigstore_tlog_verify_set(const struct sigstore_tlog_entry *e, const struct sigstore_log *log,
			     char err[256]);

/* Leaf hash of e's body, inclusion proof and checkpoint, all against log. */
int sigstore_tlog_verify_proof(const struct sigstore_tlog_entry *e, const struct sigstore_log *log,
			       char err[256]);

#endif
