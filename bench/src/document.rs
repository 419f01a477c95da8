//! The report as a whole: the Markdown document (header with what the
//! run ran on, targets, results, key lookup, scaling, contenders, what was
//! not measured, details) and the JSON with the same numbers, and how they
//! leave the process (stdout between markers for scripts/bench, and
//! `--out DIR`). The statistics, tables and targets they are made of are in
//! `report`; this file only puts them in order.

use crate::harness::Summary;
use crate::measure::{Lookup, Rows, Scaling, THREADS};
use crate::meta::Host;
use crate::report::{self, Target};
use crate::setup::Setup;
use crate::{progress, Args};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

const MARK_MD: &str = "KV-BENCH-MARKDOWN";
const MARK_JSON: &str = "KV-BENCH-JSON";

/// Everything the report says, gathered by `run`.
pub struct Document<'a> {
    pub args: &'a Args,
    pub setup: &'a Setup,
    pub host: Host,
    /// When the run started: human and file-name forms.
    pub date: String,
    pub stamp: String,
    /// kv-bench's run time in seconds.
    pub elapsed: f64,
    pub checks: Vec<String>,
    pub rows: Rows,
    pub scaling: Scaling,
    pub lookup_row: Lookup,
    pub lookup_errors: Vec<(usize, String)>,
}

/// A contender's column header, from its id.
fn names(id: &str) -> String {
    report::CONTENDERS.iter().find(|c| c.0 == id).map_or_else(
        || {
            if id == "null_ioctl" {
                "null ioctl (GETCAPS)".to_string()
            } else if id == "agent_anycpu" {
                "agent, any CPU".to_string()
            } else {
                id.to_string()
            }
        },
        |c| c.1.to_string(),
    )
}

