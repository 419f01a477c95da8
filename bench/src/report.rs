//! Turning the samples into the report's pieces: statistics, ratios to
//! keyvault (paired by round), the floor model, the targets (ratios and key
//! lookup), the Markdown tables (summary, details, scaling) and their JSON.
//! `document` puts the pieces in order.

use crate::harness::{Outcome, Summary};
use serde_json::{json, Value};
use std::fmt::Write as _;

/// The contenders, in table order: (id, column header, description).
pub const CONTENDERS: &[(&str, &str, &str)] = &[
    (
        "kv",
        "keyvault",
        "keyvault through libkeyvault (`Vault::aead_encrypt_into`, `mac`, `hash`, `sign`, `exchange`...)",
    ),
    (
        "kv_raw",
        "raw ioctl",
        "keyvault through `keyvault::raw::ioctl` with the ABI struct filled by hand: what the library adds",
    ),
    (
        "af_alg",
        "AF_ALG",
        "the kernel's crypto API over an AF_ALG socket: sendmsg (data + op/IV/AAD-length cmsgs) then read, per operation",
    ),
    (
        "agent",
        "agent",
        "a key agent: a forked process holding the keys, one length-prefixed request and answer over a Unix stream socket per operation, computing with the in-process code",
    ),
    (
        "inproc",
        "in-process",
        "RustCrypto in the benchmark process (aes-gcm, chacha20poly1305, hmac, sha2, ed25519-dalek, x25519-dalek): no isolation, the limit",
    ),
    (
        "floor",
        "floor",
        "model, not a measurement: per round, (keyvault ioctls per op) x null ioctl (GETCAPS) + in-process compute time",
    ),
];

/// One measured row: an operation at a size, every contender.
pub struct Row {
    pub op: String,
    pub size: Option<usize>,
    /// keyvault ioctls per operation (for the floor model).
    pub kv_calls: u32,
    pub results: Vec<(&'static str, Outcome)>,
    pub note: Option<String>,
}

/// The statistics of one contender in one row.
#[derive(Clone, Debug)]
pub struct CStat {
    pub id: String,
    pub unavailable: Option<String>,
    pub ops: Option<Summary>,
    pub mbs: Option<Summary>,
    /// Contender ops/s ÷ keyvault ops/s, per round.
    pub vs_kv: Option<Summary>,
    /// keyvault ops/s ÷ contender ops/s, per round.
    pub kv_over: Option<Summary>,
    pub batch: u64,
    pub secs_per_op: Vec<f64>,
}

fn rates(t: &[f64]) -> Vec<f64> {
    t.iter().map(|t| 1.0 / t).collect()
}

fn paired(a: &[f64], b: &[f64], f: impl Fn(f64, f64) -> f64) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| f(*x, *y)).collect()
}

