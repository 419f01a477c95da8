//! The module as a whole: its device node and the udev rule that opens it to
//! group keyvault, key destruction on close (seen through the module's
//! debugfs counters), the C example, and unloading.

use crate::limits::{maxima, user_usage, vault_usage, DEFAULTS};
use crate::support::*;
use keyvault::{Algorithm, Caps, HashAlg, KeyState, Vault};
use nix::errno::Errno;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::process::Command;
use std::time::{Duration, Instant};

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

/// LIMITS reports the parameters the module was loaded with, and after an
/// `EDQUOT` shows which quota is full: the vault's, or its owner's across
/// vaults.
pub fn limits_reports_the_load_time_parameters_and_which_quota_is_full() {
    reload(&[
        "max_keys_per_vault=3",
        "max_key_bytes_per_vault=1000",
        "max_keys_per_user=5",
        "max_key_bytes_per_user=2000",
        "max_data_bytes=4096",
    ]);
    let a = ok(Vault::open());
    let l = ok(a.limits());
    assert_eq!(maxima(&l), [4096, 3, 1000, 5, 2000]);
    assert_eq!(user_usage(&l), (0, 0), "a fresh module charges nobody");
    expect_errno(a.hash(HashAlg::Sha256, &[0; 4097]), Errno::EMSGSIZE);
    for _ in 0..3 {
        ok(a.generate(Algorithm::Aes128Gcm));
    }
    expect_errno(a.generate(Algorithm::Aes128Gcm), Errno::EDQUOT);
    let l = ok(a.limits());
    assert_eq!(vault_usage(&l), (3, 48), "this vault's quota is full");
    assert_eq!(user_usage(&l), (3, 48));
    let b = ok(Vault::open());
    for _ in 0..2 {
        ok(b.generate(Algorithm::Aes128Gcm));
    }
    expect_errno(b.generate(Algorithm::Aes128Gcm), Errno::EDQUOT);
    let l = ok(b.limits());
    assert_eq!(vault_usage(&l), (2, 32), "room in this vault...");
    assert_eq!(user_usage(&l), (5, 80), "...but the user's quota is full");
    drop((a, b));
    reload(&[]);
    let l = ok(ok(Vault::open()).limits());
    assert_eq!(maxima(&l), DEFAULTS, "the defaults again");
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

// ---------------------------------------------------------------- udev, non-root

const UDEV_RULE: &str = include_str!("../../udev/99-keyvault.rules");

const RULE_PATH: &str = "/etc/udev/rules.d/99-keyvault.rules";

const GROUP_MEMBER_UID: u32 = 4242;

const OUTSIDER_UID: u32 = 4243;

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn on_path(cmd: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(cmd).is_file()))
        .unwrap_or(false)
}

/// The gid of a group in /etc/group.
fn group_gid(name: &str) -> Option<u32> {
    let groups = std::fs::read_to_string("/etc/group").ok()?;
    groups.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then_some(())?;
        f.nth(1)?.parse().ok()
    })
}

/// Group "keyvault", made if missing: groupadd, or a line in /etc/group.
fn keyvault_group() -> u32 {
    if let Some(gid) = group_gid("keyvault") {
        return gid;
    }
    let made = Command::new("groupadd")
        .args(["--system", "keyvault"])
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        let gid = (900..1000)
            .find(|g| {
                !std::fs::read_to_string("/etc/group")
                    .unwrap_or_default()
                    .lines()
                    .any(|l| l.split(':').nth(2) == Some(&g.to_string()))
            })
            .expect("a free system gid");
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open("/etc/group")
            .expect("/etc/group");
        writeln!(f, "keyvault:x:{gid}:").expect("append to /etc/group");
    }
    group_gid("keyvault").expect("group keyvault after creating it")
}

