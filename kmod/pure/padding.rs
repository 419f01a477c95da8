// SPDX-License-Identifier: GPL-2.0

//! PKCS#7 padding for 16-byte blocks, checked in constant time.

/// The block size.
pub const BLOCK: usize = 16;

/// Length of `len` bytes once padded: always at least one padding byte.
pub fn padded_len(len: usize) -> Option<usize> {
    (len / BLOCK).checked_add(1)?.checked_mul(BLOCK)
}

/// Writes the padding after the first `len` bytes of `buf`, which is
/// `padded_len(len)` long; any other length is left alone (and reported).
pub fn pad(buf: &mut [u8], len: usize) -> bool {
    let n = buf.len().wrapping_sub(len);
    match buf.get_mut(len..) {
        Some(tail) if (1..=BLOCK).contains(&n) => {
            tail.fill(n as u8);
            true
        }
        _ => false,
    }
}

/// The unpadded length of a decrypted `buf` (whole blocks, non-empty), or
/// None when the padding is malformed. The time taken depends only on the
/// length of `buf`, not on its contents, so the check itself is no timing
/// oracle (callers must still not reveal more than "bad padding").
pub fn unpad(buf: &[u8]) -> Option<usize> {
    let len = buf.len();
    if len == 0 || len % BLOCK != 0 {
        return None;
    }
    let last = &buf[len - BLOCK..];
    let n = last[BLOCK - 1];
    // bad != 0 iff n is 0 or > 16, or one of the last n bytes differs from n.
    let mut bad = ct_is_zero(n) | ct_gt(n, BLOCK as u8);
    for (i, &b) in last.iter().enumerate() {
        // Position counted from the end: 1..=16.
        let pos = (BLOCK - i) as u8;
        let in_pad = ct_le(pos, n);
        bad |= in_pad & ct_ne(b, n);
    }
    // Branch only on the final verdict.
    if bad == 0 {
        Some(len - n as usize)
    } else {
        None
    }
}

/// 1 if `x == 0`, else 0, without branching.
fn ct_is_zero(x: u8) -> u8 {
    ((u16::from(x).wrapping_sub(1)) >> 15) as u8 & 1
}

/// 1 if `a != b`, else 0.
fn ct_ne(a: u8, b: u8) -> u8 {
    1 ^ ct_is_zero(a ^ b)
}

/// 1 if `a > b`, else 0.
fn ct_gt(a: u8, b: u8) -> u8 {
    ((u16::from(b).wrapping_sub(u16::from(a))) >> 15) as u8 & 1
}

/// 1 if `a <= b`, else 0.
fn ct_le(a: u8, b: u8) -> u8 {
    1 ^ ct_gt(a, b)
}
