//! Before timing anything: does every contender compute the same bytes?
//! Each one encrypts and digests the same data with the same keys and
//! nonces as the in-process reference, and keyvault's X25519 and Ed25519
//! results are checked against RustCrypto's. One line per algorithm for
//! the report ("Outputs cross-checked").

use crate::agent;
use crate::entries::{data, nonce, ASYM_MSG};
use crate::kv;
use crate::setup::{kv_err, State};
use crate::userspace::{self, AeadAlg, InProc, X25519_INFO};
use keyvault::{Algorithm, HashAlg, Kdf, KeyOptions};
use std::os::fd::AsFd;

/// Is every output the same as the reference? One line for the report.
pub fn crosscheck(s: &mut State) -> Vec<String> {
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
        let mut t = Tally::default();
        let mut check = |who: &'static str, ok: Result<bool, String>| t.add(who, ok);
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
        lines.push(t.verdict(name));
    }
    for hmac in [true, false] {
        let name = if hmac { "HMAC-SHA256" } else { "SHA-256" };
        let mut t = Tally::default();
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
                t.add(who, r);
            }
        }
        lines.push(t.verdict(name));
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

/// Who computed the same as in-process (in first-seen order), and who did
/// not or failed.
#[derive(Default)]
struct Tally {
    same: Vec<&'static str>,
    bad: Vec<String>,
}

impl Tally {
    fn add(&mut self, who: &'static str, ok: Result<bool, String>) {
        match ok {
            Ok(true) => {
                if !self.same.contains(&who) {
                    self.same.push(who)
                }
            }
            Ok(false) => self.bad.push(format!("{who} differs")),
            Err(e) => self.bad.push(format!("{who}: {e}")),
        }
    }

    fn verdict(&self, name: &str) -> String {
        let (same, bad) = (&self.same, &self.bad);
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
}
