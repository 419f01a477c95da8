//! Races on keys: use against destroy, revoke of a parent, expiry; destroys
//! against each other; other keys made and destroyed meanwhile.

use super::errno;
use super::*;
use crate::support::*;
use keyvault::uapi::*;
use keyvault::{Algorithm, KeyId, KeyOptions, KeyState, Vault};
use nix::errno::Errno;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

/// One use of a key by a race's worker: a 64-byte buffer, and the
/// worker's tally for anything odd.
type Use<'a> = &'a (dyn Fn(&mut [u8], &mut Tally) -> Result<(), Errno> + Sync);

/// One round of a race of uses against `act`: `threads` threads make `ops`
/// uses each, cycling through `uses` from an offset of their own, and
/// `act` runs once `target` uses are made (or every thread is done). Uses
/// may fail with `gone.1` only, and once a thread saw that for a use, the
/// same use must not succeed again for it.
fn use_during(
    uses: &[Use<'_>],
    (threads, ops, target): (usize, usize, usize),
    (what, gone): (&str, Errno),
    act: impl FnOnce(),
) -> Tally {
    let (progress, done) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let mut total = Tally::default();
    thread::scope(|s| {
        let (progress, done) = (&progress, &done);
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut tally = Tally::default();
                    let mut seen = vec![false; uses.len()];
                    let mut buf = [0u8; 64];
                    for i in 0..ops {
                        let which = (i + t) % uses.len();
                        let r = uses[which](&mut buf, &mut tally);
                        progress.fetch_add(1, SeqCst);
                        match tally.record("use", r, &[gone]) {
                            Ok(()) if seen[which] => {
                                tally.bad(format!("{what} {which} worked after {gone:?}"))
                            }
                            Err(e) if e == gone => seen[which] = true,
                            _ => {}
                        }
                    }
                    done.fetch_add(1, SeqCst);
                    tally
                })
            })
            .collect();
        wait_for(progress, target, done, threads);
        act();
        for w in workers {
            total.merge(w.join().expect("worker"));
        }
    });
    total
}

pub fn destroying_a_key_while_threads_use_it_gives_each_use_success_or_enoent() {
    const THREADS: usize = 4;
    const OPS: usize = 40;
    let rounds = 25 * scale();
    let keys0 = live_keys();
    let start = Instant::now();
    let v = ok(Vault::open());
    let mut total = Tally::default();
    for round in 0..rounds {
        let aead = ok(v.generate(Algorithm::Aes256Gcm));
        let mac = ok(v.generate(Algorithm::HmacSha256));
        // Destroy after 0%, 20%, ... 80% of the round's operations.
        let target = (round % 5) * THREADS * OPS / 5;
        let uses: [Use<'_>; 2] = [
            &|buf, _| errno(v.aead_encrypt_in_place(aead, buf, b"", None)),
            &|buf, _| errno(v.mac(mac, buf)),
        ];
        let destroy = || {
            ok(v.destroy(aead));
            ok(v.destroy(mac));
        };
        let gone = ("key", Errno::ENOENT);
        total.merge(use_during(&uses, (THREADS, OPS, target), gone, destroy));
        expect_errno(v.info(aead), Errno::ENOENT);
        expect_errno(v.info(mac), Errno::ENOENT);
    }
    assert!(ok(v.list()).is_empty());
    drop(v);
    println!(
        "    race destroy-vs-use: {THREADS} threads x {} ops, {} destroys, results: {total} ({} ms)",
        rounds * OPS,
        rounds * 2,
        start.elapsed().as_millis()
    );
    total.assert_clean("destroy-vs-use");
    assert_eq!(
        total.get("ok") + total.get("ENOENT"),
        (THREADS * rounds * OPS) as u64
    );
    assert_no_leak("destroy-vs-use", keys0);
}

