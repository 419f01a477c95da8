//! kv-bench: keyvault against what users would pick instead, side by side
//! in one run (`make bench` runs it in the test VM).
//!
//! Every row is one operation at one size; the contenders — keyvault
//! (libkeyvault and raw ioctl), AF_ALG with a keyring key, a key agent over
//! a Unix socket, in-process RustCrypto, and the floor model (null ioctl +
//! in-process compute) — run it in the same process, interleaved in rounds.
//! The report (Markdown and JSON) goes to stdout between markers, for
//! scripts/bench to pick up, and with `--out DIR` to files as well.

mod afalg;
mod agent;
mod harness;
mod kv;
mod report;
mod userspace;

use afalg::{AlgOp, KeySource, Tfm};
use agent::Agent;
use harness::{Cfg, Entry, Outcome, ScaleEntry, SendOpFn, Summary};
use keyvault::{Algorithm, HashAlg, Kdf, KeyId, KeyOptions, Vault};
use report::{row_stats, stat, CStat, Row, Target};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::hint::black_box;
use std::io::Write as _;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::Instant;
use userspace::{AeadAlg, InProc, Keys, X25519_INFO};

const SIZES: &[usize] = &[16, 64, 1024, 16 << 10, 1 << 20];
const ASYM_MSG: usize = 64;
const MARK_MD: &str = "KV-BENCH-MARKDOWN";
const MARK_JSON: &str = "KV-BENCH-JSON";

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

struct Args {
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

/// A nonce that never repeats for one contender: a counter and its tag.
fn nonce(who: u8, ctr: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&ctr.to_le_bytes());
    n[11] = who;
    n
}

fn data(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i * 131 + 7) as u8).collect()
}

fn kv_err(e: keyvault::Error) -> String {
    e.to_string()
}

/// Everything the rows use, made once.
struct State {
    vault: Vault,
    kv_aes: KeyId,
    kv_chacha: KeyId,
    kv_hmac: KeyId,
    kv_aes2: Result<KeyId, String>,
    kv_ed: Result<KeyId, String>,
    /// Our X25519 key, and whether it holds the same secret as the others'.
    kv_x: Result<(KeyId, bool), String>,
    inproc: InProc,
    agent: Result<Agent, String>,
    agent_any: Result<Agent, String>,
    tfm_gcm: Result<Tfm, String>,
    op_gcm: Result<AlgOp, String>,
    op_chacha: Result<AlgOp, String>,
    op_hmac: Result<AlgOp, String>,
    op_sha: Result<AlgOp, String>,
    peer_public: [u8; 32],
}

fn null_entry(vault: &Vault) -> Entry<'_> {
    Entry::new("null_ioctl", move || kv::null(vault.as_fd()))
}

fn agent_entry<'a>(
    agent: &'a mut Result<Agent, String>,
    mut f: impl FnMut(&mut Agent) -> Result<(), String> + 'a,
) -> Entry<'a> {
    match agent {
        Ok(a) => Entry::new("agent", move || f(a)),
        Err(e) => Entry::unavailable("agent", e.clone()),
    }
}

fn alg_entry<'a>(
    op: &'a mut Result<AlgOp, String>,
    mut f: impl FnMut(&mut AlgOp) -> Result<(), String> + 'a,
) -> Entry<'a> {
    match op {
        Ok(o) => Entry::new("af_alg", move || f(o)),
        Err(e) => Entry::unavailable("af_alg", e.clone()),
    }
}

fn expect_len(r: Result<&[u8], String>, n: usize) -> Result<(), String> {
    match r {
        Ok(b) if b.len() == n => Ok(()),
        Ok(b) => Err(format!("answer of {} bytes, expected {n}", b.len())),
        Err(e) => Err(e),
    }
}

fn seal_entries(s: &mut State, alg: AeadAlg, size: usize) -> Vec<Entry<'_>> {
    let State {
        vault,
        kv_aes,
        kv_chacha,
        inproc,
        agent,
        agent_any,
        op_gcm,
        op_chacha,
        ..
    } = s;
    let vault: &Vault = vault;
    let inproc: &InProc = inproc;
    let (key, op, agent_op) = match alg {
        AeadAlg::Aes256Gcm => (*kv_aes, op_gcm, agent::OP_SEAL_AES),
        AeadAlg::ChaCha20Poly1305 => (*kv_chacha, op_chacha, agent::OP_SEAL_CHACHA),
    };
    let pt = data(size);
    let mut v = Vec::new();
    {
        let (pt, mut out, mut c) = (pt.clone(), vec![0u8; size], 0u64);
        v.push(Entry::new("kv", move || {
            c += 1;
            vault
                .aead_encrypt_into(key, &pt, &[], Some(&nonce(1, c)), &mut out)
                .map(drop)
                .map_err(kv_err)
        }));
    }
    {
        let (pt, mut out, mut tag, mut c) = (pt.clone(), vec![0u8; size], [0u8; 16], 0u64);
        v.push(Entry::new("kv_raw", move || {
            c += 1;
            kv::seal(vault.as_fd(), key.0, &nonce(2, c), &pt, &mut out, &mut tag)
        }));
    }
    {
        let (pt, mut out, mut c) = (pt.clone(), vec![0u8; size + 16], 0u64);
        v.push(alg_entry(op, move |o| {
            c += 1;
            o.aead(true, &nonce(3, c), &[&pt], &mut out).map(drop)
        }));
    }
    {
        let (pt, mut c) = (pt.clone(), 0u64);
        v.push(agent_entry(agent, move |a| {
            c += 1;
            expect_len(a.call(agent_op, &[&nonce(4, c), &pt]), size + 16)
        }));
    }
    if alg == AeadAlg::Aes256Gcm && size == 64 {
        if let Ok(a) = agent_any {
            let (pt, mut c) = (pt.clone(), 0u64);
            v.push(Entry::new("agent_anycpu", move || {
                c += 1;
                expect_len(a.call(agent_op, &[&nonce(7, c), &pt]), size + 16)
            }));
        }
    }
    {
        let (pt, mut out, mut c) = (pt, vec![0u8; size], 0u64);
        v.push(Entry::new("inproc", move || {
            c += 1;
            black_box(inproc.seal(alg, &nonce(5, c), &pt, &mut out));
            Ok(())
        }));
    }
    v.push(null_entry(vault));
    v
}

