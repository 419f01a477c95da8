//! Races: threads using keys while others destroy or revoke them, create and
//! destroy other keys, dup and close fds. Every result must be a success or
//! the documented errno, nothing may crash or warn in the kernel (the VM run
//! fails on any WARNING/BUG), and once every fd is closed the module's key
//! count is back where it started (nothing leaked).
//!
//! Fixed iteration counts keep each race to a few seconds under TCG; each
//! prints what it did. Workers never panic (a panic could leave the others
//! waiting on a barrier): they record anything unexpected, checked after.

use crate::harness::{expect_errno, ok};
use crate::lifecycle::{derive, dup_fd, live_keys};
use crate::sharing::{try_recv_fd, try_send_fd};
use crate::tracing::{self, Trace};
use keyvault::uapi::*;
use keyvault::{Algorithm, KeyId, KeyOptions, KeyState, Vault};
use nix::errno::Errno;
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use std::collections::BTreeMap;
use std::fmt;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

/// Results by outcome (`ok`, or the errno's name), and anything unexpected.
#[derive(Default)]
struct Tally {
    counts: BTreeMap<String, u64>,
    bad: Vec<String>,
}

impl Tally {
    /// Counts `r`; anything but success or one of `allowed` is recorded as bad.
    fn record(&mut self, what: &str, r: Result<(), Errno>, allowed: &[Errno]) -> Result<(), Errno> {
        let name = match r {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("{e:?}"),
        };
        *self.counts.entry(name).or_default() += 1;
        if let Err(e) = r {
            if !allowed.contains(&e) {
                self.bad(format!("{what}: {e}"));
            }
        }
        r
    }

    fn bad(&mut self, what: String) {
        if self.bad.len() < 20 {
            self.bad.push(what);
        }
    }

    fn merge(&mut self, other: Tally) {
        for (k, n) in other.counts {
            *self.counts.entry(k).or_default() += n;
        }
        self.bad.extend(other.bad);
    }

    fn get(&self, what: &str) -> u64 {
        self.counts.get(what).copied().unwrap_or(0)
    }

    #[track_caller]
    fn assert_clean(&self, race: &str) {
        assert!(
            self.bad.is_empty(),
            "race {race}: unexpected results: {:#?}",
            self.bad
        );
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .counts
            .iter()
            .map(|(k, n)| format!("{k}={n}"))
            .collect();
        f.write_str(&parts.join(" "))
    }
}

fn errno<T>(r: keyvault::Result<T>) -> Result<(), Errno> {
    r.map(drop).map_err(|e| e.errno())
}

/// Asserts no key outlived its vault's last fd.
#[track_caller]
fn assert_no_leak(race: &str, keys0: u64) {
    assert_eq!(
        live_keys(),
        keys0,
        "race {race}: keys leaked once every fd was closed"
    );
}

/// AEAD encryption on a raw fd (which another thread may close).
fn encrypt_on_fd(fd: RawFd, key: KeyId) -> Result<(), Errno> {
    let mut buf = [0x5au8; 64];
    let mut nonce = [0u8; 12];
    let mut tag = [0u8; 16];
    let mut r = KvAead {
        key_id: key.0,
        in_ptr: buf.as_ptr() as u64,
        out_ptr: buf.as_mut_ptr() as u64,
        nonce_ptr: nonce.as_mut_ptr() as u64,
        tag_ptr: tag.as_mut_ptr() as u64,
        in_len: 64,
        out_len: 64,
        flags: KV_AEAD_GEN_NONCE,
        ..Default::default()
    };
    // SAFETY: `r` is KV_IOC_AEAD_ENCRYPT's struct and its buffers live on
    // this stack frame. If `fd` was closed and its number reused, it is
    // reused only by another fd on the same vault (nothing else opens files
    // while the race runs).
    Errno::result(unsafe { libc::ioctl(fd, KV_IOC_AEAD_ENCRYPT as _, &mut r as *mut KvAead) })
        .map(drop)
}

