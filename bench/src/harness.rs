//! Measuring: every contender of a row runs the same operation in the same
//! process, interleaved in rounds (each round runs one timed batch of each
//! contender, the order rotating from round to round), so slow drift of the
//! machine hits all of them alike and each round gives a paired ratio.

use std::sync::Barrier;
use std::time::{Duration, Instant};

/// One operation of a contender.
pub type OpFn<'a> = Box<dyn FnMut() -> Result<(), String> + 'a>;
/// One operation, runnable on another thread.
pub type SendOpFn<'a> = Box<dyn FnMut() -> Result<(), String> + Send + 'a>;

/// A contender in a row: its id and its operation, or why it cannot run.
pub struct Entry<'a> {
    pub id: &'static str,
    pub op: Result<OpFn<'a>, String>,
}

impl<'a> Entry<'a> {
    pub fn new(id: &'static str, op: impl FnMut() -> Result<(), String> + 'a) -> Self {
        Entry {
            id,
            op: Ok(Box::new(op)),
        }
    }

    pub fn unavailable(id: &'static str, why: impl Into<String>) -> Self {
        Entry {
            id,
            op: Err(why.into()),
        }
    }
}

/// What a contender gave.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Seconds per operation, one sample per round; operations per sample.
    Ok { secs_per_op: Vec<f64>, batch: u64 },
    /// Could not run (unsupported, bind refused, failed midway...).
    Unavailable(String),
}

impl Outcome {
    pub fn samples(&self) -> Option<&[f64]> {
        match self {
            Outcome::Ok { secs_per_op, .. } if !secs_per_op.is_empty() => Some(secs_per_op),
            _ => None,
        }
    }
}

/// How long to measure.
#[derive(Clone, Copy, Debug)]
pub struct Cfg {
    /// Seconds of timed batches per row (all contenders together).
    pub budget: f64,
    /// Rounds (samples per contender).
    pub rounds: usize,
    /// Seconds of untimed calibration per contender.
    pub calib: f64,
}

/// Runs a row: warm-up + calibration of each contender, then the rounds.
pub fn run_row(cfg: &Cfg, entries: Vec<Entry<'_>>) -> Vec<(&'static str, Outcome)> {
    let mut out: Vec<(&'static str, Outcome)> = Vec::new();
    let mut live: Vec<(usize, OpFn<'_>, f64)> = Vec::new();
    for e in entries {
        let idx = out.len();
        match e.op {
            Err(why) => out.push((e.id, Outcome::Unavailable(why))),
            Ok(mut f) => match calibrate(&mut f, cfg.calib) {
                Ok(t) => {
                    out.push((e.id, Outcome::Unavailable(String::new())));
                    live.push((idx, f, t));
                }
                Err(why) => out.push((e.id, Outcome::Unavailable(why))),
            },
        }
    }
    if live.is_empty() {
        return out;
    }
    let n = live.len();
    let mut rounds = cfg.rounds.max(1);
    let slot = cfg.budget / (rounds * n) as f64;
    let batches: Vec<u64> = live
        .iter()
        .map(|(_, _, t)| ((slot / t) as u64).max(1))
        .collect();
    // Slow operations (1 MiB under emulation) get fewer rounds rather than
    // blowing the budget, but never fewer than 5 (3 in a quick run).
    let round_time: f64 = live
        .iter()
        .zip(&batches)
        .map(|((_, _, t), b)| t * *b as f64)
        .sum();
    if round_time * rounds as f64 > 2.0 * cfg.budget {
        let min = cfg.rounds.min(5);
        rounds = ((2.0 * cfg.budget / round_time) as usize).clamp(min, rounds);
    }
    let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); n];
    let mut failed: Vec<Option<String>> = vec![None; n];
    for r in 0..rounds {
        for j in 0..n {
            let k = (r + j) % n;
            if failed[k].is_some() {
                continue;
            }
            let f = &mut live[k].1;
            let t0 = Instant::now();
            let mut err = None;
            for _ in 0..batches[k] {
                if let Err(e) = f() {
                    err = Some(e);
                    break;
                }
            }
            let dt = t0.elapsed().as_secs_f64();
            match err {
                Some(e) => failed[k] = Some(format!("failed in round {r}: {e}")),
                None => samples[k].push(dt / batches[k] as f64),
            }
        }
    }
    for (k, (idx, _, _)) in live.iter().enumerate() {
        out[*idx].1 = match failed[k].take() {
            Some(why) => Outcome::Unavailable(why),
            None => Outcome::Ok {
                secs_per_op: std::mem::take(&mut samples[k]),
                batch: batches[k],
            },
        };
    }
    out
}

