// SPDX-License-Identifier: GPL-2.0

//! AES Key Wrap with Padding (RFC 5649), in place, over any AES block
//! cipher ([`AesBlock`]): the module's is the kernel's AES library, the host
//! tests' the `aes` crate. The kernel has no KWP of its own (crypto/keywrap.c
//! is RFC 3394 without padding, and its 8-byte IV handling does not do 5649's
//! length check), and it is 60 lines, so it is written here once and checked
//! against RFC 5649's vectors, Wycheproof's and the `aes-kw` crate.

use super::Reject;

/// RFC 5649's alternative initial value, the high half of the AIV.
const AIV_PREFIX: [u8; 4] = [0xA6, 0x59, 0x59, 0xA6];
/// Most key bytes wrapped here (`KV_MAX_KEY_BYTES`); RFC 5649 allows 2^32.
pub const MAX_PLAIN: usize = 128;
/// Longest wrapped form of `MAX_PLAIN` bytes.
pub const MAX_WRAPPED: usize = wrapped_len(MAX_PLAIN);

/// One AES key, both directions, on single 16-byte blocks in place.
pub trait AesBlock {
    /// Encrypts one block in place.
    fn encrypt(&self, block: &mut [u8; 16]);
    /// Decrypts one block in place.
    fn decrypt(&self, block: &mut [u8; 16]);
}

/// Length of the wrapping of `len` key bytes: the 8-byte AIV and the key
/// padded to whole 8-byte semiblocks.
pub const fn wrapped_len(len: usize) -> usize {
    8 + len.div_ceil(8) * 8
}

/// Wraps the `len` key bytes at the start of `buf` in place; `buf` must be
/// exactly [`wrapped_len`]`(len)` long (bytes past `len` are overwritten).
/// `Invalid` for an empty key or a buffer of another length.
pub fn wrap(kek: &impl AesBlock, buf: &mut [u8], len: usize) -> Result<(), Reject> {
    if len == 0 || len > MAX_PLAIN || buf.len() != wrapped_len(len) {
        return Err(Reject::Invalid);
    }
    // [AIV | P | zero padding]: shift P one semiblock right.
    buf.copy_within(0..len, 8);
    buf[8 + len..].fill(0);
    buf[..4].copy_from_slice(&AIV_PREFIX);
    buf[4..8].copy_from_slice(&(len as u32).to_be_bytes());
    let n = buf.len() / 8 - 1;
    let mut b = [0u8; 16];
    if n == 1 {
        // One semiblock: a single AES block (RFC 5649 section 4.1).
        b.copy_from_slice(buf);
        kek.encrypt(&mut b);
        buf.copy_from_slice(&b);
    } else {
        // RFC 3394's W with the AIV (section 2.2.1, index-based form).
        for j in 0..6 {
            for i in 1..=n {
                b[..8].copy_from_slice(&buf[..8]);
                b[8..].copy_from_slice(&buf[8 * i..8 * i + 8]);
                kek.encrypt(&mut b);
                let t = ((n * j + i) as u64).to_be_bytes();
                for k in 0..8 {
                    buf[k] = b[k] ^ t[k];
                }
                buf[8 * i..8 * i + 8].copy_from_slice(&b[8..]);
            }
        }
    }
    super::wipe(&mut b, [0; 16]);
    Ok(())
}

/// Unwraps `buf` in place; on success the key is `buf[8..8 + len]` and
/// `len` is returned. `BadMessage` if the integrity check fails (wrong key,
/// altered, truncated or extended data; `buf` then holds garbage the caller
/// wipes); `Invalid` for a length no wrapping can have.
pub fn unwrap(kek: &impl AesBlock, buf: &mut [u8]) -> Result<usize, Reject> {
    if buf.len() < 16 || buf.len() % 8 != 0 || buf.len() > MAX_WRAPPED {
        return Err(Reject::Invalid);
    }
    let n = buf.len() / 8 - 1;
    let mut b = [0u8; 16];
    if n == 1 {
        b.copy_from_slice(buf);
        kek.decrypt(&mut b);
        buf.copy_from_slice(&b);
    } else {
        for j in (0..6).rev() {
            for i in (1..=n).rev() {
                let t = ((n * j + i) as u64).to_be_bytes();
                for k in 0..8 {
                    b[k] = buf[k] ^ t[k];
                }
                b[8..].copy_from_slice(&buf[8 * i..8 * i + 8]);
                kek.decrypt(&mut b);
                buf[..8].copy_from_slice(&b[..8]);
                buf[8 * i..8 * i + 8].copy_from_slice(&b[8..]);
            }
        }
    }
    super::wipe(&mut b, [0; 16]);
    // The checks of RFC 5649 section 3, without a branch on secret bytes
    // until the verdict: AIV prefix, 8(n-1) < MLI <= 8n, zero padding.
    let mli = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]) as usize;
    let mut bad = 0u8;
    for k in 0..4 {
        bad |= buf[k] ^ AIV_PREFIX[k];
    }
    let len_ok = mli > 8 * (n - 1) && mli <= 8 * n;
    let pad_from = if len_ok { 8 + mli } else { buf.len() };
    for &x in &buf[pad_from..] {
        bad |= x;
    }
    if bad != 0 || !len_ok {
        return Err(Reject::BadMessage);
    }
    Ok(mli)
}
