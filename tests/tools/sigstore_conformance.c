/*
 * sigstore_conformance.c - test driver for the sigstore-conformance client protocol:
 *   sigstore_conformance verify-bundle --bundle FILE ... FILE_OR_DIGEST
 * The same code runs as `attestctl sigstore verify-bundle` (sigstore/conformance.h).
 */
#include "sigstore/conformance.h"

int main(int argc, char **argv)
{
	return sigstore_conformance_main(argc - 1, argv + 1);
}
