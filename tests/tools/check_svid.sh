#!/bin/sh
# check_svid.sh - independent checks of what daemon/svid.c issues, with the openssl CLI and
# python3-cryptography (Debian). Called by tests/unit/test_svid.c; exit 0 = pass, 77 = a tool
# is missing (skip), anything else = fail with the reason on stderr.
#   check_svid.sh x509 DIR SPIFFE_ID [DNS...]  DIR holds chain.pem (leaf first), key.der (PKCS#8)
#                                               and bundle.pem
#   check_svid.sh jwt JWKS_FILE TOKEN AUDIENCE SPIFFE_ID
#   check_svid.sh mkchain DIR                   root.pem, int.pem, int.key, chain.pem (int+root)
set -eu
PY=/usr/bin/python3
OPENSSL=$(command -v openssl || true)
[ -n "$OPENSSL" ] || { echo "needs openssl" >&2; exit 77; }
$PY -c 'import cryptography' 2>/dev/null || { echo "needs python3-cryptography" >&2; exit 77; }

die() { echo "check_svid: $*" >&2; exit 1; }

case "${1:-}" in
x509)
	dir=$2 id=$3
	shift 3
	cd "$dir"
	# split the chain: leaf.pem = first certificate, untrusted.pem = the rest
	awk 'BEGIN{n=0} /BEGIN CERTIFICATE/{n++} { if (n==1) print > "leaf.pem"; else print > "untrusted.pem" }' chain.pem
	[ -s untrusted.pem ] || cp bundle.pem untrusted.pem
	out=$("$OPENSSL" verify -x509_strict -purpose sslclient -CAfile bundle.pem \
		-untrusted untrusted.pem leaf.pem 2>&1) || die "openssl verify: $out"
	[ "$out" = "leaf.pem: OK" ] || die "openssl verify: $out"
	out=$("$OPENSSL" verify -x509_strict -purpose sslserver -CAfile bundle.pem \
		-untrusted untrusted.pem leaf.pem 2>&1) || die "openssl verify (server): $out"
	text=$("$OPENSSL" x509 -in leaf.pem -noout -text)
	for want in "CA:FALSE" "Digital Signature" \
		"TLS Web Server Authentication, TLS Web Client Authentication" "URI:$id" \
		"X509v3 Key Usage: critical" "X509v3 Basic Constraints: critical" \
		"X509v3 Subject Key Identifier" "X509v3 Authority Key Identifier" \
		"ecdsa-with-SHA256" "NIST CURVE: P-256"; do
		printf '%s' "$text" | grep -qF "$want" || die "x509 -text lacks \"$want\""
	done
	"$OPENSSL" pkey -inform DER -in key.der -pubout -out key_pub.pem ||
		die "key.der is not a DER private key"
	"$OPENSSL" x509 -in leaf.pem -noout -pubkey -out cert_pub.pem
	cmp -s key_pub.pem cert_pub.pem || die "PKCS#8 key does not match the certificate"
	"$PY" - "$id" "$@" <<'EOF'
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID
spiffe_id, dns = sys.argv[1], sys.argv[2:]
def fail(msg):
    sys.exit("check_svid (python): " + msg)
def load_all(path):
    out, pem = [], open(path, "rb").read()
    end = b"-----END CERTIFICATE-----"
    for part in pem.split(end)[:-1]:
        out.append(x509.load_pem_x509_certificate(part.strip() + b"\n" + end + b"\n"))
    return out
leaf = x509.load_pem_x509_certificate(open("leaf.pem", "rb").read())
bundle = load_all("bundle.pem")
chain = load_all("chain.pem")
issuer = chain[1] if len(chain) > 1 else bundle[0]
key = serialization.load_der_private_key(open("key.der", "rb").read(), None)
if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
    fail("key is not P-256")
if key.public_key().public_numbers() != leaf.public_key().public_numbers():
    fail("key does not match the certificate")
if leaf.version != x509.Version.v3:
    fail("not X.509 v3")
if leaf.serial_number < 2 ** 120:
    fail("serial shorter than 16 bytes: %x" % leaf.serial_number)
ext = {e.oid: e for e in leaf.extensions}
san = ext[ExtensionOID.SUBJECT_ALTERNATIVE_NAME]
uris = san.value.get_values_for_type(x509.UniformResourceIdentifier)
if uris != [spiffe_id]:
    fail("URI SANs %r, want exactly [%r]" % (uris, spiffe_id))
if sorted(san.value.get_values_for_type(x509.DNSName)) != sorted(dns):
    fail("DNS SANs %r, want %r" % (san.value.get_values_for_type(x509.DNSName), dns))
if len(leaf.subject) == 0 and not san.critical:
    fail("empty subject but SAN not critical")
