//! Attacks on README's promises that the module once failed (issue 12):
//! twins of derived keys with a wider policy, kernel nonces that repeat
//! across copies of a key, quotas escaped through another uid, failed
//! requests that consume a key's uses, DUP leaving an fd its caller never
//! learns of, and the ABI's order of checks.

use crate::support::*;
use keyvault::{Algorithm, Caps, ChildPolicy, HashAlg, Kdf, KeyId, KeyOptions, Vault};
use keyvault::uapi::*;
use nix::errno::Errno;
use std::collections::HashSet;

fn opts(usage: Caps, no_caller_nonce: bool, max_uses: u64) -> KeyOptions {
    KeyOptions {
        usage,
        no_caller_nonce,
        max_uses,
        ..Default::default()
    }
}

/// The parent of the issue's attack: an HMAC key whose children may only be
/// AES-256-GCM encryption keys of at most 10 uses, without caller nonces.
fn strict_parent(v: &Vault) -> KeyId {
    ok(v.generate_with(
        Algorithm::HmacSha256,
        &KeyOptions {
            usage: Caps::DERIVE,
            no_caller_nonce: true,
            children: ChildPolicy {
                algorithms: vec![Algorithm::Aes256Gcm],
                usage: Caps::ENCRYPT,
                max_uses: 10,
                max_bytes: 0,
            },
            ..Default::default()
        },
    ))
}

pub fn a_derive_handle_cannot_twin_a_derived_key_under_a_wider_policy() {
    let v = ok(Vault::open());
    let parent = strict_parent(&v);
    let kdf = Kdf::new(HashAlg::Sha256, b"session 1");
    // C: the key whose traffic the attacker wants.
    let c = ok(v.derive(parent, &kdf, Algorithm::Aes256Gcm, &opts(Caps::ENCRYPT, true, 5)));
    let (_, sealed) = ok(v.aead_encrypt(c, b"secret traffic", b"", None));
    // The attacker: ENCRYPT and DERIVE, no DECRYPT.
    let h = ok(v.dup(Caps::ENCRYPT | Caps::DERIVE | Caps::GETINFO, None));
    // A twin with caller nonces: it inherits NO_CALLER_NONCE, so encrypting
    // zeros under C's nonce (C's keystream) is refused.
    let twin = ok(h.derive(parent, &kdf, Algorithm::Aes256Gcm, &opts(Caps::ENCRYPT, false, 0)));
    let info = ok(h.info(twin));
    assert!(info.no_caller_nonce, "the twin lost NO_CALLER_NONCE");
    assert_eq!(info.max_uses, 10, "a twin asking for no limit gets the parent's cap");
    expect_errno(h.aead_encrypt(twin, &[0; 14], b"", Some(&sealed.nonce)), Errno::EPERM);
    // A twin as AES-CBC (a raw AES block oracle on C's key), as another AEAD,
    // with DECRYPT, or with more uses than the cap: EPERM, and no key made.
    let keys = ok(v.list()).len();
    for (alg, o, what) in [
        (Algorithm::Aes256Cbc, opts(Caps::empty(), true, 0), "AES-CBC"),
        (Algorithm::ChaCha20Poly1305, opts(Caps::empty(), true, 0), "ChaCha20"),
        (Algorithm::Aes256Gcm, opts(Caps::ENCRYPT | Caps::DECRYPT, true, 0), "with DECRYPT"),
        (Algorithm::Aes256Gcm, opts(Caps::ENCRYPT, true, 11), "11 uses"),
        (Algorithm::HmacSha256, opts(Caps::empty(), true, 0), "an HMAC (a grandparent)"),
    ] {
        let r = h.derive(parent, &kdf, alg, &o);
        assert_eq!(r.map_err(|e| Errno::from_raw(e.errno())), Err(Errno::EPERM), "twin {what}");
    }
    assert_eq!(ok(v.list()).len(), keys, "a refused derivation left a key");
    // The twin is still only what the parent allows: 10 uses.
    for _ in 0..10 {
        ok(h.aead_encrypt(twin, b"x", b"", None));
    }
    expect_errno(h.aead_encrypt(twin, b"x", b"", None), Errno::EDQUOT);
}

