//! A key's lifecycle across handles and processes: revocation, expiry on the
//! boot-time clock (not the wall clock), the creation policy every handle
//! sees and no ioctl widens, and per-user quotas across vaults.

use crate::support::*;
use keyvault::uapi::*;
use keyvault::{Algorithm, Caps, KeyId, KeyOptions, KeyState, Vault};
use nix::errno::Errno;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- revoke, expiry

pub fn revocation_is_permanent_for_every_handle_and_keeps_the_key_listed() {
    let v = ok(Vault::open());
    let k = ok(v.generate(Algorithm::Aes256Gcm));
    let h = ok(v.generate(Algorithm::HmacSha256));
    let child_key = derive_with(&v, h, KV_ALG_AES256_GCM, KvPolicy::default()).expect("derive");
    let d = dup(&v, Caps::READONLY, &[k, h, child_key]).expect("dup");
    let msg = seal(&v, k);
    let child_msg = seal(&v, child_key);
    ok(v.revoke(k));
    ok(v.revoke(h));
    for handle in [&v, &d] {
        expect_errno(handle.aead_encrypt(k, PLAIN, b"", None), Errno::EKEYREVOKED);
        expect_errno(open(handle, k, &msg), Errno::EKEYREVOKED);
        expect_errno(handle.mac(h, b"x"), Errno::EKEYREVOKED);
        // A key derived from a revoked key is unusable too.
        expect_errno(open(handle, child_key, &child_msg), Errno::EKEYREVOKED);
        assert_eq!(ok(handle.info(k)).state, KeyState::Revoked);
        assert_eq!(ok(handle.info(child_key)).state, KeyState::Revoked);
        assert_eq!(ok(handle.list()), vec![k, h, child_key]);
    }
    expect_raw(
        derive_with(&v, h, KV_ALG_AES256_GCM, KvPolicy::default()).map(|_| 0),
        Errno::EKEYREVOKED,
    );
    let mut r = KvKeyinfo {
        key_id: k.0,
        ..Default::default()
    };
    assert_eq!(ioctl(&d, KV_IOC_GETINFO, &mut r), Ok(0));
    assert_eq!(r.state, KV_STATE_REVOKED);
    // Nothing brings it back: no time, no other handle, no new dup.
    std::thread::sleep(Duration::from_millis(50));
    let d2 = dup(&v, Caps::all() - Caps::GENKEY, &[]).expect("dup");
    expect_errno(d2.aead_encrypt(k, PLAIN, b"", None), Errno::EKEYREVOKED);
    ok(d2.revoke(k));
    assert_eq!(ok(v.info(k)).state, KeyState::Revoked);
    // Destroy still removes it.
    ok(v.destroy(k));
    expect_errno(d.info(k), Errno::ENOENT);
}

pub fn an_expired_key_fails_operations_with_ekeyexpired_and_stays_listed() {
    let v = ok(Vault::open());
    let short = KeyOptions {
        ttl: Some(Duration::from_millis(1000)),
        ..Default::default()
    };
    let start = Instant::now();
    let k = ok(v.generate_with(Algorithm::Aes256Gcm, &short));
    let h = ok(v.generate_with(Algorithm::HmacSha256, &short));
    let msg = seal(&v, k);
    ok(v.mac(h, b"x"));
    // A derived key expires no later than its parent.
    let child_key = derive_with(&v, h, KV_ALG_AES256_GCM, KvPolicy::default()).expect("derive");
    assert!(
        start.elapsed() < Duration::from_millis(800),
        "too slow to test a 1 s TTL"
    );
    std::thread::sleep(Duration::from_millis(1500).saturating_sub(start.elapsed()));
    expect_errno(v.aead_encrypt(k, PLAIN, b"", None), Errno::EKEYEXPIRED);
    expect_errno(open(&v, k, &msg), Errno::EKEYEXPIRED);
    expect_errno(v.mac(h, b"x"), Errno::EKEYEXPIRED);
    expect_errno(
        v.aead_encrypt(child_key, PLAIN, b"", None),
        Errno::EKEYEXPIRED,
    );
    expect_raw(
        derive_with(&v, h, KV_ALG_AES256_GCM, KvPolicy::default()).map(|_| 0),
        Errno::EKEYEXPIRED,
    );
    for id in [k, h, child_key] {
        assert_eq!(ok(v.info(id)).state, KeyState::Expired);
    }
    assert_eq!(ok(v.list()), vec![k, h, child_key]);
    ok(v.destroy(k));
    expect_errno(v.info(k), Errno::ENOENT);
}

