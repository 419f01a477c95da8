// SPDX-License-Identifier: GPL-2.0

//! Points of the twisted Edwards curve -x^2 + y^2 = 1 + d x^2 y^2 in
//! extended coordinates (X : Y : Z : T), x = X/Z, y = Y/Z, x y = T/Z, with
//! the complete formulas of Hisil-Wong-Carter-Dawson, and the two scalar
//! multiplications Ed25519 needs:
//!
//! - [`mul_base`]: `[s]B`, constant time, for secret scalars (key generation
//!   and the signing nonce), from a table of 32 x 8 multiples of B;
//! - [`double_mul_base_vartime`]: `[a]A + [b]B`, variable time, for
//!   verification (public values only), with width-5 and width-8 NAFs.
//!
//! Both tables of multiples of B are computed by the compiler: `const fn`
//! evaluation at build time, nothing at run time.

use super::field::{is_canonical, Fe};

/// A point in extended coordinates.
#[derive(Clone, Copy)]
pub(super) struct Point {
    x: Fe,
    y: Fe,
    z: Fe,
    t: Fe,
}

/// The result of an addition or doubling, before the last multiplications:
/// x = X/Z, y = Y/T.
#[derive(Clone, Copy)]
struct Completed {
    x: Fe,
    y: Fe,
    z: Fe,
    t: Fe,
}

/// A point in projective coordinates (X : Y : Z), enough for doubling.
#[derive(Clone, Copy)]
struct Projective {
    x: Fe,
    y: Fe,
    z: Fe,
}

/// A point prepared for addition: (Y + X, Y - X, Z, 2 d T).
#[derive(Clone, Copy)]
struct Niels {
    y_plus_x: Fe,
    y_minus_x: Fe,
    z: Fe,
    t2d: Fe,
}

/// An affine point prepared for addition: (y + x, y - x, 2 d x y).
#[derive(Clone, Copy)]
struct AffineNiels {
    y_plus_x: Fe,
    y_minus_x: Fe,
    xy2d: Fe,
}

/// The base point B: y = 4/5, x positive (even).
const BASEPOINT: Point = Point {
    x: Fe([
        0x62d608f25d51a,
        0x412a4b4f6592a,
        0x75b7171a4b31d,
        0x1ff60527118fe,
        0x216936d3cd6e5,
    ]),
    y: Fe([
        0x6666666666658,
        0x4cccccccccccc,
        0x1999999999999,
        0x3333333333333,
        0x6666666666666,
    ]),
    z: Fe::ONE,
    t: Fe([
        0x68ab3a5b7dda3,
        0x00eea2a5eadbb,
        0x2af8df483c27e,
        0x332b375274732,
        0x67875f0fd78b7,
    ]),
};

impl Point {
    /// The neutral element (0, 1).
    pub(super) const IDENTITY: Point = Point {
        x: Fe::ZERO,
        y: Fe::ONE,
        z: Fe::ONE,
        t: Fe::ZERO,
    };

    /// Decodes a point (RFC 8032 section 5.1.3), rejecting encodings of y
    /// that are not below p, x coordinates that do not exist, and "-0".
    /// Variable time: for public values.
    pub(super) fn decompress_vartime(b: &[u8; 32]) -> Option<Point> {
        if !is_canonical(b) {
            return None;
        }
        let y = Fe::from_bytes(b);
        let yy = y.square();
        let u = yy.sub(&Fe::ONE);
        let v = yy.mul(&Fe::D).add(&Fe::ONE);
        // x = u v^3 (u v^7)^((p-5)/8) is a square root of u/v, or of -u/v.
        let v3 = v.square().mul(&v);
        let v7 = v3.square().mul(&v);
        let mut x = u.mul(&v3).mul(&u.mul(&v7).pow_p58());
        let vxx = v.mul(&x.square());
        if vxx.eq_vartime(&u) {
            // x is right.
        } else if vxx.eq_vartime(&u.neg()) {
            x = x.mul(&Fe::SQRT_M1);
        } else {
            return None;
        }
        let sign = b[31] >> 7 == 1;
        if sign && x.is_zero_vartime() {
            return None;
        }
        if x.is_negative() != sign {
            x = x.neg();
        }
        Some(Point {
            x,
            y,
            z: Fe::ONE,
            t: x.mul(&y),
        })
    }

