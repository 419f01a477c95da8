//! What each contender runs, one function per row family: AEAD encrypt
//! (`seal_entries`) and decrypt (`open_entries`), HMAC and SHA-256
//! (`digest_entries`), Ed25519 sign and verify, X25519 exchange, and the
//! lookup and scaling rows. Each returns the row's timed closures
//! (`harness::Entry`), every contender doing the same operation on the same
//! data; the closures only borrow what `setup` made, and `measure` runs
//! them.

use crate::agent;
use crate::harness::{Entry, ScaleEntry, SendOpFn};
use crate::kv;
use crate::setup::{kv_err, LookupVault, State};
use crate::userspace::{AeadAlg, InProc, Keys, X25519_INFO};
use keyvault::{Algorithm, HashAlg, Kdf, KeyId, KeyOptions, Vault};
use std::hint::black_box;
use std::os::fd::AsFd;

/// The data sizes of the symmetric rows.
pub const SIZES: &[usize] = &[16, 64, 1024, 16 << 10, 1 << 20];
/// The message size of the Ed25519 and X25519 rows.
pub const ASYM_MSG: usize = 64;

/// A nonce that never repeats for one contender: a counter and its tag.
pub fn nonce(who: u8, ctr: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&ctr.to_le_bytes());
    n[11] = who;
    n
}

pub fn data(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i * 131 + 7) as u8).collect()
}

fn null_entry(vault: &Vault) -> Entry<'_> {
    Entry::new("null_ioctl", move || kv::null(vault.as_fd()))
}

/// The entry of a contender that may be missing (the agent, an AF_ALG op
/// socket): `f` runs on it, or the row says why it is unavailable.
fn entry_on<'a, T>(
    id: &'static str,
    contender: &'a mut Result<T, String>,
    mut f: impl FnMut(&mut T) -> Result<(), String> + 'a,
) -> Entry<'a> {
    match contender {
        Ok(c) => Entry::new(id, move || f(c)),
        Err(e) => Entry::unavailable(id, e.clone()),
    }
}

/// keyvault's two columns (library and raw ioctl), unavailable for one
/// reason: the vault has no such key.
fn kv_unavailable(v: &mut Vec<Entry<'_>>, why: &str) {
    v.push(Entry::unavailable("kv", why));
    v.push(Entry::unavailable("kv_raw", why));
}

fn expect_len(r: Result<&[u8], String>, n: usize) -> Result<(), String> {
    match r {
        Ok(b) if b.len() == n => Ok(()),
        Ok(b) => Err(format!("answer of {} bytes, expected {n}", b.len())),
        Err(e) => Err(e),
    }
}

pub fn seal_entries(s: &mut State, alg: AeadAlg, size: usize) -> Vec<Entry<'_>> {
    let (vault, inproc) = (&s.vault, &s.inproc);
    let (key, op, agent_op) = match alg {
        AeadAlg::Aes256Gcm => (s.kv_aes, &mut s.op_gcm, agent::OP_SEAL_AES),
        AeadAlg::ChaCha20Poly1305 => (s.kv_chacha, &mut s.op_chacha, agent::OP_SEAL_CHACHA),
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
        v.push(entry_on("af_alg", op, move |o| {
            c += 1;
            o.aead(true, &nonce(3, c), &[&pt], &mut out).map(drop)
        }));
    }
    {
        let (pt, mut c) = (pt.clone(), 0u64);
        v.push(entry_on("agent", &mut s.agent, move |a| {
            c += 1;
            expect_len(a.call(agent_op, &[&nonce(4, c), &pt]), size + 16)
        }));
    }
    if alg == AeadAlg::Aes256Gcm && size == 64 {
        if let Ok(a) = &mut s.agent_any {
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

pub fn open_entries(s: &mut State, size: usize) -> Vec<Entry<'_>> {
    let (vault, inproc) = (&s.vault, &s.inproc);
    let key = s.kv_aes;
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
        v.push(entry_on("af_alg", &mut s.op_gcm, move |o| {
            o.aead(false, &n0, &[&ct, &tag], &mut out).map(drop)
        }));
    }
    {
        let ct = ct.clone();
        v.push(entry_on("agent", &mut s.agent, move |a| {
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

pub fn digest_entries(s: &mut State, hmac: bool, size: usize) -> Vec<Entry<'_>> {
    let (vault, inproc) = (&s.vault, &s.inproc);
    let key = s.kv_hmac;
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
        let op = if hmac { &mut s.op_hmac } else { &mut s.op_sha };
        v.push(entry_on("af_alg", op, move |o| {
            o.digest(&msg, &mut out).map(drop)
        }));
    }
    {
        let msg = msg.clone();
        let op = if hmac {
            agent::OP_HMAC
        } else {
            agent::OP_SHA256
        };
        v.push(entry_on("agent", &mut s.agent, move |a| {
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

pub fn sign_entries(s: &mut State) -> Vec<Entry<'_>> {
    let (vault, inproc) = (&s.vault, &s.inproc);
    let msg = data(ASYM_MSG);
    let mut v = Vec::new();
    match &s.kv_ed {
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
        Err(e) => kv_unavailable(&mut v, e),
    }
    v.push(Entry::unavailable(
        "af_alg",
        "AF_ALG has no Ed25519 (no akcipher/sig socket type upstream)",
    ));
    {
        let m = msg.clone();
        v.push(entry_on("agent", &mut s.agent, move |a| {
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

pub fn verify_entries(s: &mut State) -> (Vec<Entry<'_>>, Option<String>) {
    let (vault, inproc) = (&s.vault, &s.inproc);
    let msg = data(ASYM_MSG);
    let public = inproc.ed25519_public();
    let sig = inproc.sign(&msg);
    let mut v = Vec::new();
    let mut note = None;
    // With the vault's own key when keyvault has Ed25519 keys; else with a
    // caller's public key (key_id 0), which needs no vault key.
    let kv_target: Result<VerifyWith, String> = match &s.kv_ed {
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
        Err(e) => kv_unavailable(&mut v, &e),
    }
    v.push(Entry::unavailable("af_alg", "AF_ALG has no Ed25519"));
    {
        let m = msg.clone();
        v.push(entry_on("agent", &mut s.agent, move |a| {
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

pub fn exchange_entries(s: &mut State) -> Vec<Entry<'_>> {
    let (vault, inproc) = (&s.vault, &s.inproc);
    let peer = s.peer_public;
    let mut v = Vec::new();
    match &s.kv_x {
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
        Err(e) => kv_unavailable(&mut v, e),
    }
    v.push(Entry::unavailable(
        "af_alg",
        "AF_ALG has no key agreement (no kpp socket type)",
    ));
    v.push(entry_on("agent", &mut s.agent, move |a| {
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

pub fn lookup_entries(vaults: &[LookupVault]) -> Vec<Entry<'_>> {
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

pub fn scaling_entries(s: &State) -> Vec<ScaleEntry<'_>> {
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