/// Shifts the wall clock for the life of the value, then puts it back
/// (advanced by the time that passed meanwhile, on the boot-time clock).
struct WallClockShift {
    real0: Duration,
    boot0: Duration,
}

fn clock_now(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write.
    assert_eq!(unsafe { libc::clock_gettime(clock, &mut ts) }, 0);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn set_wall_clock(t: Duration) -> Result<(), Errno> {
    let ts = libc::timespec {
        tv_sec: t.as_secs() as libc::time_t,
        tv_nsec: t.subsec_nanos() as _,
    };
    // SAFETY: `ts` is a valid timespec; we are root in the VM.
    Errno::result(unsafe { libc::clock_settime(libc::CLOCK_REALTIME, &ts) }).map(drop)
}

impl WallClockShift {
    fn forward(by: Duration) -> Self {
        Self::to(|now| now + by)
    }

    fn back(by: Duration) -> Self {
        Self::to(|now| now - by)
    }

    fn to(f: impl FnOnce(Duration) -> Duration) -> Self {
        let shift = WallClockShift {
            real0: clock_now(libc::CLOCK_REALTIME),
            boot0: clock_now(libc::CLOCK_BOOTTIME),
        };
        set_wall_clock(f(shift.real0)).unwrap_or_else(|e| panic!("clock_settime: {e}"));
        shift
    }
}

impl Drop for WallClockShift {
    fn drop(&mut self) {
        let passed = clock_now(libc::CLOCK_BOOTTIME) - self.boot0;
        if let Err(e) = set_wall_clock(self.real0 + passed) {
            eprintln!("    could not restore the wall clock: {e}");
        }
    }
}

pub fn setting_the_wall_clock_an_hour_forward_does_not_expire_a_ten_minute_key() {
    let v = ok(Vault::open());
    let ten_min = KeyOptions {
        ttl: Some(Duration::from_secs(600)),
        ..Default::default()
    };
    let k = ok(v.generate_with(Algorithm::Aes256Gcm, &ten_min));
    let before = ok(v.info(k));
    {
        let _shift = WallClockShift::forward(Duration::from_secs(3600));
        let info = ok(v.info(k));
        assert_eq!(
            info.state,
            KeyState::Active,
            "expiry follows the boot-time clock"
        );
        assert_eq!(
            (info.created, info.expires),
            (before.created, before.expires),
            "GETINFO's wall-clock times are fixed at creation"
        );
        seal(&v, k);
    }
    assert_eq!(ok(v.info(k)).state, KeyState::Active);
    seal(&v, k);
}

pub fn setting_the_wall_clock_an_hour_back_does_not_keep_a_short_lived_key_alive() {
    let v = ok(Vault::open());
    let short = KeyOptions {
        ttl: Some(Duration::from_millis(300)),
        ..Default::default()
    };
    let k = ok(v.generate_with(Algorithm::Aes256Gcm, &short));
    {
        let _shift = WallClockShift::back(Duration::from_secs(3600));
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(ok(v.info(k)).state, KeyState::Expired);
        expect_errno(v.aead_encrypt(k, PLAIN, b"", None), Errno::EKEYEXPIRED);
    }
    assert_eq!(ok(v.info(k)).state, KeyState::Expired);
}

// ---------------------------------------------------------------- policy

pub fn getinfo_reports_the_creation_policy_of_imported_and_derived_keys_through_every_handle() {
    let v = ok(Vault::open());
    let policy = KvPolicy {
        usage: KV_CAP_ENCRYPT | KV_CAP_DECRYPT,
        flags: KV_POLICY_NO_CALLER_NONCE,
        max_uses: 5,
        max_bytes: 1000,
    };
    let material = [0x42u8; 32];
    let mut r = KvImport {
        policy,
        ..import_req(KV_ALG_AES256_GCM, &material)
    };
    assert_eq!(ioctl(&v, KV_IOC_IMPORT, &mut r), Ok(0));
    let imported = KeyId(r.key_id);
    let h = ok(v.import(Algorithm::HmacSha256, &[0x43; 32], &KeyOptions::default()));
    let derived_policy = KvPolicy {
        usage: KV_CAP_ENCRYPT,
        flags: 0,
        max_uses: 0,
        max_bytes: 77,
    };
    let derived = derive_with(&v, h, KV_ALG_AES128_GCM, derived_policy).expect("derive");
    let d = dup(&v, Caps::READONLY, &[imported, h, derived]).expect("dup");
    for handle in [&v, &d] {
        let getinfo = |k: KeyId| {
            let mut r = KvKeyinfo {
                key_id: k.0,
                ..Default::default()
            };
            assert_eq!(ioctl(handle, KV_IOC_GETINFO, &mut r), Ok(0));
            r
        };
        let r = getinfo(imported);
        assert_eq!(
            (r.algorithm, r.key_bits, r.state),
            (KV_ALG_AES256_GCM, 256, KV_STATE_ACTIVE)
        );
        assert_eq!(r.policy, policy);
        assert_eq!((r.uses, r.bytes), (0, 0));
        assert_eq!((r.child, r.reserved), (KvChildPolicy::default(), [0; 2]));
        let r = getinfo(h);
        assert_eq!(
            r.policy,
            KvPolicy {
                usage: KV_CAP_MAC | KV_CAP_DERIVE,
                ..Default::default()
            },
            "usage 0 is reported as everything the algorithm can do"
        );
        let r = getinfo(derived);
        assert_eq!((r.algorithm, r.key_bits), (KV_ALG_AES128_GCM, 128));
        assert_eq!(r.policy, derived_policy);
    }
    let info = ok(d.info(imported));
    assert_eq!(info.usage, Caps::ENCRYPT | Caps::DECRYPT);
    assert!(info.no_caller_nonce);
    assert_eq!((info.max_uses, info.max_bytes), (5, 1000));
}

/// Every ioctl number the module knows.
const KNOWN_NRS: [u32; 21] = [
    0x01, 0x02, 0x03, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26,
    0x30, 0x31, 0x32, 0x33, 0x34,
];

pub fn a_keys_policy_binds_every_handle_and_process_and_no_ioctl_widens_it() {
    let v = ok(Vault::open());
    let o = KeyOptions {
        usage: Caps::ENCRYPT,
        no_caller_nonce: true,
        max_uses: 3,
        ..Default::default()
    };
    let k = ok(v.generate_with(Algorithm::Aes256Gcm, &o));
    let d = dup(&v, Caps::READONLY, &[k]).expect("dup");
    let policy_before = ok(v.info(k));
    // Refused by the policy, and these do not count as uses.
    for handle in [&v, &d] {
        expect_errno(
            handle.aead_encrypt(k, PLAIN, b"", Some(&[1; 12])),
            Errno::EPERM,
        );
        let (ct, s) = ok(handle.aead_encrypt(k, PLAIN, b"", None));
        expect_errno(
            handle.aead_decrypt(k, &ct, b"", &s.nonce, &s.tag),
            Errno::EPERM,
        );
    }
    // Two uses above; the third in another process; none left for anyone.
    assert_eq!(ok(v.info(k)).uses, 2);
    in_child("a use in a forked child", || {
        ok(d.aead_encrypt(k, PLAIN, b"", None));
        0
    });
    for handle in [&v, &d] {
        expect_errno(handle.aead_encrypt(k, PLAIN, b"", None), Errno::EDQUOT);
    }
    let fresh = dup(&v, Caps::READONLY, &[]).expect("dup");
    expect_errno(fresh.aead_encrypt(k, PLAIN, b"", None), Errno::EDQUOT);
    // No ioctl number outside the ABI's does anything, whatever it is given:
    // here, a request naming the key with every usage and no limits.
    let wide = KvKeyinfo {
        key_id: k.0,
        policy: KvPolicy {
            usage: KV_USAGE_ALL,
            flags: 0,
            max_uses: 0,
            max_bytes: 0,
        },
        ..Default::default()
    };
    let ioc = |dir: u32, nr: u32, size: usize| {
        (dir << 30) | ((size as u32) << 16) | (KV_IOC_MAGIC << 8) | nr
    };
    let mut tried = 0;
    for nr in (0..=0xff).filter(|nr| !KNOWN_NRS.contains(nr)) {
        for (dir, size) in [
            (1, size_of::<KvKeyinfo>()),
            (3, size_of::<KvKeyinfo>()),
            (3, size_of::<KvPolicy>()),
            (1, size_of::<KvKeyref>()),
        ] {
            let mut req = wide;
            expect_raw(ioctl(&v, ioc(dir, nr, size), &mut req), Errno::ENOTTY);
            tried += 1;
        }
    }
    assert!(tried > 900);
    let after = ok(v.info(k));
    assert_eq!(
        (
            after.usage,
            after.no_caller_nonce,
            after.max_uses,
            after.max_bytes,
            after.uses
        ),
        (
            policy_before.usage,
            policy_before.no_caller_nonce,
            policy_before.max_uses,
            policy_before.max_bytes,
            3
        )
    );
}

// ---------------------------------------------------------------- per-user quotas

const QUOTA_UID: u32 = 4242;

const OTHER_UID: u32 = 4243;

const MAX_KEYS_PER_VAULT: usize = 4096;

const MAX_KEYS_PER_USER: usize = 16384;

const MAX_KEY_BYTES_PER_VAULT: usize = 262_144;

const MAX_KEY_BYTES_PER_USER: usize = 1_048_576;

fn hmac_bits(bits: u32) -> KeyOptions {
    KeyOptions {
        bits,
        ..Default::default()
    }
}

/// Fills `vaults` (as the current euid) with `per_vault` keys of `opts` each.
fn fill(vaults: &[Vault], per_vault: usize, alg: Algorithm, opts: &KeyOptions) {
    for (i, v) in vaults.iter().enumerate() {
        for n in 0..per_vault {
            v.generate_with(alg, opts)
                .unwrap_or_else(|e| panic!("vault {i}, key {n}: {e}"));
        }
    }
}

pub fn a_user_may_hold_16384_keys_across_vaults_then_edquot_until_some_are_freed() {
    let vault_count = MAX_KEYS_PER_USER / MAX_KEYS_PER_VAULT;
    assert_eq!(vault_count, 4);
    let small = hmac_bits(128); // 16 bytes: the byte quota is far away
    in_child("the per-user key quota", || {
        // Keys are charged to the vault's opener: these vaults are uid 4242's
        // (and `other` uid 4243's), whoever makes the keys.
        let mut vaults: Vec<Vault> = (0..vault_count).map(|_| open_as(QUOTA_UID)).collect();
        let fresh = open_as(QUOTA_UID);
        let other = open_as(OTHER_UID);
        as_euid(QUOTA_UID, || {
            fill(&vaults, MAX_KEYS_PER_VAULT, Algorithm::HmacSha256, &small);
            // The user's 16385th key, in an empty vault.
            expect_errno(
                fresh.generate_with(Algorithm::HmacSha256, &small),
                Errno::EDQUOT,
            );
            expect_errno(
                fresh.import(Algorithm::Aes128Gcm, &[1; 16], &KeyOptions::default()),
                Errno::EDQUOT,
            );
            assert_eq!(ok(fresh.list_page(None, 1)).total, 0);
        });
        // Other users are not affected: another uid, and root.
        as_euid(OTHER_UID, || {
            ok(other.generate_with(Algorithm::HmacSha256, &small))
        });
        ok(other.generate_with(Algorithm::HmacSha256, &small));
        as_euid(QUOTA_UID, || {
            expect_errno(
                fresh.generate_with(Algorithm::HmacSha256, &small),
                Errno::EDQUOT,
            );
            // Destroying one key frees one.
            let one = ok(vaults[0].list_page(None, 1)).ids[0];
            ok(vaults[0].destroy(one));
            ok(fresh.generate_with(Algorithm::HmacSha256, &small));
            expect_errno(
                fresh.generate_with(Algorithm::HmacSha256, &small),
                Errno::EDQUOT,
            );
        });
        // Closing a vault frees all of its keys' charge.
        vaults.truncate(vault_count - 1);
        as_euid(QUOTA_UID, || {
            for n in 0..100 {
                fresh
                    .generate_with(Algorithm::HmacSha256, &small)
                    .unwrap_or_else(|e| panic!("key {n} after a close: {e}"));
            }
        });
        drop(vaults);
        as_euid(QUOTA_UID, || {
            let v = &fresh;
            let left = MAX_KEYS_PER_VAULT - ok(v.list_page(None, 1)).total as usize;
            fill(std::slice::from_ref(v), left, Algorithm::HmacSha256, &small);
        });
        0
    });
}

pub fn a_user_may_hold_1_mib_of_key_bytes_across_vaults_then_edquot() {
    let big = hmac_bits(1024); // 128 bytes
    let per_vault = MAX_KEY_BYTES_PER_VAULT / 128;
    let vault_count = MAX_KEY_BYTES_PER_USER / MAX_KEY_BYTES_PER_VAULT;
    assert_eq!((per_vault, vault_count), (2048, 4));
    in_child("the per-user key byte quota", || {
        let mut vaults: Vec<Vault> = (0..vault_count).map(|_| open_as(QUOTA_UID)).collect();
        let fresh = open_as(QUOTA_UID);
        let other = open_as(OTHER_UID);
        as_euid(QUOTA_UID, || {
            fill(&vaults, per_vault, Algorithm::HmacSha512, &big);
            // 8192 keys, 1 MiB: not even a 16-byte key fits any more.
            expect_errno(
                fresh.generate_with(Algorithm::HmacSha512, &big),
                Errno::EDQUOT,
            );
            expect_errno(fresh.generate(Algorithm::Aes128Gcm), Errno::EDQUOT);
        });
        as_euid(OTHER_UID, || {
            ok(other.generate_with(Algorithm::HmacSha512, &big))
        });
        ok(other.generate_with(Algorithm::HmacSha512, &big));
        vaults.pop();
        let another = open_as(QUOTA_UID);
        as_euid(QUOTA_UID, || {
            fill(
                std::slice::from_ref(&fresh),
                per_vault,
                Algorithm::HmacSha512,
                &big,
            );
            expect_errno(another.generate(Algorithm::Aes128Gcm), Errno::EDQUOT);
        });
        0
    });
}

/// This file's tests, in order.
pub fn tests() -> Vec<crate::support::harness::Test> {
    crate::tests![
        revocation_is_permanent_for_every_handle_and_keeps_the_key_listed,
        an_expired_key_fails_operations_with_ekeyexpired_and_stays_listed,
        setting_the_wall_clock_an_hour_forward_does_not_expire_a_ten_minute_key,
        setting_the_wall_clock_an_hour_back_does_not_keep_a_short_lived_key_alive,
        getinfo_reports_the_creation_policy_of_imported_and_derived_keys_through_every_handle,
        a_keys_policy_binds_every_handle_and_process_and_no_ioctl_widens_it,
        a_user_may_hold_16384_keys_across_vaults_then_edquot_until_some_are_freed,
        a_user_may_hold_1_mib_of_key_bytes_across_vaults_then_edquot,
    ]
}
