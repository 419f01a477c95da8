//! Where a request and its buffers go, and how a request is made hostile.
//!
//! Requests and buffers are laid out in the worker's arena (mem.rs); a
//! mutated request may instead sit in the read-only page, straddle the
//! guard page or be unreadable, and its fields get values of their kind
//! (fields.rs) chosen to hit boundaries: lengths around block sizes and the
//! module's limit, flags beyond the defined ones, nonzero reserved words,
//! pointers that are null, kernel, unmapped, read-only or aliasing another.

use super::fields::{F, K};
use super::mem::PAGE;
use super::worker::Worker;
use keyvault::uapi::*;

/// Where the request struct goes.
#[derive(Clone, Copy)]
pub enum Loc {
    Normal(u64),
    /// In the read-only page: readable, but no write-back.
    ReadOnly(u64),
    /// Cut off by the guard page after `.1` readable bytes.
    Straddle(u64, usize),
    /// Not readable at all.
    Bad(u64),
}

impl Loc {
    pub fn addr(self) -> u64 {
        match self {
            Loc::Normal(a) | Loc::ReadOnly(a) | Loc::Straddle(a, _) | Loc::Bad(a) => a,
        }
    }
}

/// How a request is placed, and whether it is mutated.
pub struct Plan {
    pub mutate: bool,
    pub loc: Loc,
}