pub fn revoking_a_parent_key_while_threads_use_it_and_its_derived_key_gives_success_or_ekeyrevoked()
{
    const THREADS: usize = 4;
    const OPS: usize = 45;
    let rounds = 20 * scale();
    let keys0 = live_keys();
    let start = Instant::now();
    let v = ok(Vault::open());
    let mut total = Tally::default();
    for round in 0..rounds {
        let parent = ok(v.generate(Algorithm::HmacSha256));
        let child =
            derive_with(&v, parent, KV_ALG_AES256_GCM, KvPolicy::default()).expect("derive");
        let target = (round % 5) * THREADS * OPS / 5;
        let uses: [Use<'_>; 3] = [
            &|buf, _| errno(v.aead_encrypt_in_place(child, buf, b"", None)),
            &|buf, _| errno(v.mac(parent, buf)),
            &|_, tally| match v.info(parent) {
                Ok(info) if info.state == KeyState::Revoked => Err(Errno::EKEYREVOKED),
                Ok(info) if info.state == KeyState::Active => Ok(()),
                Ok(info) => {
                    tally.bad(format!("state {}", info.state));
                    Ok(())
                }
                Err(e) => Err(Errno::from_raw(e.errno())),
            },
        ];
        let revoke = || ok(v.revoke(parent));
        let gone = ("op", Errno::EKEYREVOKED);
        total.merge(use_during(&uses, (THREADS, OPS, target), gone, revoke));
        assert_eq!(ok(v.info(parent)).state, KeyState::Revoked);
        assert_eq!(ok(v.info(child)).state, KeyState::Revoked);
    }
    assert_eq!(ok(v.list()).len(), 2 * rounds, "revoked keys stay listed");
    drop(v);
    println!(
        "    race revoke-vs-use: {THREADS} threads x {} ops (encrypt with a derived key, MAC and GETINFO of its parent), {} revokes, results: {total} ({} ms)",
        rounds * OPS,
        rounds,
        start.elapsed().as_millis()
    );
    total.assert_clean("revoke-vs-use");
    assert_no_leak("revoke-vs-use", keys0);
}

pub fn creating_destroying_and_listing_other_keys_never_disturbs_threads_using_a_key() {
    const THREADS: usize = 3;
    let ops = 150 * scale();
    let churn = 150 * scale();
    let keys0 = live_keys();
    let start = Instant::now();
    let v = ok(Vault::open());
    let a = ok(v.generate(Algorithm::Aes256Gcm));
    let h = ok(v.generate(Algorithm::HmacSha512));
    let done = AtomicUsize::new(0);
    let lists = AtomicUsize::new(0);
    let mut total = Tally::default();
    thread::scope(|s| {
        let (v, done, lists) = (&v, &done, &lists);
        let mut handles: Vec<_> = (0..THREADS)
            .map(|t| {
                s.spawn(move || {
                    let mut tally = Tally::default();
                    let mut buf = [0u8; 64];
                    for i in 0..ops {
                        let r = if (i + t) % 2 == 0 {
                            errno(v.aead_encrypt_in_place(a, &mut buf, b"", None))
                        } else {
                            errno(v.mac(h, &buf))
                        };
                        let _ = tally.record("use of a stable key", r, &[]);
                    }
                    done.fetch_add(1, SeqCst);
                    tally
                })
            })
            .collect();
        // The churner: a key made, used and destroyed, again and again.
        handles.push(s.spawn(move || {
            let mut tally = Tally::default();
            for i in 0..churn {
                let alg = if i % 2 == 0 {
                    Algorithm::Aes128Gcm
                } else {
                    Algorithm::HmacSha256
                };
                match v.generate(alg) {
                    Ok(k) => {
                        let _ = tally.record("churn genkey", Ok(()), &[]);
                        let _ = tally.record("churn info", errno(v.info(k)), &[]);
                        let _ = tally.record("churn destroy", errno(v.destroy(k)), &[]);
                    }
                    Err(e) => {
                        let _ = tally.record("churn genkey", Err(Errno::from_raw(e.errno())), &[]);
                    }
                }
            }
            done.fetch_add(1, SeqCst);
            tally
        }));
        // The lister, until the others are done: a and h always there, ids ascending.
        handles.push(s.spawn(move || {
            let mut tally = Tally::default();
            while done.load(SeqCst) < THREADS + 1 && lists.load(SeqCst) < 2000 {
                lists.fetch_add(1, SeqCst);
                match v.list_page(None, 64) {
                    Ok(page) => {
                        let _ = tally.record("list", Ok(()), &[]);
                        if !page.ids.windows(2).all(|w| w[0] < w[1]) {
                            tally.bad(format!("list not ascending: {:?}", page.ids));
                        }
                        if !page.ids.contains(&a) || !page.ids.contains(&h) {
                            tally.bad(format!("list lost a live key: {:?}", page.ids));
                        }
                        if page.total != page.ids.len() as u64 {
                            tally.bad(format!("total {} but {} ids", page.total, page.ids.len()));
                        }
                    }
                    Err(e) => {
                        let _ = tally.record("list", Err(Errno::from_raw(e.errno())), &[]);
                    }
                }
            }
            tally
        }));
        for w in handles {
            total.merge(w.join().expect("thread"));
        }
    });
    assert_eq!(ok(v.list()), vec![a, h]);
    drop(v);
    println!(
        "    race create-destroy-vs-use: {THREADS} threads x {ops} ops, {churn} keys created, used and destroyed, {} lists, results: {total} ({} ms)",
        lists.load(SeqCst),
        start.elapsed().as_millis()
    );
    total.assert_clean("create-destroy-vs-use");
    assert_no_leak("create-destroy-vs-use", keys0);
}

