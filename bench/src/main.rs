//! kv-bench: keyvault against what users would pick instead, side by side
//! in one run (`make bench` runs it in the test VM).
//!
//! Every row is one operation at one size; the contenders — keyvault
//! (libkeyvault and raw ioctl), AF_ALG with a keyring key, a key agent over
//! a Unix socket, in-process RustCrypto, and the floor model (null ioctl +
//! in-process compute) — run it in the same process, interleaved in rounds.
//! The report (Markdown and JSON) goes to stdout between markers, for
//! scripts/bench to pick up, and with `--out DIR` to files as well.
//!
//! The files, by concern: `setup` makes the keys, the vault, the agents and
//! the AF_ALG sockets once; `crosscheck` proves every contender computes
//! the same bytes; `entries` says what each contender runs in each row;
//! `measure` times the rows (`harness` is the timing loop itself);
//! `report` turns samples into statistics, tables and targets; `meta`
//! describes the machine; `document` assembles the report. The contenders
//! themselves: `kv` (raw ioctls), `afalg`, `agent`, `userspace`.

mod afalg;
mod agent;
mod crosscheck;
mod document;
mod entries;
mod harness;
mod kv;
mod measure;
mod meta;
mod report;
mod setup;
mod userspace;

use document::Document;
use harness::Cfg;
use std::path::PathBuf;
use std::time::Instant;

const USAGE: &str = "\
usage: kv-bench [--quick] [--budget SECS] [--rounds N] [--lookup-keys N,N,...]
                [--relax-af-alg] [--no-pin] [--only SUBSTRING] [--out DIR]

  --quick          smoke run: short rows, 3 rounds, lookup at 10,100,1000 keys
  --budget SECS    timed seconds per row, all contenders together (default 12)
  --rounds N       samples per contender and row (default 10)
  --lookup-keys L  vault sizes of the key-lookup rows (default 10,1000,100000;
                   100000 needs module params, see scripts/bench)
  --relax-af-alg   set /proc/sys/crypto/af_alg_restrict to 0 for the run
                   (restored at the end); Linux 7.3 refuses gcm(aes) and
                   rfc7539(chacha20,poly1305) over AF_ALG at its default 1
  --no-pin         do not pin the process and the agent to one CPU
  --only S         only rows whose name contains S (case-insensitive;
                   \"lookup\" and \"scaling\" name those sections)
  --out DIR        also write DIR/latest.md and DIR/latest.json

The report goes to stdout between ===== KV-BENCH-MARKDOWN / KV-BENCH-JSON
BEGIN/END markers; progress to stderr. Environment: KV_BENCH_ACCEL (kvm or
tcg, as scripts/vm chose), KV_BENCH_HOST_CPU (the host's CPU model).";

pub struct Args {
    quick: bool,
    cfg: Cfg,
    lookup: Vec<usize>,
    relax_af_alg: bool,
    no_pin: bool,
    only: Option<String>,
    out: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let quick = argv.iter().any(|a| a == "--quick");
    let mut a = Args {
        quick,
        cfg: if quick {
            Cfg {
                budget: 0.5,
                rounds: 3,
                calib: 0.005,
            }
        } else {
            Cfg {
                budget: 12.0,
                rounds: 10,
                calib: 0.05,
            }
        },
        lookup: if quick {
            vec![10, 100, 1000]
        } else {
            vec![10, 1000, 100_000]
        },
        relax_af_alg: false,
        no_pin: false,
        only: None,
        out: None,
    };
    let mut it = argv.into_iter();
    while let Some(arg) = it.next() {
        let mut val = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--quick" => {}
            "--budget" => {
                a.cfg.budget = val("--budget")?
                    .parse()
                    .map_err(|e| format!("--budget: {e}"))?
            }
            "--rounds" => {
                a.cfg.rounds = val("--rounds")?
                    .parse()
                    .map_err(|e| format!("--rounds: {e}"))?
            }
            "--lookup-keys" => {
                a.lookup = val("--lookup-keys")?
                    .split(',')
                    .map(|s| s.trim().parse::<usize>())
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("--lookup-keys: {e}"))?;
                a.lookup.sort_unstable();
            }
            "--relax-af-alg" => a.relax_af_alg = true,
            "--no-pin" => a.no_pin = true,
            "--only" => a.only = Some(val("--only")?.to_lowercase()),
            "--out" => a.out = Some(PathBuf::from(val("--out")?)),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument '{other}'\n{USAGE}")),
        }
    }
    if a.cfg.rounds == 0 || a.cfg.budget <= 0.0 {
        return Err("--rounds and --budget must be positive".into());
    }
    Ok(a)
}

fn progress(msg: impl AsRef<str>) {
    eprintln!("kv-bench: {}", msg.as_ref());
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("kv-bench: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&args) {
        eprintln!("kv-bench: {e}");
        std::process::exit(1);
    }
}

fn wanted(args: &Args, name: &str) -> bool {
    args.only
        .as_ref()
        .is_none_or(|o| name.to_lowercase().contains(o.as_str()))
}

fn run(args: &Args) -> Result<(), String> {
    let started = Instant::now();
    let (date, stamp) = meta::utc_now();
    let mut setup = setup::prepare(args)?;

    progress("cross-checking outputs");
    let checks = crosscheck::crosscheck(&mut setup.state);
    for c in &checks {
        progress(format!("  {c}"));
    }

    let rows = measure::rows(args, &mut setup.state);
    let scaling = measure::scaling(args, &setup);
    let (lookup_row, lookup_errors) = measure::lookup(args);
    setup.restore_af_alg(args);

    let host = meta::Host::read();
    let elapsed = started.elapsed().as_secs_f64();
    let doc = Document {
        args,
        setup: &setup,
        host,
        date,
        stamp,
        elapsed,
        checks,
        rows,
        scaling,
        lookup_row,
        lookup_errors,
    };
    let (md, json_text) = doc.write()?;
    document::emit(args.out.as_deref(), &md, &json_text, elapsed)
}