pub fn key_exchange_obeys_the_x25519_keys_child_policy() {
    let v = ok(Vault::open());
    let x = ok(v.generate_with(
        Algorithm::X25519,
        &KeyOptions {
            children: ChildPolicy {
                algorithms: vec![Algorithm::ChaCha20Poly1305],
                usage: Caps::ENCRYPT | Caps::DECRYPT,
                ..Default::default()
            },
            ..Default::default()
        },
    ));
    let peer = ok(v.public_key(ok(v.generate(Algorithm::X25519))));
    let kdf = Kdf::new(HashAlg::Sha256, b"handshake");
    ok(v.exchange(x, &peer, &kdf, Algorithm::ChaCha20Poly1305, &KeyOptions::default()));
    for alg in [Algorithm::Aes256Cbc, Algorithm::Aes256Gcm, Algorithm::HmacSha512] {
        let r = v.exchange(x, &peer, &kdf, alg, &KeyOptions::default());
        assert_eq!(r.map_err(|e| Errno::from_raw(e.errno())), Err(Errno::EPERM), "{alg}");
    }
}

pub fn getinfo_shows_the_child_policy_and_a_child_only_narrows_it() {
    let v = ok(Vault::open());
    let parent = ok(v.generate_with(
        Algorithm::HmacSha512,
        &KeyOptions {
            children: ChildPolicy {
                algorithms: vec![Algorithm::Aes256Gcm, Algorithm::HmacSha256],
                usage: Caps::ENCRYPT | Caps::DERIVE | Caps::MAC,
                max_uses: 100,
                max_bytes: 4096,
            },
            ..Default::default()
        },
    ));
    let got = ok(v.info(parent)).children;
    assert_eq!(got.algorithms, vec![Algorithm::Aes256Gcm, Algorithm::HmacSha256]);
    assert_eq!((got.usage, got.max_uses, got.max_bytes), (Caps::ENCRYPT | Caps::DERIVE | Caps::MAC, 100, 4096));
    let kdf = Kdf::new(HashAlg::Sha512, b"mid");
    let narrower = KeyOptions {
        children: ChildPolicy {
            algorithms: vec![Algorithm::Aes256Gcm, Algorithm::Aes128Cbc],
            max_uses: 1000,
            ..Default::default()
        },
        ..Default::default()
    };
    let mid = ok(v.derive(parent, &kdf, Algorithm::HmacSha256, &narrower));
    let got = ok(v.info(mid)).children;
    assert_eq!(got.algorithms, vec![Algorithm::Aes256Gcm], "narrowed to what both allow");
    assert_eq!((got.max_uses, got.max_bytes), (100, 4096), "caps only shrink");
    // Nothing in common: refused rather than read as "any".
    let disjoint = KeyOptions {
        children: ChildPolicy {
            algorithms: vec![Algorithm::Aes128Cbc],
            ..Default::default()
        },
        ..Default::default()
    };
    expect_errno(v.derive(parent, &kdf, Algorithm::HmacSha256, &disjoint), Errno::EPERM);
}

pub fn copies_of_one_key_get_independent_8_byte_nonce_prefixes() {
    let v = ok(Vault::open());
    let key = [7u8; 32];
    let mut prefixes = HashSet::new();
    let mut middles = HashSet::new();
    for i in 0..1000 {
        let id = ok(v.import(Algorithm::Aes256Gcm, &key, &KeyOptions::default()));
        let (_, first) = ok(v.aead_encrypt(id, b"m", b"", None));
        let (_, second) = ok(v.aead_encrypt(id, b"m", b"", None));
        assert_eq!(first.nonce[..8], second.nonce[..8], "copy {i}: the prefix changed");
        assert_eq!((&first.nonce[8..], &second.nonce[8..]), (&[0, 0, 0, 0][..], &[0, 0, 0, 1][..]));
        assert!(prefixes.insert(first.nonce[..8].to_vec()), "copy {i}: a prefix repeated");
        middles.insert(first.nonce[4..8].to_vec());
        ok(v.destroy(id));
    }
    // Bytes 4..8 are random too (a 4-byte prefix would leave them fixed).
    assert!(middles.len() > 900, "bytes 4..8 of the prefix took {} values", middles.len());
}

