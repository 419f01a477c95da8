//! The corpus: the tapes (rng.rs) of steps that reached new coverage
//! (kcov.rs), which later steps mutate and replay, kept across runs in a
//! directory (`--corpus DIR`; scripts/vm-suite passes target/fuzz-corpus,
//! which scripts/vm makes writable in the guest).
//!
//! A file per process, `parent.tapes` and `child.tapes`, rewritten at the
//! end of a run: for each tape its number of draws (u32) and the draws
//! (u64), little-endian. A run first replays every saved tape once, as is
//! (seeds); a seed joins the run's corpus only if it reaches something new
//! again, so the corpus keeps what still matters and does not grow stale.

use super::rng::{Rng, TAPE_MAX};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Entries kept in one process; a new one then replaces a random one.
const MAX_ENTRIES: usize = 4096;
/// Entries new in the last part of the corpus that mutation favors.
const RECENT: usize = 64;

/// A tape, and what its step cost (microseconds).
type Entry = (Arc<[u64]>, u64);

struct Inner {
    entries: Vec<Entry>,
    seeds: Vec<Vec<u64>>,
    /// Where the next entry goes once the corpus is full.
    evict: usize,
}

pub struct Corpus {
    inner: Mutex<Inner>,
}

impl Corpus {
    pub fn new(seeds: Vec<Vec<u64>>) -> Corpus {
        Corpus {
            inner: Mutex::new(Inner {
                entries: Vec::new(),
                seeds,
                evict: 0,
            }),
        }
    }

    /// A seed not replayed yet.
    pub fn next_seed(&self) -> Option<Vec<u64>> {
        self.inner.lock().unwrap().seeds.pop()
    }

    /// Keeps `tape`, whose step took `cost` microseconds.
    pub fn add(&self, tape: Vec<u64>, cost: u64) {
        if tape.is_empty() {
            return;
        }
        let mut c = self.inner.lock().unwrap();
        if c.entries.len() < MAX_ENTRIES {
            c.entries.push((tape.into(), cost));
        } else {
            // A cheap stand-in for a random slot, without an Rng here.
            c.evict = (c.evict + 2_654_435_761) % MAX_ENTRIES;
            let i = c.evict;
            c.entries[i] = (tape.into(), cost);
        }
    }

    /// A mutated copy of an entry, or nothing (a fresh step) while the
    /// corpus is empty. The entry is the quicker of two picks, one of them
    /// half the time among the most recent: steps that found something were
    /// often the slow ones (1 MiB of data, a vault of many keys to close), and
    /// replaying only those would halve the ioctl rate.
    pub fn mutant(&self, rng: &mut Rng) -> Vec<u64> {
        let (a, b) = {
            let c = self.inner.lock().unwrap();
            let n = c.entries.len() as u64;
            if n == 0 {
                return Vec::new();
            }
            let recent = n.min(RECENT as u64);
            let i = if rng.chance(50) {
                n - 1 - rng.below(recent)
            } else {
                rng.below(n)
            };
            let j = rng.below(n);
            let pick = if c.entries[i as usize].1 <= c.entries[j as usize].1 {
                i
            } else {
                j
            };
            (
                c.entries[pick as usize].0.clone(),
                c.entries[rng.below(n) as usize].0.clone(),
            )
        };
        mutate(&a, &b, rng)
    }

    /// Writes the entries to `dir/name.tapes`; returns how many.
    pub fn save(&self, dir: &str, name: &str) -> std::io::Result<usize> {
        let entries = self.inner.lock().unwrap().entries.clone();
        std::fs::create_dir_all(dir)?;
        let path = Path::new(dir).join(format!("{name}.tapes"));
        let tmp = path.with_extension("tapes.tmp");
        let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        for (e, _) in &entries {
            out.write_all(&(e.len() as u32).to_le_bytes())?;
            for d in e.iter() {
                out.write_all(&d.to_le_bytes())?;
            }
        }
        out.into_inner()?.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        Ok(entries.len())
    }
}

/// The tapes saved in `dir` (none if it does not exist yet); a truncated
/// file gives the tapes before the cut.
pub fn load(dir: &str) -> Vec<Vec<u64>> {
    let mut seeds = Vec::new();
    let Ok(files) = std::fs::read_dir(dir) else {
        return seeds;
    };
    for f in files.flatten() {
        if f.path().extension().is_none_or(|e| e != "tapes") {
            continue;
        }
        let Ok(bytes) = std::fs::read(f.path()) else {
            continue;
        };
        let mut rest = &bytes[..];
        while let Some((n, tail)) = rest.split_first_chunk::<4>() {
            let n = (u32::from_le_bytes(*n) as usize).min(TAPE_MAX);
            let Some(draws) = tail.get(..n * 8) else {
                break;
            };
            seeds.push(
                draws
                    .chunks_exact(8)
                    .map(|d| u64::from_le_bytes(d.try_into().unwrap()))
                    .collect(),
            );
            rest = &tail[n * 8..];
        }
    }
    seeds.truncate(2 * MAX_ENTRIES);
    seeds
}

/// 1-4 changes to `a`'s draws, `b` a second entry to splice with. Each draw
/// is one decision of the generators, so these change decisions: one to
/// anything, to its first or last choice, to a nearby choice, to another
/// draw's; or shift the decisions after a point, or cut the tape there (the
/// rest is drawn afresh), or continue with `b`'s decisions.
fn mutate(a: &[u64], b: &[u64], rng: &mut Rng) -> Vec<u64> {
    let mut t = a.to_vec();
    for _ in 0..1 + rng.below(4) {
        if t.is_empty() {
            break;
        }
        let i = rng.below(t.len() as u64) as usize;
        match rng.below(8) {
            0 => t[i] = rng.next(),
            // below(n) maps 0 to the first choice, u64::MAX to the last.
            1 => {
                let small = rng.below(1 << 16);
                t[i] = rng.pick(&[0, u64::MAX, 1 << 63, small]);
            }
            2 => t[i] ^= 1 << (63 - rng.below(12)),
            3 => t[i] = t[rng.below(t.len() as u64) as usize],
            4 => t.insert(i, rng.next()),
            5 => {
                t.remove(i);
            }
            6 => t.truncate(i),
            _ => {
                t.truncate(i);
                let j = rng.below(b.len() as u64) as usize;
                t.extend_from_slice(&b[j..]);
            }
        }
    }
    t.truncate(TAPE_MAX);
    t
}