fn open_entries(s: &mut State, size: usize) -> Vec<Entry<'_>> {
    let State {
        vault,
        kv_aes,
        inproc,
        agent,
        op_gcm,
        ..
    } = s;
    let vault: &Vault = vault;
    let inproc: &InProc = inproc;
    let key = *kv_aes;
    let n0 = nonce(9, 9);
    let mut ct = vec![0u8; size];
    let tag = inproc.seal(AeadAlg::Aes256Gcm, &n0, &data(size), &mut ct);
    let mut v = Vec::new();
    {
        let (ct, mut out) = (ct.clone(), vec![0u8; size]);
        v.push(Entry::new("kv", move || {
            vault
                .aead_decrypt_into(key, &ct, &[], &n0, &tag, &mut out)
                .map_err(kv_err)
        }));
    }
    {
        let (ct, mut out) = (ct.clone(), vec![0u8; size]);
        v.push(Entry::new("kv_raw", move || {
            kv::open(vault.as_fd(), key.0, &n0, &tag, &ct, &mut out)
        }));
    }
    {
        let (ct, mut out) = (ct.clone(), vec![0u8; size]);
        v.push(alg_entry(op_gcm, move |o| {
            o.aead(false, &n0, &[&ct, &tag], &mut out).map(drop)
        }));
    }
    {
        let ct = ct.clone();
        v.push(agent_entry(agent, move |a| {
            expect_len(a.call(agent::OP_OPEN_AES, &[&n0, &tag, &ct]), size)
        }));
    }
    {
        let mut out = vec![0u8; size];
        v.push(Entry::new("inproc", move || {
            if inproc.open(AeadAlg::Aes256Gcm, &n0, &ct, &tag, &mut out) {
                Ok(())
            } else {
                Err("tag mismatch".into())
            }
        }));
    }
    v.push(null_entry(vault));
    v
}

fn digest_entries(s: &mut State, hmac: bool, size: usize) -> Vec<Entry<'_>> {
    let State {
        vault,
        kv_hmac,
        inproc,
        agent,
        op_hmac,
        op_sha,
        ..
    } = s;
    let vault: &Vault = vault;
    let inproc: &InProc = inproc;
    let key = *kv_hmac;
    let msg = data(size);
    let mut v = Vec::new();
    {
        let msg = msg.clone();
        v.push(Entry::new("kv", move || {
            let r = if hmac {
                vault.mac(key, &msg)
            } else {
                vault.hash(HashAlg::Sha256, &msg)
            };
            black_box(r.map_err(kv_err)?);
            Ok(())
        }));
    }
    {
        let (msg, mut out) = (msg.clone(), [0u8; 32]);
        v.push(Entry::new("kv_raw", move || {
            if hmac {
                kv::mac(vault.as_fd(), key.0, &msg, &mut out)
            } else {
                kv::sha256(vault.as_fd(), &msg, &mut out)
            }
        }));
    }
    {
        let (msg, mut out) = (msg.clone(), [0u8; 32]);
        let op = if hmac { op_hmac } else { op_sha };
        v.push(alg_entry(op, move |o| o.digest(&msg, &mut out).map(drop)));
    }
    {
        let msg = msg.clone();
        let op = if hmac {
            agent::OP_HMAC
        } else {
            agent::OP_SHA256
        };
        v.push(agent_entry(agent, move |a| {
            expect_len(a.call(op, &[&msg]), 32)
        }));
    }
    v.push(Entry::new("inproc", move || {
        black_box(if hmac {
            inproc.hmac(&msg)
        } else {
            InProc::sha256(&msg)
        });
        Ok(())
    }));
    v.push(null_entry(vault));
    v
}