    /// The encoding: y with the sign of x in bit 255. Constant time.
    pub(super) fn compress(&self) -> [u8; 32] {
        let zinv = self.z.invert();
        let x = self.x.mul(&zinv);
        let y = self.y.mul(&zinv);
        let mut s = y.to_bytes();
        s[31] ^= u8::from(x.is_negative()) << 7;
        s
    }

    /// Whether `self` and `q` are the same point. Variable time: for public
    /// values.
    pub(super) fn eq_vartime(&self, q: &Point) -> bool {
        // X1/Z1 = X2/Z2 and Y1/Z1 = Y2/Z2.
        self.x.mul(&q.z).eq_vartime(&q.x.mul(&self.z))
            && self.y.mul(&q.z).eq_vartime(&q.y.mul(&self.z))
    }

    /// `-self`.
    pub(super) fn neg(&self) -> Point {
        Point {
            x: self.x.neg(),
            y: self.y,
            z: self.z,
            t: self.t.neg(),
        }
    }

    /// Whether `[8] self` is the identity (the point has order 1, 2, 4 or
    /// 8). Variable time: for public values.
    pub(super) fn is_small_order_vartime(&self) -> bool {
        let p = self.double().double().double();
        // (X : Y : Z) with X = 0 is (0, 1) or (0, -1); the identity has Y = Z.
        p.x.is_zero_vartime() && p.y.eq_vartime(&p.z)
    }

    const fn to_projective(self) -> Projective {
        Projective {
            x: self.x,
            y: self.y,
            z: self.z,
        }
    }

    const fn to_niels(self) -> Niels {
        Niels {
            y_plus_x: self.y.add(&self.x),
            y_minus_x: self.y.sub(&self.x),
            z: self.z,
            t2d: self.t.mul(&Fe::D2),
        }
    }

    /// `2 self`.
    const fn double(&self) -> Point {
        self.to_projective().double().to_point()
    }

    /// `self + q`.
    const fn add_niels(&self, q: &Niels) -> Completed {
        let pp = self.y.add(&self.x).mul(&q.y_plus_x);
        let mm = self.y.sub(&self.x).mul(&q.y_minus_x);
        let tt2d = self.t.mul(&q.t2d);
        let zz = self.z.mul(&q.z);
        let zz2 = zz.add(&zz);
        Completed {
            x: pp.sub(&mm),
            y: pp.add(&mm),
            z: zz2.add(&tt2d),
            t: zz2.sub(&tt2d),
        }
    }

    /// `self - q`.
    fn sub_niels(&self, q: &Niels) -> Completed {
        let pm = self.y.add(&self.x).mul(&q.y_minus_x);
        let mp = self.y.sub(&self.x).mul(&q.y_plus_x);
        let tt2d = self.t.mul(&q.t2d);
        let zz = self.z.mul(&q.z);
        let zz2 = zz.add(&zz);
        Completed {
            x: pm.sub(&mp),
            y: pm.add(&mp),
            z: zz2.sub(&tt2d),
            t: zz2.add(&tt2d),
        }
    }

    /// `self + q`.
    fn add_affine(&self, q: &AffineNiels) -> Completed {
        let pp = self.y.add(&self.x).mul(&q.y_plus_x);
        let mm = self.y.sub(&self.x).mul(&q.y_minus_x);
        let txy2d = self.t.mul(&q.xy2d);
        let z2 = self.z.add(&self.z);
        Completed {
            x: pp.sub(&mm),
            y: pp.add(&mm),
            z: z2.add(&txy2d),
            t: z2.sub(&txy2d),
        }
    }

