//! LIMITS: the module's limits (its parameters, which Rust modules do not
//! show in sysfs) and what a vault and its owner use of them. Loading the
//! module with other parameters is module.rs's (it reloads the module).

use crate::support::*;
use keyvault::uapi::*;
use keyvault::{Algorithm, Caps, KeyOptions, Limits, Vault};
use nix::errno::Errno;

/// The module parameters' documented defaults (README), as [`maxima`].
pub const DEFAULTS: [u64; 5] = [1 << 20, 4096, 262_144, 16_384, 1 << 20];

/// The five limits, in the order of the module's parameters (max_data,
/// then keys and key bytes per vault, per user).
pub fn maxima(l: &Limits) -> [u64; 5] {
    [
        l.max_data_bytes,
        l.max_keys_per_vault,
        l.max_key_bytes_per_vault,
        l.max_keys_per_user,
        l.max_key_bytes_per_user,
    ]
}

/// (vault keys, vault key bytes).
pub fn vault_usage(l: &Limits) -> (u64, u64) {
    (l.vault_keys, l.vault_key_bytes)
}

/// (user keys, user key bytes).
pub fn user_usage(l: &Limits) -> (u64, u64) {
    (l.user_keys, l.user_key_bytes)
}

/// (user keys, user key bytes) since `before`.
fn user_delta(before: &Limits, now: &Limits) -> (u64, u64) {
    let ((k0, b0), (k, b)) = (user_usage(before), user_usage(now));
    (k - k0, b - b0)
}

pub fn limits_reports_the_module_parameters_the_suite_loaded_it_with_the_defaults() {
    let l = ok(ok(Vault::open()).limits());
    assert_eq!(maxima(&l), DEFAULTS, "the documented defaults");
    assert_eq!(vault_usage(&l), (0, 0), "a new vault holds nothing");
}

pub fn vault_and_user_usage_follow_genkey_import_revoke_and_destroy() {
    let v = ok(Vault::open());
    let l0 = ok(v.limits());
    let a = ok(v.generate(Algorithm::Aes256Gcm));
    let h = ok(v.import(Algorithm::HmacSha512, &[7; 128], &KeyOptions::default()));
    let l = ok(v.limits());
    assert_eq!(vault_usage(&l), (2, 32 + 128));
    assert_eq!(user_delta(&l0, &l), (2, 32 + 128));
    ok(v.destroy(a));
    let l = ok(v.limits());
    assert_eq!(vault_usage(&l), (1, 128));
    assert_eq!(user_delta(&l0, &l), (1, 128));
    ok(v.revoke(h));
    assert_eq!(
        vault_usage(&ok(v.limits())),
        (1, 128),
        "a revoked key still counts"
    );
    ok(v.destroy(h));
    let l = ok(v.limits());
    assert_eq!(vault_usage(&l), (0, 0));
    assert_eq!(user_delta(&l0, &l), (0, 0));
    // A refused creation counts nothing.
    expect_errno(
        v.import(Algorithm::Aes256Gcm, &[1; 17], &KeyOptions::default()),
        Errno::EINVAL,
    );
    assert_eq!(ok(v.limits()), l);
}

pub fn user_usage_counts_every_vault_of_the_opener_and_vault_usage_only_its_own() {
    let a = ok(Vault::open());
    let b = ok(Vault::open());
    let l0 = ok(a.limits());
    ok(a.generate(Algorithm::Aes128Gcm));
    ok(b.generate(Algorithm::Aes256Gcm));
    ok(b.generate(Algorithm::Aes256Gcm));
    let la = ok(a.limits());
    let lb = ok(b.limits());
    assert_eq!(vault_usage(&la), (1, 16));
    assert_eq!(vault_usage(&lb), (2, 64));
    assert_eq!(user_delta(&l0, &la), (3, 80), "one user, two vaults");
    assert_eq!(user_delta(&l0, &lb), (3, 80));
    // Closing b destroys its keys, and the user's charge goes with them.
    drop(b);
    let la = ok(a.limits());
    assert_eq!(vault_usage(&la), (1, 16));
    assert_eq!(user_delta(&l0, &la), (1, 16));
}

/// LIMITS needs no capability, and the quota is the vault's: a handle that
/// sees one key of two reports both.
pub fn a_handle_restricted_to_nothing_or_to_some_keys_reports_the_whole_vault() {
    let v = ok(Vault::open());
    let k = ok(v.generate(Algorithm::Aes256Gcm));
    ok(v.generate(Algorithm::Aes128Gcm));
    let limited = ok(v.dup(Caps::READONLY, Some(&[k])));
    let nothing = ok(v.dup(Caps::empty(), None));
    ok(v.restrict(Caps::empty()));
    let l = ok(v.limits());
    assert_eq!(vault_usage(&l), (2, 48));
    assert_eq!(ok(limited.limits()), l);
    assert_eq!(ok(nothing.limits()), l);
}

pub fn limits_writes_every_field_and_zero_reserved_words() {
    let v = ok(Vault::open());
    ok(v.generate(Algorithm::HmacSha256));
    // Every word starts as all ones, which no field can be.
    let mut r = KvLimits {
        max_data_bytes: u64::MAX,
        max_keys_per_vault: u64::MAX,
        max_key_bytes_per_vault: u64::MAX,
        max_keys_per_user: u64::MAX,
        max_key_bytes_per_user: u64::MAX,
        vault_keys: u64::MAX,
        vault_key_bytes: u64::MAX,
        user_keys: u64::MAX,
        user_key_bytes: u64::MAX,
        reserved: [u64::MAX; 4],
    };
    assert_eq!(ioctl(&v, KV_IOC_LIMITS, &mut r), Ok(0));
    assert_eq!(r.reserved, [0; 4]);
    let words = bytes_of(&r);
    assert!(
        words.chunks(8).all(|w| w != [0xff; 8]),
        "a field not written: {r:?}"
    );
    assert_eq!(
        (r.vault_keys, r.vault_key_bytes, r.max_keys_per_vault),
        (1, 32, 4096)
    );
}

pub fn limits_to_a_bad_read_only_or_cut_off_pointer_is_efault() {
    let v = ok(Vault::open());
    ok(v.restrict(Caps::empty()));
    for addr in [0, 8, KERNEL_ADDR, usize::MAX - 4095] {
        expect_raw_err(
            ioctl_addr(&v, KV_IOC_LIMITS, addr),
            Errno::EFAULT,
            &format!("at {addr:#x}"),
        );
    }
    let m = Mapping::new(4096);
    let p = m.put(KvLimits::default());
    m.read_only();
    expect_raw_err(
        ioctl_addr(&v, KV_IOC_LIMITS, p as usize),
        Errno::EFAULT,
        "read-only",
    );
    let s = Straddle::new();
    let cut = s.tail(size_of::<KvLimits>(), 8);
    expect_raw_err(
        ioctl_addr(&v, KV_IOC_LIMITS, cut),
        Errno::EFAULT,
        "cut off by an unmapped page",
    );
}

/// This file's tests, in order.
pub fn tests() -> Vec<crate::support::harness::Test> {
    crate::tests![
        limits_reports_the_module_parameters_the_suite_loaded_it_with_the_defaults,
        vault_and_user_usage_follow_genkey_import_revoke_and_destroy,
        user_usage_counts_every_vault_of_the_opener_and_vault_usage_only_its_own,
        a_handle_restricted_to_nothing_or_to_some_keys_reports_the_whole_vault,
        limits_writes_every_field_and_zero_reserved_words,
        limits_to_a_bad_read_only_or_cut_off_pointer_is_efault,
    ]
}
