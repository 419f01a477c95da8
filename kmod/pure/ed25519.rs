// SPDX-License-Identifier: GPL-2.0

//! Ed25519 signatures (RFC 8032, pure Ed25519: no context, no prehash), in
//! `core`-only Rust. SHA-512 comes from the caller through [`Sha512`], so the
//! module uses the kernel's implementation and the host tests a crate's.
//!
//! Secrets (the seed, the clamped scalar, the nonce prefix, the nonce `r`)
//! are only handled in constant time: no branch and no table index depends
//! on them, the fixed-base scalar multiplication reads every entry of each
//! table row, and loops have fixed counts. The secret intermediates that
//! signing names (the seed's hash, the scalar, the prefix, the nonce and its
//! digits) are wiped with volatile writes when done; the copies arithmetic
//! leaves in registers and spilled temporaries are not. Verification handles
//! public data only and runs in variable time.
//!
//! Nothing panics on any input: no indexing by input-derived values, all
//! arithmetic `wrapping_*` with bounds that never actually wrap, no 128-bit
//! division, no recursion (built with overflow checks at the kernel's
//! `opt-level=s`, the object code references no panic function at all).
//! Stack: about 2 KiB for signing, 4.5 KiB for verification (x86-64). The
//! tables of multiples of the base point (30 KiB and 7.5 KiB) are `static`s
//! computed by the compiler.
//!
//! # Verification policy
//!
//! [`verify`] is strict: the rules of ed25519-dalek's `verify_strict`, plus
//! canonical `A`, which dalek does not require (it reduces `y` mod p):
//!
//! - `S` must be canonical (`S < L`);
//! - `A` and `R` must be canonical encodings of curve points (`y < p`, and
//!   not `x = 0` with the sign bit set);
//! - neither `A` nor `R` may have small order (1, 2, 4 or 8);
//! - the cofactorless equation `[S]B == R + [k]A` must hold, with
//!   `k = SHA-512(R || A || M) mod L`.
//!
//! Canonical `S`, `R` and `A` make signatures non-malleable: a message and
//! key have at most one accepted encoding of each signature. Refusing
//! small-order `A` and `R` rules out keys under which one signature verifies
//! for many messages, and signatures valid under several keys (key
//! substitution). This agrees with dalek's strict mode and with every
//! Wycheproof verdict; signatures made by [`sign`] always pass it.

mod field;
mod point;
mod scalar;

use super::wipe;

use point::Point;
use scalar::Scalar;

/// Length of a seed (the secret key as RFC 8032 stores it).
pub const SEED_LEN: usize = 32;
/// Length of a public key.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length of a signature, `R || S`.
pub const SIGNATURE_LEN: usize = 64;

/// SHA-512, supplied by the caller.
pub trait Sha512 {
    /// SHA-512 of the concatenation of `parts`, into `out`: written in
    /// place, because a returned digest (the signing nonce, the expanded
    /// secret) would leave a copy in the callee's stack frame.
    fn sha512(parts: &[&[u8]], out: &mut [u8; 64]);
}

/// A secret key expanded once (RFC 8032 section 5.1.5): the clamped scalar,
/// the nonce prefix and the public key, so that signing does not hash the
/// seed again. All of it is wiped when dropped. Not `Clone`, not `Copy`;
/// keep it in place (e.g. boxed) rather than moving it around, since a move
/// may leave a copy behind that `Drop` does not see.
pub struct ExpandedSecret {
    scalar: [u8; 32],
    prefix: [u8; 32],
    public: [u8; 32],
}

impl ExpandedSecret {
    /// An all-zero key, to expand a seed into in place ([`Self::set_seed`])
    /// where it will live (e.g. in a box): the secret is never moved.
    #[must_use]
    pub const fn empty() -> Self {
        ExpandedSecret {
            scalar: [0; 32],
            prefix: [0; 32],
            public: [0; 32],
        }
    }

    /// Expands `seed` and computes its public key.
    #[must_use]
    pub fn from_seed<H: Sha512>(seed: &[u8; SEED_LEN]) -> Self {
        let mut key = Self::empty();
        key.set_seed::<H>(seed);
        key
    }

    /// Makes this the expansion of `seed`, with its public key, in place.
    pub fn set_seed<H: Sha512>(&mut self, seed: &[u8; SEED_LEN]) {
        self.expand::<H>(seed);
        self.public = point::mul_base(&self.scalar).compress();
    }

