// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * fuzz_template.c - template parsing and rendering (policy_template_check, policy_render, and
 * policy_new + policy_match with the input as a template's spiffe_id and dns_names).
 * Input: "TEMPLATE\nVALUE": VALUE becomes the value of the attributes "a", "b.c" and
 * "k.label[app.io/x-y]", so the fuzzer drives both the template and what is substituted.
 * Properties: a parse error is the same for check and render; whatever policy_match issues is
 * a valid SPIFFE ID in the trust domain and its DNS names have only DNS characters.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attrs.h"
#include "attest/policy.h"

#define FUZZ_TD "example.org"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_match(const char *tmpl, const struct attr_set *attrs)
{
	char *dns[] = {(char *)tmpl};
	struct policy_template t = {.spiffe_id = (char *)tmpl, .dns_names = dns, .ndns_names = 1};
	struct policy_template t2 = {.spiffe_id = "spiffe://" FUZZ_TD "/x"};
	struct policy *p = NULL;
	struct policy_match m = {0};
	char err[POLICY_ERR_MAX];
	size_t td_len;

	/* the input as an ID template; then (separately) as a DNS name template */
	if (policy_new(FUZZ_TD, NULL, 0, &t, 1, &p, err) != 0) {
		t2.dns_names = dns;
		t2.ndns_names = 1;
		if (policy_new(FUZZ_TD, NULL, 0, &t2, 1, &p, err) != 0)
			return;
	}
	if (policy_match(p, attrs, NULL, &m) != 0)
		goto out;
	if (m.nids + m.nerrors != 1)
		__builtin_trap();
	for (size_t i = 0; i < m.nids; i++) {
		const struct policy_identity *id = &m.ids[i];

		if (spiffe_id_validate(id->spiffe_id, &td_len, err) != 0 ||
		    td_len != strlen(FUZZ_TD) || strncmp(id->spiffe_id + 9, FUZZ_TD, td_len) != 0)
			__builtin_trap();
		for (size_t j = 0; j < id->ndns_names; j++) {
			const char *d = id->dns_names[j];

			if (!*d ||
			    strspn(d, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				      "0123456789.-*") != strlen(d) ||
			    strlen(d) > 253 || d[strlen(d) - 1] == '.' || strstr(d, ".."))
				__builtin_trap();
		}
	}
out:
	policy_match_free(&m);
	policy_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *nl, *value;
	struct attr_set *attrs = NULL;
	char out[POLICY_VALUE_MAX + 1], err[POLICY_ERR_MAX], cerr[POLICY_ERR_MAX];
	int rc, crc;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	nl = strchr(buf, '\n');
	value = nl ? nl + 1 : "v";
	if (nl)
		*nl = '\0';
	if (attr_set_new(&attrs) < 0)
		goto out;
	/* invalid values (empty, too long) are simply not added */
	attr_set_add(attrs, "a", value);
	attr_set_add(attrs, "b.c", value);
	attr_set_add(attrs, "k.label[app.io/x-y]", value);
	attr_set_add(attrs, "multi", "1");
	attr_set_add(attrs, "multi", "2");

	memset(cerr, 'x', sizeof(cerr));
	crc = policy_template_check(buf, cerr);
	if ((crc != 0 && crc != -EINVAL) || !memchr(cerr, '\0', sizeof(cerr)))
		__builtin_trap();
	memset(err, 'x', sizeof(err));
	rc = policy_render(buf, attrs, out, sizeof(out), err);
	if (rc != 0 && rc != -EINVAL && rc != -ENOENT && rc != -E2BIG)
		__builtin_trap();
	if (!memchr(err, '\0', sizeof(err)) || (rc < 0 && !err[0]))
		__builtin_trap();
	/* a parse error is found without attributes too, and nothing else is a parse error */
	if ((crc == -EINVAL) != (rc == -EINVAL))
		__builtin_trap();
	if (rc == 0 && strlen(out) >= sizeof(out))
		__builtin_trap();
	check_match(buf, attrs);
out:
	attr_set_free(attrs);
	free(buf);
	return 0;
}
