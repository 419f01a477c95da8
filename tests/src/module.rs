//! The module as a whole: its device node, key destruction on close (seen
//! through the module's debugfs counters), the C example, and unloading.

use crate::harness::{expect_errno, ok};
use keyvault::{Algorithm, Vault};
use nix::errno::Errno;
use std::os::unix::fs::FileTypeExt;
use std::process::Command;

const STATS: &str = "/sys/kernel/debug/keyvault/stats";

/// One module-wide counter (`vaults`, `keys`, `key_bytes`, `users`).
fn stat(name: &str) -> u64 {
    let text = std::fs::read_to_string(STATS).unwrap_or_else(|e| panic!("{STATS}: {e}"));
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no '{name}:' in {STATS}: {text}"))
}

/// The module-wide counters: (vaults, keys, key_bytes).
fn stats() -> (u64, u64, u64) {
    (stat("vaults"), stat("keys"), stat("key_bytes"))
}

pub fn the_device_node_is_a_character_device() {
    let md = std::fs::metadata("/dev/keyvault").expect("/dev/keyvault");
    assert!(md.file_type().is_char_device());
}

pub fn closing_the_last_fd_destroys_every_key() {
    let (vaults0, keys0, bytes0) = stats();
    let v = ok(Vault::open());
    let dup = ok(v.try_clone());
    for _ in 0..5 {
        ok(v.generate(Algorithm::HmacSha512));
    }
    assert_eq!(stats(), (vaults0 + 1, keys0 + 5, bytes0 + 5 * 64));
    drop(v);
    assert_eq!(stats().1, keys0 + 5, "another fd still holds the vault");
    drop(dup);
    assert_eq!(stats(), (vaults0, keys0, bytes0));
}

pub fn destroy_frees_the_key_at_once_when_no_operation_holds_it() {
    let v = ok(Vault::open());
    let (_, keys0, bytes0) = stats();
    let id = ok(v.generate(Algorithm::Aes256Gcm));
    assert_eq!(stats().1, keys0 + 1);
    ok(v.destroy(id));
    let (_, keys, bytes) = stats();
    assert_eq!((keys, bytes), (keys0, bytes0));
}

pub fn the_c_example_runs_against_the_module() {
    let exe = std::env::var("KV_C_EXAMPLE").unwrap_or_else(|_| "target/c/kv_example".into());
    let out = Command::new(&exe)
        .output()
        .unwrap_or_else(|e| panic!("{exe}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{exe} failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("key id"), "{text}");
}

fn modprobe(cmd: &str, args: &[&str]) -> std::process::Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

/// Unloads the module (no vault may be open) and loads it with `params`.
fn reload(params: &[&str]) {
    let out = modprobe("rmmod", &["keyvault"]);
    assert!(
        out.status.success(),
        "rmmod: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = modprobe("insmod", &[&["keyvault.ko"], params].concat());
    assert!(
        out.status.success(),
        "insmod {params:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Regression: a charge refused by the per-user quota used to leave the user
/// an empty entry in the quota table, and with it the table's memory after
/// rmmod (kmemleak on the debug kernel found it).
pub fn a_user_whose_every_key_is_refused_by_the_quota_holds_no_quota_entry() {
    reload(&["max_keys_per_user=0"]);
    let v = ok(Vault::open());
    expect_errno(v.generate(Algorithm::Aes128Gcm), Errno::EDQUOT);
    expect_errno(
        v.import(Algorithm::HmacSha256, &[7u8; 32], &Default::default()),
        Errno::EDQUOT,
    );
    assert_eq!(stat("users"), 0, "a refused charge left a quota entry");
    ok(v.caps());
    drop(v);
    reload(&[]);
    let v = ok(Vault::open());
    let users0 = stat("users");
    let k = ok(v.generate(Algorithm::Aes128Gcm));
    assert_eq!(stat("users"), users0 + 1);
    ok(v.destroy(k));
    assert_eq!(
        stat("users"),
        users0,
        "the entry goes with the user's last key"
    );
}

/// Runs last: unloads the module (refused while a vault is open) and loads it again.
pub fn rmmod_is_refused_while_open_and_works_once_all_fds_are_closed() {
    let v = ok(Vault::open());
    assert!(
        !modprobe("rmmod", &["keyvault"]).status.success(),
        "rmmod with an open fd"
    );
    ok(v.caps());
    drop(v);
    let out = modprobe("rmmod", &["keyvault"]);
    assert!(
        out.status.success(),
        "rmmod: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::metadata("/dev/keyvault").is_err(),
        "the node goes with the module"
    );
    let out = modprobe("insmod", &["keyvault.ko"]);
    assert!(
        out.status.success(),
        "insmod: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    ok(ok(Vault::open()).generate(Algorithm::Aes128Gcm));
}

/// Tests that run before all others.
pub fn first() -> Vec<crate::harness::Test> {
    crate::tests![the_device_node_is_a_character_device,]
}

/// Tests that run after all others (the last one unloads and reloads the module).
pub fn last() -> Vec<crate::harness::Test> {
    crate::tests![
        closing_the_last_fd_destroys_every_key,
        destroy_frees_the_key_at_once_when_no_operation_holds_it,
        the_c_example_runs_against_the_module,
        a_user_whose_every_key_is_refused_by_the_quota_holds_no_quota_entry,
        rmmod_is_refused_while_open_and_works_once_all_fds_are_closed,
    ]
}
