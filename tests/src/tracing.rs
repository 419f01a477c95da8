//! The module's tracepoints (`/sys/kernel/tracing/events/keyvault/`): every
//! key event and every ioctl, with the fields and formats of kmod/trace.h,
//! and never any key material.
//!
//! Each test records into its own tracefs instance (a private ring buffer
//! with its own event switches), removed afterwards, so nothing else's
//! tracing is touched.

use crate::support::*;
use keyvault::uapi::*;
use keyvault::{Algorithm, Caps, KeyId, KeyOptions, KeyState, Vault};
use nix::errno::Errno;
use std::process::Command;
use std::time::Duration;

#[track_caller]
fn expect(text: &str, needle: &str) {
    assert!(
        count(text, needle) > 0,
        "no trace line with '{needle}'; the keyvault events were:\n{}",
        keyvault_lines(text)
    );
}

#[track_caller]
fn expect_n(text: &str, needle: &str, n: usize) {
    let got = count(text, needle);
    assert_eq!(
        got,
        n,
        "{got} trace lines with '{needle}', want {n}; the keyvault events were:\n{}",
        keyvault_lines(text)
    );
}

fn op_line(nr: u32, key: u64, len: u64, err: i32, uid: u32) -> String {
    format!("keyvault_op: op=0x{nr:x} key={key} len={len} err={err} uid={uid}")
}

fn neg(e: Errno) -> i32 {
    -(e as i32)
}

