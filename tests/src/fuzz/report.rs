//! The end-of-run report: per ioctl and per errno, how many results of
//! each kind; the extra counters; the rate.

use super::ioctls::{name, NCMD};
use super::mem::{self, Shared, NERR};
use super::Config;
use nix::errno::Errno;
use std::sync::atomic::Ordering::Relaxed;

fn errno_name(e: usize) -> String {
    if e == 0 {
        "ok".into()
    } else {
        format!("{:?}", Errno::from_raw(e as i32))
    }
}

/// `row` (counts by errno, 0: success) as `ok=N EPERM=N ...`: success
/// first, then the most frequent first.
fn by_result(row: &[u64]) -> String {
    let mut parts: Vec<(usize, u64)> = row
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(e, n)| (e, *n))
        .collect();
    parts.sort_by_key(|&(e, n)| (e != 0, std::cmp::Reverse(n)));
    let text: Vec<String> = parts
        .iter()
        .map(|(e, n)| format!("{}={n}", errno_name(*e)))
        .collect();
    text.join(" ")
}

/// Prints the histograms; returns the total ioctl count.
pub fn report(cfg: &Config, shared: &Shared, elapsed: f64) -> u64 {
    let mut totals = [[0u64; NERR]; NCMD];
    let mut extras = [0u64; mem::NEXTRA];
    for ws in &shared.workers {
        for (c, row) in ws.counts.iter().enumerate() {
            for (e, n) in row.iter().enumerate() {
                totals[c][e] += n.load(Relaxed);
            }
        }
        for (x, n) in ws.extra.iter().enumerate() {
            extras[x] += n.load(Relaxed);
        }
    }
    let all: u64 = totals.iter().flatten().sum();
    println!("per ioctl (count by result):");
    for (c, row) in totals.iter().enumerate() {
        let total: u64 = row.iter().sum();
        println!("  {:<13} {total:>9}  {}", name(c), by_result(row));
    }
    let mut by_errno = [0u64; NERR];
    for row in &totals {
        for (e, n) in row.iter().enumerate() {
            by_errno[e] += n;
        }
    }
    println!("per errno: {}", by_result(&by_errno));
    let text: Vec<String> = mem::EXTRA_NAMES
        .iter()
        .zip(extras)
        .map(|(name, n)| format!("{name}: {n}"))
        .collect();
    println!("also: {}", text.join(", "));
    println!(
        "kv-fuzz: {all} ioctls in {elapsed:.1} s: {:.0} ioctls/s (seed {:#x}, {} parent + {} child threads, max_data {})",
        all as f64 / elapsed.max(0.001),
        cfg.seed,
        cfg.threads,
        cfg.child_threads,
        cfg.max_data
    );
    all
}