fn find<'r>(results: &'r [(&'static str, Outcome)], id: &str) -> Option<&'r Outcome> {
    results.iter().find(|(i, _)| *i == id).map(|(_, o)| o)
}

/// Statistics of every contender of a row, plus the floor model; `base`
/// is the contender the ratios are to ("kv" except for the lookup rows).
pub fn row_stats(row: &Row, base: &str) -> Vec<CStat> {
    let base_t = find(&row.results, base).and_then(|o| o.samples());
    let mut out = Vec::new();
    let mut push = |id: &str, t: Option<&[f64]>, unavailable: Option<String>, batch: u64| {
        let t = t.filter(|t| !t.is_empty());
        let ops = t.and_then(|t| Summary::of(&rates(t)));
        let mbs = match (t, row.size) {
            (Some(t), Some(sz)) => Summary::of(
                &rates(t)
                    .iter()
                    .map(|r| r * sz as f64 / 1e6)
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        };
        let (vs_kv, kv_over) = match (t, base_t) {
            (Some(t), Some(b)) => (
                Summary::of(&paired(b, t, |b, t| b / t)),
                Summary::of(&paired(b, t, |b, t| t / b)),
            ),
            _ => (None, None),
        };
        out.push(CStat {
            id: id.to_string(),
            unavailable: if t.is_none() {
                Some(unavailable.unwrap_or_else(|| "no samples".into()))
            } else {
                None
            },
            ops,
            mbs,
            vs_kv,
            kv_over,
            batch,
            secs_per_op: t.map(<[f64]>::to_vec).unwrap_or_default(),
        });
    };
    for (id, o) in &row.results {
        match o {
            Outcome::Ok { secs_per_op, batch } => push(id, Some(secs_per_op), None, *batch),
            Outcome::Unavailable(why) => push(id, None, Some(why.clone()), 0),
        }
    }
    // The floor: null ioctl(s) + in-process compute, paired per round.
    if let (Some(null), Some(inproc)) = (
        find(&row.results, "null_ioctl").and_then(|o| o.samples()),
        find(&row.results, "inproc").and_then(|o| o.samples()),
    ) {
        let k = row.kv_calls as f64;
        let t = paired(null, inproc, |n, c| k * n + c);
        push("floor", Some(&t), None, 0);
    } else if find(&row.results, "null_ioctl").is_some() {
        push(
            "floor",
            None,
            Some("needs the null ioctl and in-process samples".into()),
            0,
        );
    }
    out
}

pub fn stat<'s>(stats: &'s [CStat], id: &str) -> Option<&'s CStat> {
    stats.iter().find(|s| s.id == id)
}

// ---------------------------------------------------------------- formatting

pub fn fmt_size(n: usize) -> String {
    if n >= 1 << 20 && n % (1 << 20) == 0 {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n % (1 << 10) == 0 {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} B")
    }
}

pub fn fmt_rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2}M", r / 1e6)
    } else if r >= 1e4 {
        format!("{:.1}k", r / 1e3)
    } else if r >= 1e3 {
        format!("{:.2}k", r / 1e3)
    } else {
        fmt_steps(r, &[(100.0, 0)], 1)
    }
}

/// `x` with the decimals of the first (threshold, decimals) of `steps` it
/// reaches, or else `last` decimals.
fn fmt_steps(x: f64, steps: &[(f64, usize)], last: usize) -> String {
    let prec = steps
        .iter()
        .find(|&&(at, _)| x >= at)
        .map_or(last, |&(_, p)| p);
    format!("{x:.prec$}")
}

pub fn fmt_ratio(r: f64) -> String {
    format!("{}×", fmt_steps(r, &[(100.0, 0), (10.0, 1)], 2))
}

fn fmt_mbs(m: f64) -> String {
    fmt_steps(m, &[(100.0, 0), (1.0, 1)], 3)
}

fn short(why: &str) -> String {
    let w = why.trim();
    if w.len() > 90 {
        format!(
            "{}…",
            &w[..w
                .char_indices()
                .take(88)
                .last()
                .map_or(0, |(i, c)| i + c.len_utf8())]
        )
    } else {
        w.to_string()
    }
}

/// Four significant digits: more would be noise, and bulk.
pub fn sig4(x: f64) -> f64 {
    if x.is_finite() && x != 0.0 {
        format!("{x:.3e}").parse().unwrap_or(x)
    } else {
        x
    }
}

pub fn summary_json(s: &Option<Summary>) -> Value {
    match s {
        Some(s) => {
            json!({"median": sig4(s.median), "p10": sig4(s.p10), "p90": sig4(s.p90), "n": s.n})
        }
        None => Value::Null,
    }
}

pub fn cstat_json(c: &CStat) -> Value {
    json!({
        "contender": c.id,
        "available": c.unavailable.is_none(),
        "unavailable_reason": c.unavailable,
        "ops_per_s": summary_json(&c.ops),
        "mb_per_s": summary_json(&c.mbs),
        "ratio_to_keyvault": summary_json(&c.vs_kv),
        "keyvault_over_this": summary_json(&c.kv_over),
        "ops_per_sample": c.batch,
        "secs_per_op_samples": c.secs_per_op.iter().map(|t| sig4(*t)).collect::<Vec<_>>(),
    })
}

/// The summary cell of a non-keyvault contender.
fn cell(c: Option<&CStat>) -> String {
    match c {
        None => String::new(),
        Some(c) => match (&c.unavailable, c.vs_kv, c.ops) {
            (Some(_), _, _) => "n/a".into(),
            (None, Some(r), Some(o)) => {
                format!("{} ({}/s)", fmt_ratio(r.median), fmt_rate(o.median))
            }
            (None, None, Some(o)) => format!("— ({}/s)", fmt_rate(o.median)),
            _ => "n/a".into(),
        },
    }
}