pub fn the_udev_rule_opens_the_device_to_group_keyvault_whose_members_get_private_vaults() {
    assert!(
        on_path("udevadm"),
        "udevadm is not on PATH in the VM: cannot install and test udev/99-keyvault.rules"
    );
    let ping = Command::new("udevadm")
        .args(["control", "--ping"])
        .output()
        .expect("udevadm");
    assert!(
        ping.status.success(),
        "udevd is not running in the VM (udevadm control --ping: {})",
        String::from_utf8_lossy(&ping.stderr).trim()
    );
    let gid = keyvault_group();
    std::fs::create_dir_all("/etc/udev/rules.d").expect("mkdir /etc/udev/rules.d");
    std::fs::write(RULE_PATH, UDEV_RULE).unwrap_or_else(|e| panic!("{RULE_PATH}: {e}"));
    run("udevadm", &["control", "--reload"]);
    run(
        "udevadm",
        &[
            "trigger",
            "--action=add",
            "--subsystem-match=misc",
            "--sysname-match=keyvault",
        ],
    );
    run("udevadm", &["settle", "--timeout=30"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let (mode, node_gid) = loop {
        let md = std::fs::metadata("/dev/keyvault").expect("/dev/keyvault");
        let now = (md.mode() & 0o7777, md.gid());
        if now == (0o660, gid) || Instant::now() > deadline {
            break now;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        (mode, node_gid),
        (0o660, gid),
        "/dev/keyvault is mode {mode:o} gid {node_gid} after the udev rule (want 660, keyvault = {gid}); is udevd running?"
    );

    // Root's vault and key, which the others must not reach.
    let root_vault = ok(Vault::open());
    let root_key = ok(root_vault.generate(Algorithm::Aes256Gcm));
    let root_fd = root_vault.as_raw_fd();
    in_child("a member of group keyvault", || {
        // SAFETY: the child's own copy of root's fd: an unprivileged process
        // would not have it.
        unsafe { libc::close(root_fd) };
        become_user(GROUP_MEMBER_UID, GROUP_MEMBER_UID, &[gid]);
        let a = ok(Vault::open());
        let b = ok(Vault::open());
        assert_eq!(ok(a.caps()), Caps::all());
        let ka = ok(a.generate(Algorithm::Aes256Gcm));
        let msg = seal(&a, ka);
        assert_eq!(ok(open(&a, ka, &msg)), PLAIN);
        // Two opens are two vaults.
        expect_errno(b.info(ka), Errno::ENOENT);
        expect_errno(b.aead_encrypt(ka, PLAIN, b"", None), Errno::ENOENT);
        expect_errno(b.destroy(ka), Errno::ENOENT);
        assert!(ok(b.list()).is_empty());
        // Another user's key id means nothing here.
        for v in [&a, &b] {
            expect_errno(v.info(root_key), Errno::ENOENT);
            expect_errno(v.aead_encrypt(root_key, PLAIN, b"", None), Errno::ENOENT);
            expect_errno(v.revoke(root_key), Errno::ENOENT);
            expect_errno(v.destroy(root_key), Errno::ENOENT);
        }
        // And a dup works for the unprivileged user too.
        let d = dup(&a, Caps::READONLY, &[ka]).expect("dup as a group member");
        assert_eq!(ok(open(&d, ka, &msg)), PLAIN);
        0
    });
    in_child("a user outside group keyvault", || {
        // SAFETY: as above.
        unsafe { libc::close(root_fd) };
        become_user(OUTSIDER_UID, OUTSIDER_UID, &[]);
        expect_errno(Vault::open(), Errno::EACCES);
        0
    });
    // Root's key is untouched, and root still opens the node.
    assert_eq!(ok(root_vault.info(root_key)).state, KeyState::Active);
    ok(ok(Vault::open()).generate(Algorithm::Aes128Gcm));
}

/// This file's tests that run in the middle of the suite.
pub fn tests() -> Vec<crate::support::harness::Test> {
    crate::tests![the_udev_rule_opens_the_device_to_group_keyvault_whose_members_get_private_vaults]
}

/// Tests that run before all others.
pub fn first() -> Vec<crate::support::harness::Test> {
    crate::tests![the_device_node_is_a_character_device,]
}

/// Tests that run after all others (the last one unloads and reloads the module).
pub fn last() -> Vec<crate::support::harness::Test> {
    crate::tests![
        closing_the_last_fd_destroys_every_key,
        destroy_frees_the_key_at_once_when_no_operation_holds_it,
        the_c_example_runs_against_the_module,
        a_user_whose_every_key_is_refused_by_the_quota_holds_no_quota_entry,
        limits_reports_the_load_time_parameters_and_which_quota_is_full,
        rmmod_is_refused_while_open_and_works_once_all_fds_are_closed,
    ]
}
