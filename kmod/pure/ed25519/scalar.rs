// SPDX-License-Identifier: GPL-2.0

//! Arithmetic modulo the group order L = 2^252 + 27742317777372353535851937790883648493:
//! five 52-bit limbs in `u64`, Montgomery multiplication with R = 2^260,
//! products in `u128` (no division). Constant time throughout.

use super::field::words;

/// 2^52 - 1.
const MASK: u64 = (1 << 52) - 1;

/// L in 52-bit limbs.
const L: Scalar = Scalar([
    0x2631a5cf5d3ed,
    0xdea2f79cd6581,
    0x000000014def9,
    0x0000000000000,
    0x0100000000000,
]);

/// -1/L mod 2^52.
const LFACTOR: u64 = 0x51da312547e1b;

/// R = 2^260 mod L.
const R: Scalar = Scalar([
    0xf48bd6721e6ed,
    0x3bab5ac67e45a,
    0xfffffeb35e51b,
    0xfffffffffffff,
    0x00fffffffffff,
]);

/// R^2 mod L.
const RR: Scalar = Scalar([
    0x9d265e952d13b,
    0xd63c715bea69f,
    0x5be65cb687604,
    0x3dceec73d217f,
    0x009411b7c309a,
]);

/// L, little-endian bytes.
const L_BYTES: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// A number `sum(limb[i] * 2^(52 i))` with limbs below 2^52; reduced mod L
/// (below L) unless it came from [`Scalar::from_bytes`].
#[derive(Clone, Copy)]
pub(super) struct Scalar(pub(super) [u64; 5]);

/// The full 128-bit product of two limbs.
#[inline(always)]
fn m(a: u64, b: u64) -> u128 {
    u128::from(a).wrapping_mul(u128::from(b))
}

impl Scalar {
    /// The 256-bit little-endian number `b`, not reduced.
    pub(super) fn from_bytes(b: &[u8; 32]) -> Scalar {
        let w = words(b);
        Scalar([
            w[0] & MASK,
            ((w[0] >> 52) | (w[1] << 12)) & MASK,
            ((w[1] >> 40) | (w[2] << 24)) & MASK,
            ((w[2] >> 28) | (w[3] << 36)) & MASK,
            w[3] >> 16,
        ])
    }

    /// The 512-bit little-endian number `b` (a SHA-512 output) mod L.
    pub(super) fn from_bytes_wide(b: &[u8; 64]) -> Scalar {
        let mut lo_bytes = [0u8; 32];
        let mut hi_bytes = [0u8; 32];
        for (d, s) in lo_bytes.iter_mut().zip(b.iter()) {
            *d = *s;
        }
        for (d, s) in hi_bytes.iter_mut().zip(b.iter().skip(32)) {
            *d = *s;
        }
        let lw = words(&lo_bytes);
        let hw = words(&hi_bytes);
        super::wipe(&mut lo_bytes, [0; 32]);
        super::wipe(&mut hi_bytes, [0; 32]);
        // Bits 0..260 and 260..512.
        let lo = Scalar([
            lw[0] & MASK,
            ((lw[0] >> 52) | (lw[1] << 12)) & MASK,
            ((lw[1] >> 40) | (lw[2] << 24)) & MASK,
            ((lw[2] >> 28) | (lw[3] << 36)) & MASK,
            ((lw[3] >> 16) | (hw[0] << 48)) & MASK,
        ]);
        let hi = Scalar([
            (hw[0] >> 4) & MASK,
            ((hw[0] >> 56) | (hw[1] << 8)) & MASK,
            ((hw[1] >> 44) | (hw[2] << 20)) & MASK,
            ((hw[2] >> 32) | (hw[3] << 32)) & MASK,
            hw[3] >> 20,
        ]);
        // lo R / R + hi R^2 / R = lo + hi 2^260 (mod L).
        let lo = montgomery_mul(&lo, &R);
        let hi = montgomery_mul(&hi, &RR);
        add(&hi, &lo)
    }

    /// Little-endian bytes of a reduced scalar.
    pub(super) fn to_bytes(self) -> [u8; 32] {
        let s = &self.0;
        let w = [
            s[0] | (s[1] << 52),
            (s[1] >> 12) | (s[2] << 40),
            (s[2] >> 24) | (s[3] << 28),
            (s[3] >> 36) | (s[4] << 16),
        ];
        let [b0, b1, b2, b3] = w.map(u64::to_le_bytes);
        let mut out = [0u8; 32];
        for (d, s) in out
            .iter_mut()
            .zip(b0.iter().chain(&b1).chain(&b2).chain(&b3))
        {
            *d = *s;
        }
        out
    }

    /// `a * b + c mod L`, for `a`, `c` reduced and `b` any 256-bit number
    /// below 2^256 (a clamped secret scalar need not be reduced).
    pub(super) fn mul_add(a: &Scalar, b: &Scalar, c: &Scalar) -> Scalar {
        // a b < L 2^256 < R L, as Montgomery reduction requires; then
        // (a b / R) R^2 / R = a b.
        let ab = montgomery_mul(&montgomery_mul(a, b), &RR);
        add(&ab, c)
    }
}