/// Runs the op once (warm-up, and the check that it works), then untimed
/// for `secs`; returns the seconds per op.
fn calibrate(f: &mut OpFn<'_>, secs: f64) -> Result<f64, String> {
    f()?;
    let t0 = Instant::now();
    let mut n = 0u64;
    loop {
        f()?;
        n += 1;
        let el = t0.elapsed().as_secs_f64();
        if el >= secs {
            return Ok(el / n as f64);
        }
    }
}

/// A contender of the scaling row: one operation per thread (each on its
/// own key / socket / cipher).
pub struct ScaleEntry<'a> {
    pub id: &'static str,
    pub ops: Result<Vec<SendOpFn<'a>>, String>,
}

/// Aggregate throughput with 1..=N threads: each round runs every
/// (contender, thread count) pair for a fixed window, all threads at once,
/// thread i pinned to `cpus[i]` (when given: no migrations). Outcome
/// samples are seconds per operation of the aggregate (1 / ops/s).
pub fn run_scaling(
    cfg: &Cfg,
    entries: Vec<ScaleEntry<'_>>,
    threads: &[usize],
    cpus: &[usize],
) -> Vec<(&'static str, Vec<(usize, Outcome)>)> {
    let mut out = Vec::new();
    let mut live: Vec<(usize, Vec<SendOpFn<'_>>)> = Vec::new();
    let unavailable = |why: String| {
        threads
            .iter()
            .map(|&t| (t, Outcome::Unavailable(why.clone())))
            .collect()
    };
    for e in entries {
        match e.ops {
            Err(why) => out.push((e.id, unavailable(why))),
            Ok(mut ops) => {
                let mut ok = Ok(());
                for f in ops.iter_mut() {
                    ok = ok.and_then(|_| f());
                }
                match ok {
                    Ok(()) => {
                        live.push((out.len(), ops));
                        out.push((e.id, Vec::new()));
                    }
                    Err(why) => out.push((e.id, unavailable(why))),
                }
            }
        }
    }
    let cells = live.len() * threads.len();
    if cells == 0 {
        return out;
    }
    let rounds = cfg.rounds.max(1);
    let window = (cfg.budget / (rounds * cells) as f64).max(0.02);
    let mut samples = vec![vec![Vec::new(); threads.len()]; live.len()];
    let mut failed: Vec<Option<String>> = vec![None; live.len()];
    for r in 0..rounds {
        for j in 0..cells {
            let c = (r + j) % cells;
            let (k, ti) = (c / threads.len(), c % threads.len());
            if failed[k].is_some() {
                continue;
            }
            let nthreads = threads[ti].min(live[k].1.len());
            match window_run(&mut live[k].1[..nthreads], window, cpus) {
                Ok(ops_per_s) => samples[k][ti].push(1.0 / ops_per_s),
                Err(e) => failed[k] = Some(format!("failed in round {r}: {e}")),
            }
        }
    }
    for (k, (idx, _)) in live.iter().enumerate() {
        out[*idx].1 = threads
            .iter()
            .enumerate()
            .map(|(ti, &t)| {
                (
                    t,
                    match &failed[k] {
                        Some(why) => Outcome::Unavailable(why.clone()),
                        None => Outcome::Ok {
                            secs_per_op: std::mem::take(&mut samples[k][ti]),
                            batch: 0,
                        },
                    },
                )
            })
            .collect();
    }
    out
}

/// All `ops` at once, each on its own thread, for `window` seconds; the
/// summed ops/s.
fn window_run(ops: &mut [SendOpFn<'_>], window: f64, cpus: &[usize]) -> Result<f64, String> {
    let barrier = Barrier::new(ops.len());
    let w = Duration::from_secs_f64(window);
    let results: Vec<Result<f64, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = ops
            .iter_mut()
            .enumerate()
            .map(|(i, f)| {
                let barrier = &barrier;
                let cpu = (!cpus.is_empty()).then(|| cpus[i % cpus.len()]);
                s.spawn(move || {
                    if let Some(cpu) = cpu {
                        pin_thread(cpu);
                    }
                    barrier.wait();
                    let t0 = Instant::now();
                    let mut n = 0u64;
                    loop {
                        for _ in 0..4 {
                            f()?;
                        }
                        n += 4;
                        let el = t0.elapsed();
                        if el >= w {
                            return Ok(n as f64 / el.as_secs_f64());
                        }
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("thread panicked".into())))
            .collect()
    });
    results.into_iter().sum()
}

/// Pins the calling thread to one CPU (best effort).
pub fn pin_thread(cpu: usize) -> bool {
    // SAFETY: all-zero is a valid (empty) cpu_set_t; CPU_SET writes into it;
    // sched_setaffinity reads it.
    unsafe {
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut one);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &one) == 0
    }
}

/// Median and spread of samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub median: f64,
    pub p10: f64,
    pub p90: f64,
    pub n: usize,
}

