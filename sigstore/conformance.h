/*
 * conformance.h - the sigstore-conformance client protocol, for `attestctl sigstore ...`:
 *   verify-bundle --bundle FILE (--certificate-identity ID --certificate-oidc-issuer URL |
 *                 --key KEY.pem) [--trusted-root FILE] FILE_OR_DIGEST
 * FILE_OR_DIGEST is a path or "sha256:<64 hex>". Exit status: 0 verified, 1 rejected (one
 * line "verify-bundle: <reason>" on stderr), 2 usage error.
 */
#ifndef SIGSTORE_CONFORMANCE_H
#define SIGSTORE_CONFORMANCE_H

/* Used when --trusted-root is not given. */
#define SIGSTORE_DEFAULT_TRUSTED_ROOT "/etc/attestd/trusted_root.json"

/* argv[0] is the subcommand ("verify-bundle"), then its arguments. Returns the exit status. */
int sigstore_conformance_main(int argc, char **argv);

#endif