/// Spins until `progress` reaches `target` or every worker is `done`.
fn wait_for(progress: &AtomicUsize, target: usize, done: &AtomicUsize, workers: usize) {
    while progress.load(SeqCst) < target && done.load(SeqCst) < workers {
        thread::yield_now();
    }
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
        let (progress, done) = (AtomicUsize::new(0), AtomicUsize::new(0));
        // Destroy after 0%, 20%, ... 80% of the round's operations.
        let target = (round % 5) * THREADS * OPS / 5;
        thread::scope(|s| {
            let (v, progress, done) = (&v, &progress, &done);
            let workers: Vec<_> = (0..THREADS)
                .map(|t| {
                    s.spawn(move || {
                        let mut tally = Tally::default();
                        let mut gone = [false; 2];
                        let mut buf = [0u8; 64];
                        for i in 0..OPS {
                            let which = (i + t) % 2;
                            let r = if which == 0 {
                                errno(v.aead_encrypt_in_place(aead, &mut buf, b"", None))
                            } else {
                                errno(v.mac(mac, &buf))
                            };
                            progress.fetch_add(1, SeqCst);
                            match tally.record("use", r, &[Errno::ENOENT]) {
                                Ok(()) if gone[which] => {
                                    tally.bad(format!("key {which} worked after ENOENT"))
                                }
                                Err(Errno::ENOENT) => gone[which] = true,
                                _ => {}
                            }
                        }
                        done.fetch_add(1, SeqCst);
                        tally
                    })
                })
                .collect();
            wait_for(progress, target, done, THREADS);
            ok(v.destroy(aead));
            ok(v.destroy(mac));
            for w in workers {
                total.merge(w.join().expect("worker"));
            }
        });
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
        let child = derive(&v, parent, KV_ALG_AES256_GCM, KvPolicy::default()).expect("derive");
        let (progress, done) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let target = (round % 5) * THREADS * OPS / 5;
        thread::scope(|s| {
            let (v, progress, done) = (&v, &progress, &done);
            let workers: Vec<_> = (0..THREADS)
                .map(|t| {
                    s.spawn(move || {
                        let mut tally = Tally::default();
                        let mut revoked = [false; 3];
                        let mut buf = [0u8; 64];
                        for i in 0..OPS {
                            let which = (i + t) % 3;
                            let r = match which {
                                0 => errno(v.aead_encrypt_in_place(child, &mut buf, b"", None)),
                                1 => errno(v.mac(parent, &buf)),
                                _ => match v.info(parent) {
                                    Ok(info) if info.state == KeyState::Revoked => {
                                        Err(Errno::EKEYREVOKED)
                                    }
                                    Ok(info) if info.state == KeyState::Active => Ok(()),
                                    Ok(info) => {
                                        tally.bad(format!("state {}", info.state));
                                        Ok(())
                                    }
                                    Err(e) => Err(e.errno()),
                                },
                            };
                            progress.fetch_add(1, SeqCst);
                            match tally.record("use", r, &[Errno::EKEYREVOKED]) {
                                Ok(()) if revoked[which] => {
                                    tally.bad(format!("op {which} worked after EKEYREVOKED"))
                                }
                                Err(Errno::EKEYREVOKED) => revoked[which] = true,
                                _ => {}
                            }
                        }
                        done.fetch_add(1, SeqCst);
                        tally
                    })
                })
                .collect();
            wait_for(progress, target, done, THREADS);
            ok(v.revoke(parent));
            for w in workers {
                total.merge(w.join().expect("worker"));
            }
        });
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
                        let _ = tally.record("churn genkey", Err(e.errno()), &[]);
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
                        let _ = tally.record("list", Err(e.errno()), &[]);
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

pub fn dup_and_close_of_fds_while_threads_use_them_gives_success_ebadf_or_enoent_after_destroy() {
    const THREADS: usize = 3;
    let max_ops = 3000 * scale();
    let dups_wanted = 200 * scale();
    let keys0 = live_keys();
    let start = Instant::now();
    let v = ok(Vault::open());
    let a = ok(v.generate(Algorithm::Aes256Gcm));
    ok(v.generate(Algorithm::HmacSha256));
    // The racing fds work when nothing closes them (how many ops land on a
    // live fd during the race is up to the scheduler).
    ok(v.aead_encrypt(a, b"before the race", b"", None));
    let orig: OwnedFd = v.into_fd();
    let current = AtomicI32::new(-1);
    let destroying = AtomicBool::new(false);
    let dupper_done = AtomicBool::new(false);
    let mut total = Tally::default();
    let mut after = Tally::default();
    let mut dupper_tally = Tally::default();
    let mut dups = 0;
    thread::scope(|s| {
        let (current, destroying, dupper_done) = (&current, &destroying, &dupper_done);
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(move || {
                    let (mut tally, mut after) = (Tally::default(), Tally::default());
                    while current.load(SeqCst) < 0 && !dupper_done.load(SeqCst) {
                        thread::yield_now();
                    }
                    let mut n = 0;
                    while !dupper_done.load(SeqCst) && n < max_ops {
                        n += 1;
                        let r = encrypt_on_fd(current.load(SeqCst), a);
                        let _ =
                            tally.record("use on a racing fd", r, &[Errno::EBADF, Errno::ENOENT]);
                        if r == Err(Errno::ENOENT) && !destroying.load(SeqCst) {
                            tally.bad("ENOENT before the key was destroyed".into());
                        }
                    }
                    // Wait for the dupper to close every fd (a worker may
                    // have run out of ops first).
                    while !dupper_done.load(SeqCst) {
                        thread::yield_now();
                    }
                    for _ in 0..10 {
                        let r = encrypt_on_fd(current.load(SeqCst), a);
                        let _ = after.record("use after the last close", r, &[Errno::EBADF]);
                        if r.is_ok() {
                            after.bad("an op worked after the last close".into());
                        }
                    }
                    (tally, after)
                })
            })
            .collect();
        // The dupper: dup (all keys, or key-limited), dup of the dup, close,
        // close; half-way it closes the original (the vault lives on through
        // an anchor dup); three quarters in it destroys the key.
        let dupper = s.spawn(move || {
            let mut tally = Tally::default();
            let mut dups = 0;
            let mut orig = Some(orig);
            let mut anchor: Option<OwnedFd> = None;
            for i in 0..dups_wanted {
                if i == dups_wanted / 2 {
                    let src = orig.as_ref().unwrap().as_raw_fd();
                    match dup_fd(src, KV_CAP_ALL, &[]) {
                        Ok((fd, _)) => anchor = Some(fd),
                        Err(e) => tally.bad(format!("anchor dup: {e}")),
                    }
                    drop(orig.take());
                }
                if i == dups_wanted * 3 / 4 {
                    if let Some(fd) = &anchor {
                        let mut r = KvKeyref {
                            key_id: a.0,
                            reserved: 0,
                        };
                        destroying.store(true, SeqCst);
                        // SAFETY: KV_IOC_DESTROY's struct, on our own fd.
                        let d = Errno::result(unsafe {
                            libc::ioctl(
                                fd.as_raw_fd(),
                                KV_IOC_DESTROY as _,
                                &mut r as *mut KvKeyref,
                            )
                        });
                        let _ = tally.record("destroy", d.map(drop), &[]);
                    }
                }
                let Some(src) = orig.as_ref().or(anchor.as_ref()).map(|f| f.as_raw_fd()) else {
                    break;
                };
                // Key-limited dups need the key to exist: only before the destroy.
                let keys: &[KeyId] = if i % 2 == 0 || i >= dups_wanted * 3 / 4 {
                    &[]
                } else {
                    &[a]
                };
                let first = match dup_fd(src, KV_CAP_READONLY | KV_CAP_RESTRICT, keys) {
                    Ok((fd, _)) => fd,
                    Err(e) => {
                        tally.bad(format!("dup {i}: {e}"));
                        continue;
                    }
                };
                dups += 1;
                current.store(first.as_raw_fd(), SeqCst);
                match dup_fd(first.as_raw_fd(), KV_CAP_ENCRYPT, &[]) {
                    Ok((second, _)) => {
                        dups += 1;
                        current.store(second.as_raw_fd(), SeqCst);
                        drop(first);
                        thread::yield_now();
                        drop(second);
                    }
                    Err(e) => tally.bad(format!("dup of dup {i}: {e}")),
                }
                thread::yield_now();
            }
            drop(anchor);
            dupper_done.store(true, SeqCst);
            (tally, dups)
        });
        for w in workers {
            let (t, a) = w.join().expect("worker");
            total.merge(t);
            after.merge(a);
        }
        (dupper_tally, dups) = dupper.join().expect("dupper");
    });
    println!(
        "    race dup-close-vs-use: {THREADS} threads using fds that 1 thread dups and closes ({dups} dups and closes, the original closed half-way, the key destroyed at 3/4), results: {total}; after the last close: {after}; dupper: {dupper_tally} ({} ms)",
        start.elapsed().as_millis()
    );
    total.assert_clean("dup-close-vs-use");
    after.assert_clean("dup-close-vs-use (after the last close)");
    dupper_tally.assert_clean("dup-close-vs-use (dupper)");
    assert_eq!(dups, 2 * dups_wanted);
    assert_no_leak("dup-close-vs-use", keys0);
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
        let child = derive(&v, parent, KV_ALG_AES128_GCM, KvPolicy::default()).expect("derive");
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
            tracing::count(&text, &format!("keyvault_key_expire: key={key}")),
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