/// The main table: one line per (operation, size).
pub fn summary_table(md: &mut String, rows: &[(Row, Vec<CStat>)]) {
    md.push_str(
        "| operation | size | keyvault ops/s (± p10–p90) | keyvault MB/s | raw ioctl | AF_ALG | agent | in-process | floor |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for (row, stats) in rows {
        let kv = stat(stats, "kv");
        let kv_cell = match kv {
            Some(CStat {
                ops: Some(o),
                unavailable: None,
                ..
            }) => format!("{} ±{:.0}%", fmt_rate(o.median), o.spread_pct()),
            Some(CStat {
                unavailable: Some(w),
                ..
            }) => format!("n/a: {}", short(w)),
            _ => "n/a".into(),
        };
        let kv_mbs = kv
            .and_then(|c| c.mbs)
            .map_or(String::new(), |m| fmt_mbs(m.median));
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.op,
            row.size.map_or(String::new(), fmt_size),
            kv_cell,
            kv_mbs,
            cell(stat(stats, "kv_raw")),
            cell(stat(stats, "af_alg")),
            cell(stat(stats, "agent")),
            cell(stat(stats, "inproc")),
            cell(stat(stats, "floor")),
        );
    }
}

/// Every contender of every row with its spread.
pub fn detail_table(md: &mut String, rows: &[(Row, Vec<CStat>)], names: &dyn Fn(&str) -> String) {
    md.push_str(
        "| operation | size | contender | ops/s median | ops/s p10–p90 | MB/s | ratio to keyvault: median (p10–p90) | samples × ops |\n\
         |---|---:|---|---:|---:|---:|---:|---:|\n",
    );
    for (row, stats) in rows {
        for c in stats {
            let size = row.size.map_or(String::new(), fmt_size);
            let cells = match (&c.unavailable, c.ops) {
                (None, Some(o)) => format!(
                    "{} | {}–{} | {} | {} | {}",
                    fmt_rate(o.median),
                    fmt_rate(o.p10),
                    fmt_rate(o.p90),
                    c.mbs.map_or(String::new(), |m| fmt_mbs(m.median)),
                    c.vs_kv.map_or(String::new(), |r| format!(
                        "{} ({}–{})",
                        fmt_ratio(r.median),
                        fmt_ratio(r.p10),
                        fmt_ratio(r.p90)
                    )),
                    if c.id == "floor" {
                        "model".to_string()
                    } else {
                        format!("{} × {}", o.n, c.batch)
                    },
                ),
                _ => format!(
                    "n/a: {} | | | |",
                    short(c.unavailable.as_deref().unwrap_or("")).replace('|', "/"),
                ),
            };
            let _ = writeln!(md, "| {} | {} | {} | {cells} |", row.op, size, names(&c.id));
        }
    }
}

/// A target and whether it was met.
pub struct Target {
    pub name: String,
    pub met: Option<bool>,
    pub measured: String,
}

impl Target {
    pub fn verdict(&self) -> &'static str {
        match self.met {
            Some(true) => "**met**",
            Some(false) => "**not met**",
            None => "not measured",
        }
    }

    pub fn json(&self) -> Value {
        json!({"target": self.name, "met": self.met, "measured": self.measured})
    }
}

/// `keyvault ÷ other ≥ min` in one row.
pub fn ratio_target(name: &str, stats: Option<&[CStat]>, other: &str, min: f64) -> Target {
    let c = stats.and_then(|s| stat(s, other));
    match c.and_then(|c| c.kv_over) {
        Some(r) => Target {
            name: name.into(),
            met: Some(r.median >= min),
            measured: format!(
                "keyvault ÷ {other} = {:.2} (p10–p90 {:.2}–{:.2}; needs ≥ {min})",
                r.median, r.p10, r.p90
            ),
        },
        None => Target {
            name: name.into(),
            met: None,
            measured: format!(
                "{other}: {}",
                c.and_then(|c| c.unavailable.clone())
                    .unwrap_or_else(|| "no data".into())
            ),
        },
    }
}

