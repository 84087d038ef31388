/*
 * trusted_root_blob.S - the Sigstore public-good trusted_root.json (deploy/trusted_root.json)
 * built into attestd: attestors.kubernetes.sigstore uses it when trusted_root is not set and
 * /etc/attestd/trusted_root.json does not exist. Read through config_builtin_trusted_root().
 * The Makefile assembles it from the repository root (-Wa,-I. finds the file).
 */
	.section .rodata
	.global attestd_trusted_root_blob
	.type attestd_trusted_root_blob, @object
	.balign 16
attestd_trusted_root_blob:
	.incbin "deploy/trusted_root.json"
attestd_trusted_root_blob_end:
	.size attestd_trusted_root_blob, attestd_trusted_root_blob_end - attestd_trusted_root_blob

	.global attestd_trusted_root_blob_size
	.type attestd_trusted_root_blob_size, @object
	.balign 8
attestd_trusted_root_blob_size:
	.quad attestd_trusted_root_blob_end - attestd_trusted_root_blob
	.size attestd_trusted_root_blob_size, 8

	.section .note.GNU-stack, "", @progbits