impl Document<'_> {
    /// The report: Markdown and pretty-printed JSON.
    pub fn write(&self) -> Result<(String, String), String> {
        let targets = self.targets();
        let (md, scaling_json) = self.markdown(&targets);
        let j = self.json(&targets, scaling_json);
        let json_text = serde_json::to_string_pretty(&j).map_err(|e| e.to_string())?;
        Ok((md, json_text))
    }

    /// The goals of the design, and whether this run met them.
    fn targets(&self) -> Vec<Target> {
        let row_of = |op: &str, size: usize| {
            self.rows
                .iter()
                .find(|(r, _)| r.op == op && r.size == Some(size))
                .map(|(_, s)| s.as_slice())
        };
        let enc64 = row_of("AES-256-GCM encrypt", 64);
        let enc1m = row_of("AES-256-GCM encrypt", 1 << 20);
        let dec1m = row_of("AES-256-GCM decrypt", 1 << 20);
        let mut targets = vec![
            report::ratio_target(
                "64 B AES-256-GCM encrypt: keyvault ≥ 2× AF_ALG ops/s",
                enc64,
                "af_alg",
                2.0,
            ),
            report::ratio_target(
                "64 B AES-256-GCM encrypt: keyvault ≥ 4× the Unix-socket agent",
                enc64,
                "agent",
                4.0,
            ),
            report::ratio_target(
                "64 B AES-256-GCM encrypt: keyvault ≥ 0.8× the floor (null ioctl + in-process compute)",
                enc64,
                "floor",
                0.8,
            ),
            report::ratio_target(
                "1 MiB AES-256-GCM encrypt: keyvault ≥ 0.9× the kernel crypto's own speed (proxy: AF_ALG gcm(aes) at 1 MiB)",
                enc1m,
                "af_alg",
                0.9,
            ),
            report::ratio_target(
                "(also) 1 MiB AES-256-GCM decrypt: keyvault ≥ 0.9× AF_ALG gcm(aes) at 1 MiB",
                dec1m,
                "af_alg",
                0.9,
            ),
        ];
        targets.extend(report::lookup_targets(
            &self.lookup_row,
            &self.lookup_errors,
        ));
        targets
    }

    /// The Markdown document, and the scaling section's JSON (made with
    /// its table).
    fn markdown(&self, targets: &[Target]) -> (String, Value) {
        let mut md = String::new();
        self.header(&mut md);
        self.targets_section(&mut md, targets);
        self.results(&mut md);
        self.lookup(&mut md);
        let scaling_json = self.scaling(&mut md);
        self.contenders_and_details(&mut md);
        (md, scaling_json)
    }

    fn tcg(&self) -> bool {
        self.host.accel.starts_with("TCG")
    }

    /// The title, the ratios-not-numbers warning, the run's facts and the
    /// cross-checks.
    fn header(&self, md: &mut String) {
        let (h, s, cfg, date) = (&self.host, self.setup, self.args.cfg, &self.date);
        let _ = writeln!(md, "# keyvault benchmark — {date}\n");
        let _ = writeln!(
            md,
            "> **The result is the ratios, not the absolute numbers.** {} Every contender runs the \
             same operation on the same data sizes in the same process of the same VM run, interleaved \
             in rounds (each round times one batch of each contender, in rotating order); a ratio is the \
             median of the per-round ratios, so drift of the machine cancels out.\n",
            if self.tcg() {
                "This run used TCG (QEMU's software CPU emulation, no KVM): absolute ops/s and MB/s are meaningless, often by 10–100×, and emulation does not slow every instruction alike."
            } else {
                "Absolute numbers are those of this VM on this host and mean little elsewhere."
            }
        );
        md.push_str("| | |\n|---|---|\n");
        let _ = writeln!(md, "| date | {date} |");
        let _ = writeln!(
            md,
            "| kernel (uname -r) | {} ({}; {}) |",
            h.krel, h.arch, h.kver
        );
        let _ = writeln!(
            md,
            "| CPU (guest /proc/cpuinfo) | {} × {} vCPU; flags: {} |",
            h.cpu,
            h.ncpu,
            if h.feats.is_empty() { "-" } else { &h.feats }
        );
        if !h.host_cpu.is_empty() {
            let _ = writeln!(md, "| host CPU | {} |", h.host_cpu);
        }
        let _ = writeln!(md, "| accelerator | **{}** |", h.accel);
        let _ = writeln!(
            md,
            "| keyvault module parameters | {} |",
            if h.params.is_empty() {
                "the defaults".to_string()
            } else {
                h.params
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
        let _ = writeln!(md, "| AF_ALG keys | {} |", s.af_alg_lines.join("; "));
        let _ = writeln!(md, "| AF_ALG restriction | {} |", s.restrict_note);
        let _ = writeln!(md, "| CPU pinning | {} |", s.pin_note);
        let _ = writeln!(
            md,
            "| method | {} rounds per row (fewer for very slow rows, at least {}), {:.1} s of timed batches per row, calibration {:.0} ms per contender; AEAD rows: caller nonces (a counter), empty AAD; ed25519/x25519 rows: 64-byte messages{} |",
            cfg.rounds,
            cfg.rounds.min(5),
            cfg.budget,
            cfg.calib * 1000.0,
            if self.args.quick { "; **--quick smoke run**" } else { "" }
        );
        let _ = writeln!(md, "| run time | {:.0} s (kv-bench) |", self.elapsed);
        md.push_str(
            "\n**Outputs cross-checked** (same keys, same nonces, compared byte for byte):\n\n",
        );
        for c in &self.checks {
            let _ = writeln!(md, "- {c}");
        }
    }

    fn targets_section(&self, md: &mut String, targets: &[Target]) {
        md.push_str("\n## Targets\n\n| target | result | measured |\n|---|---|---|\n");
        for t in targets {
            let _ = writeln!(md, "| {} | {} | {} |", t.name, t.verdict(), t.measured);
        }
        md.push_str(
            "\nThe kernel crypto's own speed at 1 MiB is approximated by AF_ALG's: at 1 MiB its per-call \
             overhead (two syscalls) is negligible, so its time is the kernel's gcm(aes) plus one copy of \
             the input into socket pages (the output goes straight into the caller's pinned pages). How \
             AF_ALG got its key (keyring serial or plain) only matters once per socket, not per operation. \
             The floor model is not used for this target because its compute part is userspace AES-GCM, \
             a different implementation than the kernel's.\n\n\
             The floor model (null ioctl + in-process compute) stands for \"one syscall + the crypto\"; its \
             compute part is userspace RustCrypto, not the kernel's code, so where the two implementations \
             differ in speed (they do under TCG, which emulates some instruction sets far more slowly than \
             others) the floor is off by that difference.\n",
        );
    }

    /// The summary table, and the rows' notes.
    fn results(&self, md: &mut String) {
        md.push_str("\n## Results\n\n");
        md.push_str(
            "keyvault: median ops/s (± half the p10–p90 spread over rounds). Every other column: its ops/s ÷ \
             keyvault's (median of per-round ratios; above 1× is faster than keyvault) and, in brackets, its \
             median ops/s. MB/s = 10⁶ bytes of input per second. n/a: see *Not measured* below.\n\n",
        );
        report::summary_table(md, &self.rows);
        let notes: Vec<String> = self
            .rows
            .iter()
            .filter_map(|(r, _)| {
                r.note.as_ref().map(|n| {
                    format!(
                        "- {}{}: {n}",
                        r.op,
                        r.size
                            .map_or(String::new(), |s| format!(" {}", report::fmt_size(s)))
                    )
                })
            })
            .collect();
        if !notes.is_empty() {
            md.push('\n');
            for n in notes {
                let _ = writeln!(md, "{n}");
            }
        }
    }

    fn lookup(&self, md: &mut String) {
        md.push_str("\n## Key lookup\n\nLatency of a 64-byte AES-256-GCM encrypt on a random existing key of one vault, the vaults interleaved in rounds. \
            A random key among many also means cache and TLB misses on that key's state, which grow with the number of keys \
            in any key store; a lookup that scanned the keys would grow ~10 000× from 10 to 100 000 keys.\n\n");
        match &self.lookup_row {
            Some((_, stats, _)) => {
                md.push_str("| keys in the vault | latency µs median | p10–p90 µs | ÷ smallest vault: median (p10–p90) |\n|---:|---:|---:|---:|\n");
                for c in stats {
                    match Summary::of(&c.secs_per_op.iter().map(|t| t * 1e6).collect::<Vec<_>>()) {
                        Some(l) => {
                            let _ = writeln!(
                                md,
                                "| {} | {:.2} | {:.2}–{:.2} | {} |",
                                c.id.trim_end_matches(" keys"),
                                l.median,
                                l.p10,
                                l.p90,
                                c.kv_over.map_or(String::new(), |r| format!(
                                    "{:.3} ({:.3}–{:.3})",
                                    r.median, r.p10, r.p90
                                ))
                            );
                        }
                        None => {
                            let _ = writeln!(
                                md,
                                "| {} | n/a: {} | | |",
                                c.id,
                                c.unavailable.as_deref().unwrap_or("")
                            );
                        }
                    }
                }
            }
            None => md.push_str("Not run.\n"),
        }
        for (n, e) in &self.lookup_errors {
            let _ = writeln!(md, "\n- {n} keys: not measured: {e}");
        }
    }

    /// The scaling section; its JSON.
    fn scaling(&self, md: &mut String) -> Value {
        md.push_str(&format!(
            "\n## Scaling, 1 → 2 threads\n\nAggregate ops/s of 64-byte AES-256-GCM encrypt, each thread on its own key \
             (keyvault: one vault fd shared by both threads; AF_ALG: one op socket per thread on one tfm; in-process: \
             one cipher per thread); thread i is pinned to CPU i. The guest has {} vCPU(s){}. The agent is left out: one agent process serializes \
             its clients by design.\n\n",
            self.host.ncpu,
            if self.tcg() { "; under TCG each vCPU is a host thread, and the host's 2 cores are shared" } else { "" }
        ));
        report::scaling_report(md, &self.scaling, &THREADS, &names)
    }

    /// The contenders' descriptions, what was not measured, and every
    /// contender's numbers.
    fn contenders_and_details(&self, md: &mut String) {
        md.push_str("\n## Contenders\n\n");
        for (id, name, desc) in report::CONTENDERS {
            let _ = writeln!(md, "- **{name}** (`{id}`): {desc}");
        }
        md.push_str("- **null ioctl** (`null_ioctl`): KV_IOC_GETCAPS on the vault fd, timed in every row, used by the floor model.\n");

        let mut missing = String::new();
        for (row, stats) in &self.rows {
            for c in stats {
                if let Some(w) = &c.unavailable {
                    let _ = writeln!(
                        missing,
                        "- {} {}, {}: {}",
                        row.op,
                        row.size.map_or(String::new(), report::fmt_size),
                        names(&c.id),
                        w
                    );
                }
            }
        }
        if !missing.is_empty() {
            md.push_str("\n## Not measured\n\n");
            md.push_str(&dedup_lines(&missing));
        }

        md.push_str("\n## Details\n\n");
        report::detail_table(md, &self.rows, &names);
    }

    /// The JSON report: the same numbers, every sample.
    fn json(&self, targets: &[Target], scaling_json: Value) -> Value {
        let (h, s, cfg) = (&self.host, self.setup, self.args.cfg);
        json!({
            "schema": "keyvault-bench/1",
            "meta": {
                "date": self.date,
                "stamp": self.stamp,
                "kernel_release": h.krel,
                "kernel_version": h.kver,
                "arch": h.arch,
                "cpu_model": h.cpu,
                "cpus": h.ncpu,
                "cpu_flags_of_interest": h.feats,
                "host_cpu": h.host_cpu,
                "accel": h.accel,
                "module_params": h.params.iter().map(|(k, v)| (k.clone(), Value::from(v.clone()))).collect::<serde_json::Map<_, _>>(),
                "af_alg_keys": s.af_alg_lines,
                "af_alg_restrict": {"before": s.restrict_before, "note": s.restrict_note},
                "cpu_pinning": s.pin_note,
                "quick": self.args.quick,
                "budget_s_per_row": cfg.budget,
                "rounds": cfg.rounds,
                "run_time_s": report::sig4(self.elapsed),
                "note": "Under TCG absolute numbers are meaningless; the ratios measured in this one run are the result.",
            },
            "crosschecks": self.checks,
            "targets": targets.iter().map(Target::json).collect::<Vec<_>>(),
            "rows": self.rows.iter().map(|(r, s)| json!({
                "op": r.op,
                "size": r.size,
                "kv_ioctls_per_op": r.kv_calls,
                "note": r.note,
                "contenders": s.iter().map(report::cstat_json).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "lookup": self.lookup_row.as_ref().map(|(r, s, ns)| json!({
                "op": r.op,
                "keys": ns,
                "ratios_are_to": s.first().map(|c| c.id.clone()),
                "vaults": s.iter().map(report::cstat_json).collect::<Vec<_>>(),
            })),
            "lookup_errors": self.lookup_errors.iter().map(|(n, e)| json!({"keys": n, "error": e})).collect::<Vec<_>>(),
            "scaling": scaling_json,
        })
    }
}

/// Writes the report to `--out DIR` (when given) and stdout, between the
/// markers scripts/bench looks for.
pub fn emit(out_dir: Option<&Path>, md: &str, json_text: &str, elapsed: f64) -> Result<(), String> {
    if let Some(dir) = out_dir {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for (name, text) in [("latest.md", md), ("latest.json", json_text)] {
            std::fs::write(dir.join(name), text).map_err(|e| format!("{name}: {e}"))?;
        }
    }
    // Nothing goes to stderr from here on: in the VM both streams share the
    // console, and a late stderr line would land inside the report.
    progress(format!(
        "done in {elapsed:.0} s; the report follows on stdout"
    ));
    let mut all = String::with_capacity(md.len() + json_text.len() + 200);
    let _ = writeln!(
        all,
        "===== {MARK_MD} BEGIN =====\n{md}\n===== {MARK_MD} END ====="
    );
    let _ = writeln!(
        all,
        "===== {MARK_JSON} BEGIN =====\n{json_text}\n===== {MARK_JSON} END ====="
    );
    let mut out = std::io::stdout().lock();
    out.write_all(all.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| format!("stdout: {e}"))?;
    Ok(())
}

fn dedup_lines(s: &str) -> String {
    let mut seen = std::collections::HashSet::new();
    s.lines()
        .filter(|l| seen.insert(l.to_string()))
        .map(|l| format!("{l}\n"))
        .collect()
}
