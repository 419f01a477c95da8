//! Races on fds: DUP and close while threads use them, and dups passed over
//! SCM_RIGHTS while the sender destroys and closes.

use super::errno;
use super::*;
use crate::support::*;
use keyvault::uapi::*;
use keyvault::{Algorithm, KeyId, Vault};
use nix::errno::Errno;
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering::SeqCst};
use std::thread;
use std::time::{Duration, Instant};

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