/// The debug kernels' hook (debugfs, only with fault injection's debugfs).
const NONCE_START: &str = "/sys/kernel/debug/keyvault/nonce_counter_start";

pub fn a_keys_kernel_nonces_end_with_eoverflow_after_2_to_the_32() {
    if std::fs::metadata(NONCE_START).is_err() {
        println!("    skipped: {NONCE_START} exists only on kernels built for testing (make test-debug)");
        return;
    }
    let v = ok(Vault::open());
    std::fs::write(NONCE_START, "4294967294").expect(NONCE_START);
    let id = v.generate(Algorithm::Aes256Gcm);
    std::fs::write(NONCE_START, "0").expect(NONCE_START);
    let id = ok(id);
    let (_, a) = ok(v.aead_encrypt(id, b"m", b"", None));
    let (_, b) = ok(v.aead_encrypt(id, b"m", b"", None));
    assert_eq!((&a.nonce[8..], &b.nonce[8..]), (&[0xff, 0xff, 0xff, 0xfe][..], &[0xff; 4][..]));
    expect_errno(v.aead_encrypt(id, b"m", b"", None), Errno::EOVERFLOW);
    assert_eq!(ok(v.info(id)).uses, 2, "the refused encryption counted a use");
    // Caller nonces still work: only the kernel's counter is spent.
    ok(v.aead_encrypt(id, b"m", b"", Some(&[9; 12])));
}

/// (keys, bytes) charged to `uid` (debugfs `user UID: keys N bytes N`).
fn charged(uid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(STATS).expect(STATS);
    let prefix = format!("user {uid}: keys ");
    text.lines()
        .find_map(|l| {
            let (k, b) = l.strip_prefix(&prefix)?.split_once(" bytes ")?;
            Some((k.parse().ok()?, b.parse().ok()?))
        })
        .unwrap_or((0, 0))
}

pub fn keys_are_charged_to_the_vaults_opener_whoever_makes_them() {
    const OPENER: u32 = 4301;
    const CALLER: u32 = 4302;
    let before = (charged(OPENER), charged(CALLER), charged(0));
    let v = open_as(OPENER);
    // Made by root, and by another uid holding the fd: both charge the opener.
    ok(v.generate(Algorithm::Aes256Gcm));
    as_euid(CALLER, || ok(v.generate(Algorithm::HmacSha512)));
    assert_eq!(charged(OPENER), (before.0 .0 + 2, before.0 .1 + 32 + 64));
    assert_eq!((charged(CALLER), charged(0)), (before.1, before.2), "the callers were charged");
    drop(v);
    assert_eq!(charged(OPENER), before.0, "closing the vault gave the charge back");
}

pub fn a_request_that_fails_gives_its_use_back_but_a_failed_verification_counts() {
    let v = ok(Vault::open());
    let id = ok(v.generate_with(Algorithm::Aes256Gcm, &opts(Caps::empty(), false, 2)));
    let input = data(64, 1);
    let ro = Mapping::new(4096);
    ro.read_only();
    let (mut nonce, mut tag) = ([0u8; 12], [0u8; 16]);
    // Unreadable input, unwritable output: EFAULT, no use, no byte.
    for (in_ptr, out_ptr) in [(8usize, 0usize), (0, ro.addr as usize)] {
        let mut out = vec![0u8; 64];
        let mut r = aead_req(id, &input, &mut out, b"", &mut nonce, &mut tag);
        r.flags = KV_AEAD_GEN_NONCE;
        if in_ptr != 0 {
            r.in_ptr = in_ptr as u64;
        }
        if out_ptr != 0 {
            r.out_ptr = out_ptr as u64;
        }
        expect_raw(ioctl(&v, KV_IOC_AEAD_ENCRYPT, &mut r), Errno::EFAULT);
        let info = ok(v.info(id));
        assert_eq!((info.uses, info.bytes), (0, 0), "a failed request was counted");
    }
    // The key's 2 uses are all there: a forged decryption spends one
    // (limits bound forgery attempts), a good encryption the other.
    expect_errno(v.aead_decrypt(id, &input, b"", &[0; 12], &[0; 16]), Errno::EBADMSG);
    ok(v.aead_encrypt(id, b"m", b"", None));
    expect_errno(v.aead_encrypt(id, b"m", b"", None), Errno::EDQUOT);
}