ku = ext[ExtensionOID.KEY_USAGE]
if not ku.critical or not ku.value.digital_signature or ku.value.key_cert_sign or \
        ku.value.crl_sign or ku.value.key_agreement or ku.value.key_encipherment:
    fail("KeyUsage must be critical digitalSignature only: %r" % ku)
bc = ext[ExtensionOID.BASIC_CONSTRAINTS]
if not bc.critical or bc.value.ca:
    fail("BasicConstraints must be critical cA=false")
eku = ext[ExtensionOID.EXTENDED_KEY_USAGE].value
if list(eku) != [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]:
    fail("EKU %r" % list(eku))
skid = ext[ExtensionOID.SUBJECT_KEY_IDENTIFIER].value
if skid.digest != x509.SubjectKeyIdentifier.from_public_key(leaf.public_key()).digest:
    fail("SKID is not the key hash")
akid = ext[ExtensionOID.AUTHORITY_KEY_IDENTIFIER].value
iskid = issuer.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_KEY_IDENTIFIER).value
if akid.key_identifier != iskid.digest:
    fail("AKID does not match the issuer's SKID")
if leaf.issuer != issuer.subject:
    fail("issuer name is not the CA's subject")
now = datetime.datetime.utcnow()
if not (now - datetime.timedelta(seconds=120) <= leaf.not_valid_before <= now - datetime.timedelta(seconds=10)):
    fail("NotBefore %s is not backdated slightly" % leaf.not_valid_before)
if leaf.not_valid_after <= now:
    fail("already expired")
if isinstance(issuer.public_key(), ec.EllipticCurvePublicKey):
    issuer.public_key().verify(leaf.signature, leaf.tbs_certificate_bytes,
                               ec.ECDSA(leaf.signature_hash_algorithm))
EOF
	;;
jwt)
	"$PY" - "$2" "$3" "$4" "$5" <<'EOF'
import base64, json, sys, time
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
jwks_file, token, audience, sub = sys.argv[1:5]
def fail(msg):
    sys.exit("check_svid (python jwt): " + msg)
def b64d(s):
    if "=" in s:
        fail("padding in base64url")
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
jwks = json.load(open(jwks_file))
h64, p64, s64 = token.split(".")
header, claims = json.loads(b64d(h64)), json.loads(b64d(p64))
if header.get("alg") != "ES256" or header.get("typ") != "JWT":
    fail("header %r" % header)
keys = [k for k in jwks["keys"] if k.get("kid") == header.get("kid")]
if len(keys) != 1 or keys[0].get("use") != "jwt-svid" or keys[0].get("crv") != "P-256":
    fail("kid %r not in JWKS %r" % (header.get("kid"), jwks))
for f in ("spiffe_sequence", "spiffe_refresh_hint"):
    if not isinstance(jwks.get(f), int):
        fail("JWKS lacks %s" % f)
k = keys[0]
pub = ec.EllipticCurvePublicNumbers(int.from_bytes(b64d(k["x"]), "big"),
                                    int.from_bytes(b64d(k["y"]), "big"),
                                    ec.SECP256R1()).public_key()
sig = b64d(s64)
if len(sig) != 64:
    fail("signature is %d bytes, want 64 (raw r||s)" % len(sig))
der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
pub.verify(der, (h64 + "." + p64).encode(), ec.ECDSA(hashes.SHA256()))
aud = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
if audience not in aud:
    fail("audience %r not in %r" % (audience, aud))
if claims.get("sub") != sub:
    fail("sub %r, want %r" % (claims.get("sub"), sub))
now = time.time()
if not (claims["iat"] <= now + 5 and claims["exp"] > now):
    fail("iat/exp %r" % claims)
EOF
	;;
mkchain)
	dir=$2
	cd "$dir"
	cat > ext.cnf <<'EOF'
[req]
distinguished_name = dn
[dn]
[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
subjectAltName = URI:spiffe://example.org
[int]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = URI:spiffe://example.org
EOF
	"$OPENSSL" req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout root.key \
		-out root.pem -days 30 -subj "/O=test/CN=test root" -extensions root \
		-config ext.cnf -batch 2>/dev/null
	"$OPENSSL" req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout int.key \
		-out int.csr -subj "/O=test/CN=test intermediate" -config ext.cnf -batch 2>/dev/null
	"$OPENSSL" x509 -req -in int.csr -CA root.pem -CAkey root.key -CAcreateserial \
		-out int.pem -days 20 -extfile ext.cnf -extensions int 2>/dev/null
	cat int.pem root.pem > chain.pem
	;;
*)
	echo "usage: check_svid.sh x509 DIR SPIFFE_ID [DNS...] | jwt JWKS TOKEN AUD SUB | mkchain DIR" >&2
	exit 2
	;;
esac
