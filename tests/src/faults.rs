//! Allocation-failure injection at every allocation point, the kernel's own
//! method (Documentation/fault-injection/fault-injection.rst, as syzkaller
//! uses it): for every ioctl, and for open, DUP, fd passing over
//! SCM_RIGHTS and close, `/proc/thread-self/fail-nth` fails the calling
//! thread's 1st, 2nd, 3rd ... slab or page allocation or user copy, until
//! the call succeeds untouched. Every failing attempt must return a clean
//! errno and leave nothing behind: no fd, no key, no counter or per-user
//! quota drift, no use of the key counted. Kernel reports (KASAN, kmemleak,
//! lockdep) fail the run through scripts/vm. Needs the debug kernel
//! (CONFIG_FAULT_INJECTION and friends); elsewhere it says it is skipped.

use crate::support::*;
use keyvault::uapi::{KvPolicy, KV_ALG_AES256_GCM, KV_ALG_ED25519, KV_WRAP_NATIVE, KV_WRAP_RFC5649};
use keyvault::{Algorithm, Caps, HashAlg, Kdf, KeyId, KeyOptions, Vault};
use nix::errno::Errno;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

const FAIL_NTH: &str = "/proc/thread-self/fail-nth";

/// Makes every fault-injection capability consider every allocation (the
/// defaults skip the sleeping ones, i.e. nearly all of the module's) and
/// stay quiet (an injected failure is not a kernel report).
fn configure() {
    for (dir, settings) in [
        ("failslab", &[("ignore-gfp-wait", "N"), ("verbose", "0")][..]),
        (
            "fail_page_alloc",
            &[("ignore-gfp-wait", "N"), ("ignore-gfp-highmem", "N"), ("min-order", "0"), ("verbose", "0")][..],
        ),
        ("fail_usercopy", &[("verbose", "0")][..]),
    ] {
        for (file, value) in settings {
            let path = format!("/sys/kernel/debug/{dir}/{file}");
            std::fs::write(&path, value).unwrap_or_else(|e| panic!("{path}: {e}"));
        }
    }
}

/// This thread's fail-nth file, kept open (opening it would allocate).
struct FailNth(std::fs::File);

impl FailNth {
    fn open() -> Option<Self> {
        std::fs::OpenOptions::new().read(true).write(true).open(FAIL_NTH).ok().map(Self)
    }

    fn set(&self, n: u32) {
        let s = n.to_string();
        // SAFETY: a valid buffer and fd.
        let r = unsafe { libc::pwrite(self.0.as_raw_fd(), s.as_ptr().cast(), s.len(), 0) };
        assert_eq!(r, s.len() as isize, "write {FAIL_NTH}: {}", Errno::last());
    }

