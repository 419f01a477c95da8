// SPDX-License-Identifier: GPL-2.0

//! Arithmetic in GF(p), p = 2^255 - 19: five 51-bit limbs in `u64`, products
//! in `u128` (multiplication only: no 128-bit division anywhere).
//!
//! Every operation takes the same time whatever the values (no branches, no
//! table indices on data), so it may handle secrets. All arithmetic is
//! `wrapping_*`; the limb bounds below show that nothing actually wraps:
//!
//! - a *reduced* element has limbs below 2^52: the output of [`Fe::mul`],
//!   [`Fe::square`], [`Fe::sub`], [`Fe::neg`], [`Fe::reduce`] and constants;
//! - [`Fe::add`] of two reduced elements has limbs below 2^53;
//! - `mul`, `square` and `sub` accept limbs below 2^54, i.e. reduced elements
//!   or sums of up to three of them.
//!
//! The arithmetic is `const fn` so that the curve's precomputed tables are
//! built by the compiler (see `point.rs`).

/// 2^51 - 1.
const MASK: u64 = (1 << 51) - 1;

/// An element of GF(2^255 - 19), value `sum(limb[i] * 2^(51 i))`, not
/// necessarily the canonical representative.
#[derive(Clone, Copy)]
pub(super) struct Fe(pub(super) [u64; 5]);

/// The full 128-bit product of two limbs.
#[inline(always)]
const fn m(a: u64, b: u64) -> u128 {
    (a as u128).wrapping_mul(b as u128)
}

impl Fe {
    /// 0.
    pub(super) const ZERO: Fe = Fe([0; 5]);
    /// 1.
    pub(super) const ONE: Fe = Fe([1, 0, 0, 0, 0]);
    /// The curve constant d = -121665/121666.
    pub(super) const D: Fe = Fe([
        0x34dca135978a3,
        0x1a8283b156ebd,
        0x5e7a26001c029,
        0x739c663a03cbb,
        0x52036cee2b6ff,
    ]);
    /// 2d.
    pub(super) const D2: Fe = Fe([
        0x69b9426b2f159,
        0x35050762add7a,
        0x3cf44c0038052,
        0x6738cc7407977,
        0x2406d9dc56dff,
    ]);
    /// A square root of -1 (2^((p-1)/4)).
    pub(super) const SQRT_M1: Fe = Fe([
        0x61b274a0ea0b0,
        0x0d5a5fc8f189d,
        0x7ef5e9cbd0c60,
        0x78595a6804c9e,
        0x2b8324804fc1d,
    ]);

    /// The element whose little-endian encoding is `b`; bit 255 is ignored
    /// and values from p to 2^255 - 1 are taken mod p (callers that must
    /// reject them check [`is_canonical`] first).
    pub(super) fn from_bytes(b: &[u8; 32]) -> Fe {
        let w = words(b);
        Fe([
            w[0] & MASK,
            ((w[0] >> 51) | (w[1] << 13)) & MASK,
            ((w[1] >> 38) | (w[2] << 26)) & MASK,
            ((w[2] >> 25) | (w[3] << 39)) & MASK,
            (w[3] >> 12) & MASK,
        ])
    }

    /// The canonical little-endian encoding (value in [0, p), bit 255 clear).
    pub(super) const fn to_bytes(self) -> [u8; 32] {
        let mut l = self.reduce().0;
        // q = 1 iff the value (now below 2^255 + small) is >= p: add 19 and
        // see whether it carries out of bit 255.
        let mut q = l[0].wrapping_add(19) >> 51;
        q = l[1].wrapping_add(q) >> 51;
        q = l[2].wrapping_add(q) >> 51;
        q = l[3].wrapping_add(q) >> 51;
        q = l[4].wrapping_add(q) >> 51;
        // Subtract q p: add 19 q and drop bit 255.
        l[0] = l[0].wrapping_add(q.wrapping_mul(19));
        l[1] = l[1].wrapping_add(l[0] >> 51);
        l[0] &= MASK;
        l[2] = l[2].wrapping_add(l[1] >> 51);
        l[1] &= MASK;
        l[3] = l[3].wrapping_add(l[2] >> 51);
        l[2] &= MASK;
        l[4] = l[4].wrapping_add(l[3] >> 51);
        l[3] &= MASK;
        l[4] &= MASK;
        let w = [
            l[0] | (l[1] << 51),
            (l[1] >> 13) | (l[2] << 38),
            (l[2] >> 26) | (l[3] << 25),
            (l[3] >> 39) | (l[4] << 12),
        ];
        let mut out = [0u8; 32];
        let mut i = 0;
        while i < 32 {
            out[i] = (w[i / 8] >> (8 * (i % 8))) as u8;
            i += 1;
        }
        out
    }

    /// Carries every limb into the next (the top one times 19 into the
    /// first): the same value with limbs below 2^51 + 2^18. Accepts any
    /// limbs.
    pub(super) const fn reduce(&self) -> Fe {
        let l = &self.0;
        let c = [l[0] >> 51, l[1] >> 51, l[2] >> 51, l[3] >> 51, l[4] >> 51];
        Fe([
            (l[0] & MASK).wrapping_add(c[4].wrapping_mul(19)),
            (l[1] & MASK).wrapping_add(c[0]),
            (l[2] & MASK).wrapping_add(c[1]),
            (l[3] & MASK).wrapping_add(c[2]),
            (l[4] & MASK).wrapping_add(c[3]),
        ])
    }