/// A thread dups restricted (half of them key-limited) fds and passes them
/// over SCM_RIGHTS to two receiver threads, which use them and close them;
/// two thirds in, the sender destroys the key they use; at the end it closes
/// the original before the last fds are received (the vault lives on through
/// the fds in flight). A second socket
/// is closed with dups still queued in it (the kernel drops them unread).
/// Every use succeeds, or fails with ENOENT after the destroy; a key-limited
/// fd never sees the other key; once all is closed no key is left.
pub fn passing_dups_over_scm_rights_while_the_sender_destroys_and_closes_leaks_nothing() {
    const RECEIVERS: usize = 2;
    const QUEUED: usize = 20;
    let passes = 150 * scale();
    let keys0 = live_keys();
    let start = Instant::now();
    let v = ok(Vault::open());
    let a = ok(v.generate(Algorithm::Aes256Gcm));
    let h = ok(v.generate(Algorithm::HmacSha256));
    let (tx, rx) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .expect("socketpair");
    let destroyed = AtomicBool::new(false);
    let mut total = Tally::default();
    let mut sender = Tally::default();
    let mut sent = 0;
    thread::scope(|s| {
        let (rx, destroyed) = (&rx, &destroyed);
        let receivers: Vec<_> = (0..RECEIVERS)
            .map(|_| {
                s.spawn(move || {
                    let mut tally = Tally::default();
                    let mut buf = [0u8; 64];
                    loop {
                        let mut kind = [0u8; 1];
                        let fd = match try_recv_fd(rx, &mut kind) {
                            Ok(Some(fd)) => fd,
                            Ok(None) => break, // the sender's "end"
                            Err(e) => {
                                tally.bad(format!("recvmsg: {e}"));
                                break;
                            }
                        };
                        let gone = destroyed.load(SeqCst);
                        let got = Vault::from_fd(fd);
                        let r = errno(got.aead_encrypt_in_place(a, &mut buf, b"", None));
                        if tally
                            .record("use of a passed fd", r, &[Errno::ENOENT])
                            .is_err()
                            && !gone
                            && !destroyed.load(SeqCst)
                        {
                            tally.bad("ENOENT before the destroy".into());
                        }
                        let r = errno(got.mac(h, &buf));
                        if kind[0] == b'k' {
                            // Limited to `a`: `h` is invisible.
                            let _ = tally.record("other key on a limited fd", r, &[Errno::ENOENT]);
                            if r.is_ok() {
                                tally.bad("a key-limited fd used another key".into());
                            }
                        } else {
                            let _ = tally.record("mac on a passed fd", r, &[]);
                        }
                        drop(got);
                    }
                    tally
                })
            })
            .collect();
        // The sender.
        let orig = v.into_fd();
        let src = orig.as_raw_fd();
        for i in 0..passes {
            if i == passes * 2 / 3 {
                let mut r = KvKeyref {
                    key_id: a.0,
                    reserved: 0,
                };
                destroyed.store(true, SeqCst);
                // SAFETY: KV_IOC_DESTROY's struct, on our own fd.
                let d = Errno::result(unsafe {
                    libc::ioctl(src, KV_IOC_DESTROY as _, &mut r as *mut KvKeyref)
                });
                let _ = sender.record("destroy", d.map(drop), &[]);
            }
            let limited = i % 2 == 1 && !destroyed.load(SeqCst);
            let keys: &[KeyId] = if limited { &[a] } else { &[] };
            match dup_fd(src, KV_CAP_READONLY, keys) {
                Ok((fd, _)) => {
                    let kind = if limited { b"k" } else { b"a" };
                    if let Err(e) = try_send_fd(&tx, Some(fd.as_raw_fd()), kind) {
                        sender.bad(format!("sendmsg: {e}"));
                    }
                    sent += 1;
                }
                Err(e) => sender.bad(format!("dup {i}: {e}")),
            }
        }
        // The sender lets go of the original while receivers may still have
        // fds queued: what keeps the vault alive now is in flight.
        drop(orig);
        for _ in 0..RECEIVERS {
            if let Err(e) = try_send_fd(&tx, None, b"e") {
                sender.bad(format!("sendmsg end: {e}"));
            }
        }
        for r in receivers {
            total.merge(r.join().expect("receiver"));
        }
    });
    drop((tx, rx));
    // Dups left queued in a socket that is closed unread.
    let v = ok(Vault::open());
    ok(v.generate(Algorithm::Ed25519));
    let (qtx, qrx) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .expect("socketpair");
    for _ in 0..QUEUED {
        let (fd, _) = dup_fd(v.as_raw_fd(), KV_CAP_READONLY, &[]).expect("dup");
        try_send_fd(&qtx, Some(fd.as_raw_fd()), b"q").expect("sendmsg");
    }
    drop(v);
    assert!(live_keys() > keys0, "the queued fds keep that vault alive");
    drop((qtx, qrx));
    // Closing a socket with fds queued releases them (unix garbage
    // collection may run asynchronously): allow it a moment.
    let until = Instant::now() + Duration::from_secs(10);
    while live_keys() != keys0 && Instant::now() < until {
        thread::sleep(Duration::from_millis(20));
    }
    println!(
        "    race scm-rights-vs-destroy: {passes} dups passed to {RECEIVERS} receivers (half key-limited), the key destroyed at 2/3, the original closed before the last were received, results: {total}; sender: {sender}; {QUEUED} dups dropped unread with their socket ({} ms)",
        start.elapsed().as_millis()
    );
    total.assert_clean("scm-rights-vs-destroy");
    sender.assert_clean("scm-rights-vs-destroy (sender)");
    assert_eq!(sent, passes);
    assert_eq!(
        total.get("ok") + total.get("ENOENT"),
        2 * passes as u64,
        "every passed fd was received and used twice"
    );
    assert_no_leak("scm-rights-vs-destroy", keys0);
}

/// KV_RACE_SCALE (default 1) multiplies each race's rounds: the hardening
/// run (`make stress`) runs them longer on the debug kernel.
fn scale() -> usize {
    std::env::var("KV_RACE_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1)
}

/// This file's tests, in order.
pub fn tests() -> Vec<crate::harness::Test> {
    crate::tests![
        destroying_a_key_while_threads_use_it_gives_each_use_success_or_enoent,
        revoking_a_parent_key_while_threads_use_it_and_its_derived_key_gives_success_or_ekeyrevoked,
        creating_destroying_and_listing_other_keys_never_disturbs_threads_using_a_key,
        dup_and_close_of_fds_while_threads_use_them_gives_success_ebadf_or_enoent_after_destroy,
        concurrent_destroys_of_one_key_succeed_exactly_once,
        keys_expiring_while_threads_use_and_destroy_them_give_success_then_only_ekeyexpired,
        passing_dups_over_scm_rights_while_the_sender_destroys_and_closes_leaks_nothing,
    ]
}
