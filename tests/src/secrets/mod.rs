//! Key material never leaves the kernel: after every operation and
//! lifecycle path on keys of known bytes, no ioctl output (output buffers and
//! the request structs written back), no keyvault trace event (text and raw
//! ring-buffer pages) and no kernel log line contains any 8 contiguous bytes
//! of a key, of a key's internal forms (the Ed25519 expanded key, clamped
//! X25519 scalars, HMAC pads), of an X25519 shared secret or of an HKDF
//! output (both computed on the host, and proven right by using the derived
//! keys against host crypto), raw or rendered as hex or base64.

mod needles;
mod record;
pub use needles::*;
pub use record::*;

use crate::support::*;
use curve25519_dalek::montgomery::MontgomeryPoint;
use hmac::Mac;
use keyvault::uapi::*;
use keyvault::{KeyId, Vault};
use nix::errno::Errno;
use sha2::Digest;
use std::process::Command;
use std::time::Duration;

/// What output buffers hold before the kernel writes them.
const FILL: u8 = 0xee;

/// `n` distinctive bytes (a fixed xorshift stream per label).
fn secret(label: u64, n: usize) -> Vec<u8> {
    let mut x = 0x2545_f491_4f6c_dd1d ^ label.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn arr<const N: usize>(b: &[u8]) -> [u8; N] {
    b.try_into().unwrap()
}

/// HKDF parameters for a new key of `alg`.
fn kdf<'a>(hash: u32, alg: u32, salt: &'a [u8], info: &'a [u8]) -> Kdf<'a> {
    Kdf {
        salt,
        info,
        ..Kdf::new(hash, alg)
    }
}

pub fn no_ioctl_output_trace_event_or_kernel_log_ever_contains_key_material_or_derived_secrets() {
    // Known, distinctive key bytes for every algorithm.
    let k_gcm128 = secret(1, 16);
    let k_gcm256 = secret(2, 32);
    let k_chacha = secret(3, 32);
    let k_cbc128 = secret(4, 16);
    let k_cbc256 = secret(5, 32);
    let k_hmac256 = secret(6, 64);
    let k_hmac512 = secret(7, 128);
    let ed_seed = secret(8, 32);
    let x_a = secret(9, 32);
    let x_b = secret(10, 32);
    let k_short = secret(11, 32); // a short-lived ChaCha key
    let k_once = secret(12, 32); // an AES-256-GCM key with a use limit
    let k_wrap = secret(13, 32); // a wrapping key
    let k_wrappable = secret(14, 32); // a key that leaves only wrapped
    let k_logon = secret(15, 32); // a keyring key
    let salt = b"keyvault secrets salt";
    let info = b"keyvault secrets info";
    let msg: Vec<u8> = (0..100u8).map(|i| i.wrapping_mul(7)).collect();
    let aad = b"associated data";

    let t = Trace::start();
    let mut rec = Rec::default();
    let v = ok(Vault::open());
    let mut caps = KvCaps::default();
    rec.call(&v, KV_IOC_GETCAPS, &mut caps).expect("getcaps");
    let none = KvPolicy::default();

    // IMPORT, and its failing variants.
    let gcm128 = rec.import(&v, KV_ALG_AES128_GCM, &k_gcm128, 0, none);
    let gcm256 = rec.import(&v, KV_ALG_AES256_GCM, &k_gcm256, 0, none);
    let chacha = rec.import(&v, KV_ALG_CHACHA20_POLY1305, &k_chacha, 0, none);
    let cbc128 = rec.import(&v, KV_ALG_AES128_CBC, &k_cbc128, 0, none);
    let cbc256 = rec.import(&v, KV_ALG_AES256_CBC, &k_cbc256, 0, none);
    let hmac256 = rec.import(&v, KV_ALG_HMAC_SHA256, &k_hmac256, 0, none);
    let hmac512 = rec.import(&v, KV_ALG_HMAC_SHA512, &k_hmac512, 0, none);
    let ed = rec.import(&v, KV_ALG_ED25519, &ed_seed, 0, none);
    let xa = rec.import(&v, KV_ALG_X25519, &x_a, 0, none);
    let xb = rec.import(&v, KV_ALG_X25519, &x_b, 0, none);
    let short = rec.import(&v, KV_ALG_CHACHA20_POLY1305, &k_short, 30, none);
    let once = rec.import(
        &v,
        KV_ALG_AES256_GCM,
        &k_once,
        0,
        KvPolicy {
            flags: KV_POLICY_NO_CALLER_NONCE,
            max_uses: 1,
            ..Default::default()
        },
    );
    let mut bad = KvImport {
        key_len: 17,
        ..import_req(KV_ALG_AES128_GCM, &k_gcm256)
    };
    assert_eq!(rec.call(&v, KV_IOC_IMPORT, &mut bad), Err(Errno::EINVAL));
    let s = Straddle::new();
    let cut = s.fill(&k_gcm256, 1);
    let mut bad = KvImport {
        key_ptr: cut as u64,
        ..import_req(KV_ALG_AES256_GCM, &k_gcm256)
    };
    assert_eq!(rec.call(&v, KV_IOC_IMPORT, &mut bad), Err(Errno::EFAULT));
    // A request that cannot be written back: the key is made, then destroyed.
    let m = Mapping::new(4096);
    let p = m.put(import_req(KV_ALG_AES256_GCM, &k_gcm256));
    m.read_only();
    assert_eq!(
        crate::support::ioctl_addr(&v, KV_IOC_IMPORT, p as usize),
        Err(Errno::EFAULT)
    );
    // SAFETY: the mapping is readable and holds the KvImport just placed.
    rec.keep(&bytes_of(unsafe { &*p }));

    for id in rec.list(&v) {
        rec.info(&v, id).expect("getinfo");
    }

    // AEAD: caller and kernel nonces, decrypt, tampering, too small, in place.
    for key in [gcm128, gcm256, chacha] {
        let (mut nonce, mut tag) = ([7u8; 12], [FILL; 16]);
        let (r, ct) = rec.aead(
            &v,
            KV_IOC_AEAD_ENCRYPT,
            key,
            &msg,
            aad,
            &mut nonce,
            &mut tag,
            0,
        );
        r.expect("encrypt");
        let (r, pt) = rec.aead(
            &v,
            KV_IOC_AEAD_DECRYPT,
            key,
            &ct,
            aad,
            &mut nonce,
            &mut tag,
            0,
        );
        r.expect("decrypt");
        assert_eq!(pt, msg);
        let (n2, ct2, mut t2) = rec.seal(&v, key, &msg, b"");
        let mut n2 = n2;
        t2[0] ^= 1;
        let (r, _) = rec.aead(&v, KV_IOC_AEAD_DECRYPT, key, &ct2, b"", &mut n2, &mut t2, 0);
        assert_eq!(r, Err(Errno::EBADMSG));
        let mut small = KvAead {
            key_id: key,
            in_len: 32,
            out_len: 8,
            ..Default::default()
        };
        assert_eq!(
            rec.call(&v, KV_IOC_AEAD_ENCRYPT, &mut small),
            Err(Errno::ENOSPC)
        );
        let mut buf = msg.clone();
        let (mut n3, mut t3) = ([FILL; 12], [FILL; 16]);
        let mut r = KvAead {
            flags: KV_AEAD_GEN_NONCE,
            ..aead_in_place_req(KeyId(key), &mut buf, &mut n3, &mut t3)
        };
        rec.call(&v, KV_IOC_AEAD_ENCRYPT, &mut r).expect("in place");
        rec.keep(&buf);
        rec.keep(&n3);
        rec.keep(&t3);
    }
    // A key with a one-use, kernel-nonce-only policy: EPERM, one use, EDQUOT.
    let (mut n, mut tg) = ([1u8; 12], [FILL; 16]);
    let (r, _) = rec.aead(&v, KV_IOC_AEAD_ENCRYPT, once, &msg, b"", &mut n, &mut tg, 0);
    assert_eq!(r, Err(Errno::EPERM));
    rec.seal(&v, once, &msg, b"");
    let (r, _) = rec.aead(
        &v,
        KV_IOC_AEAD_ENCRYPT,
        once,
        &msg,
        b"",
        &mut n,
        &mut tg,
        KV_AEAD_GEN_NONCE,
    );
    assert_eq!(r, Err(Errno::EDQUOT));

    // AES-CBC: padded and whole blocks, kernel IV, bad padding, too small.
    for key in [cbc128, cbc256] {
        let mut iv = [3u8; 16];
        let (r, ct) = rec.cbc(&v, KV_IOC_CBC_ENCRYPT, key, &msg, &mut iv, 0, 112);
        r.expect("cbc encrypt");
        let (r, pt) = rec.cbc(&v, KV_IOC_CBC_DECRYPT, key, &ct, &mut iv, 0, 112);
        r.expect("cbc decrypt");
        assert_eq!(pt, msg);
        let mut iv2 = [FILL; 16];
        let (r, ct) = rec.cbc(
            &v,
            KV_IOC_CBC_ENCRYPT,
            key,
            &msg[..96],
            &mut iv2,
            KV_CBC_GEN_IV | KV_CBC_NO_PADDING,
            96,
        );
        r.expect("cbc whole blocks");
        let (r, _) = rec.cbc(
            &v,
            KV_IOC_CBC_DECRYPT,
            key,
            &ct,
            &mut iv2,
            KV_CBC_NO_PADDING,
            96,
        );
        r.expect("cbc decrypt whole blocks");
        // Whole-block plaintext decrypted as padded: almost surely bad padding.
        let mut iv3 = [9u8; 16];
        let (r, _) = rec.cbc(&v, KV_IOC_CBC_DECRYPT, key, &[0x42; 32], &mut iv3, 0, 32);
        assert!(matches!(r, Err(Errno::EBADMSG) | Ok(())));
        let (r, _) = rec.cbc(&v, KV_IOC_CBC_ENCRYPT, key, &msg, &mut iv, 0, 16);
        assert_eq!(r, Err(Errno::ENOSPC));
    }

    // HMAC: MAC, full and truncated verification, a wrong MAC, too small.
    for key in [hmac256, hmac512] {
        let (r, mac) = rec.mac(&v, key, &msg, 64);
        r.expect("mac");
        rec.verify_mac(&v, key, &msg, &mac).expect("verify mac");
        rec.verify_mac(&v, key, &msg, &mac[..16])
            .expect("verify truncated mac");
        let mut wrong = mac.clone();
        wrong[5] ^= 0x20;
        assert_eq!(rec.verify_mac(&v, key, &msg, &wrong), Err(Errno::EBADMSG));
        assert_eq!(rec.mac(&v, key, &msg, 8).0, Err(Errno::ENOSPC));
    }
    let (_, mac256) = rec.mac(&v, hmac256, &msg, 64);
    let mut want = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&k_hmac256).unwrap();
    want.update(&msg);
    assert_eq!(
        mac256,
        want.finalize().into_bytes().to_vec(),
        "the imported HMAC key is the one we know"
    );

    // HASH (no key).
    let mut digest = [FILL; 64];
    let mut h = hash_req(KV_HASH_SHA512, &msg, &mut digest);
    rec.call(&v, KV_IOC_HASH, &mut h).expect("hash");
    rec.keep(&digest);

    // Ed25519: sign, verify by id and by public key, a bad signature, too small.
    let (r, sig) = rec.sign(&v, ed, &msg, 64);
    r.expect("sign");
    rec.verify(&v, ed, None, &msg, &sig).expect("verify by id");
    let (r, ed_pub) = rec.pubkey(&v, ed, 32);
    r.expect("ed25519 public key");
    let host_ed = ed25519_dalek::SigningKey::from_bytes(&arr(&ed_seed));
    assert_eq!(
        ed_pub,
        host_ed.verifying_key().to_bytes(),
        "the imported seed is the one we know"
    );
    rec.verify(&v, 0, Some(&ed_pub), &msg, &sig)
        .expect("verify by public key");
    let mut forged = sig;
    forged[40] ^= 4;
    assert_eq!(rec.verify(&v, ed, None, &msg, &forged), Err(Errno::EBADMSG));
    assert_eq!(rec.sign(&v, ed, &msg, 63).0, Err(Errno::ENOSPC));
    assert_eq!(rec.pubkey(&v, ed, 31).0, Err(Errno::ENOSPC));
    assert_eq!(rec.sign(&v, hmac256, &msg, 64).0, Err(Errno::EOPNOTSUPP));

    // X25519: public keys, exchanges both ways into AES-256-GCM (HKDF-SHA256)
    // and HMAC-SHA512 (HKDF-SHA512) keys, a low-order peer.
    let (r, a_pub) = rec.pubkey(&v, xa, 32);
    r.expect("x25519 public key a");
    let (r, b_pub) = rec.pubkey(&v, xb, 32);
    r.expect("x25519 public key b");
    assert_eq!(
        a_pub,
        MontgomeryPoint::mul_base_clamped(arr(&x_a)).to_bytes()
    );
    assert_eq!(
        b_pub,
        MontgomeryPoint::mul_base_clamped(arr(&x_b)).to_bytes()
    );
    let shared = MontgomeryPoint(b_pub).mul_clamped(arr(&x_a)).to_bytes();
    assert_eq!(
        shared,
        MontgomeryPoint(a_pub).mul_clamped(arr(&x_b)).to_bytes()
    );
    let exchange = |rec: &mut Rec, key: u64, peer: &[u8; 32], k: Kdf| -> Result<u64, Errno> {
        let mut r = exchange_req(KeyId(key), peer, &k);
        rec.call(&v, KV_IOC_KEYEXCHANGE, &mut r)
            .map(|()| r.new_key_id)
    };
    let ex_aes = kdf(KV_HASH_SHA256, KV_ALG_AES256_GCM, salt, info);
    let ka = exchange(&mut rec, xa, &b_pub, ex_aes).expect("exchange a");
    let kb = exchange(&mut rec, xb, &a_pub, ex_aes).expect("exchange b");
    let okm_ex = host_hkdf(KV_HASH_SHA256, salt, &shared, info, 32);
    let (n, ct, tg) = rec.seal(&v, ka, &msg, aad);
    assert_eq!(
        host_open(&okm_ex, &n, &ct, &tg, aad),
        Some(msg.clone()),
        "the exchanged key is HKDF(shared)"
    );
    let (mut n, mut tg) = (n, tg);
    let (r, pt) = rec.aead(&v, KV_IOC_AEAD_DECRYPT, kb, &ct, aad, &mut n, &mut tg, 0);
    r.expect("the other side opens it");
    assert_eq!(pt, msg);
    let ex_mac = kdf(KV_HASH_SHA512, KV_ALG_HMAC_SHA512, b"", info);
    let km = exchange(&mut rec, xa, &b_pub, ex_mac).expect("exchange into hmac");
    let okm_ex_mac = host_hkdf(KV_HASH_SHA512, b"", &shared, info, 64);
    let (r, mac) = rec.mac(&v, km, &msg, 64);
    r.expect("mac with the exchanged key");
    assert_eq!(mac, host_hmac512(&okm_ex_mac, &msg));
    assert_eq!(
        exchange(&mut rec, xa, &[0; 32], ex_aes),
        Err(Errno::EINVAL),
        "low-order peer"
    );
    assert_eq!(
        exchange(&mut rec, ed, &b_pub, ex_aes),
        Err(Errno::EOPNOTSUPP)
    );

    // DERIVE: HMAC-SHA256 -> AES-256-GCM, HMAC-SHA512 -> HMAC-SHA512 ->
    // ChaCha20-Poly1305 (a chain), each checked against host HKDF.
    let derive = |rec: &mut Rec, key: u64, k: Kdf| -> Result<u64, Errno> {
        let mut r = derive_req(KeyId(key), &k);
        rec.call(&v, KV_IOC_DERIVE, &mut r).map(|()| r.new_key_id)
    };
    let d1 = derive(
        &mut rec,
        hmac256,
        kdf(KV_HASH_SHA256, KV_ALG_AES256_GCM, salt, info),
    )
    .expect("derive");
    let okm_d1 = host_hkdf(KV_HASH_SHA256, salt, &k_hmac256, info, 32);
    let (n, ct, tg) = rec.seal(&v, d1, &msg, aad);
    assert_eq!(
        host_open(&okm_d1, &n, &ct, &tg, aad),
        Some(msg.clone()),
        "derived key is HKDF-SHA256"
    );
    let d2 = derive(
        &mut rec,
        hmac512,
        kdf(KV_HASH_SHA512, KV_ALG_HMAC_SHA512, salt, b""),
    )
    .expect("derive hmac");
    let okm_d2 = host_hkdf(KV_HASH_SHA512, salt, &k_hmac512, b"", 64);
    let (r, mac) = rec.mac(&v, d2, &msg, 64);
    r.expect("mac with the derived key");
    assert_eq!(
        mac,
        host_hmac512(&okm_d2, &msg),
        "derived key is HKDF-SHA512"
    );
    let d3 = derive(
        &mut rec,
        d2,
        kdf(KV_HASH_SHA256, KV_ALG_CHACHA20_POLY1305, b"", info),
    )
    .expect("derive chain");
    let okm_d3 = host_hkdf(KV_HASH_SHA256, b"", &okm_d2, info, 32);
    let (n, ct, tg) = rec.seal(&v, d3, &msg, b"");
    assert_eq!(
        host_open_chacha(&okm_d3, &n, &ct, &tg),
        Some(msg.clone()),
        "second generation"
    );
    assert_eq!(
        derive(
            &mut rec,
            gcm256,
            kdf(KV_HASH_SHA256, KV_ALG_AES256_GCM, salt, info)
        ),
        Err(Errno::EOPNOTSUPP)
    );

    // DUP: a handle limited to one key and to encryption; close it.
    {
        let ids = [gcm256];
        let mut r = dup_req(KV_CAP_ENCRYPT | KV_CAP_GETINFO, &ids);
        rec.call(&v, KV_IOC_DUP, &mut r).expect("dup");
        // SAFETY: DUP just installed this fd for us.
        let d = Vault::from_fd(unsafe { std::os::fd::FromRawFd::from_raw_fd(r.fd) });
        rec.seal(&d, gcm256, &msg, b"");
        assert_eq!(rec.info(&d, hmac256).map(drop), Err(Errno::ENOENT));
        assert_eq!(rec.mac(&d, hmac256, &msg, 64).0, Err(Errno::EPERM));
        assert_eq!(rec.keyref(&d, KV_IOC_DESTROY, gcm256), Err(Errno::EPERM));
        drop(d);
    }

    // Expiry, revocation (of a parent: its derived key goes too), destruction.
    std::thread::sleep(Duration::from_millis(80));
    assert_eq!(rec.info(&v, short).expect("info").state, KV_STATE_EXPIRED);
    let (mut n, mut tg) = ([2u8; 12], [FILL; 16]);
    let (r, _) = rec.aead(
        &v,
        KV_IOC_AEAD_ENCRYPT,
        short,
        &msg,
        b"",
        &mut n,
        &mut tg,
        0,
    );
    assert_eq!(r, Err(Errno::EKEYEXPIRED));
    rec.keyref(&v, KV_IOC_REVOKE, hmac512).expect("revoke");
    assert_eq!(rec.mac(&v, hmac512, &msg, 64).0, Err(Errno::EKEYREVOKED));
    assert_eq!(rec.mac(&v, d2, &msg, 64).0, Err(Errno::EKEYREVOKED));
    let (r, _) = rec.aead(
        &v,
        KV_IOC_AEAD_ENCRYPT,
        d3,
        &msg,
        b"",
        &mut n,
        &mut tg,
        KV_AEAD_GEN_NONCE,
    );
    assert_eq!(r, Err(Errno::EKEYREVOKED));
    for key in [gcm128, cbc128, xb, d1] {
        rec.keyref(&v, KV_IOC_DESTROY, key).expect("destroy");
        assert_eq!(rec.keyref(&v, KV_IOC_DESTROY, key), Err(Errno::ENOENT));
        assert_eq!(rec.info(&v, key).map(drop), Err(Errno::ENOENT));
    }
    // WRAP and UNWRAP (both formats, and a forged blob), IMPORT_KEYRING:
    // blobs and written-back requests hold no key byte.
    let wrapping = rec.import(&v, KV_ALG_AES256_GCM, &k_wrap, 0, KvPolicy { usage: KV_USAGE_WRAPPING, ..none });
    let wrappable = rec.import(&v, KV_ALG_HMAC_SHA256, &k_wrappable, 0, KvPolicy { flags: KV_POLICY_WRAPPABLE, ..none });
    for format in [KV_WRAP_NATIVE, KV_WRAP_RFC5649] {
        let mut blob = vec![FILL; 256];
        let mut r = wrap_req(KeyId(wrapping), KeyId(wrappable), &mut blob, format);
        rec.call(&v, KV_IOC_WRAP, &mut r).expect("wrap");
        rec.keep(&blob);
        blob.truncate(r.blob_len as usize);
        let mut u = KvUnwrap {
            format,
            algorithm: if format == KV_WRAP_NATIVE { 0 } else { KV_ALG_HMAC_SHA256 },
            ..unwrap_req(KeyId(wrapping), &blob)
        };
        rec.call(&v, KV_IOC_UNWRAP, &mut u).expect("unwrap");
        rec.mac(&v, u.new_key_id, &msg, 64).0.expect("mac with the unwrapped key");
        let last = blob.len() - 1;
        blob[last] ^= 1;
        let mut u = KvUnwrap { new_key_id: 0, ..u };
        assert_eq!(rec.call(&v, KV_IOC_UNWRAP, &mut u), Err(Errno::EBADMSG));
    }
    let serial = add_key("logon", "kv:secrets", &k_logon, PROCESS_KEYRING).expect("add_key");
    let mut r = keyring_req(KV_ALG_HMAC_SHA256, serial);
    rec.call(&v, KV_IOC_IMPORT_KEYRING, &mut r).expect("import keyring");
    rec.mac(&v, r.key_id, &msg, 64).0.expect("mac with the keyring key");

    let mut limits = KvLimits::default();
    rec.call(&v, KV_IOC_LIMITS, &mut limits).expect("limits");
    for id in rec.list(&v) {
        rec.info(&v, id).expect("getinfo");
    }
    let calls = rec.calls;
    // The last close wipes the rest.
    drop(v);

    let text = t.text();
    assert!(
        text.contains(&format!(
            "keyvault_key_create: key={gcm256} alg=2 bits=256 how=import"
        )) && text.contains(&format!("keyvault_key_destroy: key={gcm256}")),
        "the trace missed this test's events"
    );
    let raw = t.raw_pages();
    drop(t);
    let dmesg = Command::new("dmesg").output().expect("dmesg").stdout;
    assert!(!dmesg.is_empty(), "dmesg printed nothing");

    // What must never show: the keys and their internal forms...
    let mut needles = Needles::default();
    for (name, s) in [
        ("AES-128-GCM key", &k_gcm128),
        ("AES-256-GCM key", &k_gcm256),
        ("ChaCha20 key", &k_chacha),
        ("AES-128-CBC key", &k_cbc128),
        ("AES-256-CBC key", &k_cbc256),
        ("HMAC-SHA256 key", &k_hmac256),
        ("HMAC-SHA512 key", &k_hmac512),
        ("Ed25519 seed", &ed_seed),
        ("X25519 scalar a", &x_a),
        ("X25519 scalar b", &x_b),
        ("short-lived key", &k_short),
        ("one-use key", &k_once),
        ("wrapping key", &k_wrap),
        ("wrappable key", &k_wrappable),
        ("logon keyring key", &k_logon),
    ] {
        needles.secret(name, s);
    }
    let expanded = sha2::Sha512::digest(&ed_seed);
    needles.secret("Ed25519 expanded key", &expanded);
    needles.secret("Ed25519 clamped scalar", &clamp(arr(&expanded[..32])));
    needles.secret("X25519 clamped scalar a", &clamp(arr(&x_a)));
    needles.secret("X25519 clamped scalar b", &clamp(arr(&x_b)));
    for (name, k) in [("HMAC-SHA256", &k_hmac256), ("HMAC-SHA512", &k_hmac512)] {
        for (pad, p) in [("ipad", 0x36u8), ("opad", 0x5c)] {
            let x: Vec<u8> = k.iter().map(|b| b ^ p).collect();
            needles.secret(&format!("{name} key ^ {pad}"), &x);
        }
    }
    // ...the X25519 shared secret and every HKDF output.
    needles.secret("X25519 shared secret", &shared);
    needles.secret("HKDF output (exchange, AES)", &okm_ex);
    needles.secret("HKDF output (exchange, HMAC)", &okm_ex_mac);
    needles.secret("HKDF output (derive, AES)", &okm_d1);
    needles.secret("HKDF output (derive, HMAC)", &okm_d2);
    needles.secret("HKDF output (derive chain, ChaCha)", &okm_d3);

    println!(
        "    searched {} ioctls' {} output bytes, {} bytes of trace text, {} bytes of raw trace pages, \
         {} bytes of dmesg for {} forms of the secrets",
        calls,
        rec.out.len(),
        text.len(),
        raw.len(),
        dmesg.len(),
        needles.count
    );
    let mut leaks = Vec::new();
    for (where_, hay) in [
        ("ioctl output", &rec.out),
        ("trace text", &text.as_bytes().to_vec()),
        ("raw trace pages", &raw),
        ("dmesg", &dmesg),
    ] {
        for what in needles.scan(hay) {
            leaks.push(format!("{where_}: {what}"));
        }
    }
    assert!(
        leaks.is_empty(),
        "key material leaked:\n{}",
        leaks.join("\n")
    );
}

/// This file's tests, in order.
pub fn tests() -> Vec<crate::support::harness::Test> {
    crate::tests![
        no_ioctl_output_trace_event_or_kernel_log_ever_contains_key_material_or_derived_secrets,
    ]
}