fn sign_entries(s: &mut State) -> Vec<Entry<'_>> {
    let State {
        vault,
        kv_ed,
        inproc,
        agent,
        ..
    } = s;
    let vault: &Vault = vault;
    let inproc: &InProc = inproc;
    let msg = data(ASYM_MSG);
    let mut v = Vec::new();
    match kv_ed {
        Ok(key) => {
            let key = *key;
            let m = msg.clone();
            v.push(Entry::new("kv", move || {
                black_box(vault.sign(key, &m).map_err(kv_err)?);
                Ok(())
            }));
            let (m, mut sig) = (msg.clone(), [0u8; 64]);
            v.push(Entry::new("kv_raw", move || {
                kv::sign(vault.as_fd(), key.0, &m, &mut sig)
            }));
        }
        Err(e) => {
            v.push(Entry::unavailable("kv", e.clone()));
            v.push(Entry::unavailable("kv_raw", e.clone()));
        }
    }
    v.push(Entry::unavailable(
        "af_alg",
        "AF_ALG has no Ed25519 (no akcipher/sig socket type upstream)",
    ));
    {
        let m = msg.clone();
        v.push(agent_entry(agent, move |a| {
            expect_len(a.call(agent::OP_SIGN, &[&m]), 64)
        }));
    }
    v.push(Entry::new("inproc", move || {
        black_box(inproc.sign(&msg));
        Ok(())
    }));
    v.push(null_entry(vault));
    v
}

/// What keyvault verifies with: a vault key id (or 0 and a caller public
/// key), and a signature that verifies.
type VerifyWith = (u64, Option<[u8; 32]>, [u8; 64]);

fn verify_entries(s: &mut State) -> (Vec<Entry<'_>>, Option<String>) {
    let State {
        vault,
        kv_ed,
        inproc,
        agent,
        ..
    } = s;
    let vault: &Vault = vault;
    let msg = data(ASYM_MSG);
    let public = inproc.ed25519_public();
    let sig = inproc.sign(&msg);
    let mut v = Vec::new();
    let mut note = None;
    // With the vault's own key when keyvault has Ed25519 keys; else with a
    // caller's public key (key_id 0), which needs no vault key.
    let kv_target: Result<VerifyWith, String> = match kv_ed {
        Ok(key) => vault
            .sign(*key, &msg)
            .map(|s| (key.0, None, s))
            .map_err(kv_err),
        Err(e) => match vault.verify_with_public_key(&public, &msg, &sig) {
            Ok(()) => {
                note = Some("keyvault verifies with a caller public key (key_id 0): it has no Ed25519 vault keys yet".to_string());
                Ok((0, Some(public), sig))
            }
            Err(e2) if e2.is_verification_failure() => {
                Err("keyvault: a good signature did not verify".into())
            }
            Err(e2) => Err(format!("{e}; with a public key: {e2}")),
        },
    };
    match kv_target {
        Ok((key, public, sig)) => {
            let m = msg.clone();
            v.push(Entry::new("kv", move || {
                match &public {
                    Some(p) => vault.verify_with_public_key(p, &m, &sig),
                    None => vault.verify(KeyId(key), &m, &sig),
                }
                .map_err(kv_err)
            }));
            let m = msg.clone();
            v.push(Entry::new("kv_raw", move || {
                kv::verify(vault.as_fd(), key, public.as_ref(), &m, &sig)
            }));
        }
        Err(e) => {
            v.push(Entry::unavailable("kv", e.clone()));
            v.push(Entry::unavailable("kv_raw", e));
        }
    }
    v.push(Entry::unavailable("af_alg", "AF_ALG has no Ed25519"));
    {
        let m = msg.clone();
        v.push(agent_entry(agent, move |a| {
            expect_len(a.call(agent::OP_VERIFY, &[&sig, &m]), 0)
        }));
    }
    v.push(Entry::new("inproc", move || {
        InProc::verify(&public, &msg, &sig)
            .then_some(())
            .ok_or("did not verify".into())
    }));
    v.push(null_entry(vault));
    (v, note)
}

fn exchange_entries(s: &mut State) -> Vec<Entry<'_>> {
    let State {
        vault,
        kv_x,
        inproc,
        agent,
        peer_public,
        ..
    } = s;
    let vault: &Vault = vault;
    let inproc: &InProc = inproc;
    let peer = *peer_public;
    let mut v = Vec::new();
    match kv_x {
        Ok((key, _)) => {
            let key = *key;
            let kdf = Kdf::new(HashAlg::Sha256, X25519_INFO);
            v.push(Entry::new("kv", move || {
                let new = vault
                    .exchange(
                        key,
                        &peer,
                        &kdf,
                        Algorithm::Aes256Gcm,
                        &KeyOptions::default(),
                    )
                    .map_err(kv_err)?;
                vault.destroy(new).map_err(kv_err)
            }));
            v.push(Entry::new("kv_raw", move || {
                let new = kv::exchange(vault.as_fd(), key.0, &peer, X25519_INFO)?;
                kv::destroy(vault.as_fd(), new)
            }));
        }
        Err(e) => {
            v.push(Entry::unavailable("kv", e.clone()));
            v.push(Entry::unavailable("kv_raw", e.clone()));
        }
    }
    v.push(Entry::unavailable(
        "af_alg",
        "AF_ALG has no key agreement (no kpp socket type)",
    ));
    v.push(agent_entry(agent, move |a| {
        let id: [u8; 8] = a
            .call(agent::OP_EXCHANGE, &[&peer])?
            .try_into()
            .map_err(|_| "bad handle".to_string())?;
        expect_len(a.call(agent::OP_DESTROY, &[&id]), 0)
    }));
    v.push(Entry::new("inproc", move || {
        black_box(inproc.exchange(&peer).ok_or("low-order peer")?);
        Ok(())
    }));
    v.push(null_entry(vault));
    v
}