pub fn dup_leaves_no_fd_when_its_reply_cannot_be_written() {
    let v = ok(Vault::open());
    let map = Mapping::new(4096);
    let req = map.put(dup_req(KV_CAP_READONLY, &[]));
    map.read_only();
    let fds = open_fds();
    let vaults = std::fs::read_to_string(STATS).expect(STATS);
    for _ in 0..50 {
        // SAFETY: `req` points into the (read-only) mapping, alive here; the
        // kernel, not this process, is what tries to write it.
        expect_raw(ioctl(&v, KV_IOC_DUP, unsafe { &mut *req }), Errno::EFAULT);
    }
    assert_eq!(open_fds(), fds, "a failed DUP left an fd");
    assert_eq!(std::fs::read_to_string(STATS).expect(STATS).lines().next(), vaults.lines().next());
    // Racing the reply against mprotect: every DUP either reports its fd or
    // leaves none. Each request has its own slot (its fd must be 0 going in,
    // and the page may be read-only when the test would reset it).
    let map = Mapping::new(4096);
    let slots = map.len / std::mem::size_of::<KvDup>();
    let (addr, len) = (map.addr as usize, map.len);
    let before = open_fds();
    let mut dups = 0;
    for _round in 0..20 {
        // SAFETY: the test's own mapping.
        assert_eq!(unsafe { libc::mprotect(addr as *mut _, len, libc::PROT_READ | libc::PROT_WRITE) }, 0);
        let reqs = addr as *mut KvDup;
        for i in 0..slots {
            // SAFETY: slot i lies inside the writable mapping.
            unsafe {
                reqs.add(i).write(dup_req(KV_CAP_READONLY, &[]))
            };
        }
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flipper = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut prot = libc::PROT_READ;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    // SAFETY: the test's own mapping, alive until the thread ends.
                    unsafe { libc::mprotect(addr as *mut _, len, prot) };
                    prot ^= libc::PROT_WRITE;
                }
            })
        };
        let mut done = Vec::new();
        for i in 0..slots {
            // SAFETY: the struct is in the mapping; the kernel may fail to
            // write it back, which is the point.
            let r = unsafe { keyvault::raw::ioctl(std::os::fd::AsFd::as_fd(&v), KV_IOC_DUP, reqs.add(i)) };
            if r.is_ok() {
                done.push(i);
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        flipper.join().expect("mprotect thread");
        assert_eq!(open_fds(), before + done.len(), "a DUP installed an fd its caller never learned");
        dups += done.len();
        for i in done {
            // SAFETY: reading our own (readable) mapping; closing the fds
            // the kernel reported as new.
            unsafe { libc::close((*reqs.add(i)).fd) };
        }
    }
    assert!(dups > 0, "no DUP got through the race: the test proves nothing");
}

pub fn output_room_comes_before_the_use_limit_and_a_short_mac_before_the_key() {
    let v = ok(Vault::open());
    let id = ok(v.generate_with(Algorithm::Aes256Gcm, &opts(Caps::empty(), false, 1)));
    ok(v.aead_encrypt(id, b"m", b"", None));
    let input = data(32, 2);
    let (mut nonce, mut tag) = ([0u8; 12], [0u8; 16]);
    let mut out = vec![0u8; 8];
    let mut r = aead_req(id, &input, &mut out, b"", &mut nonce, &mut tag);
    r.flags = KV_AEAD_GEN_NONCE;
    expect_raw(ioctl(&v, KV_IOC_AEAD_ENCRYPT, &mut r), Errno::ENOSPC);
    assert_eq!(r.out_len, 32, "the needed length");
    let mut out = vec![0u8; 32];
    let mut r = aead_req(id, &input, &mut out, b"", &mut nonce, &mut tag);
    r.flags = KV_AEAD_GEN_NONCE;
    expect_raw(ioctl(&v, KV_IOC_AEAD_ENCRYPT, &mut r), Errno::EDQUOT);
    // A MAC shorter than 16 bytes is a bad request: EINVAL before the key is
    // even looked up (unknown, wrong type, revoked).
    let aes = ok(v.generate(Algorithm::Aes256Gcm));
    let hmac = ok(v.generate(Algorithm::HmacSha256));
    ok(v.revoke(hmac));
    let mut mac = [0u8; 8];
    for key in [KeyId(0xdead_beef), aes, hmac] {
        let mut r = mac_req(key, &input, &mut mac);
        expect_raw(ioctl(&v, KV_IOC_VERIFY_MAC, &mut r), Errno::EINVAL);
    }
}