    /// `self - q`.
    fn sub_affine(&self, q: &AffineNiels) -> Completed {
        let pm = self.y.add(&self.x).mul(&q.y_minus_x);
        let mp = self.y.sub(&self.x).mul(&q.y_plus_x);
        let txy2d = self.t.mul(&q.xy2d);
        let z2 = self.z.add(&self.z);
        Completed {
            x: pm.sub(&mp),
            y: pm.add(&mp),
            z: z2.sub(&txy2d),
            t: z2.add(&txy2d),
        }
    }
}

impl Completed {
    const fn to_point(self) -> Point {
        Point {
            x: self.x.mul(&self.t),
            y: self.y.mul(&self.z),
            z: self.z.mul(&self.t),
            t: self.x.mul(&self.y),
        }
    }

    const fn to_projective(self) -> Projective {
        Projective {
            x: self.x.mul(&self.t),
            y: self.y.mul(&self.z),
            z: self.z.mul(&self.t),
        }
    }
}

impl Projective {
    /// `2 self`, "dbl-2008-hwcd" for a = -1.
    const fn double(&self) -> Completed {
        let xx = self.x.square();
        let yy = self.y.square();
        let zz = self.z.square();
        let zz2 = zz.add(&zz);
        let xy2 = self.x.add(&self.y).square();
        let yy_plus_xx = yy.add(&xx);
        let yy_minus_xx = yy.sub(&xx);
        Completed {
            x: xy2.sub(&yy_plus_xx),
            y: yy_plus_xx,
            z: yy_minus_xx,
            t: zz2.sub(&yy_minus_xx),
        }
    }
}

impl AffineNiels {
    /// The neutral element.
    const IDENTITY: AffineNiels = AffineNiels {
        y_plus_x: Fe::ONE,
        y_minus_x: Fe::ONE,
        xy2d: Fe::ZERO,
    };

    /// The affine form of `p`, given `zinv = 1/Z`.
    const fn from_point(p: &Point, zinv: &Fe) -> AffineNiels {
        let x = p.x.mul(zinv);
        let y = p.y.mul(zinv);
        AffineNiels {
            y_plus_x: y.add(&x).reduce(),
            y_minus_x: y.sub(&x),
            xy2d: x.mul(&y).mul(&Fe::D2),
        }
    }

    /// Replaces `self` by `q` where `mask` is all ones (constant time).
    #[inline(always)]
    fn assign_if(&mut self, q: &AffineNiels, mask: u64) {
        self.y_plus_x = self.y_plus_x.select(&q.y_plus_x, mask);
        self.y_minus_x = self.y_minus_x.select(&q.y_minus_x, mask);
        self.xy2d = self.xy2d.select(&q.xy2d, mask);
    }

    /// Replaces `self` by `-self` where `mask` is all ones (constant time).
    #[inline(always)]
    fn negate_if(&mut self, mask: u64) {
        let ypx = self.y_plus_x;
        let ymx = self.y_minus_x;
        self.y_plus_x = ypx.select(&ymx, mask);
        self.y_minus_x = ymx.select(&ypx, mask);
        self.xy2d = self.xy2d.select(&self.xy2d.neg(), mask);
    }
}

/// Affine forms of `points`, sharing one field inversion (Montgomery's
/// trick). Build time only.
const fn batch_affine<const N: usize>(points: &[Point; N]) -> [AffineNiels; N] {
    // prefix[i] = Z_0 ... Z_(i-1).
    let mut prefix = [Fe::ONE; N];
    let mut acc = Fe::ONE;
    let mut i = 0;
    while i < N {
        prefix[i] = acc;
        acc = acc.mul(&points[i].z);
        i += 1;
    }
    // inv = 1 / (Z_0 ... Z_(i-1)), walking down.
    let mut inv = acc.invert();
    let mut out = [AffineNiels::IDENTITY; N];
    while i > 0 {
        i -= 1;
        let zinv = inv.mul(&prefix[i]);
        inv = inv.mul(&points[i].z);
        out[i] = AffineNiels::from_point(&points[i], &zinv);
    }
    out
}

