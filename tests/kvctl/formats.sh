#!/usr/bin/env bash
# kvctl's key formats against the real tools: keys made by openssl and
# ssh-keygen imported (PKCS#8 PEM and DER, OpenSSH with and without a
# passphrase, JWK, raw/hex/base64) are the same keys (same public key, same
# MAC); public keys exported by kvctl are read back by openssl and
# ssh-keygen; SSH signatures made by kvctl pass `ssh-keygen -Y verify`, and
# ssh-keygen's pass `kvctl verify`. Run inside the test VM with keyvault.ko
# loaded (openssl, ssh-keygen and python3 are the host's):
#
#   scripts/build-userspace && make &&
#     flock /tmp/kv-build.lock scripts/vm -- bash tests/kvctl/run.sh formats
#
# The checks run in one vault (this script runs itself under `kvctl exec`).
# Each prints `ok   NAME` or `FAIL NAME: why`; the last line is
# `N passed, N failed`.
source "$(dirname "$0")/lib.sh"

in_vault "$@" "$(command -v openssl)" "$(command -v ssh-keygen)" "$(command -v python3)"

b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
# The last 32 bytes of a DER PKCS#8 Ed25519/X25519 key (v1) are the key.
der_key_b64url() { openssl pkey -in "$1" -outform DER | tail -c 32 | b64url; }
mac() { echo keyvault | kvctl mac "$1"; }
k=$tmp