pub fn an_all_zero_x25519_scalar_is_refused_on_import() {
    // RFC 7748 clamping would make it a valid scalar; the kernel's
    // curve25519 refuses it, and so does keyvault (EINVAL, documented).
    let v = ok(Vault::open());
    expect_errno(v.import(Algorithm::X25519, &[0; 32], &KeyOptions::default()), Errno::EINVAL);
    assert_eq!(ok(v.list()).len(), 0);
    ok(v.import(Algorithm::X25519, &[1; 32], &KeyOptions::default()));
}

/// The debug kernels' stack hook (see kmod/stats.rs).
const STACK_HOLDS: &str = "/sys/kernel/debug/keyvault/stack_holds";

/// Whether `needle` is in the dead part of this thread's kernel stack, where
/// the frames of its last ioctl lie: one write(2) on `hook` (an open of the
/// file would run deep first and overwrite them).
fn on_stack(hook: &std::fs::File, needle: &[u8]) -> bool {
    match std::os::unix::fs::FileExt::write_at(hook, needle, 0).map(|_| ()) {
        Ok(()) => false,
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => true,
        Err(e) => panic!("{STACK_HOLDS}: {e}"),
    }
}

/// Runs `op`, then asks whether each of `needles` is left on the stack;
/// returns the names of those that are.
fn left_behind(op: &dyn Fn(), needles: &[(&str, &[u8])]) -> Vec<String> {
    let hook = std::fs::OpenOptions::new().write(true).open(STACK_HOLDS).expect(STACK_HOLDS);
    let mut found = Vec::new();
    for (name, needle) in needles {
        for window in needle.chunks(16).filter(|w| w.len() == 16) {
            op();
            if on_stack(&hook, window) {
                found.push(name.to_string());
                break;
            }
        }
    }
    found
}