/// The lookup targets: not linear (under 2× for 10⁴× the keys), and flat
/// (within 25%).
pub fn lookup_targets(
    lookup: &Option<(Row, Vec<CStat>, Vec<usize>)>,
    errors: &[(usize, String)],
) -> Vec<Target> {
    let goals = [
        (
            "key lookup does not grow linearly: latency at 100 000 keys < 2× at 10 keys (linear would be ~10 000×)",
            2.0,
            false,
        ),
        (
            "key lookup flat from 10 to 100 000 keys: latency at 100 000 keys ≤ 1.25× at 10 keys",
            1.25,
            true,
        ),
    ];
    let Some((_, stats, ns)) = lookup else {
        let why = errors
            .first()
            .map_or("not run".into(), |(n, e)| format!("{n} keys: {e}"));
        return goals
            .iter()
            .map(|(name, _, _)| Target {
                name: name.to_string(),
                met: None,
                measured: why.clone(),
            })
            .collect();
    };
    let lat = |c: &CStat| Summary::of(&c.secs_per_op.iter().map(|t| t * 1e6).collect::<Vec<_>>());
    let all: Vec<String> = stats
        .iter()
        .filter_map(|c| lat(c).map(|l| format!("{}: {:.2} µs", c.id, l.median)))
        .collect();
    let largest = stats.iter().rev().find(|c| c.kv_over.is_some());
    let max_n = ns.iter().copied().max().unwrap_or(0);
    goals
        .iter()
        .map(|&(name, limit, inclusive)| {
            let name = name.to_string();
            match largest.and_then(|c| c.kv_over) {
                Some(r) if max_n >= 100_000 => Target {
                    name,
                    met: Some(if inclusive {
                        r.median <= limit
                    } else {
                        r.median < limit
                    }),
                    measured: format!(
                        "{}; largest ÷ smallest = {:.3} (p10–p90 {:.3}–{:.3})",
                        all.join(", "),
                        r.median,
                        r.p10,
                        r.p90
                    ),
                },
                Some(r) => Target {
                    name,
                    met: None,
                    measured: format!(
                        "only up to {max_n} keys: {}; largest ÷ smallest = {:.3}",
                        all.join(", "),
                        r.median
                    ),
                },
                None => Target {
                    name,
                    met: None,
                    measured: "no data".into(),
                },
            }
        })
        .collect()
}