/// Is every output the same as the reference? One line for the report.
fn crosscheck(s: &mut State) -> Vec<String> {
    let mut lines = Vec::new();
    let vault = &s.vault;
    for (alg, name, key) in [
        (AeadAlg::Aes256Gcm, "AES-256-GCM encrypt", s.kv_aes),
        (
            AeadAlg::ChaCha20Poly1305,
            "ChaCha20-Poly1305 encrypt",
            s.kv_chacha,
        ),
    ] {
        let mut same: Vec<&str> = Vec::new();
        let mut bad: Vec<String> = Vec::new();
        let mut check = |who: &'static str, ok: Result<bool, String>| match ok {
            Ok(true) => {
                if !same.contains(&who) {
                    same.push(who)
                }
            }
            Ok(false) => bad.push(format!("{who} differs")),
            Err(e) => bad.push(format!("{who}: {e}")),
        };
        for size in [64usize, 1 << 20] {
            let pt = data(size);
            let n = nonce(0xcc, size as u64);
            let mut want = vec![0u8; size];
            let tag = s.inproc.seal(alg, &n, &pt, &mut want);
            want.extend_from_slice(&tag);
            let mut out = vec![0u8; size];
            check(
                "keyvault",
                vault
                    .aead_encrypt_into(key, &pt, &[], Some(&n), &mut out)
                    .map(|sl| out[..] == want[..size] && sl.tag == tag)
                    .map_err(kv_err),
            );
            let mut t2 = [0u8; 16];
            check(
                "raw ioctl",
                kv::seal(vault.as_fd(), key.0, &n, &pt, &mut out, &mut t2)
                    .map(|_| out[..] == want[..size] && t2 == tag),
            );
            let op = match alg {
                AeadAlg::Aes256Gcm => &mut s.op_gcm,
                AeadAlg::ChaCha20Poly1305 => &mut s.op_chacha,
            };
            if let Ok(op) = op {
                let mut o = vec![0u8; size + 16];
                check(
                    "AF_ALG",
                    op.aead(true, &n, &[&pt], &mut o).map(|_| o == want),
                );
            }
            if let Ok(a) = &mut s.agent {
                let opc = match alg {
                    AeadAlg::Aes256Gcm => agent::OP_SEAL_AES,
                    AeadAlg::ChaCha20Poly1305 => agent::OP_SEAL_CHACHA,
                };
                check("agent", a.call(opc, &[&n, &pt]).map(|r| r == &want[..]));
            }
        }
        lines.push(verdict(name, &same, &bad));
    }
    for hmac in [true, false] {
        let name = if hmac { "HMAC-SHA256" } else { "SHA-256" };
        let mut same: Vec<&str> = Vec::new();
        let mut bad: Vec<String> = Vec::new();
        for size in [64usize, 1 << 20] {
            let msg = data(size);
            let want = if hmac {
                s.inproc.hmac(&msg)
            } else {
                InProc::sha256(&msg)
            };
            let mut results: Vec<(&str, Result<bool, String>)> = Vec::new();
            let r = if hmac {
                vault.mac(s.kv_hmac, &msg)
            } else {
                vault.hash(HashAlg::Sha256, &msg)
            };
            results.push(("keyvault", r.map(|d| d == want).map_err(kv_err)));
            let mut o = [0u8; 32];
            let r = if hmac {
                kv::mac(vault.as_fd(), s.kv_hmac.0, &msg, &mut o)
            } else {
                kv::sha256(vault.as_fd(), &msg, &mut o)
            };
            results.push(("raw ioctl", r.map(|_| o == want)));
            let op = if hmac { &mut s.op_hmac } else { &mut s.op_sha };
            if let Ok(op) = op {
                let mut o = [0u8; 32];
                results.push(("AF_ALG", op.digest(&msg, &mut o).map(|_| o == want)));
            }
            if let Ok(a) = &mut s.agent {
                let opc = if hmac {
                    agent::OP_HMAC
                } else {
                    agent::OP_SHA256
                };
                results.push(("agent", a.call(opc, &[&msg]).map(|r| r == want)));
            }
            for (who, r) in results {
                match r {
                    Ok(true) => {
                        if !same.contains(&who) {
                            same.push(who)
                        }
                    }
                    Ok(false) => bad.push(format!("{who} differs")),
                    Err(e) => bad.push(format!("{who}: {e}")),
                }
            }
        }
        lines.push(verdict(name, &same, &bad));
    }
    // X25519: the derived key never leaves the kernel, so compare what it
    // encrypts with what the userspace-derived key encrypts.
    match &s.kv_x {
        Ok((key, true)) => {
            let kdf = Kdf::new(HashAlg::Sha256, X25519_INFO);
            let r = vault
                .exchange(
                    *key,
                    &s.peer_public,
                    &kdf,
                    Algorithm::Aes256Gcm,
                    &KeyOptions::default(),
                )
                .map_err(kv_err)
                .and_then(|new| {
                    let n = nonce(0xdd, 1);
                    let pt = data(64);
                    let r = vault.aead_encrypt(new, &pt, &[], Some(&n)).map_err(kv_err);
                    let _ = vault.destroy(new);
                    let (ct, sealed) = r?;
                    let (_, theirs) = s.inproc.exchange(&s.peer_public).ok_or("low order")?;
                    let mut buf = pt.clone();
                    let tag = userspace::aes_seal_with(&theirs, &n, &mut buf);
                    Ok(buf == ct && tag == sealed.tag)
                });
            lines.push(match r {
                Ok(true) => "X25519 + HKDF-SHA256 → AES-256-GCM key: keyvault's derived key encrypts like the in-process one (same secret) ✓".into(),
                Ok(false) => "X25519: MISMATCH between keyvault's derived key and the in-process one".into(),
                Err(e) => format!("X25519: not checked ({e})"),
            });
        }
        Ok((_, false)) => lines.push(
            "X25519: not cross-checked (IMPORT of X25519 refused, keyvault uses its own key)"
                .into(),
        ),
        Err(_) => {}
    }
    if let Ok(key) = &s.kv_ed {
        let msg = data(ASYM_MSG);
        let r = vault
            .sign(*key, &msg)
            .and_then(|sig| vault.public_key(*key).map(|p| (sig, p)))
            .map_err(kv_err);
        lines.push(match r {
            Ok((sig, public)) if InProc::verify(&public, &msg, &sig) => {
                "Ed25519: keyvault's signature verifies with ed25519-dalek ✓".into()
            }
            Ok(_) => {
                "Ed25519: MISMATCH: keyvault's signature does not verify with ed25519-dalek".into()
            }
            Err(e) => format!("Ed25519: not checked ({e})"),
        });
    }
    lines
}