pub fn no_secret_is_left_on_the_kernel_stack_after_signing_encrypting_or_deriving() {
    use curve25519_dalek::scalar::Scalar;
    use hmac::Mac;
    use sha2::Digest;
    if std::fs::metadata(STACK_HOLDS).is_err() {
        println!("    skipped: {STACK_HOLDS} exists only on kernels built for testing (make test-debug)");
        return;
    }
    let v = ok(Vault::open());
    let pattern = |seed: u8, n: usize| -> Vec<u8> { (0..n).map(|i| (i as u8).wrapping_mul(151) ^ seed).collect() };
    // The control: ciphertext (public, so not wiped) is found where the
    // plaintext was, so the scan does see that ioctl's frames.
    let aes = ok(v.import(Algorithm::Aes256Gcm, &pattern(1, 32), &KeyOptions::default()));
    let plaintext = pattern(2, 200);
    let nonce = [3u8; 12];
    let (ct, _) = ok(v.aead_encrypt(aes, &plaintext, b"", Some(&nonce)));
    let control = left_behind(&|| drop(ok(v.aead_encrypt(aes, &plaintext, b"", Some(&nonce)))), &[("ciphertext", &ct)]);
    assert_eq!(control, ["ciphertext"], "the scan does not see the ioctl's frames: it proves nothing");

    // Encrypting: the plaintext (in a stack buffer below 256 bytes).
    let mut found = left_behind(&|| drop(ok(v.aead_encrypt(aes, &plaintext, b"", None))), &[("AEAD plaintext", &plaintext)]);
    // Signing: the seed, its expansion (scalar, prefix) and the nonce r,
    // which with the public signature gives the scalar.
    let seed = pattern(4, 32);
    let ed = ok(v.import(Algorithm::Ed25519, &seed, &KeyOptions::default()));
    let msg = pattern(5, 100);
    let h = sha2::Sha512::digest(&seed);
    let r_wide: [u8; 64] = sha2::Sha512::new().chain_update(&h[32..]).chain_update(&msg).finalize().into();
    let r = Scalar::from_bytes_mod_order_wide(&r_wide).to_bytes();
    found.extend(left_behind(
        &|| {
            ok(v.sign(ed, &msg));
        },
        &[
            ("Ed25519 seed", &seed),
            ("Ed25519 scalar", &h[..32]),
            ("Ed25519 prefix", &h[32..]),
            ("Ed25519 SHA-512(prefix || M)", &r_wide),
            ("Ed25519 nonce r", &r),
        ],
    ));
    // Deriving: the HKDF PRK and output.
    let ikm = pattern(6, 32);
    let hk = ok(v.import(Algorithm::HmacSha256, &ikm, &KeyOptions::default()));
    let (salt, info) = (pattern(7, 16), pattern(8, 16));
    let prk = hmac::Hmac::<sha2::Sha256>::new_from_slice(&salt).unwrap().chain_update(&ikm).finalize().into_bytes();
    let okm = hmac::Hmac::<sha2::Sha256>::new_from_slice(&prk).unwrap().chain_update(&info).chain_update([1]).finalize().into_bytes();
    let kdf = Kdf::new(HashAlg::Sha256, &info).with_salt(&salt);
    found.extend(left_behind(
        &|| {
            let k = ok(v.derive(hk, &kdf, Algorithm::Aes256Gcm, &KeyOptions::default()));
            ok(v.destroy(k));
        },
        &[("HKDF PRK", &prk), ("HKDF output", &okm)],
    ));
    // Wrapping and unwrapping: the wrapped key (AES-GCM and RFC 5649 run
    // on it in heap buffers; the AES library's block state must not stay).
    let material = pattern(9, 64);
    let wk = crate::support::wrapping_key(&v);
    let key = import_with(&v, KV_ALG_HMAC_SHA512, &material, WRAPPABLE).expect("IMPORT");
    found.extend(left_behind(
        &|| {
            for format in [KV_WRAP_NATIVE, KV_WRAP_RFC5649] {
                let blob = crate::support::wrap(&v, wk, key, format).expect("WRAP");
                let u = if format == KV_WRAP_NATIVE {
                    crate::support::unwrap(&v, wk, &blob)
                } else {
                    unwrap_rfc5649(&v, wk, &blob, KV_ALG_HMAC_SHA512, KvPolicy::default())
                };
                ok(v.destroy(u.expect("UNWRAP")));
            }
        },
        &[("wrapped key", &material)],
    ));
    assert!(found.is_empty(), "left on the kernel stack: {found:?}");
}

/// What the order walk asks of one request.
#[derive(Clone, Copy, PartialEq)]
enum Ask {
    /// A malformed request (a reserved word set): EINVAL before the key.
    Malformed,
    /// A well-formed request with room for its output.
    Good,
    /// Well formed, with too little room for the output.
    NoRoom,
}