# --- symmetric keys: raw, hex, base64 and JWK are the same key.
hmac_hex=$(random_hex 32)
hex_to_bin "$hmac_hex" > "$k/hmac.bin"
hmac_b64=$(base64 -w0 < "$k/hmac.bin")
want=$(echo keyvault | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hmac_hex" -r | cut -d' ' -f1)
run "import raw bytes from a file (--format auto)" kvctl import hmac-sha256 --key-file "$k/hmac.bin"
expect "the raw key's MAC is openssl's" "$want" "$(mac "$out")"
run "import --format raw --key-fd 3" kvctl import hmac-sha256 --format raw --key-fd 3 3< "$k/hmac.bin"
expect "the same MAC through an fd" "$want" "$(mac "$out")"
run "import --format hex from stdin, with echo's newline" kvctl import hmac-sha256 --format hex --key-file - <<< "$hmac_hex"
expect "the hex key's MAC is the same" "$want" "$(mac "$out")"
run "import --format hex --key-fd 3 from a here-string" kvctl import hmac-sha256 --format hex --key-fd 3 3<<< "$hmac_hex"
expect "the same MAC" "$want" "$(mac "$out")"
run "import --format base64" kvctl import hmac-sha256 --format base64 --key-file - <<< "$hmac_b64"
expect "the base64 key's MAC is the same" "$want" "$(mac "$out")"
echo "{\"kty\":\"oct\",\"alg\":\"HS256\",\"k\":\"$(b64url < "$k/hmac.bin")\"}" > "$k/hmac.jwk"
run "import a JWK (kty oct, alg HS256)" kvctl import hmac-sha256 --key-file "$k/hmac.jwk"
expect "the JWK's MAC is the same" "$want" "$(mac "$out")"
refused "a JWK for HS256 is not an hmac-sha512 key" "for alg HS256, not hmac-sha512" \
  kvctl import hmac-sha512 --key-file "$k/hmac.jwk"

# --- auto refuses what it cannot tell apart.
refused "auto: hex text is refused (say --format hex)" "looks like hex.*--format hex" \
  kvctl import hmac-sha256 --key-file - <<< "$hmac_hex"
refused "auto: base64 text is refused (say --format base64)" "looks like base64.*--format base64" \
  kvctl import hmac-sha256 --key-file - <<< "$hmac_b64"
refused "auto: typed text with echo's newline is refused" "ending in a newline" \
  kvctl import hmac-sha256 --key-file - <<< "a shared secret, typed"
run "--format raw takes that text as it is" kvctl import hmac-sha256 --format raw --key-file - <<< "a shared secret, typed"
refused "--hex no longer exists (no key on the command line)" "unexpected argument '--hex'" \
  kvctl import aes128-gcm --hex 000102030405060708090a0b0c0d0e0f
refused "a key of the wrong size says the sizes" "is 32 bytes: an aes128-gcm key is 16 bytes" \
  kvctl import aes128-gcm --key-file "$k/hmac.bin"
refused "--key-fd of a closed fd" "fd 7 is not open" kvctl import aes128-gcm --key-fd 7

# --- Ed25519 from openssl: PKCS#8 PEM and DER.
openssl genpkey -algorithm ed25519 -out "$k/ed.pem" 2> /dev/null
openssl pkey -in "$k/ed.pem" -outform DER -out "$k/ed.der"
openssl pkey -in "$k/ed.pem" -pubout -out "$k/ed.pub.pem"
run "import ed25519 PKCS#8 PEM (openssl genpkey)" kvctl import ed25519 --key-file "$k/ed.pem"
ed=$out
run "pubkey --format pem" kvctl pubkey "$ed" --format pem
expect "it is openssl's public key (openssl pkey -pubout)" "$(cat "$k/ed.pub.pem")" "$out"
run "import ed25519 PKCS#8 DER (openssl pkey -outform DER), --format pkcs8" \
  kvctl import ed25519 --format pkcs8 --key-fd 3 3< "$k/ed.der"
expect "the DER key is the same key" "$(kvctl pubkey "$ed")" "$(kvctl pubkey "$out")"
refused "an Ed25519 PKCS#8 key is not an x25519 key (both named)" "Ed25519 private key (PKCS#8), not x25519" \
  kvctl import x25519 --key-file "$k/ed.pem"
refused "a PEM public key is not a private key" "a public key" kvctl import ed25519 --key-file "$k/ed.pub.pem"
kvctl pubkey "$ed" --format pem --out "$k/kv.pub.pem"
run "openssl reads pubkey --format pem back (openssl pkey -pubin)" openssl pkey -pubin -in "$k/kv.pub.pem" -noout -text

# --- X25519 from openssl.
openssl genpkey -algorithm x25519 -out "$k/x.pem" 2> /dev/null
openssl pkey -in "$k/x.pem" -outform DER -out "$k/x.der"
run "import x25519 PKCS#8 PEM" kvctl import x25519 --key-file "$k/x.pem"
x=$out
expect "its public key is openssl's" "$(openssl pkey -in "$k/x.pem" -pubout)" "$(kvctl pubkey "$x" --format pem)"
run "import x25519 PKCS#8 DER (auto)" kvctl import x25519 --key-file "$k/x.der"
expect "the DER key is the same key" "$(kvctl pubkey "$x")" "$(kvctl pubkey "$out")"
refused "pubkey --format openssh of an x25519 key" "OpenSSH has no x25519 keys" kvctl pubkey "$x" --format openssh

# --- JWKs (RFC 8037) of the openssl keys.
ed_x=$(openssl pkey -in "$k/ed.pem" -pubout -outform DER | tail -c 32 | b64url)
echo "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"d\":\"$(der_key_b64url "$k/ed.pem")\",\"x\":\"$ed_x\"}" > "$k/ed.jwk"
run "import an Ed25519 JWK (kty OKP, d and x)" kvctl import ed25519 --key-file "$k/ed.jwk"
expect "it is the openssl key" "$(kvctl pubkey "$ed")" "$(kvctl pubkey "$out")"
refused "an Ed25519 JWK is not an x25519 key" "an Ed25519 JWK, not x25519" kvctl import x25519 --key-file "$k/ed.jwk"
sed "s/\"x\":\"[^\"]*\"/\"x\":\"$(kvctl pubkey "$x" --format raw | b64url)\"/" "$k/ed.jwk" > "$k/bad.jwk"
refused "a JWK whose x is another key's is refused, nothing imported" "not the one of its private key" \
  kvctl import ed25519 --key-file "$k/bad.jwk"
echo "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"d\":\"$(der_key_b64url "$k/x.pem")\"}" > "$k/x.jwk"
run "import an X25519 JWK" kvctl import x25519 --key-fd 3 3< "$k/x.jwk"
expect "it is the openssl key" "$(kvctl pubkey "$x")" "$(kvctl pubkey "$out")"
run "pubkey --format jwk" kvctl pubkey "$ed" --format jwk
expect "the JWK is kty OKP, crv Ed25519, openssl's x" "OKP Ed25519 $ed_x" \
  "$(python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["kty"], j["crv"], j["x"])' <<< "$out")"

# --- OpenSSH private keys from ssh-keygen.
ssh-keygen -q -t ed25519 -N "" -C plain@test -f "$k/id" > /dev/null
run "import an OpenSSH key (ssh-keygen -t ed25519, no passphrase)" kvctl import ed25519 --key-file "$k/id"
sshkey=$out
run "pubkey --format openssh --comment" kvctl pubkey "$sshkey" --format openssh --comment plain@test
expect "it is ssh-keygen -y's line" "$(ssh-keygen -y -f "$k/id" | cut -d' ' -f1,2) plain@test" "$out"
echo "$out" > "$k/kv.pub"
run "ssh-keygen -l reads pubkey --format openssh back" ssh-keygen -l -f "$k/kv.pub"
expect "with the key's fingerprint" "$(ssh-keygen -l -f "$k/id.pub" | cut -d' ' -f2)" "$(cut -d' ' -f2 <<< "$out")"
pass="correct horse $$"
ssh-keygen -q -t ed25519 -N "$pass" -f "$k/locked" > /dev/null
run "import a passphrase-protected OpenSSH key (--key-fd 3, --passphrase-fd 4)" \
  kvctl import ed25519 --key-fd 3 3< "$k/locked" --passphrase-fd 4 4<<< "$pass"
expect "it is the key ssh-keygen made" "$(ssh-keygen -y -P "$pass" -f "$k/locked" | cut -d' ' -f1,2)" \
  "$(kvctl pubkey "$out" --format openssh)"
refused "an encrypted key without a passphrase (stdin not a terminal)" "is encrypted: give its passphrase with --passphrase-fd" \
  kvctl import ed25519 --key-file "$k/locked" < /dev/null
refused "the wrong passphrase" "does not open with this passphrase" \
  kvctl import ed25519 --key-file "$k/locked" --passphrase-fd 4 4<<< "wrong $pass"
refused "an OpenSSH key is not an x25519 key" "ssh-ed25519 private key, not x25519" kvctl import x25519 --key-file "$k/id"
refused "an OpenSSH public key is not a private key" "OpenSSH public key" kvctl import ed25519 --key-file "$k/id.pub"

# --- SSH signatures.
printf 'release 1.0\n' > "$k/msg"
echo "someone $(cat "$k/kv.pub")" > "$k/allowed_signers"
run "sign --format sshsig --namespace file" kvctl sign "$sshkey" --format sshsig --namespace file --in "$k/msg" --out "$k/msg.sig"
expect "an armored SSH signature" "-----BEGIN SSH SIGNATURE-----" "$(head -1 "$k/msg.sig")"
run "ssh-keygen -Y verify accepts it" ssh-keygen -Y verify -f "$k/allowed_signers" -I someone -n file -s "$k/msg.sig" < "$k/msg"
run "ssh-keygen -Y check-novalidate accepts it" ssh-keygen -Y check-novalidate -n file -s "$k/msg.sig" < "$k/msg"
status "ssh-keygen -Y verify rejects it for another namespace" 255 \
  ssh-keygen -Y verify -f "$k/allowed_signers" -I someone -n git -s "$k/msg.sig" < "$k/msg"
printf 'release 1.1\n' > "$k/msg2"
status "ssh-keygen -Y verify rejects it after the file changed" 255 \
  ssh-keygen -Y verify -f "$k/allowed_signers" -I someone -n file -s "$k/msg.sig" < "$k/msg2"
run "kvctl verify --format sshsig with the vault key" kvctl verify "$sshkey" --format sshsig --namespace file --sig-file "$k/msg.sig" --in "$k/msg"
run "kvctl verify finds the SSH signature itself, with --pubkey-file (OpenSSH)" \
  kvctl verify --pubkey-file "$k/id.pub" --namespace file --sig-file "$k/msg.sig" --in "$k/msg"
refused "kvctl verify rejects it after the file changed" "bad signature" \
  kvctl verify "$sshkey" --namespace file --sig-file "$k/msg.sig" --in "$k/msg2"
refused "kvctl verify rejects another namespace" "for namespace 'file', not 'git'" \
  kvctl verify "$sshkey" --namespace git --sig-file "$k/msg.sig" --in "$k/msg"
refused "kvctl verify rejects another signer" "not by key $ed" \
  kvctl verify "$ed" --namespace file --sig-file "$k/msg.sig" --in "$k/msg"
refused "an SSH signature needs --namespace" "needs --namespace" kvctl sign "$sshkey" --format sshsig --in "$k/msg"
rm -f "$k/msg.sig"
ssh-keygen -q -Y sign -f "$k/id" -n file "$k/msg" 2> /dev/null
run "kvctl verify checks ssh-keygen -Y sign's signature (--pubkey-file OpenSSH)" \
  kvctl verify --pubkey-file "$k/id.pub" --namespace file --sig-file "$k/msg.sig" --in "$k/msg"
refused "...and says when it is by another key (--pubkey-file PEM, the openssl key)" "not by public key" \
  kvctl verify --pubkey-file "$k/kv.pub.pem" --namespace file --sig-file "$k/msg.sig" --in "$k/msg"

head -c $((5 << 20)) /dev/urandom > "$k/big"
run "sign --format sshsig of a 5 MiB file" kvctl sign "$sshkey" --format sshsig --namespace file --in "$k/big" --out "$k/big.sig"
run "ssh-keygen -Y verify accepts it" ssh-keygen -Y verify -f "$k/allowed_signers" -I someone -n file -s "$k/big.sig" < "$k/big"
run "kvctl verify accepts it" kvctl verify "$sshkey" --format sshsig --namespace file --sig-file "$k/big.sig" --in "$k/big"
refused "raw sign of 5 MiB (above the 1 MiB limit) says to use sshsig" "per-operation limit (EMSGSIZE).*--format sshsig" \
  kvctl sign "$sshkey" --in "$k/big"
refused "--namespace is only for sshsig" "--namespace is for SSH signatures" \
  kvctl sign "$sshkey" --namespace file --in "$k/msg"

finish "$passed" "$failed"