fn verdict(name: &str, same: &[&str], bad: &[String]) -> String {
    if bad.is_empty() {
        format!(
            "{name} (64 B and 1 MiB): in-process = {} ✓",
            same.join(" = ")
        )
    } else {
        format!(
            "{name}: MISMATCH or error: {} (same as in-process: {})",
            bad.join("; "),
            if same.is_empty() {
                "none".to_string()
            } else {
                same.join(", ")
            }
        )
    }
}

/// A vault holding `n` AES-256-GCM keys, for the lookup rows.
struct LookupVault {
    n: usize,
    vault: Vault,
    keys: Vec<KeyId>,
}

fn lookup_vault(n: usize) -> Result<LookupVault, String> {
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
            progress(format!(
                "  {} / {n} keys ({:.1}s)",
                i + 1,
                t0.elapsed().as_secs_f64()
            ));
        }
    }
    Ok(LookupVault { n, vault, keys })
}

fn lookup_entries(vaults: &[LookupVault]) -> Vec<Entry<'_>> {
    vaults
        .iter()
        .map(|lv| {
            let id: &'static str = Box::leak(format!("{} keys", lv.n).into_boxed_str());
            let (pt, mut out, mut c) = (data(64), vec![0u8; 64], 0u64);
            let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ lv.n as u64;
            let vault = &lv.vault;
            let keys = &lv.keys;
            Entry::new(id, move || {
                // xorshift64*: a random existing key each time.
                rng ^= rng >> 12;
                rng ^= rng << 25;
                rng ^= rng >> 27;
                let r = rng.wrapping_mul(0x2545_f491_4f6c_dd1d);
                let key = keys[(r % keys.len() as u64) as usize];
                c += 1;
                vault
                    .aead_encrypt_into(key, &pt, &[], Some(&nonce(6, c)), &mut out)
                    .map(drop)
                    .map_err(kv_err)
            })
        })
        .collect()
}