/// `BASE_TABLE[i][j] = (j + 1) 256^i B`.
static BASE_TABLE: [[AffineNiels; 8]; 32] = {
    let mut points = [Point::IDENTITY; 256];
    let mut row = BASEPOINT;
    let mut i = 0;
    while i < 32 {
        let niels = row.to_niels();
        let mut q = row;
        points[8 * i] = q;
        let mut j = 1;
        while j < 8 {
            q = q.add_niels(&niels).to_point();
            points[8 * i + j] = q;
            j += 1;
        }
        let mut k = 0;
        while k < 8 {
            row = row.double();
            k += 1;
        }
        i += 1;
    }
    let flat = batch_affine(&points);
    let mut table = [[AffineNiels::IDENTITY; 8]; 32];
    let mut n = 0;
    while n < 256 {
        table[n / 8][n % 8] = flat[n];
        n += 1;
    }
    table
};

/// `ODD_BASE[i] = (2 i + 1) B`, for the width-8 NAF of verification.
static ODD_BASE: [AffineNiels; 64] = {
    let mut points = [Point::IDENTITY; 64];
    let b2 = BASEPOINT.double().to_niels();
    let mut q = BASEPOINT;
    let mut i = 0;
    while i < 64 {
        points[i] = q;
        q = q.add_niels(&b2).to_point();
        i += 1;
    }
    batch_affine(&points)
};

/// All ones if `a == b`, else 0, without a branch the compiler can see
/// through.
#[inline(always)]
fn ct_eq_mask(a: u8, b: u8) -> u64 {
    let d = u64::from(a ^ b);
    // (d | -d) has its top bit set iff d != 0.
    let ne = core::hint::black_box((d | d.wrapping_neg()) >> 63);
    ne.wrapping_sub(1)
}

/// `[digit] P` for a table row `[P, 2P, ..., 8P]` and `digit` in -8..=8,
/// reading every entry (constant time).
#[inline(always)]
fn select(row: &[AffineNiels; 8], digit: i8) -> AffineNiels {
    // |digit| and the sign, branch-free.
    let neg = (digit as u8) >> 7;
    let sign_mask = (digit >> 7) as u8;
    let abs = (digit as u8).wrapping_add(sign_mask) ^ sign_mask;
    let mut t = AffineNiels::IDENTITY;
    let mut j = 1u8;
    for entry in row {
        t.assign_if(entry, ct_eq_mask(abs, j));
        j = j.wrapping_add(1);
    }
    t.negate_if(0u64.wrapping_sub(core::hint::black_box(u64::from(neg))));
    t
}

/// `[s]B` for a scalar `s < 2^255` (bit 255 clear), in constant time: 64
/// table look-ups, each reading the whole row, 64 additions and 4
/// doublings whatever `s` is.
pub(super) fn mul_base(s: &[u8; 32]) -> Point {
    // Signed radix 16: s = sum d_i 16^i, d_i in -8..8 (d_63 in 0..=8);
    // digits[i] = [d_2i, d_2i+1].
    let mut digits = [[0i8; 2]; 32];
    for (pair, &byte) in digits.iter_mut().zip(s.iter()) {
        *pair = [(byte & 15) as i8, (byte >> 4) as i8];
    }
    let mut carry = 0i8;
    for d in digits.iter_mut().flatten() {
        let v = d.wrapping_add(carry);
        carry = v.wrapping_add(8) >> 4;
        *d = v.wrapping_sub(carry << 4);
    }
    // The last digit keeps its carry: s < 2^255 makes it at most 8.
    if let Some([_, last]) = digits.last_mut() {
        *last = last.wrapping_add(carry << 4);
    }
    // sum over odd i of d_i 16^i B = 16 (sum d_i 16^(i-1) B), where
    // 16^(i-1) = 256^((i-1)/2): the table rows serve both halves.
    let mut p = Point::IDENTITY;
    for (row, pair) in BASE_TABLE.iter().zip(digits.iter()) {
        p = p.add_affine(&select(row, pair[1])).to_point();
    }
    let mut q = p.to_projective();
    for _ in 0..3 {
        q = q.double().to_projective();
    }
    p = q.double().to_point();
    for (row, pair) in BASE_TABLE.iter().zip(digits.iter()) {
        p = p.add_affine(&select(row, pair[0])).to_point();
    }
    super::wipe(&mut digits, [[0; 2]; 32]);
    p
}