impl Summary {
    pub fn of(v: &[f64]) -> Option<Summary> {
        if v.is_empty() {
            return None;
        }
        let mut s = v.to_vec();
        s.sort_by(|a, b| a.total_cmp(b));
        Some(Summary {
            median: quantile(&s, 0.5),
            p10: quantile(&s, 0.1),
            p90: quantile(&s, 0.9),
            n: s.len(),
        })
    }

    /// Half the p10–p90 width relative to the median, in percent.
    pub fn spread_pct(&self) -> f64 {
        if self.median == 0.0 {
            0.0
        } else {
            50.0 * (self.p90 - self.p10) / self.median
        }
    }
}

/// Linear interpolation between closest ranks, on sorted data.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 1 {
        return sorted[0];
    }
    let pos = q * (n - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        let s = Summary::of(&[5.0, 1.0, 3.0, 2.0, 4.0]).unwrap();
        assert_eq!((s.median, s.n), (3.0, 5));
        assert!((s.p10 - 1.4).abs() < 1e-9);
        assert!((s.p90 - 4.6).abs() < 1e-9);
        assert_eq!(Summary::of(&[7.0]).unwrap().p90, 7.0);
        assert!(Summary::of(&[]).is_none());
    }

    #[test]
    fn a_row_interleaves_and_reports_failures() {
        let cfg = Cfg {
            budget: 0.05,
            rounds: 4,
            calib: 0.001,
        };
        let order = std::cell::RefCell::new(Vec::new());
        let mut fails = 0;
        let rows = run_row(
            &cfg,
            vec![
                Entry::new("a", || {
                    order.borrow_mut().push('a');
                    Ok(())
                }),
                Entry::unavailable("b", "not here"),
                Entry::new("c", || {
                    order.borrow_mut().push('c');
                    Ok(())
                }),
                Entry::new("d", || {
                    fails += 1;
                    if fails > 3 {
                        Err("boom".into())
                    } else {
                        Ok(())
                    }
                }),
            ],
        );
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0].1.samples().unwrap().len(), 4);
        assert!(matches!(&rows[1].1, Outcome::Unavailable(w) if w == "not here"));
        assert!(matches!(&rows[3].1, Outcome::Unavailable(w) if w.contains("boom")));
        let o = order.borrow();
        assert!(o.contains(&'a') && o.contains(&'c'));
    }

    #[test]
    fn scaling_sums_the_threads() {
        let cfg = Cfg {
            budget: 0.08,
            rounds: 2,
            calib: 0.001,
        };
        let ops: Vec<SendOpFn<'_>> = vec![Box::new(|| Ok(())), Box::new(|| Ok(()))];
        let r = run_scaling(
            &cfg,
            vec![
                ScaleEntry {
                    id: "x",
                    ops: Ok(ops),
                },
                ScaleEntry {
                    id: "y",
                    ops: Err("no".into()),
                },
            ],
            &[1, 2],
            &[],
        );
        assert_eq!(r[0].1.len(), 2);
        assert_eq!(r[0].1[1].1.samples().unwrap().len(), 2);
        assert!(matches!(r[1].1[0].1, Outcome::Unavailable(_)));
    }
}