    /// `self + b`, not reduced (see the module doc for the bounds).
    pub(super) const fn add(&self, b: &Fe) -> Fe {
        let (a, b) = (&self.0, &b.0);
        Fe([
            a[0].wrapping_add(b[0]),
            a[1].wrapping_add(b[1]),
            a[2].wrapping_add(b[2]),
            a[3].wrapping_add(b[3]),
            a[4].wrapping_add(b[4]),
        ])
    }

    /// `self - b`, reduced. Computed as `self + 16 p - b` so that no limb
    /// goes negative for inputs below 2^54.
    pub(super) const fn sub(&self, b: &Fe) -> Fe {
        // 16 p, limb by limb: 16 (2^51 - 19), then 16 (2^51 - 1).
        const P16_0: u64 = 36028797018963664;
        const P16_N: u64 = 36028797018963952;
        let (a, b) = (&self.0, &b.0);
        Fe([
            a[0].wrapping_add(P16_0).wrapping_sub(b[0]),
            a[1].wrapping_add(P16_N).wrapping_sub(b[1]),
            a[2].wrapping_add(P16_N).wrapping_sub(b[2]),
            a[3].wrapping_add(P16_N).wrapping_sub(b[3]),
            a[4].wrapping_add(P16_N).wrapping_sub(b[4]),
        ])
        .reduce()
    }

    /// `-self`, reduced.
    pub(super) const fn neg(&self) -> Fe {
        Fe::ZERO.sub(self)
    }

    /// `self * b`, reduced.
    pub(super) const fn mul(&self, b: &Fe) -> Fe {
        let (a, b) = (&self.0, &b.0);
        // 2^255 = 19 (mod p): the limbs that overflow 2^255 come back times 19.
        let b1 = b[1].wrapping_mul(19);
        let b2 = b[2].wrapping_mul(19);
        let b3 = b[3].wrapping_mul(19);
        let b4 = b[4].wrapping_mul(19);
        let c0 = m(a[0], b[0])
            .wrapping_add(m(a[4], b1))
            .wrapping_add(m(a[3], b2))
            .wrapping_add(m(a[2], b3))
            .wrapping_add(m(a[1], b4));
        let c1 = m(a[1], b[0])
            .wrapping_add(m(a[0], b[1]))
            .wrapping_add(m(a[4], b2))
            .wrapping_add(m(a[3], b3))
            .wrapping_add(m(a[2], b4));
        let c2 = m(a[2], b[0])
            .wrapping_add(m(a[1], b[1]))
            .wrapping_add(m(a[0], b[2]))
            .wrapping_add(m(a[4], b3))
            .wrapping_add(m(a[3], b4));
        let c3 = m(a[3], b[0])
            .wrapping_add(m(a[2], b[1]))
            .wrapping_add(m(a[1], b[2]))
            .wrapping_add(m(a[0], b[3]))
            .wrapping_add(m(a[4], b4));
        let c4 = m(a[4], b[0])
            .wrapping_add(m(a[3], b[1]))
            .wrapping_add(m(a[2], b[2]))
            .wrapping_add(m(a[1], b[3]))
            .wrapping_add(m(a[0], b[4]));
        carry_wide(c0, c1, c2, c3, c4)
    }

    /// `self^2`, reduced.
    pub(super) const fn square(&self) -> Fe {
        let a = &self.0;
        let a3_19 = a[3].wrapping_mul(19);
        let a4_19 = a[4].wrapping_mul(19);
        let c0 =
            m(a[0], a[0]).wrapping_add(m(a[1], a4_19).wrapping_add(m(a[2], a3_19)).wrapping_shl(1));
        let c1 =
            m(a[3], a3_19).wrapping_add(m(a[0], a[1]).wrapping_add(m(a[2], a4_19)).wrapping_shl(1));
        let c2 =
            m(a[1], a[1]).wrapping_add(m(a[0], a[2]).wrapping_add(m(a[4], a3_19)).wrapping_shl(1));
        let c3 =
            m(a[4], a4_19).wrapping_add(m(a[0], a[3]).wrapping_add(m(a[1], a[2])).wrapping_shl(1));
        let c4 =
            m(a[2], a[2]).wrapping_add(m(a[0], a[4]).wrapping_add(m(a[1], a[3])).wrapping_shl(1));
        carry_wide(c0, c1, c2, c3, c4)
    }

    /// `self^(2^k)`: `k` squarings (`k` is never secret).
    pub(super) const fn pow2k(&self, k: u32) -> Fe {
        let mut x = *self;
        let mut i = 0;
        while i < k {
            x = x.square();
            i += 1;
        }
        x
    }