/// `a + b mod L` for reduced `a`, `b`.
fn add(a: &Scalar, b: &Scalar) -> Scalar {
    let mut sum = [0u64; 5];
    let mut carry = 0u64;
    for ((s, &x), &y) in sum.iter_mut().zip(a.0.iter()).zip(b.0.iter()) {
        carry = x.wrapping_add(y).wrapping_add(carry >> 52);
        *s = carry & MASK;
    }
    sub(&Scalar(sum), &L)
}

/// `a - b`, plus L when that is negative: `a - b mod L` for `a`, `b` below L,
/// and the reduction of `a` when `b` is L and `a < 2 L`. No branch.
fn sub(a: &Scalar, b: &Scalar) -> Scalar {
    let mut diff = [0u64; 5];
    let mut borrow = 0u64;
    for ((d, &x), &y) in diff.iter_mut().zip(a.0.iter()).zip(b.0.iter()) {
        borrow = x.wrapping_sub(y.wrapping_add(borrow >> 63));
        *d = borrow & MASK;
    }
    // All ones iff the result went negative.
    let underflow = 0u64.wrapping_sub(borrow >> 63);
    let mut carry = 0u64;
    for (d, &l) in diff.iter_mut().zip(L.0.iter()) {
        carry = (carry >> 52).wrapping_add(*d).wrapping_add(l & underflow);
        *d = carry & MASK;
    }
    Scalar(diff)
}

/// The nine column sums of the schoolbook product `a * b`.
#[inline(always)]
fn mul_wide(a: &Scalar, b: &Scalar) -> [u128; 9] {
    let (a, b) = (&a.0, &b.0);
    [
        m(a[0], b[0]),
        m(a[0], b[1]).wrapping_add(m(a[1], b[0])),
        m(a[0], b[2])
            .wrapping_add(m(a[1], b[1]))
            .wrapping_add(m(a[2], b[0])),
        m(a[0], b[3])
            .wrapping_add(m(a[1], b[2]))
            .wrapping_add(m(a[2], b[1]))
            .wrapping_add(m(a[3], b[0])),
        m(a[0], b[4])
            .wrapping_add(m(a[1], b[3]))
            .wrapping_add(m(a[2], b[2]))
            .wrapping_add(m(a[3], b[1]))
            .wrapping_add(m(a[4], b[0])),
        m(a[1], b[4])
            .wrapping_add(m(a[2], b[3]))
            .wrapping_add(m(a[3], b[2]))
            .wrapping_add(m(a[4], b[1])),
        m(a[2], b[4])
            .wrapping_add(m(a[3], b[3]))
            .wrapping_add(m(a[4], b[2])),
        m(a[3], b[4]).wrapping_add(m(a[4], b[3])),
        m(a[4], b[4]),
    ]
}

/// `a * b / R mod L` for `a * b < R L`; the result is reduced.
fn montgomery_mul(a: &Scalar, b: &Scalar) -> Scalar {
    montgomery_reduce(&mul_wide(a, b))
}

/// `t / R mod L` for `t < R L` given as column sums (each below 2^108).
fn montgomery_reduce(t: &[u128; 9]) -> Scalar {
    // Adds n L, n < R chosen limb by limb so that the low 260 bits vanish.
    #[inline(always)]
    fn part1(sum: u128) -> (u128, u64) {
        let n = (sum as u64).wrapping_mul(LFACTOR) & MASK;
        (sum.wrapping_add(m(n, L.0[0])) >> 52, n)
    }
    #[inline(always)]
    fn part2(sum: u128) -> (u128, u64) {
        (sum >> 52, sum as u64 & MASK)
    }
    let l = &L.0;
    // l[3] is 0: its products are left out.
    let (c, n0) = part1(t[0]);
    let (c, n1) = part1(c.wrapping_add(t[1]).wrapping_add(m(n0, l[1])));
    let (c, n2) = part1(
        c.wrapping_add(t[2])
            .wrapping_add(m(n0, l[2]))
            .wrapping_add(m(n1, l[1])),
    );
    let (c, n3) = part1(
        c.wrapping_add(t[3])
            .wrapping_add(m(n1, l[2]))
            .wrapping_add(m(n2, l[1])),
    );
    let (c, n4) = part1(
        c.wrapping_add(t[4])
            .wrapping_add(m(n0, l[4]))
            .wrapping_add(m(n2, l[2]))
            .wrapping_add(m(n3, l[1])),
    );
    let (c, r0) = part2(
        c.wrapping_add(t[5])
            .wrapping_add(m(n1, l[4]))
            .wrapping_add(m(n3, l[2]))
            .wrapping_add(m(n4, l[1])),
    );
    let (c, r1) = part2(
        c.wrapping_add(t[6])
            .wrapping_add(m(n2, l[4]))
            .wrapping_add(m(n4, l[2])),
    );
    let (c, r2) = part2(c.wrapping_add(t[7]).wrapping_add(m(n3, l[4])));
    let (c, r3) = part2(c.wrapping_add(t[8]).wrapping_add(m(n4, l[4])));
    let r4 = c as u64;
    // (t + n L) / R < 2 L: one conditional subtraction.
    sub(&Scalar([r0, r1, r2, r3, r4]), &L)
}

/// Whether the little-endian `s` is below L (a canonical signature S).
/// Variable time: for public values.
pub(super) fn is_canonical(s: &[u8; 32]) -> bool {
    for (&x, &l) in s.iter().zip(L_BYTES.iter()).rev() {
        if x != l {
            return x < l;
        }
    }
    false
}