/// One key ioctl of the walk, made with `key` as `ask` says.
fn issue(v: &Vault, cmd: u32, key: u64, ask: Ask) -> Result<i32, Errno> {
    let data = [7u8; 32];
    let mut out = [0u8; 64];
    let room = if ask == Ask::NoRoom { 1 } else { 64 };
    let bad = u64::from(ask == Ask::Malformed);
    let (mut nonce, mut tag, mut iv) = ([0u8; 12], [0u8; 16], [0u8; 16]);
    let peer = [9u8; 32];
    let kdf = crate::support::Kdf::new(KV_HASH_SHA256, KV_ALG_AES256_GCM);
    match cmd {
        KV_IOC_AEAD_ENCRYPT | KV_IOC_AEAD_DECRYPT => {
            let mut r = aead_req(KeyId(key), &data, &mut out, b"", &mut nonce, &mut tag);
            (r.out_len, r.reserved) = (room, [bad, 0]);
            ioctl(v, cmd, &mut r)
        }
        KV_IOC_CBC_ENCRYPT | KV_IOC_CBC_DECRYPT => {
            let mut r = cbc_req(KeyId(key), &data, &mut out, &mut iv, KV_CBC_NO_PADDING);
            (r.out_len, r.reserved) = (room, [bad, 0]);
            ioctl(v, cmd, &mut r)
        }
        KV_IOC_MAC | KV_IOC_VERIFY_MAC => {
            let mut r = mac_req(KeyId(key), &data, &mut out);
            r.mac_len = if cmd == KV_IOC_MAC { room } else { 32 };
            r.reserved = [bad, 0];
            ioctl(v, cmd, &mut r)
        }
        KV_IOC_SIGN => {
            let mut r = sign_req(KeyId(key), &data, &mut out, room as usize);
            r.reserved = [bad, 0];
            ioctl(v, cmd, &mut r)
        }
        KV_IOC_VERIFY => {
            let mut r = verify_req(KeyId(key), None, &data, &out);
            r.reserved = [bad, 0];
            ioctl(v, cmd, &mut r)
        }
        KV_IOC_GET_PUBKEY => {
            let mut r = pubkey_req(KeyId(key), &mut out, room as usize);
            r.reserved = [bad, 0];
            ioctl(v, cmd, &mut r)
        }
        KV_IOC_DERIVE => {
            let mut r = derive_req(KeyId(key), &kdf);
            r.kdf.reserved0 = bad as u32;
            ioctl(v, cmd, &mut r)
        }
        KV_IOC_KEYEXCHANGE => {
            let mut r = exchange_req(KeyId(key), &peer, &kdf);
            r.kdf.reserved0 = bad as u32;
            ioctl(v, cmd, &mut r)
        }
        KV_IOC_GETINFO => {
            let mut r = KvKeyinfo {
                key_id: key,
                reserved: [bad, 0],
                ..Default::default()
            };
            ioctl(v, cmd, &mut r)
        }
        KV_IOC_DESTROY | KV_IOC_REVOKE => {
            let mut r = KvKeyref { key_id: key, reserved: bad };
            ioctl(v, cmd, &mut r)
        }
        _ => unreachable!("not a key ioctl"),
    }
}