pub fn concurrent_destroys_of_one_key_succeed_exactly_once() {
    const THREADS: usize = 3;
    let rounds = 300 * scale();
    let keys0 = live_keys();
    let start = Instant::now();
    let v = ok(Vault::open());
    let id = AtomicU64::new(0);
    let wins = AtomicUsize::new(0);
    let barrier = Barrier::new(THREADS + 1);
    let mut total = Tally::default();
    let mut rounds_with = BTreeMap::<usize, usize>::new();
    thread::scope(|s| {
        let (v, id, wins, barrier) = (&v, &id, &wins, &barrier);
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(move || {
                    let mut tally = Tally::default();
                    for _ in 0..rounds {
                        barrier.wait();
                        let k = KeyId(id.load(SeqCst));
                        let r = errno(v.destroy(k));
                        if tally.record("destroy", r, &[Errno::ENOENT]).is_ok() {
                            wins.fetch_add(1, SeqCst);
                        }
                        barrier.wait();
                    }
                    tally
                })
            })
            .collect();
        for _ in 0..rounds {
            let k = v.generate(Algorithm::Aes128Gcm);
            id.store(k.map_or(0, |k| k.0), SeqCst);
            barrier.wait();
            barrier.wait();
            *rounds_with.entry(wins.swap(0, SeqCst)).or_default() += 1;
        }
        for w in workers {
            total.merge(w.join().expect("worker"));
        }
    });
    assert!(ok(v.list()).is_empty());
    drop(v);
    println!(
        "    race destroy-vs-destroy: {THREADS} threads x {rounds} rounds, rounds by successes: {rounds_with:?}, results: {total} ({} ms)",
        start.elapsed().as_millis()
    );
    total.assert_clean("destroy-vs-destroy");
    assert_eq!(
        rounds_with,
        BTreeMap::from([(1, rounds)]),
        "every round: exactly one DESTROY succeeds"
    );
    assert_no_leak("destroy-vs-destroy", keys0);
}