    /// `(self^(2^250 - 1), self^11)`, the common start of inversion and
    /// square roots.
    const fn pow22501(&self) -> (Fe, Fe) {
        let t0 = self.square(); // 2
        let t1 = t0.pow2k(2); // 8
        let t2 = self.mul(&t1); // 9
        let t3 = t0.mul(&t2); // 11
        let t4 = t3.square(); // 22
        let t5 = t2.mul(&t4); // 2^5 - 1
        let t7 = t5.pow2k(5).mul(&t5); // 2^10 - 1
        let t9 = t7.pow2k(10).mul(&t7); // 2^20 - 1
        let t11 = t9.pow2k(20).mul(&t9); // 2^40 - 1
        let t13 = t11.pow2k(10).mul(&t7); // 2^50 - 1
        let t15 = t13.pow2k(50).mul(&t13); // 2^100 - 1
        let t17 = t15.pow2k(100).mul(&t15); // 2^200 - 1
        let t19 = t17.pow2k(50).mul(&t13); // 2^250 - 1
        (t19, t3)
    }

    /// `1 / self` (0 for 0), as `self^(p - 2)`.
    pub(super) const fn invert(&self) -> Fe {
        let (t19, t3) = self.pow22501();
        t19.pow2k(5).mul(&t3) // 2^255 - 32 + 11 = p - 2
    }

    /// `self^((p - 5) / 8)` = `self^(2^252 - 3)`, for square roots.
    pub(super) const fn pow_p58(&self) -> Fe {
        let (t19, _) = self.pow22501();
        t19.pow2k(2).mul(self)
    }

    /// Whether the canonical value is odd ("negative" in RFC 8032 terms).
    pub(super) const fn is_negative(&self) -> bool {
        self.to_bytes()[0] & 1 == 1
    }

    /// Whether the value is 0 mod p. Variable time: public values only.
    pub(super) fn is_zero_vartime(&self) -> bool {
        self.to_bytes() == [0; 32]
    }

    /// Whether both are the same value mod p. Variable time: public values
    /// only.
    pub(super) fn eq_vartime(&self, b: &Fe) -> bool {
        self.to_bytes() == b.to_bytes()
    }

    /// `b` where `mask` is all ones, `self` where it is 0 (constant time).
    #[inline(always)]
    pub(super) fn select(&self, b: &Fe, mask: u64) -> Fe {
        let (a, b) = (&self.0, &b.0);
        Fe([
            a[0] ^ ((a[0] ^ b[0]) & mask),
            a[1] ^ ((a[1] ^ b[1]) & mask),
            a[2] ^ ((a[2] ^ b[2]) & mask),
            a[3] ^ ((a[3] ^ b[3]) & mask),
            a[4] ^ ((a[4] ^ b[4]) & mask),
        ])
    }
}

/// Carries five 128-bit column sums (each below 2^115, as `mul` and `square`
/// produce from limbs below 2^54) into a reduced element.
#[inline(always)]
const fn carry_wide(c0: u128, c1: u128, c2: u128, c3: u128, c4: u128) -> Fe {
    let c1 = c1.wrapping_add(c0 >> 51);
    let c2 = c2.wrapping_add(c1 >> 51);
    let c3 = c3.wrapping_add(c2 >> 51);
    let c4 = c4.wrapping_add(c3 >> 51);
    // The carry out of the top limb is below 2^65; times 19 it still fits
    // easily in u128.
    let c0 = ((c0 as u64 & MASK) as u128).wrapping_add((c4 >> 51).wrapping_mul(19));
    let out1 = (c1 as u64 & MASK).wrapping_add((c0 >> 51) as u64);
    Fe([
        c0 as u64 & MASK,
        out1,
        c2 as u64 & MASK,
        c3 as u64 & MASK,
        c4 as u64 & MASK,
    ])
}

/// The four little-endian 64-bit words of `b` (destructured: no index, no
/// bounds check, nothing that could panic at any optimization level).
pub(super) fn words(b: &[u8; 32]) -> [u64; 4] {
    let [a0, a1, a2, a3, a4, a5, a6, a7, b0, b1, b2, b3, b4, b5, b6, b7, c0, c1, c2, c3, c4, c5, c6, c7, d0, d1, d2, d3, d4, d5, d6, d7] =
        *b;
    [
        u64::from_le_bytes([a0, a1, a2, a3, a4, a5, a6, a7]),
        u64::from_le_bytes([b0, b1, b2, b3, b4, b5, b6, b7]),
        u64::from_le_bytes([c0, c1, c2, c3, c4, c5, c6, c7]),
        u64::from_le_bytes([d0, d1, d2, d3, d4, d5, d6, d7]),
    ]
}

/// Whether the 255-bit y of an encoded point (bit 255, the sign of x,
/// ignored) is below p, i.e. the encoding is the canonical one.
pub(super) fn is_canonical(b: &[u8; 32]) -> bool {
    // y >= p iff bits 1..255 are 1 (bytes 1..=30 all 0xff, byte 31 is 0x7f
    // once bit 255 is dropped) and byte 0 >= 0xed.
    let mut high_ones = b[31] & 0x7f == 0x7f;
    for &byte in b.iter().take(31).skip(1) {
        high_ones &= byte == 0xff;
    }
    !(high_ones && b[0] >= 0xed)
}