/// The scaling section: ops/s per thread count and the speedup, compared
/// with in-process; its JSON.
pub fn scaling_report(
    md: &mut String,
    scaling: &[(&'static str, Vec<(usize, Outcome)>)],
    threads: &[usize],
    names: &dyn Fn(&str) -> String,
) -> Value {
    if scaling.is_empty() {
        md.push_str("Not run.\n");
        return Value::Null;
    }
    let _ = writeln!(
        md,
        "| contender | {} | speedup {}→{} threads: median (p10–p90) |\n|---|{}---:|",
        threads
            .iter()
            .map(|t| format!(
                "{t} thread{} ops/s (p10–p90)",
                if *t == 1 { "" } else { "s" }
            ))
            .collect::<Vec<_>>()
            .join(" | "),
        threads[0],
        threads[threads.len() - 1],
        "---:|".repeat(threads.len())
    );
    let mut out = Vec::new();
    let mut speedups: Vec<(&str, Option<Summary>)> = Vec::new();
    for (id, per) in scaling {
        let mut cells = Vec::new();
        let mut jt = Vec::new();
        for (t, o) in per {
            match o.samples() {
                Some(s) => {
                    let r = Summary::of(&s.iter().map(|t| 1.0 / t).collect::<Vec<_>>()).unwrap();
                    cells.push(format!(
                        "{} ({}–{})",
                        fmt_rate(r.median),
                        fmt_rate(r.p10),
                        fmt_rate(r.p90)
                    ));
                    jt.push(json!({"threads": t, "ops_per_s": summary_json(&Some(r)), "secs_per_op_samples": s.iter().map(|t| sig4(*t)).collect::<Vec<_>>()}));
                }
                None => {
                    let why = match o {
                        Outcome::Unavailable(w) => w.clone(),
                        _ => "no samples".into(),
                    };
                    cells.push(format!("n/a: {why}"));
                    jt.push(json!({"threads": t, "unavailable_reason": why}));
                }
            }
        }
        let speedup = match (
            per.first().and_then(|p| p.1.samples()),
            per.last().and_then(|p| p.1.samples()),
        ) {
            (Some(a), Some(b)) => {
                Summary::of(&a.iter().zip(b).map(|(x, y)| x / y).collect::<Vec<_>>())
            }
            _ => None,
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            names(id),
            cells.join(" | "),
            speedup.map_or("n/a".into(), |s| format!(
                "{:.2}× ({:.2}–{:.2})",
                s.median, s.p10, s.p90
            ))
        );
        out.push(json!({
            "contender": id,
            "by_threads": jt,
            "speedup": summary_json(&speedup),
        }));
        speedups.push((*id, speedup));
    }
    // In-process has no shared state at all: its speedup is what the VM's
    // CPUs allowed in this run, the yardstick for the others.
    let reference = speedups
        .iter()
        .find(|(id, _)| *id == "inproc")
        .and_then(|(_, s)| *s);
    if let Some(r) = reference {
        let others: Vec<String> = speedups
            .iter()
            .filter(|(id, _)| *id != "inproc")
            .filter_map(|(id, s)| s.map(|s| format!("{} {:.2}", names(id), s.median / r.median)))
            .collect();
        let _ = writeln!(
            md,
            "\nIn-process crypto shares nothing between its threads, so its speedup ({:.2}×) is what the VM's CPUs \
             allowed in this run{}. Speedup relative to it (1.00 = scales as well as no shared state at all): {}.",
            r.median,
            if r.median < 1.5 {
                ": the two vCPUs did not get two host cores' worth of time, so this run says little about scaling"
            } else {
                ""
            },
            others.join(", ")
        );
    }
    Value::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(secs: &[f64]) -> Outcome {
        Outcome::Ok {
            secs_per_op: secs.to_vec(),
            batch: 0,
        }
    }

    #[test]
    fn the_scaling_section_compares_with_in_process() {
        let scaling = vec![
            ("kv", vec![(1, ok(&[1e-5, 1e-5])), (2, ok(&[6e-6, 6e-6]))]),
            (
                "inproc",
                vec![(1, ok(&[1e-6, 1e-6])), (2, ok(&[5e-7, 5e-7]))],
            ),
            (
                "af_alg",
                vec![
                    (1, Outcome::Unavailable("nope".into())),
                    (2, Outcome::Unavailable("nope".into())),
                ],
            ),
        ];
        let mut md = String::new();
        let names = |id: &str| id.to_string();
        let j = scaling_report(&mut md, &scaling, &[1, 2], &names);
        assert!(
            md.contains("| kv | 100.0k (100.0k–100.0k) | 166.7k"),
            "{md}"
        );
        assert!(md.contains("1.67× (1.67–1.67)"), "{md}");
        assert!(md.contains("n/a: nope"), "{md}");
        assert!(md.contains("its speedup (2.00×)"), "{md}");
        assert!(md.contains("kv 0.83"), "{md}");
        assert_eq!(j[0]["contender"], "kv");
        assert_eq!(j[0]["speedup"]["median"], 1.667);
    }

    #[test]
    fn lookup_targets_need_100000_keys() {
        let row = |ns: &[usize]| {
            let results: Vec<(&'static str, Outcome)> = ns
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let id: &'static str = Box::leak(format!("{n} keys").into_boxed_str());
                    (id, ok(&[1e-5 * (1.0 + i as f64 * 0.1); 3]))
                })
                .collect();
            let base = results[0].0;
            let r = Row {
                op: "x".into(),
                size: Some(64),
                kv_calls: 1,
                results,
                note: None,
            };
            let stats = row_stats(&r, base);
            Some((r, stats, ns.to_vec()))
        };
        let t = lookup_targets(&row(&[10, 1000, 100_000]), &[]);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].met, Some(true)); // 1.2 < 2
        assert_eq!(t[1].met, Some(true)); // 1.2 <= 1.25
        assert!(t[0].measured.contains("largest ÷ smallest = 1.200"));
        let t = lookup_targets(&row(&[10, 100, 1000]), &[]);
        assert_eq!(t[0].met, None);
        let t = lookup_targets(&None, &[(100_000, "EDQUOT".into())]);
        assert!(t[1].measured.contains("EDQUOT"));
    }
}
