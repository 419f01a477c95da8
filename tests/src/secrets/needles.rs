//! What the secrets test searches for: every key-derived byte string, raw
//! and rendered as hex or base64, in 8-byte windows.

use std::collections::{HashMap, HashSet};

// ---- tracing (a private tracefs instance, as in tracing.rs) ----

// ---- the search ----

pub fn hex(b: &[u8], upper: bool, sep: &str) -> String {
    b.iter()
        .map(|x| {
            if upper {
                format!("{x:02X}")
            } else {
                format!("{x:02x}")
            }
        })
        .collect::<Vec<_>>()
        .join(sep)
}

pub fn base64(b: &[u8], url: bool) -> String {
    let table: &[u8; 64] = if url {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut s = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..=c.len() {
            s.push(table[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    s
}

/// Every form in which a secret's bytes could show up, by length.
#[derive(Default)]
pub struct Needles {
    pub by_len: HashMap<usize, HashMap<Vec<u8>, String>>,
    pub count: usize,
}

impl Needles {
    pub fn add(&mut self, form: Vec<u8>, what: String) {
        self.count += 1;
        self.by_len
            .entry(form.len())
            .or_default()
            .entry(form)
            .or_insert(what);
    }

    /// A secret: every 8-byte window raw and as hex (lower, upper, spaced,
    /// colon-separated); every 6-byte run as base64 (standard and URL-safe,
    /// 8 characters: any base64 of >= 8 contiguous secret bytes, whatever
    /// its alignment, contains one of them).
    pub fn secret(&mut self, name: &str, s: &[u8]) {
        for (i, w) in s.windows(8).enumerate() {
            let at = format!("{name} bytes {i}..{}", i + 8);
            self.add(w.to_vec(), format!("{at} (raw)"));
            for (form, how) in [
                (hex(w, false, ""), "hex"),
                (hex(w, true, ""), "HEX"),
                (hex(w, false, " "), "spaced hex"),
                (hex(w, false, ":"), "colon hex"),
            ] {
                self.add(form.into_bytes(), format!("{at} ({how})"));
            }
        }
        for (i, w) in s.windows(6).enumerate() {
            for url in [false, true] {
                self.add(
                    base64(w, url).into_bytes(),
                    format!("{name} bytes {i}..{} (base64)", i + 6),
                );
            }
        }
    }

    /// What `hay` contains.
    pub fn scan(&self, hay: &[u8]) -> Vec<String> {
        let mut found = HashSet::new();
        for (len, set) in &self.by_len {
            for w in hay.windows(*len) {
                if let Some(what) = set.get(w) {
                    found.insert(what.clone());
                }
            }
        }
        let mut v: Vec<String> = found.into_iter().collect();
        v.sort();
        v
    }
}
