#!/usr/bin/env bash
# kvctl derive and exchange, for real, against a reference: HKDF and X25519
# done in the kernel must give what Python's `cryptography` (the host's
# /usr/bin/python3) computes from the same key bytes, seen through the MACs
# of the derived keys (their bytes never leave the kernel).
source "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
in_vault "$@" "$py"

# --- derive: HKDF-SHA256/512 of an imported HMAC key into an HMAC key.
ikm=$(random_hex 32)
parent=$(kvctl import hmac-sha256 --format hex --key-file - --usage derive,mac <<< "$ikm")
for hash in sha256 sha512; do
  run "derive --hash $hash --salt --info into hmac-sha256" \
    kvctl derive "$parent" --to hmac-sha256 --hash "$hash" --salt pepper --info "kdf check"
  child=$out
  want=$($py - "$ikm" "$hash" <<'PY'
import hmac, sys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
h = {"sha256": hashes.SHA256(), "sha512": hashes.SHA512()}[sys.argv[2]]
k = HKDF(algorithm=h, length=32, salt=b"pepper", info=b"kdf check").derive(bytes.fromhex(sys.argv[1]))
print(hmac.new(k, b"message\n", "sha256").hexdigest())
PY
)
  expect "...the derived key is RFC 5869's (its MAC is Python's HKDF-$hash + HMAC)" "$want" "$(echo message | kvctl mac "$child")"
done

# --- exchange: X25519 with a peer, then HKDF, both ways and against Python.
openssl genpkey -algorithm x25519 -out "$tmp/a.pem" 2>/dev/null
run "import an X25519 key made by openssl" kvctl import x25519 --key-file "$tmp/a.pem"
a=$out
b=$(kvctl genkey x25519)
pub_a=$(kvctl pubkey "$a") pub_b=$(kvctl pubkey "$b")
run "exchange A with B's public key into hmac-sha256" kvctl exchange "$a" --peer "$pub_b" --to hmac-sha256 --info "kx check"
ka=$out
run "exchange B with A's public key" kvctl exchange "$b" --peer "$pub_a" --to hmac-sha256 --info "kx check"
kb=$out
expect "both sides derive the same key (same MAC)" "$(echo hi | kvctl mac "$ka")" "$(echo hi | kvctl mac "$kb")"
want=$($py - "$tmp/a.pem" "$pub_b" <<'PY'
import hmac, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
a = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), None)
shared = a.exchange(X25519PublicKey.from_public_bytes(bytes.fromhex(sys.argv[2])))
k = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"kx check").derive(shared)
print(hmac.new(k, b"hi\n", "sha256").hexdigest())
PY
)
expect "...and it is X25519 + HKDF-SHA256 as Python computes it" "$want" "$(echo hi | kvctl mac "$ka")"
expect "A's public key is openssl's" "$(openssl pkey -in "$tmp/a.pem" -pubout -outform DER | tail -c 32 | od -An -v -tx1 | tr -d ' \n')" "$pub_a"
refused "exchange with a low-order peer key is refused" "low-order" \
  kvctl exchange "$a" --peer "$(printf '%064d' 0)" --to hmac-sha256
status "...with exit status 8 (invalid request)" 8 kvctl exchange "$a" --peer "$(printf '%064d' 0)" --to hmac-sha256
status "exchange with an Ed25519 key: exit status 8 (wrong key type)" 8 \
  kvctl exchange "$(kvctl genkey ed25519)" --peer "$pub_b" --to hmac-sha256
finish "$passed" "$failed"