fn scaling_entries(s: &State) -> Vec<ScaleEntry<'_>> {
    let vault = &s.vault;
    let mut v = Vec::new();
    v.push(ScaleEntry {
        id: "kv",
        ops: match &s.kv_aes2 {
            Ok(k2) => Ok([s.kv_aes, *k2]
                .into_iter()
                .enumerate()
                .map(|(t, key)| {
                    let (pt, mut out, mut c) = (data(64), vec![0u8; 64], 0u64);
                    Box::new(move || {
                        c += 1;
                        vault
                            .aead_encrypt_into(
                                key,
                                &pt,
                                &[],
                                Some(&nonce(0x10 + t as u8, c)),
                                &mut out,
                            )
                            .map(drop)
                            .map_err(kv_err)
                    }) as SendOpFn<'_>
                })
                .collect()),
            Err(e) => Err(e.clone()),
        },
    });
    v.push(ScaleEntry {
        id: "af_alg",
        ops: match &s.tfm_gcm {
            Ok(tfm) => (0..2)
                .map(|t| {
                    let mut op = tfm.accept()?;
                    let (pt, mut out, mut c) = (data(64), vec![0u8; 64 + 16], 0u64);
                    Ok(Box::new(move || {
                        c += 1;
                        op.aead(true, &nonce(0x20 + t as u8, c), &[&pt], &mut out)
                            .map(drop)
                    }) as SendOpFn<'_>)
                })
                .collect(),
            Err(e) => Err(e.clone()),
        },
    });
    v.push(ScaleEntry {
        id: "inproc",
        ops: Ok((0..2)
            .map(|t| {
                let p = InProc::new(&Keys::random());
                let (pt, mut out, mut c) = (data(64), vec![0u8; 64], 0u64);
                Box::new(move || {
                    c += 1;
                    black_box(p.seal(AeadAlg::Aes256Gcm, &nonce(0x30 + t as u8, c), &pt, &mut out));
                    Ok(())
                }) as SendOpFn<'_>
            })
            .collect()),
    });
    v
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
    unsafe { libc::CPU_SET(cpu, &mut one) };
    set_affinity(&one).then_some((old, cpu))
}

// ------------------------------------------------------------------- meta

fn uname() -> (String, String, String) {
    // SAFETY: uname fills the struct; all-zero is valid.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer.
    if unsafe { libc::uname(&mut u) } != 0 {
        return Default::default();
    }
    let s = |f: &[libc::c_char]| {
        let b: Vec<u8> = f
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        String::from_utf8_lossy(&b).into_owned()
    };
    (s(&u.release), s(&u.version), s(&u.machine))
}

fn cpu_model() -> (String, usize, String) {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let n = info.lines().filter(|l| l.starts_with("processor")).count();
    let flags = field("flags");
    let has = |f: &str| flags.split_whitespace().any(|x| x == f);
    let feats: Vec<&str> = ["aes", "pclmulqdq", "avx2", "sha_ni", "hypervisor"]
        .into_iter()
        .filter(|f| has(f))
        .collect();
    (field("model name"), n, feats.join(" "))
}

fn module_params() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::fs::read_dir("/sys/module/keyvault/parameters")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| {
                    let val = std::fs::read_to_string(e.path()).unwrap_or_default();
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        val.trim().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if v.is_empty() {
        // The module does not show its parameters in sysfs: take what
        // scripts/bench passed to insmod (the rest are the defaults).
        v = std::env::var("KV_BENCH_PARAMS")
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, val)| (k.to_string(), val.to_string()))
            .collect();
    }
    v.sort();
    v
}

/// UTC date and time from the system clock (no date crate needed).
fn utc_now() -> (String, String) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    (
        format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC"),
        format!("{y:04}-{m:02}-{d:02}T{h:02}{mi:02}{s:02}Z"),
    )
}

