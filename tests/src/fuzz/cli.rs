//! The command line: options, their defaults and the usage text; the
//! module's max_data_bytes is asked of the module (LIMITS).

use super::mem::MAX_WORKERS;

pub const USAGE: &str = "\
usage: kv-fuzz [--seconds N] [--ops N] [--seed S] [--threads T] [--child-threads C] [--quiet]
               [--module KO [--sites FILE]] [--corpus DIR] [--unguided | --blind]
  --seconds N        stop after N seconds (default 120)
  --ops N            stop after about N ioctls (default: no limit); whichever comes first
  --seed S           PRNG seed, decimal or 0x-hex (default: from the clock; printed)
  --threads T        parent worker threads (default 3, at most 12)
  --child-threads C  worker threads of the forked child that fuzzes through fds
                     received over SCM_RIGHTS (default 2; 0: no child)
  --quiet            print only the summary
With kcov (/sys/kernel/debug/kcov, a CONFIG_KCOV kernel), coverage-guided:
  --module KO        keyvault.ko as loaded, for the coverage report (PCs and functions)
  --sites FILE       write each coverage site of KO to FILE: hit or not, where, function
  --corpus DIR       replay the inputs saved in DIR first, save the run's corpus there
  --unguided         measure coverage only: keep no inputs, mutate nothing
  --blind            no kcov at all (as on other kernels)";

#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub seconds: u64,
    pub ops: u64,
    pub seed: u64,
    pub threads: usize,
    pub child_threads: usize,
    pub quiet: bool,
    /// The module's max_data_bytes (from LIMITS).
    pub max_data: u32,
    pub module: Option<&'static str>,
    pub corpus: Option<&'static str>,
    pub sites: Option<&'static str>,
    pub unguided: bool,
    pub blind: bool,
}

fn parse_num(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

pub fn parse_args() -> Result<Config, String> {
    let mut c = Config {
        seconds: 120,
        ops: u64::MAX,
        seed: 0,
        threads: 3,
        child_threads: 2,
        quiet: false,
        max_data: 1 << 20,
        module: None,
        corpus: None,
        sites: None,
        unguided: false,
        blind: false,
    };
    let mut seed = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = |name: &str| {
            args.next()
                .as_deref()
                .and_then(parse_num)
                .ok_or(format!("{name} needs a number"))
        };
        match a.as_str() {
            "--seconds" => c.seconds = val("--seconds")?,
            "--ops" => c.ops = val("--ops")?,
            "--seed" => seed = Some(val("--seed")?),
            "--threads" => c.threads = val("--threads")? as usize,
            "--child-threads" => c.child_threads = val("--child-threads")? as usize,
            "--quiet" => c.quiet = true,
            // Leaked: a Config is Copy, and these live for the whole run.
            "--module" | "--corpus" | "--sites" => {
                let path: &'static str = args.next().ok_or(format!("{a} needs a path"))?.leak();
                match a.as_str() {
                    "--module" => c.module = Some(path),
                    "--corpus" => c.corpus = Some(path),
                    _ => c.sites = Some(path),
                }
            }
            "--unguided" => c.unguided = true,
            "--blind" => c.blind = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    if c.threads == 0 || c.threads > 12 || c.child_threads > MAX_WORKERS - c.threads {
        return Err("--threads must be 1..=12 and threads + child threads at most 16".into());
    }
    c.seed = seed.unwrap_or_else(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        t.as_nanos() as u64 ^ u64::from(std::process::id()) << 32
    });
    // Rust module parameters are not in sysfs: the module says (LIMITS).
    if let Ok(l) = keyvault::Vault::open().and_then(|v| v.limits()) {
        c.max_data = u32::try_from(l.max_data_bytes).unwrap_or(u32::MAX);
    }
    Ok(c)
}
