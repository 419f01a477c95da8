//! Setting the stage, before anything is timed: the keys (imported into
//! the vault, given to the agent, to AF_ALG through the kernel keyring, to
//! the in-process code), the agents, the AF_ALG sockets and their
//! restriction sysctl, the CPU pinning, and the large vaults of the lookup
//! rows. Everything here is made once and only borrowed by the rows
//! (`entries`), so what a row times is the operation alone.

use crate::afalg::{self, AlgOp, KeySource, Tfm};
use crate::agent::Agent;
use crate::userspace::{InProc, Keys};
use crate::Args;
use keyvault::{Algorithm, KeyId, KeyOptions, Vault};
use std::time::Instant;

pub fn kv_err(e: keyvault::Error) -> String {
    e.to_string()
}

/// Everything the rows use, made once.
pub struct State {
    pub vault: Vault,
    pub kv_aes: KeyId,
    pub kv_chacha: KeyId,
    pub kv_hmac: KeyId,
    pub kv_aes2: Result<KeyId, String>,
    pub kv_ed: Result<KeyId, String>,
    /// Our X25519 key, and whether it holds the same secret as the others'.
    pub kv_x: Result<(KeyId, bool), String>,
    pub inproc: InProc,
    pub agent: Result<Agent, String>,
    pub agent_any: Result<Agent, String>,
    pub tfm_gcm: Result<Tfm, String>,
    pub op_gcm: Result<AlgOp, String>,
    pub op_chacha: Result<AlgOp, String>,
    pub op_hmac: Result<AlgOp, String>,
    pub op_sha: Result<AlgOp, String>,
    pub peer_public: [u8; 32],
}

/// What `prepare` made: the rows' state, and what the report says about
/// how it was made.
pub struct Setup {
    pub state: State,
    /// The CPU set the process had before it was pinned, and the CPU.
    pub pinned: Option<(libc::cpu_set_t, usize)>,
    pub pin_note: String,
    /// /proc/sys/crypto/af_alg_restrict before the run (None: no such file).
    pub restrict_before: Option<String>,
    pub restrict_note: String,
    /// How each AF_ALG transform got its key, or why it is unavailable.
    pub af_alg_lines: Vec<String>,
    /// The other transforms, alive as long as their op sockets.
    _tfms: [Result<Tfm, String>; 3],
}

/// The agents first (forked while the process is single-threaded), then
/// the vault and its keys, then AF_ALG.
pub fn prepare(args: &Args) -> Result<Setup, String> {
    let keys = Keys::random();
    // One CPU for the benchmark and the agent (which inherits it): under
    // TCG waking a process on another vCPU takes milliseconds, an artifact
    // of the emulation that would bury the agent; on one CPU it gets its
    // best case. The scaling rows undo it.
    let pinned = if args.no_pin { None } else { pin_to_one_cpu() };
    let pin_note = match &pinned {
        Some((_, cpu)) => format!(
            "the benchmark process and the agent are pinned to CPU {cpu} (no cross-CPU wakeups: the agent's best case; \
             under TCG a wakeup on another vCPU costs milliseconds); the scaling rows use every CPU"
        ),
        None if args.no_pin => "no CPU pinning (--no-pin): the agent may be woken on another CPU".to_string(),
        None => "CPU pinning failed: the agent may be woken on another CPU".to_string(),
    };
    // The agent first: fork while the process is single-threaded and
    // before it opens anything the child should not inherit.
    let agent = Agent::spawn(&keys, None).map_err(|e| format!("agent: fork: {e}"));
    // A second agent free to run on any CPU, for one row: what the pinning
    // changes.
    let agent_any = match &pinned {
        Some((all, _)) => Agent::spawn(&keys, Some(all)).map_err(|e| format!("agent: fork: {e}")),
        None => Err("not pinned: the agent column is already unpinned".into()),
    };

    // AF_ALG's algorithm restriction (Linux 7.3).
    let restrict_before = afalg::read_restrict();
    let restrict_note = match &restrict_before {
        None => "no /proc/sys/crypto/af_alg_restrict on this kernel".to_string(),
        Some(v) if v == "0" => "/proc/sys/crypto/af_alg_restrict was already 0".to_string(),
        Some(v) if args.relax_af_alg => match afalg::write_restrict("0") {
            Ok(()) => format!(
                "/proc/sys/crypto/af_alg_restrict was {v}; kv-bench set it to 0 for the run \
                 (restored after) — at {v} the kernel refuses gcm(aes) and \
                 rfc7539(chacha20,poly1305) over AF_ALG"
            ),
            Err(e) => format!("/proc/sys/crypto/af_alg_restrict is {v} and could not be set to 0: {e}"),
        },
        Some(v) => format!(
            "/proc/sys/crypto/af_alg_restrict is {v} (left as is: pass --relax-af-alg to set it to 0)"
        ),
    };

    let vault = Vault::open().map_err(|e| format!("{e}: is keyvault.ko loaded?"))?;
    let opts = KeyOptions::default();
    let kv_aes = vault
        .import(Algorithm::Aes256Gcm, &keys.aes, &opts)
        .map_err(kv_err)?;
    let kv_chacha = vault
        .import(Algorithm::ChaCha20Poly1305, &keys.chacha, &opts)
        .map_err(kv_err)?;
    let kv_hmac = vault
        .import(Algorithm::HmacSha256, &keys.hmac, &opts)
        .map_err(kv_err)?;
    let kv_aes2 = vault.generate(Algorithm::Aes256Gcm).map_err(kv_err);
    let kv_ed = vault
        .generate(Algorithm::Ed25519)
        .map_err(|e| format!("not supported yet: {e}"));
    let kv_x = match vault.import(Algorithm::X25519, &keys.x25519, &opts) {
        Ok(k) => Ok((k, true)),
        Err(ei) => vault
            .generate(Algorithm::X25519)
            .map(|k| (k, false))
            .map_err(|eg| format!("not supported yet: {eg} (import: {ei})")),
    };

    // AF_ALG, keyed from the kernel keyring when it can be.
    let key_src = |desc: &str, bytes: &'static [u8]| KeySource {
        serial: afalg::add_logon_key(desc, bytes),
        bytes,
    };
    let leak = |k: [u8; 32]| -> &'static [u8] { Box::leak(Box::new(k)) };
    let tfm_gcm = Tfm::open(
        "aead",
        "gcm(aes)",
        Some(key_src("kv-bench:aes", leak(keys.aes))),
    );
    let tfm_chacha = Tfm::open(
        "aead",
        "rfc7539(chacha20,poly1305)",
        Some(key_src("kv-bench:chacha", leak(keys.chacha))),
    );
    let tfm_hmac = Tfm::open(
        "hash",
        "hmac(sha256)",
        Some(key_src("kv-bench:hmac", leak(keys.hmac))),
    );
    let tfm_sha = Tfm::open("hash", "sha256", None);
    let mut af_alg_lines = Vec::new();
    for (name, t) in [
        ("gcm(aes)", &tfm_gcm),
        ("rfc7539(chacha20,poly1305)", &tfm_chacha),
        ("hmac(sha256)", &tfm_hmac),
        ("sha256", &tfm_sha),
    ] {
        af_alg_lines.push(match t {
            Ok(t) => format!("{name}: {}", t.key_method.describe()),
            Err(e) => format!("{name}: unavailable — {e}"),
        });
    }
    let accept = |t: &Result<Tfm, String>| t.as_ref().map_err(Clone::clone).and_then(Tfm::accept);
    let peer_public = InProc::new(&Keys::random()).x25519_public();
    let state = State {
        kv_aes,
        kv_chacha,
        kv_hmac,
        kv_aes2,
        kv_ed,
        kv_x,
        inproc: InProc::new(&keys),
        agent,
        agent_any,
        op_gcm: accept(&tfm_gcm),
        op_chacha: accept(&tfm_chacha),
        op_hmac: accept(&tfm_hmac),
        op_sha: accept(&tfm_sha),
        tfm_gcm,
        peer_public,
        vault,
    };
    Ok(Setup {
        state,
        pinned,
        pin_note,
        restrict_before,
        restrict_note,
        af_alg_lines,
        _tfms: [tfm_chacha, tfm_hmac, tfm_sha],
    })
}