/// Every ioctl that names a key walks README's order: request errors
/// (EINVAL) before the key's existence (ENOENT), its type (EOPNOTSUPP), its
/// state (EKEYREVOKED), its usage (EPERM), then the output room (ENOSPC),
/// then its limits (EDQUOT). Each step's request is wrong in that way and
/// in every later one at once.
pub fn every_key_ioctl_checks_in_the_documented_order() {
    let v = ok(Vault::open());
    let gen = |alg: Algorithm, usage: Caps, max_uses: u64| ok(v.generate_with(alg, &opts(usage, false, max_uses)));
    let unknown = 0xdead_beef_u64;
    // (ioctl, its algorithm, a usage without it, the type-wrong algorithm,
    //  whether it has an output room / a use limit to check)
    let cases: [(u32, Algorithm, Caps, Algorithm, bool, bool); 14] = [
        (KV_IOC_AEAD_ENCRYPT, Algorithm::Aes256Gcm, Caps::DECRYPT, Algorithm::HmacSha256, true, true),
        (KV_IOC_AEAD_DECRYPT, Algorithm::Aes256Gcm, Caps::ENCRYPT, Algorithm::HmacSha256, true, true),
        (KV_IOC_CBC_ENCRYPT, Algorithm::Aes256Cbc, Caps::DECRYPT, Algorithm::Aes256Gcm, true, true),
        (KV_IOC_CBC_DECRYPT, Algorithm::Aes256Cbc, Caps::ENCRYPT, Algorithm::Aes256Gcm, true, true),
        (KV_IOC_MAC, Algorithm::HmacSha256, Caps::DERIVE, Algorithm::Aes256Gcm, true, true),
        (KV_IOC_VERIFY_MAC, Algorithm::HmacSha256, Caps::DERIVE, Algorithm::Aes256Gcm, false, true),
        (KV_IOC_SIGN, Algorithm::Ed25519, Caps::VERIFY, Algorithm::X25519, true, true),
        (KV_IOC_VERIFY, Algorithm::Ed25519, Caps::SIGN, Algorithm::X25519, false, true),
        (KV_IOC_DERIVE, Algorithm::HmacSha256, Caps::MAC, Algorithm::Aes256Gcm, false, true),
        // X25519 keys can do nothing but EXCHANGE: no usage without it.
        (KV_IOC_KEYEXCHANGE, Algorithm::X25519, Caps::empty(), Algorithm::Ed25519, false, true),
        (KV_IOC_GET_PUBKEY, Algorithm::Ed25519, Caps::empty(), Algorithm::Aes256Gcm, true, false),
        (KV_IOC_GETINFO, Algorithm::Aes256Gcm, Caps::empty(), Algorithm::Aes256Gcm, false, false),
        (KV_IOC_REVOKE, Algorithm::Aes256Gcm, Caps::empty(), Algorithm::Aes256Gcm, false, false),
        (KV_IOC_DESTROY, Algorithm::Aes256Gcm, Caps::empty(), Algorithm::Aes256Gcm, false, false),
    ];
    for (cmd, alg, other_usage, wrong_alg, has_room, has_limit) in cases {
        let what = format!("ioctl {:#x} ({alg})", cmd & 0xff);
        let check = |r: Result<i32, Errno>, want: Errno, step: &str| {
            assert_eq!(r, Err(want), "{what}, {step}");
        };
        let typed = cmd != KV_IOC_GETINFO && cmd != KV_IOC_REVOKE && cmd != KV_IOC_DESTROY;
        check(issue(&v, cmd, unknown, Ask::Malformed), Errno::EINVAL, "malformed, unknown key");
        check(issue(&v, cmd, unknown, Ask::NoRoom), Errno::ENOENT, "unknown key");
        if !typed {
            continue;
        }
        let wrong = gen(wrong_alg, Caps::empty(), 0);
        ok(v.revoke(wrong));
        check(issue(&v, cmd, wrong.0, Ask::NoRoom), Errno::EOPNOTSUPP, "revoked key of the wrong type");
        // GET_PUBKEY answers for revoked keys (public information).
        if cmd != KV_IOC_GET_PUBKEY {
            let revoked = gen(alg, other_usage, 1);
            ok(v.revoke(revoked));
            check(issue(&v, cmd, revoked.0, Ask::NoRoom), Errno::EKEYREVOKED, "revoked key without the usage");
            if !other_usage.is_empty() {
                let without = gen(alg, other_usage, 1);
                check(issue(&v, cmd, without.0, Ask::NoRoom), Errno::EPERM, "key without the usage");
            }
        }
        if has_limit {
            let spent = gen(alg, Caps::empty(), 1);
            // Its one use: by this very ioctl, or by a failed verification
            // (a zero MAC, signature or tag), which counts too.
            let r = issue(&v, cmd, spent.0, Ask::Good);
            assert!(matches!(r, Ok(_) | Err(Errno::EBADMSG)), "{what}: the good request gave {r:?}");
            assert_eq!(ok(v.info(spent)).uses, 1, "{what}: the good request was not counted");
            if has_room {
                check(issue(&v, cmd, spent.0, Ask::NoRoom), Errno::ENOSPC, "spent key, no room");
            }
            check(issue(&v, cmd, spent.0, Ask::Good), Errno::EDQUOT, "spent key");
        }
    }
}

/// This file's tests, in order.
pub fn tests() -> Vec<crate::support::harness::Test> {
    crate::tests![
        a_derive_handle_cannot_twin_a_derived_key_under_a_wider_policy,
        key_exchange_obeys_the_x25519_keys_child_policy,
        getinfo_shows_the_child_policy_and_a_child_only_narrows_it,
        copies_of_one_key_get_independent_8_byte_nonce_prefixes,
        a_keys_kernel_nonces_end_with_eoverflow_after_2_to_the_32,
        keys_are_charged_to_the_vaults_opener_whoever_makes_them,
        a_request_that_fails_gives_its_use_back_but_a_failed_verification_counts,
        dup_leaves_no_fd_when_its_reply_cannot_be_written,
        output_room_comes_before_the_use_limit_and_a_short_mac_before_the_key,
        an_all_zero_x25519_scalar_is_refused_on_import,
        no_secret_is_left_on_the_kernel_stack_after_signing_encrypting_or_deriving,
        every_key_ioctl_checks_in_the_documented_order,
    ]
}