impl Worker<'_> {
    /// A request placement, mutated or not.
    pub fn plan(&mut self, size: usize) -> Plan {
        let mutate = self.rng.chance(45);
        self.a.reset(&mut self.rng);
        let loc = if mutate && self.rng.chance(12) {
            self.wild_loc(size)
        } else {
            Loc::Normal(self.a.alloc(size, &mut self.rng))
        };
        Plan { mutate, loc }
    }

    /// A clean request in normal memory.
    pub fn exact(&mut self, size: usize) -> Plan {
        self.a.reset(&mut self.rng);
        self.more(size)
    }

    /// Another clean request, keeping the current request's buffers.
    pub fn more(&mut self, size: usize) -> Plan {
        Plan {
            mutate: false,
            loc: Loc::Normal(self.a.alloc(size, &mut self.rng)),
        }
    }

    fn wild_loc(&mut self, size: usize) -> Loc {
        let a = &self.a;
        match self.rng.below(7) {
            0 | 1 => Loc::ReadOnly(a.ro + self.rng.below((PAGE - size) as u64)),
            2 | 3 => {
                let short = 1 + self.rng.below(size as u64 - 1) as usize;
                Loc::Straddle(a.tail_guard - (size - short) as u64, size - short)
            }
            4 => Loc::Bad(
                self.rng
                    .pick(&[0, 8, 0xffff_8880_0000_0000, 0xffff_ffff_8100_0000]),
            ),
            5 => Loc::Bad(a.tail_guard + self.rng.below(4 * PAGE as u64)),
            _ => Loc::Bad(
                self.rng
                    .pick(&[a.lead_guard, u64::MAX - 15, 0x8000_0000_0000_0000]),
            ),
        }
    }

    fn wild_len(&mut self) -> u32 {
        let m = self.max_data;
        if self.rng.chance(2) {
            let big = self.rng.pick(&[m, m.saturating_sub(1), 65536, 262_144]);
            return big.min(self.big_cap);
        }
        let small = self.rng.below(256) as u32;
        let mid = self.rng.below(8192) as u32;
        self.rng.pick(&[
            0,
            1,
            15,
            16,
            17,
            31,
            32,
            33,
            63,
            64,
            65,
            255,
            256,
            257,
            1023,
            1024,
            1025,
            4095,
            4096,
            4097,
            m.wrapping_add(1),
            m.wrapping_add(2),
            u32::MAX,
            u32::MAX - 15,
            0x8000_0000,
            0x7fff_ffff,
            small,
            mid,
        ])
    }

    /// A hostile pointer (never one into memory other than the arena).
    pub fn wild_ptr(&mut self, saddr: u64, b: &[u8], fields: &[F]) -> u64 {
        let a = &self.a;
        let r = self.rng.next();
        match self.rng.below(13) {
            0 => 0,
            1 => self.rng.pick(&[1, 8, 4095, 4096, 0x10000]),
            2 => self.rng.pick(&[
                0xffff_8880_0000_0000,
                0xffff_ffff_8100_0000,
                0xffff_ffff_ff60_0000,
                0xffff_ffff_ffff_f000,
            ]),
            3 => self.rng.pick(&[
                0x0000_8000_0000_0000,
                0x8000_0000_0000_0000,
                0x0000_7fff_ffff_f000,
            ]),
            4 => u64::MAX - r % 64,
            5 => a.tail_guard + r % (8 * PAGE as u64),
            6 => a.lead_guard + r % PAGE as u64,
            7 => a.ro + r % PAGE as u64,
            8 => a.tail_guard - 1 - r % 64,
            9 => saddr,
            10 => {
                // Alias another pointer of the same request.
                let ptrs: Vec<&F> = fields.iter().filter(|f| f.k == K::Ptr).collect();
                let f = ptrs[(r % ptrs.len() as u64) as usize];
                u64::from_ne_bytes(b[f.off..f.off + 8].try_into().unwrap())
            }
            11 => a.rw + r % a.rw_len as u64,
            _ => a.rw + r % 65536,
        }
    }

    fn wild32(&mut self, k: K) -> u32 {
        let r = self.rng.next() as u32;
        match k {
            K::Len | K::Count => self.wild_len(),
            K::Flags(m) => self
                .rng
                .pick(&[0, m, m | 1 << (r % 32), 1 << (r % 32), u32::MAX, r]),
            K::Res => self.rng.pick(&[1, 0x8000_0000, u32::MAX, r | 1]),
            K::Alg => self.rng.pick(&[0, 10, 255, u32::MAX, 1 + r % 9, 0x101]),
            K::Hash => self.rng.pick(&[0, 1, 2, 3, u32::MAX]),
            K::Caps => self.rng.pick(&[
                0,
                KV_CAP_ALL,
                KV_CAP_ALL + 1,
                u32::MAX,
                KV_CAP_READONLY,
                r & KV_CAP_ALL,
            ]),
            K::Bits => self.rng.pick(&[
                0,
                7,
                8,
                64,
                120,
                128,
                129,
                256,
                512,
                1024,
                1032,
                u32::MAX,
                0x8000_0000,
            ]),
            K::Usage => {
                self.rng
                    .pick(&[0, KV_USAGE_ALL, r & KV_USAGE_ALL, 1 << (r % 32), u32::MAX])
            }
            K::PFlags => self.rng.pick(&[0, 1, 2, 3, 4, u32::MAX]),
            K::Serial => self.wild_serial() as u32,
            K::Format => self.rng.pick(&[0, 1, 2, 3, 0x100, u32::MAX, r]),
            K::ChildAlgs => self.rng.pick(&[
                0,
                KV_CHILD_ALGS_ALL,
                1 << KV_ALG_AES256_GCM,
                1 << KV_ALG_AES256_CBC,
                1 << (1 + r % 7),
                1 << (r % 32),
                r,
            ]),
            _ => r,
        }
    }

    fn wild64(&mut self, k: K, saddr: u64, b: &[u8], fields: &[F]) -> u64 {
        let r = self.rng.next();
        match k {
            K::Ptr => self.wild_ptr(saddr, b, fields),
            K::KeyId => self.wild_key(),
            K::Ttl => self.rng.pick(&[
                0,
                1,
                2,
                5,
                20,
                1000,
                u64::MAX,
                9_223_372_036_854,
                9_223_372_036_855,
                u64::MAX / 1_000_000 + 1,
                1 << 63,
            ]),
            K::Cursor => match r % 4 {
                0 => 0,
                1 => u64::MAX,
                2 => self.wild_key(),
                _ => r,
            },
            K::Max => self.rng.pick(&[0, 1, 2, 16, 1 << 20, u64::MAX]),
            K::Res => self.rng.pick(&[1, 1 << 63, u64::MAX, r | 1]),
            _ => r,
        }
    }

    /// Applies 1-3 mutations; returns whether a pointer or raw bytes changed.
    pub fn mutate(&mut self, b: &mut [u8], fields: &[F], saddr: u64) -> bool {
        let mut wild = false;
        let n = 1 + self.rng.below(3);
        for _ in 0..n {
            let roll = self.rng.below(100);
            if roll < 4 {
                let i = self.rng.below(b.len() as u64) as usize;
                b[i] ^= 1 << self.rng.below(8);
                wild = true;
                continue;
            }
            if roll < 5 {
                self.rng.fill(b);
                wild = true;
                continue;
            }
            let f = self.rng.pick(fields);
            match f.size {
                4 => {
                    let v = self.wild32(f.k);
                    b[f.off..f.off + 4].copy_from_slice(&v.to_ne_bytes());
                }
                8 => {
                    let v = self.wild64(f.k, saddr, b, fields);
                    b[f.off..f.off + 8].copy_from_slice(&v.to_ne_bytes());
                    wild |= f.k == K::Ptr;
                }
                _ => {
                    let at = f.off + 8 * self.rng.below(f.size as u64 / 8) as usize;
                    let v = self.wild64(f.k, saddr, b, fields);
                    b[at..at + 8].copy_from_slice(&v.to_ne_bytes());
                }
            }
        }
        // A flipped bit or random bytes in a pointer (or an alias of such a
        // pointer) need not stay in the arena: one bit away from an arena
        // address lie glibc's thread heaps (0x7f..9c.. -> 0x7f..94..) and
        // other threads' stacks, and the kernel writing output there
        // corrupted malloc's top chunk (SIGSEGV in calloc's memset). Such a
        // pointer is folded back into the arena's mapping (mem.rs).
        for f in fields.iter().filter(|f| f.k == K::Ptr) {
            let v = u64::from_ne_bytes(b[f.off..f.off + 8].try_into().unwrap());
            b[f.off..f.off + 8].copy_from_slice(&self.a.confine(v).to_ne_bytes());
        }
        wild
    }

    /// A buffer with random contents.
    pub fn data(&mut self, len: u32) -> u64 {
        let p = self.a.alloc(len as usize, &mut self.rng);
        let n = (len as usize).min(4096);
        self.a.randomize(p, n, &mut self.rng);
        p
    }
}