/// The width-`W` non-adjacent form of a scalar below 2^255: digits odd and
/// below 2^(W-1) in absolute value, or 0, with at least `W - 1` zeros
/// after each nonzero one. Variable time: public scalars only.
fn naf<const W: usize>(s: &[u8; 32]) -> [i8; 256] {
    let words = super::field::words(s);
    let width = 1u64 << W;
    let mut naf = [0i8; 256];
    let mut pos = 0usize;
    let mut carry = 0u64;
    while pos < 256 {
        let (idx, bit) = (pos / 64, pos % 64);
        let lo = words.get(idx).copied().unwrap_or(0) >> bit;
        let hi = match bit {
            0 => 0,
            _ => words.get(idx + 1).copied().unwrap_or(0) << (64 - bit),
        };
        let window = carry.wrapping_add((lo | hi) & (width - 1));
        if window & 1 == 0 {
            pos += 1;
            continue;
        }
        let digit = if window < width / 2 {
            carry = 0;
            window as i8
        } else {
            carry = 1;
            (window as i64).wrapping_sub(width as i64) as i8
        };
        if let Some(slot) = naf.get_mut(pos) {
            *slot = digit;
        }
        pos += W;
    }
    naf
}

/// `[a]A + [b]B` for scalars below 2^255, in variable time (Straus's
/// method, one shared chain of doublings): verification only.
pub(super) fn double_mul_base_vartime(a: &[u8; 32], big_a: &Point, b: &[u8; 32]) -> Point {
    let a_naf = naf::<5>(a);
    let b_naf = naf::<8>(b);
    // A, 3A, ..., 15A.
    let mut odd_a = [big_a.to_niels(); 8];
    let a2 = big_a.double().to_niels();
    let mut q = *big_a;
    for slot in odd_a.iter_mut().skip(1) {
        q = q.add_niels(&a2).to_point();
        *slot = q.to_niels();
    }
    let mut r = Point::IDENTITY.to_projective();
    // From the top nonzero digit down.
    let digits = a_naf
        .iter()
        .zip(b_naf.iter())
        .rev()
        .skip_while(|(&da, &db)| da == 0 && db == 0);
    for (&da, &db) in digits {
        let mut t = r.double();
        if da != 0 {
            let e = odd_a.get(usize::from(da.unsigned_abs() / 2));
            if let Some(e) = e {
                let p = t.to_point();
                t = if da > 0 {
                    p.add_niels(e)
                } else {
                    p.sub_niels(e)
                };
            }
        }
        if db != 0 {
            let e = ODD_BASE.get(usize::from(db.unsigned_abs() / 2));
            if let Some(e) = e {
                let p = t.to_point();
                t = if db > 0 {
                    p.add_affine(e)
                } else {
                    p.sub_affine(e)
                };
            }
        }
        r = t.to_projective();
    }
    // (X : Y : Z) is (XZ : YZ : Z^2 : XY) in extended coordinates.
    Point {
        x: r.x.mul(&r.z),
        y: r.y.mul(&r.z),
        z: r.z.square(),
        t: r.x.mul(&r.y),
    }
}
