//! The timed part of the run, in the order the report gives it: the rows
//! (one operation at one size, every contender interleaved in rounds by
//! `harness::run_row`), the scaling rows (1 and 2 threads) and the key
//! lookup rows (vaults of 10 to 100 000 keys). Each section is one
//! function; what the contenders run is in `entries`, the statistics in
//! `report`.

use crate::entries::{self, ASYM_MSG, SIZES};
use crate::harness::{self, Cfg, Outcome};
use crate::report::{self, row_stats, stat, CStat, Row};
use crate::setup::{self, Setup, State};
use crate::userspace::AeadAlg;
use crate::{meta, progress, wanted, Args};

/// The rows and their statistics, in run order.
pub type Rows = Vec<(Row, Vec<CStat>)>;
/// Per contender, its outcome at each thread count.
pub type Scaling = Vec<(&'static str, Vec<(usize, Outcome)>)>;
/// The lookup row, its statistics (ratios to the smallest vault) and the
/// vault sizes it had.
pub type Lookup = Option<(Row, Vec<CStat>, Vec<usize>)>;

/// The thread counts of the scaling rows.
pub const THREADS: [usize; 2] = [1, 2];

/// The (operation, size) of every row `--only` leaves, in run order.
fn plan(args: &Args) -> Vec<(String, Option<usize>)> {
    let mut plan: Vec<(String, Option<usize>)> = Vec::new();
    for op in [
        "AES-256-GCM encrypt",
        "AES-256-GCM decrypt",
        "ChaCha20-Poly1305 encrypt",
        "HMAC-SHA256",
        "SHA-256",
    ] {
        for &size in SIZES {
            plan.push((op.to_string(), Some(size)));
        }
    }
    for op in [
        "Ed25519 sign",
        "Ed25519 verify",
        "X25519 exchange + destroy",
    ] {
        plan.push((op.to_string(), Some(ASYM_MSG)));
    }
    plan.retain(|(op, _)| wanted(args, op));
    plan
}

/// Every row of the plan, one after the other.
pub fn rows(args: &Args, st: &mut State) -> Rows {
    let plan = plan(args);
    let mut rows: Rows = Vec::new();
    let total = plan.len();
    for (i, (op, size)) in plan.into_iter().enumerate() {
        progress(format!(
            "[{}/{total}] {op}{}",
            i + 1,
            size.map_or(String::new(), |s| format!(" {}", report::fmt_size(s)))
        ));
        rows.push(row(&args.cfg, st, op, size));
    }
    rows
}

/// One row: its contenders' entries, timed, and their statistics.
fn row(cfg: &Cfg, st: &mut State, op: String, size: Option<usize>) -> (Row, Vec<CStat>) {
    let sz = size.unwrap_or(0);
    let mut note = None;
    let mut kv_calls = 1;
    let entries = match op.as_str() {
        "AES-256-GCM encrypt" => entries::seal_entries(st, AeadAlg::Aes256Gcm, sz),
        "AES-256-GCM decrypt" => entries::open_entries(st, sz),
        "ChaCha20-Poly1305 encrypt" => entries::seal_entries(st, AeadAlg::ChaCha20Poly1305, sz),
        "HMAC-SHA256" => entries::digest_entries(st, true, sz),
        "SHA-256" => entries::digest_entries(st, false, sz),
        "Ed25519 sign" => entries::sign_entries(st),
        "Ed25519 verify" => {
            let (e, n) = entries::verify_entries(st);
            note = n;
            e
        }
        _ => {
            kv_calls = 2;
            note = Some(
                "keyvault: KEYEXCHANGE (X25519 + HKDF into a new AES-256-GCM key) then DESTROY; \
                 agent: the same two requests; in-process: X25519 + HKDF + AES key schedule; \
                 floor: 2 null ioctls + in-process"
                    .into(),
            );
            entries::exchange_entries(st)
        }
    };
    let results = harness::run_row(cfg, entries);
    let row = Row {
        op,
        size,
        kv_calls,
        results,
        note,
    };
    let stats = row_stats(&row, "kv");
    progress(format!("  {}", one_line(&stats)));
    let mut row = row;
    if let (Some(any), Some(pinned)) = (
        stat(&stats, "agent_anycpu").and_then(|c| c.kv_over),
        stat(&stats, "agent").and_then(|c| c.kv_over),
    ) {
        row.note = Some(format!(
            "with the agent free to run on any CPU (not pinned with the benchmark) keyvault is {:.1}× \
             the agent, against {:.1}× pinned (the agent column){}",
            any.median,
            pinned.median,
            if meta::accel_is_tcg() {
                ": under TCG the difference is the emulator's slow cross-vCPU wakeups"
            } else {
                ""
            }
        ));
    }
    (row, stats)
}

/// Scaling: 64-byte AES-256-GCM encrypt on 1 and 2 threads, each on its
/// own key, thread i on the i-th CPU the process may use.
pub fn scaling(args: &Args, setup: &Setup) -> Scaling {
    if !wanted(args, "scaling: AES-256-GCM encrypt 64 B") {
        return Vec::new();
    }
    progress("scaling: AES-256-GCM encrypt 64 B, 1 and 2 threads");
    let scfg = Cfg {
        budget: args.cfg.budget * 1.5,
        ..args.cfg
    };
    harness::run_scaling(
        &scfg,
        entries::scaling_entries(&setup.state),
        &THREADS,
        &setup.cpus(),
    )
}

/// Key lookup: vaults of `--lookup-keys` keys, a random key each op. The
/// lookup row (if any vault could be made) and the sizes that could not.
pub fn lookup(args: &Args) -> (Lookup, Vec<(usize, String)>) {
    let mut lookup_row = None;
    let mut lookup_errors = Vec::new();
    if !wanted(args, "lookup: AES-256-GCM encrypt 64 B") {
        return (lookup_row, lookup_errors);
    }
    let mut vaults = Vec::new();
    for &n in &args.lookup {
        progress(format!("lookup: making a vault of {n} keys"));
        match setup::lookup_vault(n) {
            Ok(v) => vaults.push(v),
            Err(e) => {
                progress(format!("  {e}"));
                lookup_errors.push((n, e));
            }
        }
    }
    if !vaults.is_empty() {
        progress("lookup: AES-256-GCM encrypt 64 B on a random key");
        let results = harness::run_row(&args.cfg, entries::lookup_entries(&vaults));
        let base = results[0].0;
        let row = Row {
            op: "AES-256-GCM encrypt, random key".into(),
            size: Some(64),
            kv_calls: 1,
            results,
            note: None,
        };
        let stats = row_stats(&row, base);
        lookup_row = Some((row, stats, vaults.iter().map(|v| v.n).collect::<Vec<_>>()));
    }
    (lookup_row, lookup_errors)
}

/// keyvault's ops/s and the others' ratios, for the progress output.
fn one_line(stats: &[CStat]) -> String {
    let kv = stat(stats, "kv").and_then(|c| c.ops);
    let mut s = match kv {
        Some(o) => format!("keyvault {}/s", report::fmt_rate(o.median)),
        None => "keyvault n/a".to_string(),
    };
    for c in stats {
        if c.id == "kv" || c.id == "null_ioctl" {
            continue;
        }
        match (c.vs_kv, c.ops) {
            (Some(r), _) => s.push_str(&format!(", {} {}", c.id, report::fmt_ratio(r.median))),
            (None, Some(o)) => s.push_str(&format!(", {} {}/s", c.id, report::fmt_rate(o.median))),
            _ => s.push_str(&format!(", {} n/a", c.id)),
        }
    }
    s
}