/// Keys with a short TTL (a generated key, and a key derived from a
/// generated parent, so it expires with it) used by threads until they see
/// EKEYEXPIRED; half the rounds also destroy the generated key around its
/// expiry. Once a thread saw EKEYEXPIRED (or ENOENT after the destroy) for a
/// key, no later use by it may succeed; each key's expire event fires at
/// most once however many threads notice, and exactly once for a key that
/// was seen expired.
pub fn keys_expiring_while_threads_use_and_destroy_them_give_success_then_only_ekeyexpired() {
    const THREADS: usize = 3;
    let rounds = 10 * scale();
    let keys0 = live_keys();
    let start = Instant::now();
    let trace = Trace::start_with(&["keyvault_key_expire"]);
    let v = ok(Vault::open());
    let mut total = Tally::default();
    let mut destroys = Tally::default();
    let mut seen_expired = Vec::new();
    let mut destroyed = 0;
    for round in 0..rounds {
        let ttl = Duration::from_millis(20 + 30 * (round % 4) as u64);
        let opts = KeyOptions {
            ttl: Some(ttl),
            ..Default::default()
        };
        let aead = ok(v.generate_with(Algorithm::Aes256Gcm, &opts));
        let parent = ok(v.generate_with(Algorithm::HmacSha256, &opts));
        let child =
            derive_with(&v, parent, KV_ALG_AES128_GCM, KvPolicy::default()).expect("derive");
        let keys = [aead, parent, child];
        let destroy = round % 2 == 1;
        // Generous: a use takes well under a millisecond even on the debug
        // kernel, so a key still working this long after its TTL is a bug.
        let deadline = Instant::now() + ttl + Duration::from_secs(20);
        let mut aead_seen_expired = false;
        thread::scope(|s| {
            let v = &v;
            let workers: Vec<_> = (0..THREADS)
                .map(|t| {
                    s.spawn(move || {
                        let mut tally = Tally::default();
                        let mut gone = [None::<Errno>; 3];
                        let mut buf = [0u8; 64];
                        let mut i = t;
                        while gone.iter().any(Option::is_none) {
                            if Instant::now() > deadline {
                                tally.bad(format!(
                                    "keys still usable {ttl:?} + 20 s after creation: {gone:?}"
                                ));
                                break;
                            }
                            let which = i % 3;
                            i += 1;
                            let r = match which {
                                0 => errno(v.aead_encrypt_in_place(aead, &mut buf, b"", None)),
                                1 => errno(v.mac(parent, &buf)),
                                _ => errno(v.aead_encrypt_in_place(child, &mut buf, b"", None)),
                            };
                            let allowed: &[Errno] = if destroy && which == 0 {
                                &[Errno::EKEYEXPIRED, Errno::ENOENT]
                            } else {
                                &[Errno::EKEYEXPIRED]
                            };
                            match (tally.record("use", r, allowed), gone[which]) {
                                (Ok(()), Some(e)) => {
                                    tally.bad(format!("key {which} worked after {e}"))
                                }
                                (Err(Errno::EKEYEXPIRED), Some(Errno::ENOENT)) => {
                                    tally.bad(format!("key {which} EKEYEXPIRED after ENOENT"))
                                }
                                (Err(e), _) if allowed.contains(&e) => gone[which] = Some(e),
                                _ => {}
                            }
                        }
                        (tally, gone[0] == Some(Errno::EKEYEXPIRED))
                    })
                })
                .collect();
            if destroy {
                // Before, at or after the expiry.
                thread::sleep(ttl * (round % 3 + 1) as u32 / 2);
                let _ = destroys.record("destroy at expiry", errno(v.destroy(aead)), &[]);
                destroyed += 1;
            }
            for w in workers {
                let (tally, expired) = w.join().expect("worker");
                total.merge(tally);
                aead_seen_expired |= expired;
            }
        });
        for (k, key) in keys.iter().enumerate() {
            if destroy && k == 0 {
                expect_errno(v.info(*key), Errno::ENOENT);
                continue;
            }
            assert_eq!(
                ok(v.info(*key)).state,
                KeyState::Expired,
                "key {k}, round {round}"
            );
            ok(v.destroy(*key));
        }
        // GETINFO above saw every key it found expired; a destroyed key
        // counts if a worker saw it expired first.
        seen_expired.extend(&keys[1..]);
        if !destroy || aead_seen_expired {
            seen_expired.push(aead);
        }
    }
    let text = trace.text();
    drop(trace);
    drop(v);
    println!(
        "    race expiry-vs-use: {THREADS} threads x {rounds} rounds of 3 keys (TTL 20-110 ms, one derived), {destroyed} destroyed at expiry, results: {total} ({} ms)",
        start.elapsed().as_millis()
    );
    total.assert_clean("expiry-vs-use");
    destroys.assert_clean("expiry-vs-use (destroys)");
    for key in seen_expired {
        assert_eq!(
            count(&text, &format!("keyvault_key_expire: key={key}")),
            1,
            "key {key} was seen expired: exactly one expire event"
        );
    }
    assert!(
        text.lines()
            .filter(|l| l.contains("keyvault_key_expire:"))
            .count()
            <= 3 * rounds,
        "at most one expire event per key"
    );
    assert_no_leak("expiry-vs-use", keys0);
}
