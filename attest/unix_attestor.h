/*
 * unix_attestor.h - the unix attestor: turns the captured credentials and executable of a peer
 * into unix.* attributes (unix.uid, unix.user, unix.gid, unix.group, unix.supplementary_gid,
 * unix.supplementary_group, unix.path, unix.pid, unix.real_uid, unix.real_gid). Runs on the
 * loop thread; the only blocking calls are NSS name lookups. unix.sha256 is added by the caller
 * once attest/exe_hash.h has hashed the executable on a worker.
 */
#ifndef ATTEST_UNIX_ATTESTOR_H
#define ATTEST_UNIX_ATTESTOR_H

#include <stdint.h>

#include "attest/attrs.h"
#include "attest/peer.h"

#define UNIX_ATTESTOR_DELETED_SUFFIX " (deleted)"

struct unix_attestor_opts {
	uint64_t hash_size_limit; /* 0 = none */
};

/*
 * Adds the unix.* attributes of *peer to attrs. uid/gid are the effective ids (as SPIRE uses);
 * user/group names are omitted when NSS has none; unix.path is omitted when the executable path is
 * unknown or ends in " (deleted)". Returns 0, or a negative errno with err filled (an NSS lookup
 * failure other than "not found", or an attr_set_add error).
 */
int unix_attestor_attest(const struct peer_identity *peer, struct attr_set *attrs, char err[256]);

#endif /* ATTEST_UNIX_ATTESTOR_H */