    /// Whether the failure was injected (the count reached 0), then clears
    /// it. The read and the clearing are fault points themselves (their
    /// user copies): a read failing with EFAULT means the count was 1, so
    /// the call did not reach it; a clearing write failing means the count
    /// just reached 0, which clears it too.
    fn injected(&self) -> bool {
        let mut buf = [0u8; 16];
        // SAFETY: a valid buffer and fd.
        let r = unsafe { libc::pread(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        let injected = if r < 0 {
            assert_eq!(Errno::last(), Errno::EFAULT, "read {FAIL_NTH}");
            false
        } else {
            let left: u32 = std::str::from_utf8(&buf[..r as usize]).unwrap().trim().parse().unwrap();
            left == 0
        };
        // SAFETY: a valid buffer and fd.
        unsafe { libc::pwrite(self.0.as_raw_fd(), b"0".as_ptr().cast(), 1, 0) };
        injected
    }
}

/// Everything a failed call must leave as it was.
fn state(v: &Vault, key: Option<KeyId>) -> String {
    let stats = std::fs::read_to_string(STATS).expect(STATS);
    let fds = crate::support::open_fds();
    let total = ok(v.list_page(None, 1)).total;
    let used = key.map(|k| {
        let i = ok(v.info(k));
        (i.uses, i.bytes)
    });
    format!("{stats}\nfds {fds}\nkeys in the vault {total}\nkey uses/bytes {used:?}")
}

/// Runs `call` with its 1st, 2nd, ... fault injected until it succeeds
/// without one; each failure must be one of `clean` and leave `state` as it
/// was. `undo` takes back a success (a new key, a new fd). Returns how many
/// failure points the call has.
fn walk<T>(
    nth: &FailNth,
    what: &str,
    clean: &[Errno],
    state: &dyn Fn() -> String,
    mut call: impl FnMut() -> Result<T, Errno>,
    mut undo: impl FnMut(T),
) -> u32 {
    for n in 1..=5000 {
        let before = state();
        nth.set(n);
        let r = call();
        let injected = nth.injected();
        match r {
            Ok(v) => {
                undo(v);
                if !injected {
                    return n - 1;
                }
            }
            Err(e) => {
                assert!(injected, "{what}: failed with {e} with no fault injected");
                assert!(clean.contains(&e), "{what}: failure point {n} gave {e}");
                assert_eq!(state(), before, "{what}: failure point {n} ({e}) left state behind");
            }
        }
    }
    panic!("{what}: still failing after 5000 failure points");
}

fn errno<T>(r: keyvault::Result<T>) -> Result<T, Errno> {
    r.map_err(|e| Errno::from_raw(e.errno()))
}

pub fn every_allocation_and_copy_failure_is_clean_and_leaves_nothing_behind() {
    let Some(nth) = FailNth::open() else {
        println!("    skipped: no {FAIL_NTH} (a kernel without CONFIG_FAULT_INJECTION; make test-debug has it)");
        return;
    };
    configure();
    // Every destroy event must name a key that was created: a failed
    // creation emits nothing.
    let trace = crate::support::Trace::start_with(&["keyvault_key_create", "keyvault_key_destroy"]);
    let v = ok(Vault::open());
    let aes = ok(v.generate(Algorithm::Aes256Gcm));
    let cbc = ok(v.generate(Algorithm::Aes256Cbc));
    let hmac = ok(v.generate(Algorithm::HmacSha256));
    let ed = ok(v.generate(Algorithm::Ed25519));
    let x = ok(v.generate(Algorithm::X25519));
    let peer = ok(v.public_key(ok(v.generate(Algorithm::X25519))));
    let long = vec![5u8; 4096];
    let (ct, sealed) = ok(v.aead_encrypt(aes, &long, b"aad", None));
    let (iv, cbc_ct) = ok(v.cbc_encrypt(cbc, &long, None, true));
    let mac = ok(v.mac(hmac, &long));
    let sig = ok(v.sign(ed, &long));
    let ed_public = ok(v.public_key(ed));
    let kdf = Kdf::new(HashAlg::Sha256, b"info").with_salt(b"salt");
    let destroy = |k: KeyId| ok(v.destroy(k));
    let on = |key: Option<KeyId>| {
        let v = &v;
        move || state(v, key)
    };
    let mem = [Errno::ENOMEM, Errno::EFAULT];
    let mut report = Vec::new();
    let mut count = |name: &str, n: u32| report.push(format!("{name} {n}"));

    count("GETCAPS", walk(&nth, "GETCAPS", &mem, &on(None), || errno(v.caps()), drop));
    count("LIMITS", walk(&nth, "LIMITS", &mem, &on(None), || errno(v.limits()), drop));
    count("GENKEY", walk(&nth, "GENKEY", &mem, &on(None), || errno(v.generate(Algorithm::Ed25519)), destroy));
    count(
        "IMPORT",
        walk(&nth, "IMPORT", &mem, &on(None), || errno(v.import(Algorithm::HmacSha512, &[3; 64], &KeyOptions::default())), destroy),
    );
    count("GETINFO", walk(&nth, "GETINFO", &mem, &on(Some(aes)), || errno(v.info(aes)), drop));
    count("LIST", walk(&nth, "LIST", &mem, &on(None), || errno(v.list_page(None, 100)), drop));
    count(
        "AEAD_ENCRYPT",
        walk(&nth, "AEAD_ENCRYPT", &mem, &on(Some(aes)), || errno(v.aead_encrypt(aes, &long, b"aad", None)), drop),
    );
    count(
        "AEAD_DECRYPT",
        walk(&nth, "AEAD_DECRYPT", &mem, &on(Some(aes)), || errno(v.aead_decrypt(aes, &ct, b"aad", &sealed.nonce, &sealed.tag)), drop),
    );
    count(
        "CBC_ENCRYPT",
        walk(&nth, "CBC_ENCRYPT", &mem, &on(Some(cbc)), || errno(v.cbc_encrypt(cbc, &long, None, true)), drop),
    );
    count(
        "CBC_DECRYPT",
        walk(&nth, "CBC_DECRYPT", &mem, &on(Some(cbc)), || errno(v.cbc_decrypt(cbc, &cbc_ct, &iv, true)), drop),
    );
    count("MAC", walk(&nth, "MAC", &mem, &on(Some(hmac)), || errno(v.mac(hmac, &long)), drop));
    count(
        "VERIFY_MAC",
        walk(&nth, "VERIFY_MAC", &mem, &on(Some(hmac)), || errno(v.verify_mac(hmac, &long, &mac)), drop),
    );
    count("HASH", walk(&nth, "HASH", &mem, &on(None), || errno(v.hash(HashAlg::Sha512, &long)), drop));
    count("SIGN", walk(&nth, "SIGN", &mem, &on(Some(ed)), || errno(v.sign(ed, &long)), drop));
    count("VERIFY", walk(&nth, "VERIFY", &mem, &on(Some(ed)), || errno(v.verify(ed, &long, &sig)), drop));
    count(
        "VERIFY (public key)",
        walk(&nth, "VERIFY", &mem, &on(None), || errno(v.verify_with_public_key(&ed_public, &long, &sig)), drop),
    );
    count("GET_PUBKEY", walk(&nth, "GET_PUBKEY", &mem, &on(None), || errno(v.public_key(x)), drop));
    count(
        "DERIVE",
        walk(&nth, "DERIVE", &mem, &on(Some(hmac)), || errno(v.derive(hmac, &kdf, Algorithm::Aes256Gcm, &KeyOptions::default())), destroy),
    );
    count(
        "KEYEXCHANGE",
        walk(&nth, "KEYEXCHANGE", &mem, &on(Some(x)), || errno(v.exchange(x, &peer, &kdf, Algorithm::Aes128Gcm, &KeyOptions::default())), destroy),
    );
    let w = wrapping_key(&v);
    let wrappable = import_with(&v, KV_ALG_ED25519, &[7; 32], WRAPPABLE).expect("IMPORT");
    let raw = |r: Result<KeyId, Errno>| r;
    for (name, format) in [("WRAP", KV_WRAP_NATIVE), ("WRAP (RFC 5649)", KV_WRAP_RFC5649)] {
        let blob = wrap(&v, w, wrappable, format).expect("WRAP");
        count(name, walk(&nth, name, &mem, &on(Some(w)), || wrap(&v, w, wrappable, format), drop));
        let unwrap_name = if format == KV_WRAP_NATIVE { "UNWRAP" } else { "UNWRAP (RFC 5649)" };
        count(
            unwrap_name,
            walk(
                &nth,
                unwrap_name,
                &mem,
                &on(Some(w)),
                || raw(if format == KV_WRAP_NATIVE {
                    unwrap(&v, w, &blob)
                } else {
                    unwrap_rfc5649(&v, w, &blob, KV_ALG_ED25519, KvPolicy::default())
                }),
                destroy,
            ),
        );
    }
    let serial = add_key("logon", "kv:faults", &[8; 32], PROCESS_KEYRING).expect("add_key");
    count(
        "IMPORT_KEYRING",
        walk(&nth, "IMPORT_KEYRING", &mem, &on(None), || import_keyring(&v, KV_ALG_AES256_GCM, serial, KvPolicy::default()), destroy),
    );
    count("DUP", walk(&nth, "DUP", &mem, &on(None), || errno(v.dup(Caps::READONLY, Some(&[aes, hmac]))), drop));
    count("RESTRICT", {
        let d = ok(v.dup(Caps::all(), None));
        walk(&nth, "RESTRICT", &mem, &on(None), || errno(d.restrict(Caps::all())), drop)
    });
    count("REVOKE", {
        let k = ok(v.generate(Algorithm::Aes128Gcm));
        walk(&nth, "REVOKE", &mem, &on(Some(k)), || errno(v.revoke(k)), drop)
    });
    count("DESTROY", {
        let k = ok(v.generate(Algorithm::Aes128Gcm));
        walk(&nth, "DESTROY", &mem, &on(None), || errno(v.destroy(k)), drop)
    });
    count("open", walk(&nth, "open", &mem, &on(None), || errno(Vault::open()), drop));
    count("close", {
        let spare: Vec<Vault> = (0..200).map(|_| ok(Vault::open())).collect();
        let mut spare = spare.into_iter();
        // close cannot fail; what must hold is that the vault goes away.
        let close = || {
            drop(spare.next().expect("spare vaults"));
            Ok(())
        };
        walk(&nth, "close", &mem, &on(None), close, drop)
    });
    count("SCM_RIGHTS", {
        use nix::sys::socket::{sendmsg, socketpair, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType};
        let (a, _b): (OwnedFd, OwnedFd) =
            socketpair(AddressFamily::Unix, SockType::Datagram, None, SockFlag::SOCK_CLOEXEC).expect("socketpair");
        let fd = [v.as_fd().as_raw_fd()];
        let passing = [Errno::ENOMEM, Errno::EFAULT, Errno::ENOBUFS];
        // Sent, never received: the queued fd is dropped with the socket.
        walk(
            &nth,
            "SCM_RIGHTS",
            &passing,
            &|| std::fs::read_to_string(STATS).expect(STATS),
            || {
                let iov = [std::io::IoSlice::new(b"v")];
                sendmsg::<()>(a.as_raw_fd(), &iov, &[ControlMessage::ScmRights(&fd)], MsgFlags::empty(), None)
            },
            drop,
        )
    });
    println!("    failure points per call: {}", report.join(", "));
    let text = trace.text();
    let id = |l: &str, event: &str| -> Option<u64> {
        let rest = &l[l.find(event)? + event.len()..];
        rest.split_whitespace().find_map(|f| f.strip_prefix("key=")?.parse().ok())
    };
    let created: std::collections::HashSet<u64> =
        text.lines().filter_map(|l| id(l, "keyvault_key_create:")).collect();
    let destroyed: Vec<u64> = text.lines().filter_map(|l| id(l, "keyvault_key_destroy:")).collect();
    assert!(!destroyed.is_empty(), "no destroy events: the trace saw nothing");
    for k in destroyed {
        assert!(created.contains(&k), "a destroy event for key {k}, never created");
    }
}

/// This file's tests, in order.
pub fn tests() -> Vec<crate::support::harness::Test> {
    crate::tests![
        every_allocation_and_copy_failure_is_clean_and_leaves_nothing_behind,
    ]
}