// ------------------------------------------------------------------- main

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
    let (date, stamp) = utc_now();
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
    let mut restrict_note = match &restrict_before {
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
    let mut st = State {
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

    progress("cross-checking outputs");
    let checks = crosscheck(&mut st);
    for c in &checks {
        progress(format!("  {c}"));
    }

    // The rows.
    let cfg = args.cfg;
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
    let mut rows: Vec<(Row, Vec<CStat>)> = Vec::new();
    let total = plan.len();
    for (i, (op, size)) in plan.into_iter().enumerate() {
        let sz = size.unwrap_or(0);
        progress(format!(
            "[{}/{total}] {op}{}",
            i + 1,
            size.map_or(String::new(), |s| format!(" {}", report::fmt_size(s)))
        ));
        let mut note = None;
        let mut kv_calls = 1;
        let entries = match op.as_str() {
            "AES-256-GCM encrypt" => seal_entries(&mut st, AeadAlg::Aes256Gcm, sz),
            "AES-256-GCM decrypt" => open_entries(&mut st, sz),
            "ChaCha20-Poly1305 encrypt" => seal_entries(&mut st, AeadAlg::ChaCha20Poly1305, sz),
            "HMAC-SHA256" => digest_entries(&mut st, true, sz),
            "SHA-256" => digest_entries(&mut st, false, sz),
            "Ed25519 sign" => sign_entries(&mut st),
            "Ed25519 verify" => {
                let (e, n) = verify_entries(&mut st);
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
                exchange_entries(&mut st)
            }
        };
        let results = harness::run_row(&cfg, entries);
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
                if accel_is_tcg() {
                    ": under TCG the difference is the emulator's slow cross-vCPU wakeups"
                } else {
                    ""
                }
            ));
        }
        rows.push((row, stats));
    }

    // Scaling: 1 and 2 threads, each on its own key.
    let threads = [1usize, 2];
    let mut scaling = Vec::new();
    if wanted(args, "scaling: AES-256-GCM encrypt 64 B") {
        progress("scaling: AES-256-GCM encrypt 64 B, 1 and 2 threads");
        let scfg = Cfg {
            budget: cfg.budget * 1.5,
            ..cfg
        };
        // Thread i on the i-th CPU the process may use.
        let cpus: Vec<usize> = match &pinned {
            Some((all, _)) => (0..libc::CPU_SETSIZE as usize)
                // SAFETY: CPU_ISSET reads the set.
                .filter(|&c| unsafe { libc::CPU_ISSET(c, all) })
                .collect(),
            None => Vec::new(),
        };
        scaling = harness::run_scaling(&scfg, scaling_entries(&st), &threads, &cpus);
    }

    // Key lookup: vaults of 10 .. 100000 keys, a random key each op.
    let mut lookup_row = None;
    let mut lookup_errors = Vec::new();
    if wanted(args, "lookup: AES-256-GCM encrypt 64 B") {
        let mut vaults = Vec::new();
        for &n in &args.lookup {
            progress(format!("lookup: making a vault of {n} keys"));
            match lookup_vault(n) {
                Ok(v) => vaults.push(v),
                Err(e) => {
                    progress(format!("  {e}"));
                    lookup_errors.push((n, e));
                }
            }
        }
        if !vaults.is_empty() {
            progress("lookup: AES-256-GCM encrypt 64 B on a random key");
            let results = harness::run_row(&cfg, lookup_entries(&vaults));
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
        drop(vaults);
    }

    if let (Some(before), true) = (&restrict_before, args.relax_af_alg) {
        if before != "0" {
            if let Err(e) = afalg::write_restrict(before) {
                restrict_note.push_str(&format!(" (restoring failed: {e})"));
            }
        }
    }

    // ------------------------------------------------------------ report
    let (krel, kver, arch) = uname();
    let (cpu, ncpu, feats) = cpu_model();
    let accel = std::env::var("KV_BENCH_ACCEL")
        .ok()
        .filter(|s| !s.is_empty())
        .map(|s| s.to_uppercase())
        .unwrap_or_else(|| "unknown (not run through scripts/bench)".into());
    let host_cpu = std::env::var("KV_BENCH_HOST_CPU").unwrap_or_default();
    let params = module_params();
    let row_of = |op: &str, size: usize| {
        rows.iter()
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
    targets.extend(lookup_targets(&lookup_row, &lookup_errors));

    let names = |id: &str| -> String {
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
    };
    let elapsed = started.elapsed().as_secs_f64();

    // Markdown.
    let mut md = String::new();
    let _ = writeln!(md, "# keyvault benchmark — {date}\n");
    let tcg = accel.starts_with("TCG");
    let _ = writeln!(
        md,
        "> **The result is the ratios, not the absolute numbers.** {} Every contender runs the \
         same operation on the same data sizes in the same process of the same VM run, interleaved \
         in rounds (each round times one batch of each contender, in rotating order); a ratio is the \
         median of the per-round ratios, so drift of the machine cancels out.\n",
        if tcg {
            "This run used TCG (QEMU's software CPU emulation, no KVM): absolute ops/s and MB/s are meaningless, often by 10–100×, and emulation does not slow every instruction alike."
        } else {
            "Absolute numbers are those of this VM on this host and mean little elsewhere."
        }
    );
    md.push_str("| | |\n|---|---|\n");
    let _ = writeln!(md, "| date | {date} |");
    let _ = writeln!(md, "| kernel (uname -r) | {krel} ({arch}; {kver}) |");
    let _ = writeln!(
        md,
        "| CPU (guest /proc/cpuinfo) | {cpu} × {ncpu} vCPU; flags: {} |",
        if feats.is_empty() { "-" } else { &feats }
    );
    if !host_cpu.is_empty() {
        let _ = writeln!(md, "| host CPU | {host_cpu} |");
    }
    let _ = writeln!(md, "| accelerator | **{accel}** |");
    let _ = writeln!(
        md,
        "| keyvault module parameters | {} |",
        if params.is_empty() {
            "the defaults".to_string()
        } else {
            params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    let _ = writeln!(md, "| AF_ALG keys | {} |", af_alg_lines.join("; "));
    let _ = writeln!(md, "| AF_ALG restriction | {restrict_note} |");
    let _ = writeln!(md, "| CPU pinning | {pin_note} |");
    let _ = writeln!(
        md,
        "| method | {} rounds per row (fewer for very slow rows, at least {}), {:.1} s of timed batches per row, calibration {:.0} ms per contender; AEAD rows: caller nonces (a counter), empty AAD; ed25519/x25519 rows: 64-byte messages{} |",
        cfg.rounds,
        cfg.rounds.min(5),
        cfg.budget,
        cfg.calib * 1000.0,
        if args.quick { "; **--quick smoke run**" } else { "" }
    );
    let _ = writeln!(md, "| run time | {elapsed:.0} s (kv-bench) |");
    md.push_str(
        "\n**Outputs cross-checked** (same keys, same nonces, compared byte for byte):\n\n",
    );
    for c in &checks {
        let _ = writeln!(md, "- {c}");
    }

    md.push_str("\n## Targets\n\n| target | result | measured |\n|---|---|---|\n");
    for t in &targets {
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

    md.push_str("\n## Results\n\n");
    md.push_str(
        "keyvault: median ops/s (± half the p10–p90 spread over rounds). Every other column: its ops/s ÷ \
         keyvault's (median of per-round ratios; above 1× is faster than keyvault) and, in brackets, its \
         median ops/s. MB/s = 10⁶ bytes of input per second. n/a: see *Not measured* below.\n\n",
    );
    report::summary_table(&mut md, &rows);
    let notes: Vec<String> = rows
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

    md.push_str("\n## Key lookup\n\nLatency of a 64-byte AES-256-GCM encrypt on a random existing key of one vault, the vaults interleaved in rounds. \
        A random key among many also means cache and TLB misses on that key's state, which grow with the number of keys \
        in any key store; a lookup that scanned the keys would grow ~10 000× from 10 to 100 000 keys.\n\n");
    match &lookup_row {
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
    for (n, e) in &lookup_errors {
        let _ = writeln!(md, "\n- {n} keys: not measured: {e}");
    }

    md.push_str(&format!(
        "\n## Scaling, 1 → 2 threads\n\nAggregate ops/s of 64-byte AES-256-GCM encrypt, each thread on its own key \
         (keyvault: one vault fd shared by both threads; AF_ALG: one op socket per thread on one tfm; in-process: \
         one cipher per thread); thread i is pinned to CPU i. The guest has {ncpu} vCPU(s){}. The agent is left out: one agent process serializes \
         its clients by design.\n\n",
        if tcg { "; under TCG each vCPU is a host thread, and the host's 2 cores are shared" } else { "" }
    ));
    let scaling_json = scaling_report(&mut md, &scaling, &threads, &names);

    md.push_str("\n## Contenders\n\n");
    for (id, name, desc) in report::CONTENDERS {
        let _ = writeln!(md, "- **{name}** (`{id}`): {desc}");
    }
    md.push_str("- **null ioctl** (`null_ioctl`): KV_IOC_GETCAPS on the vault fd, timed in every row, used by the floor model.\n");

    let mut missing = String::new();
    for (row, stats) in &rows {
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
    report::detail_table(&mut md, &rows, &names);

    // JSON.
    let j = json!({
        "schema": "keyvault-bench/1",
        "meta": {
            "date": date,
            "stamp": stamp,
            "kernel_release": krel,
            "kernel_version": kver,
            "arch": arch,
            "cpu_model": cpu,
            "cpus": ncpu,
            "cpu_flags_of_interest": feats,
            "host_cpu": host_cpu,
            "accel": accel,
            "module_params": params.iter().map(|(k, v)| (k.clone(), Value::from(v.clone()))).collect::<serde_json::Map<_, _>>(),
            "af_alg_keys": af_alg_lines,
            "af_alg_restrict": {"before": restrict_before, "note": restrict_note},
            "cpu_pinning": pin_note,
            "quick": args.quick,
            "budget_s_per_row": cfg.budget,
            "rounds": cfg.rounds,
            "run_time_s": report::sig4(elapsed),
            "note": "Under TCG absolute numbers are meaningless; the ratios measured in this one run are the result.",
        },
        "crosschecks": checks,
        "targets": targets.iter().map(Target::json).collect::<Vec<_>>(),
        "rows": rows.iter().map(|(r, s)| json!({
            "op": r.op,
            "size": r.size,
            "kv_ioctls_per_op": r.kv_calls,
            "note": r.note,
            "contenders": s.iter().map(report::cstat_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "lookup": lookup_row.as_ref().map(|(r, s, ns)| json!({
            "op": r.op,
            "keys": ns,
            "ratios_are_to": s.first().map(|c| c.id.clone()),
            "vaults": s.iter().map(report::cstat_json).collect::<Vec<_>>(),
        })),
        "lookup_errors": lookup_errors.iter().map(|(n, e)| json!({"keys": n, "error": e})).collect::<Vec<_>>(),
        "scaling": scaling_json,
    });
    let json_text = serde_json::to_string_pretty(&j).map_err(|e| e.to_string())?;

    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for (name, text) in [("latest.md", &md), ("latest.json", &json_text)] {
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

fn accel_is_tcg() -> bool {
    std::env::var("KV_BENCH_ACCEL").is_ok_and(|a| a.eq_ignore_ascii_case("tcg"))
}

fn dedup_lines(s: &str) -> String {
    let mut seen = std::collections::HashSet::new();
    s.lines()
        .filter(|l| seen.insert(l.to_string()))
        .map(|l| format!("{l}\n"))
        .collect()
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

/// The lookup targets: not linear (under 2× for 10⁴× the keys), and flat
/// (within 25%).
fn lookup_targets(
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

fn scaling_report(
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
                        report::fmt_rate(r.median),
                        report::fmt_rate(r.p10),
                        report::fmt_rate(r.p90)
                    ));
                    jt.push(json!({"threads": t, "ops_per_s": report::summary_json(&Some(r)), "secs_per_op_samples": s.iter().map(|t| report::sig4(*t)).collect::<Vec<_>>()}));
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
            "speedup": report::summary_json(&speedup),
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

    #[test]
    fn dates_are_civil() {
        let (human, stamp) = utc_now();
        assert!(human.ends_with(" UTC") && human.len() == 23, "{human}");
        assert!(stamp.ends_with('Z') && stamp.len() == 18, "{stamp}");
    }
}