    /// Expands `seed` into the scalar and prefix (the public key is left).
    fn expand<H: Sha512>(&mut self, seed: &[u8; SEED_LEN]) {
        let mut h = [0u8; 64];
        H::sha512(&[seed.as_slice()], &mut h);
        for (d, s) in self.scalar.iter_mut().zip(h.iter()) {
            *d = *s;
        }
        for (d, s) in self.prefix.iter_mut().zip(h.iter().skip(32)) {
            *d = *s;
        }
        wipe(&mut h, [0; 64]);
        self.scalar[0] &= 248;
        self.scalar[31] &= 127;
        self.scalar[31] |= 64;
    }

    /// The public key.
    #[must_use]
    pub fn public_key(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.public
    }

    /// The (deterministic) signature of `msg`.
    #[must_use]
    pub fn sign<H: Sha512>(&self, msg: &[u8]) -> [u8; SIGNATURE_LEN] {
        // r = SHA-512(prefix || M) mod L, R = [r]B.
        let mut h = [0u8; 64];
        H::sha512(&[self.prefix.as_slice(), msg], &mut h);
        let mut r = Scalar::from_bytes_wide(&h);
        wipe(&mut h, [0; 64]);
        let mut r_bytes = r.to_bytes();
        let big_r = point::mul_base(&r_bytes).compress();
        wipe(&mut r_bytes, [0; 32]);
        // k = SHA-512(R || A || M) mod L, S = r + k a mod L.
        H::sha512(&[&big_r, &self.public, msg], &mut h);
        let k = Scalar::from_bytes_wide(&h);
        let mut a = Scalar::from_bytes(&self.scalar);
        let s = Scalar::mul_add(&k, &a, &r).to_bytes();
        wipe(&mut a.0, [0; 5]);
        wipe(&mut r.0, [0; 5]);
        let mut sig = [0u8; SIGNATURE_LEN];
        for (d, s) in sig.iter_mut().zip(big_r.iter().chain(s.iter())) {
            *d = *s;
        }
        sig
    }
}

impl Drop for ExpandedSecret {
    fn drop(&mut self) {
        wipe(&mut self.scalar, [0; 32]);
        wipe(&mut self.prefix, [0; 32]);
        wipe(&mut self.public, [0; 32]);
    }
}

/// The public key of `seed`.
#[must_use]
pub fn public_key<H: Sha512>(seed: &[u8; SEED_LEN]) -> [u8; PUBLIC_KEY_LEN] {
    ExpandedSecret::from_seed::<H>(seed).public_key()
}

/// The (deterministic) signature of `msg` by `seed`, whose public key is
/// `public`.
///
/// `public` must be `public_key(seed)`: it is hashed into the signature
/// unchecked, and two signatures of one message under different claimed
/// public keys reveal the secret scalar. Where the public key is not
/// trustworthy, use [`ExpandedSecret`], which computes its own.
#[must_use]
pub fn sign<H: Sha512>(
    seed: &[u8; SEED_LEN],
    public: &[u8; PUBLIC_KEY_LEN],
    msg: &[u8],
) -> [u8; SIGNATURE_LEN] {
    let mut key = ExpandedSecret::empty();
    key.expand::<H>(seed);
    key.public = *public;
    key.sign::<H>(msg)
}

/// Whether `sig` is a valid signature of `msg` under `public`, by the strict
/// rules of the module documentation. Variable time (all inputs are
/// public).
#[must_use]
pub fn verify<H: Sha512>(
    public: &[u8; PUBLIC_KEY_LEN],
    msg: &[u8],
    sig: &[u8; SIGNATURE_LEN],
) -> bool {
    let mut r_bytes = [0u8; 32];
    let mut s_bytes = [0u8; 32];
    for (d, s) in r_bytes.iter_mut().chain(s_bytes.iter_mut()).zip(sig) {
        *d = *s;
    }
    if !scalar::is_canonical(&s_bytes) {
        return false;
    }
    let (Some(a), Some(r)) = (
        Point::decompress_vartime(public),
        Point::decompress_vartime(&r_bytes),
    ) else {
        return false;
    };
    if a.is_small_order_vartime() || r.is_small_order_vartime() {
        return false;
    }
    let mut h = [0u8; 64];
    H::sha512(&[&r_bytes, public, msg], &mut h);
    let k = Scalar::from_bytes_wide(&h).to_bytes();
    // [S]B - [k]A must be R. R was decoded from a canonical encoding, so
    // comparing points is comparing encodings.
    point::double_mul_base_vartime(&k, &a.neg(), &s_bytes).eq_vartime(&r)
}
