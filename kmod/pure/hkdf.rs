// SPDX-License-Identifier: GPL-2.0

//! HKDF (RFC 5869) over a caller-supplied HMAC, so the module runs it on the
//! kernel's HMAC-SHA256/512 and the host tests on RustCrypto's.

use super::{wipe, Reject};

/// An HMAC: the kernel's, in the module; a reference crate's, on the host.
pub trait Hmac {
    /// Output length in bytes (32 or 64).
    const LEN: usize;
    /// HMAC(`key`, concatenation of `parts`) into `out[..LEN]`.
    fn mac(key: &[u8], parts: &[&[u8]], out: &mut [u8; 64]);
}

/// The largest PRK or block: SHA-512's 64 bytes.
const MAX: usize = 64;

/// HKDF-Extract and HKDF-Expand: fills `okm` (at most 255 hash lengths;
/// longer is `Invalid`) from `ikm`, `salt` (empty: a hash length of zeros,
/// as the RFC says) and `info`. Intermediate values are wiped.
pub fn hkdf<H: Hmac>(salt: &[u8], ikm: &[u8], info: &[u8], okm: &mut [u8]) -> Result<(), Reject> {
    let n = H::LEN;
    if n == 0 || n > MAX || okm.len() > 255 * n {
        return Err(Reject::Invalid);
    }
    let zeros = [0u8; MAX];
    let salt = if salt.is_empty() { &zeros[..n] } else { salt };
    let mut prk = [0u8; MAX];
    H::mac(salt, &[ikm], &mut prk);

    let mut t = [0u8; MAX];
    let mut t_len = 0;
    for (i, chunk) in okm.chunks_mut(n).enumerate() {
        // i < 255 by the length check above.
        let counter = [(i + 1) as u8];
        let mut next = [0u8; MAX];
        H::mac(&prk[..n], &[&t[..t_len], info, &counter], &mut next);
        t = next;
        wipe(&mut next, [0; MAX]);
        t_len = n;
        chunk.copy_from_slice(&t[..chunk.len()]);
    }
    wipe(&mut prk, [0; MAX]);
    wipe(&mut t, [0; MAX]);
    Ok(())
}
