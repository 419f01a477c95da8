//! Times Ed25519 key derivation, signing and verification of a 64-byte
//! message, ours (kmod/pure/ed25519.rs) against ed25519-dalek, in one
//! process, and prints the medians and ratios. Not a test:
//!
//!     cargo run --release -p keyvault-pure --example ed25519_bench [ROUNDS]
//!
//! Each round times a batch of ours then a batch of dalek's, back to back, so
//! that the median of the per-round ratios holds up on a busy machine.

use std::hint::black_box;
use std::time::Instant;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use keyvault_pure::ed25519::{self, ExpandedSecret, Sha512};
use sha2::Digest;

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

/// Nanoseconds per call of `f`, over `batch` calls.
fn time_batch(batch: usize, f: &mut impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..batch {
        f();
    }
    t.elapsed().as_nanos() as f64 / batch as f64
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// (median ns of ours, median ns of dalek's, median of per-round ratios).
fn compare(
    rounds: usize,
    batch: usize,
    mut ours: impl FnMut(),
    mut theirs: impl FnMut(),
) -> (f64, f64, f64) {
    time_batch(batch, &mut ours);
    time_batch(batch, &mut theirs);
    let (mut a, mut b, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let x = time_batch(batch, &mut ours);
        let y = time_batch(batch, &mut theirs);
        a.push(x);
        b.push(y);
        r.push(x / y);
    }
    (median(&mut a), median(&mut b), median(&mut r))
}

fn main() {
    let rounds = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) { 5 } else { 201 });
    let batch = if cfg!(debug_assertions) { 2 } else { 20 };
    let seed = [0x42u8; 32];
    let msg = [0x5au8; 64];
    let public = ed25519::public_key::<Sha>(&seed);
    let key = ExpandedSecret::from_seed::<Sha>(&seed);
    let sig = key.sign::<Sha>(&msg);
    let dalek = SigningKey::from_bytes(&seed);
    let dalek_vk = VerifyingKey::from_bytes(&public).unwrap();
    let dalek_sig = Signature::from_bytes(&sig);
    assert_eq!(dalek.sign(&msg).to_bytes(), sig);
    assert!(ed25519::verify::<Sha>(&public, &msg, &sig));

    let verify_ours = || {
        assert!(ed25519::verify::<Sha>(
            black_box(&public),
            black_box(&msg),
            black_box(&sig)
        ));
    };
    let rows = [
        (
            "public key from seed",
            compare(
                rounds,
                batch,
                || {
                    black_box(ed25519::public_key::<Sha>(black_box(&seed)));
                },
                || {
                    black_box(SigningKey::from_bytes(black_box(&seed)).verifying_key());
                },
            ),
        ),
        (
            "sign, expanded key",
            compare(
                rounds,
                batch,
                || {
                    black_box(key.sign::<Sha>(black_box(&msg)));
                },
                || {
                    black_box(dalek.sign(black_box(&msg)));
                },
            ),
        ),
        (
            "verify, key bytes",
            compare(rounds, batch, verify_ours, || {
                let vk = VerifyingKey::from_bytes(black_box(&public)).unwrap();
                assert!(vk
                    .verify_strict(black_box(&msg), black_box(&dalek_sig))
                    .is_ok());
            }),
        ),
        (
            "verify (dalek: key pre-decoded)",
            compare(rounds, batch, verify_ours, || {
                assert!(dalek_vk
                    .verify_strict(black_box(&msg), black_box(&dalek_sig))
                    .is_ok());
            }),
        ),
    ];
    println!("Ed25519, 64-byte message: medians over {rounds} rounds of {batch} calls each");
    println!(
        "{:<34}{:>11}{:>12}{:>8}",
        "", "ours (us)", "dalek (us)", "ratio"
    );
    for (name, (ours, theirs, ratio)) in rows {
        println!(
            "{name:<34}{:>11.2}{:>12.2}{:>8.2}",
            ours / 1e3,
            theirs / 1e3,
            ratio
        );
    }
    println!("ratio: median of per-round ours/dalek; above 1 means ours is slower");
}