pub fn every_key_event_and_ioctl_is_traced_with_its_fields() {
    let t = Trace::start();
    let v = ok(Vault::open());

    let g = ok(v.generate(Algorithm::Aes256Gcm));
    let i = ok(v.import(Algorithm::HmacSha256, &[0x11; 32], &KeyOptions::default()));
    let d = derive_with(&v, i, KV_ALG_AES128_GCM, KvPolicy::default()).expect("derive");
    ok(v.aead_encrypt(g, &[0u8; 100], b"", None));
    ok(v.mac(i, &[0u8; 33]));
    ok(v.limits());
    // Failures: an unknown key, an unknown ioctl, a missing capability.
    let missing = KeyId(u64::MAX - 7);
    expect_errno(v.info(missing), Errno::ENOENT);
    let mut buf = [0u8; 64];
    let unknown = (3 << 30) | (16 << 16) | (KV_IOC_MAGIC << 8) | 0x7f;
    expect_raw(ioctl(&v, unknown, &mut buf), Errno::ENOTTY);
    let no_genkey = dup(&v, Caps::all() - Caps::GENKEY, &[]).expect("dup");
    expect_errno(no_genkey.generate(Algorithm::Aes256Gcm), Errno::EPERM);
    // Destroy (no operation holds the key, so it is wiped at once), twice.
    let x = ok(v.generate(Algorithm::Aes128Gcm));
    ok(v.destroy(x));
    expect_errno(v.destroy(x), Errno::ENOENT);
    // Revoke twice, then a use.
    ok(v.revoke(g));
    ok(v.revoke(g));
    expect_errno(v.aead_encrypt(g, &[0u8; 16], b"", None), Errno::EKEYREVOKED);
    // Expiry, seen by GETINFO alone (twice), then by a use.
    let e = ok(v.generate_with(
        Algorithm::Aes256Gcm,
        &KeyOptions {
            ttl: Some(Duration::from_millis(100)),
            ..Default::default()
        },
    ));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(ok(v.info(e)).state, KeyState::Expired);
    assert_eq!(ok(v.info(e)).state, KeyState::Expired);
    expect_errno(v.aead_encrypt(e, &[0u8; 8], b"", None), Errno::EKEYEXPIRED);
    // Another user's key (uid is the creator's euid).
    let child = {
        let v = &v;
        spawn(move || {
            as_euid(4242, || ok(v.generate(Algorithm::HmacSha512)));
            0
        })
    };
    assert_eq!(wait(child), 0, "child");
    let t1 = t.text();
    // Closing the last fds wipes every key left.
    let left = ok(v.list());
    drop(no_genkey);
    drop(v);
    let t2 = t.text();

    expect(
        &t1,
        &format!("keyvault_key_create: key={g} alg=2 bits=256 how=genkey parent=0 uid=0"),
    );
    expect(&t1, &op_line(0x10, g.0, 0, 0, 0));
    expect(
        &t1,
        &format!("keyvault_key_create: key={i} alg=6 bits=256 how=import parent=0 uid=0"),
    );
    expect(&t1, &op_line(0x11, i.0, 32, 0, 0));
    expect(
        &t1,
        &format!("keyvault_key_create: key={d} alg=1 bits=128 how=derive parent={i} uid=0"),
    );
    expect(&t1, &op_line(0x33, i.0, 0, 0, 0));
    expect(&t1, &op_line(0x20, g.0, 100, 0, 0));
    expect(&t1, &op_line(0x24, i.0, 33, 0, 0));
    expect(&t1, &op_line(0x04, 0, 0, 0, 0));
    expect(&t1, &op_line(0x14, missing.0, 0, neg(Errno::ENOENT), 0));
    expect(&t1, &op_line(0x7f, 0, 0, neg(Errno::ENOTTY), 0));
    expect(&t1, &op_line(0x03, 0, 0, 0, 0));
    expect(
        &t1,
        &format!(
            "keyvault_cap_denied: op=0x10 wanted=0x{:x} have=0x{:x}",
            KV_CAP_GENKEY,
            KV_CAP_ALL & !KV_CAP_GENKEY
        ),
    );
    expect(&t1, &op_line(0x10, 0, 0, neg(Errno::EPERM), 0));
    expect_n(&t1, &op_line(0x12, x.0, 0, 0, 0), 1);
    expect_n(&t1, &op_line(0x12, x.0, 0, neg(Errno::ENOENT), 0), 1);
    expect_n(&t1, &format!("keyvault_key_destroy: key={x}"), 1);
    expect_n(&t1, &op_line(0x13, g.0, 0, 0, 0), 2);
    expect_n(&t1, &format!("keyvault_key_revoke: key={g}"), 1);
    expect(&t1, &op_line(0x20, g.0, 16, neg(Errno::EKEYREVOKED), 0));
    expect_n(&t1, &format!("keyvault_key_expire: key={e}"), 1);
    expect_n(&t1, &op_line(0x14, e.0, 0, 0, 0), 2);
    expect(&t1, &op_line(0x20, e.0, 8, neg(Errno::EKEYEXPIRED), 0));
    expect(&t1, "alg=7 bits=512 how=genkey parent=0 uid=4242");
    assert!(
        t1.lines()
            .any(|l| l.contains("keyvault_op: op=0x10 ") && l.ends_with("err=0 uid=4242")),
        "no genkey op by uid 4242:\n{}",
        keyvault_lines(&t1)
    );
    // Only DESTROY of an idle key and the last close wipe keys.
    for k in &left {
        expect_n(&t1, &format!("keyvault_key_destroy: key={k}"), 0);
        expect_n(&t2, &format!("keyvault_key_destroy: key={k}"), 1);
    }
    assert_eq!(left.len(), 5, "g, i, d, e and the child's key");
    drop(t);
}

pub fn key_destroy_is_traced_when_the_last_operation_holding_the_key_ends() {
    // A destroyed key that an operation still holds is wiped after it: the
    // event comes exactly once either way.
    let t = Trace::start();
    let v = ok(Vault::open());
    let k = ok(v.generate(Algorithm::Aes256Gcm));
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let mut data = vec![0u8; 4096];
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if v.aead_encrypt_in_place(k, &mut data, b"", None).is_err() {
                        break;
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_millis(50));
        ok(v.destroy(k));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let text = t.text();
    expect_n(&text, &format!("keyvault_key_destroy: key={k}"), 1);
    expect_n(&text, &op_line(0x12, k.0, 0, 0, 0), 1);
}