impl Setup {
    /// Sets /proc/sys/crypto/af_alg_restrict back to what it was, when
    /// `--relax-af-alg` changed it.
    pub fn restore_af_alg(&mut self, args: &Args) {
        if let (Some(before), true) = (&self.restrict_before, args.relax_af_alg) {
            if before != "0" {
                if let Err(e) = afalg::write_restrict(before) {
                    self.restrict_note
                        .push_str(&format!(" (restoring failed: {e})"));
                }
            }
        }
    }

    /// The CPUs the process may use (before pinning), in order: thread i
    /// of the scaling rows runs on the i-th. Empty when not pinned.
    pub fn cpus(&self) -> Vec<usize> {
        match &self.pinned {
            Some((all, _)) => (0..libc::CPU_SETSIZE as usize)
                // SAFETY: CPU_ISSET reads the set.
                .filter(|&c| unsafe { libc::CPU_ISSET(c, all) })
                .collect(),
            None => Vec::new(),
        }
    }
}

/// A vault holding `n` AES-256-GCM keys, for the lookup rows.
pub struct LookupVault {
    pub n: usize,
    pub vault: Vault,
    pub keys: Vec<KeyId>,
}

pub fn lookup_vault(n: usize) -> Result<LookupVault, String> {
    let vault = Vault::open().map_err(kv_err)?;
    let mut keys = Vec::with_capacity(n);
    let t0 = Instant::now();
    for i in 0..n {
        match vault.generate(Algorithm::Aes256Gcm) {
            Ok(k) => keys.push(k),
            Err(e) => {
                return Err(format!(
                    "GENKEY failed after {i} keys: {e} (load the module with larger \
                     max_keys_per_vault / max_keys_per_user / max_key_bytes_*: scripts/bench does)"
                ))
            }
        }
        if n >= 20_000 && (i + 1) % 20_000 == 0 {
            crate::progress(format!(
                "  {} / {n} keys ({:.1}s)",
                i + 1,
                t0.elapsed().as_secs_f64()
            ));
        }
    }
    Ok(LookupVault { n, vault, keys })
}

// --------------------------------------------------------------- affinity

fn get_affinity() -> Option<libc::cpu_set_t> {
    // SAFETY: an all-zero cpu_set_t is valid; the kernel fills it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer and size.
    let r = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    (r == 0).then_some(set)
}

fn set_affinity(set: &libc::cpu_set_t) -> bool {
    // SAFETY: a valid pointer and size.
    unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) == 0 }
}

/// Pins this thread to the last CPU it may run on; returns the old mask
/// and the CPU.
fn pin_to_one_cpu() -> Option<(libc::cpu_set_t, usize)> {
    let old = get_affinity()?;
    // SAFETY: CPU_ISSET reads the set.
    let cpu = (0..libc::CPU_SETSIZE as usize)
        .rev()
        .find(|&c| unsafe { libc::CPU_ISSET(c, &old) })?;
    // SAFETY: all-zero is a valid (empty) set; CPU_SET writes into it.
    let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` < CPU_SETSIZE (found in a set above); `one` is ours.
    unsafe { libc::CPU_SET(cpu, &mut one) };
    set_affinity(&one).then_some((old, cpu))
}