/// Ways a tracepoint could render bytes as text.
fn renderings(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for w in bytes.windows(4) {
        out.push(w.iter().map(|b| format!("{b:02x}")).collect());
        out.push(w.iter().map(|b| format!("{b:02X}")).collect());
        out.push(
            w.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" "),
        );
        out.push(
            w.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":"),
        );
    }
    for w in bytes.windows(3) {
        for sep in [" ", ",", ", ", ":"] {
            out.push(
                w.iter()
                    .map(|b| b.to_string())
                    .collect::<Vec<_>>()
                    .join(sep),
            );
        }
    }
    for w in bytes.chunks_exact(8) {
        let w: [u8; 8] = w.try_into().unwrap();
        out.push(u64::from_le_bytes(w).to_string());
        out.push(u64::from_be_bytes(w).to_string());
        out.push(format!("{:x}", u64::from_le_bytes(w)));
        out.push(format!("{:x}", u64::from_be_bytes(w)));
    }
    for w in bytes.chunks_exact(4) {
        let w: [u8; 4] = w.try_into().unwrap();
        out.push(u32::from_le_bytes(w).to_string());
        out.push(u32::from_be_bytes(w).to_string());
    }
    out
}

pub fn no_trace_event_carries_key_material_or_plaintext() {
    // Distinctive bytes, all >= 0x80 so their decimal forms are 3 digits.
    let secret: Vec<u8> = (0..32u8)
        .map(|i| 0x80 | (i.wrapping_mul(37) ^ 0x5a))
        .collect();
    let hmac_secret: Vec<u8> = (0..64u8)
        .map(|i| 0x80 | (i.wrapping_mul(53) ^ 0x33))
        .collect();
    let plaintext: Vec<u8> = (0..48u8)
        .map(|i| 0x80 | (i.wrapping_mul(29) ^ 0x17))
        .collect();
    let t = Trace::start();
    let v = ok(Vault::open());
    let k = ok(v.import(Algorithm::Aes256Gcm, &secret, &KeyOptions::default()));
    let h = ok(v.import(Algorithm::HmacSha256, &hmac_secret, &KeyOptions::default()));
    let (ct, s) = ok(v.aead_encrypt(k, &plaintext, b"", None));
    assert_eq!(
        &ok(v.aead_decrypt(k, &ct, b"", &s.nonce, &s.tag))[..],
        &plaintext[..]
    );
    let tag = ok(v.mac(h, &plaintext));
    ok(v.verify_mac(h, &plaintext, &tag));
    derive_with(&v, h, KV_ALG_AES256_GCM, KvPolicy::default()).expect("derive");
    ok(v.info(k));
    ok(v.revoke(h));
    ok(v.destroy(k));
    drop(v);
    let text = t.text();
    expect(
        &text,
        &format!("keyvault_key_create: key={k} alg=2 bits=256 how=import"),
    );
    expect(&text, &format!("keyvault_key_destroy: key={k}"));
    for (what, bytes) in [
        ("key", &secret),
        ("HMAC key", &hmac_secret),
        ("plaintext", &plaintext),
    ] {
        for r in renderings(bytes) {
            assert!(
                !text.contains(&r),
                "the trace shows the {what} ('{r}'):\n{}",
                keyvault_lines(&text)
            );
        }
    }
    // And the binary ring buffer holds none of it either.
    let raw = t.raw_pages();
    println!("    (searched {} bytes of raw trace pages)", raw.len());
    for (what, bytes) in [
        ("key", &secret),
        ("HMAC key", &hmac_secret),
        ("plaintext", &plaintext),
    ] {
        for w in bytes.windows(8) {
            assert!(
                !raw.windows(8).any(|r| r == w),
                "the raw trace buffer holds 8 bytes of the {what}"
            );
        }
    }
}

pub fn bpftrace_sees_every_keyvault_op_with_its_errno_if_installed() {
    // scripts/test-debug: bpftrace's BPF verification under KASAN costs more
    // than the rest of the tracing tests together; those cover the
    // tracepoints there.
    if let Some(why) = std::env::var_os("KV_SKIP_BPFTRACE") {
        println!("    skipped: {}", why.to_string_lossy());
        return;
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("bpftrace").is_file()))
        .unwrap_or(false);
    if !on_path {
        println!("    bpftrace is not installed: skipped");
        return;
    }
    tracefs();
    // bpftrace runs the commands itself (-c) and prints its map when they
    // end: no race with a slow attach under emulation.
    let script = std::env::temp_dir().join(format!("kv-bpftrace-{}.txt", std::process::id()));
    std::fs::write(
        &script,
        "genkey aes256-gcm\ngenkey aes256-gcm\ngenkey aes256-gcm\ngenkey aes256-gcm\ngenkey aes256-gcm\n\
         info 999999999\ninfo 999999999\ninfo 999999999\n",
    )
    .expect("batch file");
    let kvctl = std::env::var("KVCTL").unwrap_or_else(|_| "target/release/kvctl".into());
    let out = Command::new("timeout")
        .args([
            "300",
            "bpftrace",
            "-e",
            "tracepoint:keyvault:keyvault_op { @[args->err] = count(); }",
            "-c",
            &format!("{kvctl} batch --keep-going {}", script.display()),
        ])
        .output()
        .expect("bpftrace");
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&out.stdout);
    println!("    bpftrace ({}):\n{text}", out.status);
    let count = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("@[{key}]:")))
            .and_then(|l| l.split(':').nth(1)?.trim().parse::<u64>().ok())
    };
    assert!(
        count("0").is_some_and(|n| n >= 5),
        "no @[0] >= 5 in:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        count("-2").is_some_and(|n| n >= 3),
        "no @[-2] >= 3 in:\n{text}"
    );
}

/// This file's tests, in order.
/// UNWRAP and IMPORT_KEYRING make keys traced `how=unwrap` and
/// `how=keyring`; WRAP and UNWRAP trace the wrapping key and the blob's length.
pub fn unwrapped_and_keyring_keys_are_traced_with_their_origin() {
    use keyvault::uapi::*;
    let t = Trace::start();
    let v = ok(Vault::open());
    let w = wrapping_key(&v);
    let k = import_with(&v, KV_ALG_HMAC_SHA256, &[1; 32], WRAPPABLE).expect("IMPORT");
    let blob = wrap(&v, w, k, KV_WRAP_NATIVE).expect("WRAP");
    let u = unwrap(&v, w, &blob).expect("UNWRAP");
    let serial = add_key("logon", "kv:trace", &[2; 16], PROCESS_KEYRING).expect("add_key");
    let r = import_keyring(&v, KV_ALG_AES128_GCM, serial, KvPolicy::default()).expect("IMPORT_KEYRING");
    let text = t.text();
    expect(&text, &format!("keyvault_key_create: key={u} alg=6 bits=256 how=unwrap parent=0 uid=0"));
    expect(&text, &format!("keyvault_key_create: key={r} alg=1 bits=128 how=keyring parent=0 uid=0"));
    expect(&text, &op_line(0x40, w.0, 0, 0, 0));
    expect(&text, &op_line(0x41, w.0, blob.len() as u64, 0, 0));
    expect(&text, &op_line(0x16, r.0, 0, 0, 0));
}

pub fn tests() -> Vec<crate::support::harness::Test> {
    crate::tests![
        every_key_event_and_ioctl_is_traced_with_its_fields,
        unwrapped_and_keyring_keys_are_traced_with_their_origin,
        key_destroy_is_traced_when_the_last_operation_holding_the_key_ends,
        no_trace_event_carries_key_material_or_plaintext,
        bpftrace_sees_every_keyvault_op_with_its_errno_if_installed,
    ]
}
