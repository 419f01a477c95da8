//! The systemd units shipped in the kvctl package (packaging/systemd/):
//! `systemd-analyze verify` says nothing about them (an unknown or
//! misspelt directive is only a warning there: any output fails this
//! test), `systemd-analyze security` rates the service's exposure at most
//! 2.0, and the hardening the README promises is written in it.

use std::path::{Path, PathBuf};
use std::process::Command;

const UNITS: [&str; 3] = [
    "keyvault-agent.service",
    "keyvault-agent.socket",
    "keyvault-agent-ssh.socket",
];

fn packaging() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/systemd")
}

/// The units in a scratch directory, the service's ExecStart pointed at
/// this build's binary (verify checks that the program exists).
fn staged(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kv-units-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for u in UNITS {
        let text = std::fs::read_to_string(packaging().join(u)).unwrap();
        let text = text.replace(
            "/usr/bin/keyvault-agent",
            env!("CARGO_BIN_EXE_keyvault-agent"),
        );
        std::fs::write(dir.join(u), text).unwrap();
    }
    dir
}

fn analyze(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("systemd-analyze")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("systemd-analyze (package systemd, installed by scripts/deps)");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn systemd_analyze_verify_says_nothing() {
    let dir = staged("verify");
    let mut args = vec!["verify", "--man=no"];
    let paths: Vec<String> = UNITS.iter().map(|u| format!("./{u}")).collect();
    args.extend(paths.iter().map(String::as_str));
    let (ok, text) = analyze(&dir, &args);
    assert!(
        ok && text.trim().is_empty(),
        "systemd-analyze verify:\n{text}"
    );
    // And it would say something: a misspelt directive.
    let svc = dir.join("keyvault-agent.service");
    let text = std::fs::read_to_string(&svc)
        .unwrap()
        .replace("ProtectSystem=", "ProtectSistem=");
    std::fs::write(&svc, text).unwrap();
    let (_, text) = analyze(&dir, &args);
    assert!(
        text.contains("ProtectSistem"),
        "a typo went unnoticed:\n{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_service_is_hardened() {
    let dir = staged("security");
    let (ok, text) = analyze(
        &dir,
        &[
            "security",
            "--offline=yes",
            "--threshold=20",
            "./keyvault-agent.service",
        ],
    );
    assert!(ok, "exposure above 2.0:\n{text}");
    let unit = std::fs::read_to_string(packaging().join("keyvault-agent.service")).unwrap();
    for line in [
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "PrivateNetwork=yes",
        "CapabilityBoundingSet=CAP_SYS_PTRACE",
        "DevicePolicy=closed",
        "DeviceAllow=/dev/keyvault rw",
        "RestrictAddressFamilies=AF_UNIX",
        "MemoryDenyWriteExecute=yes",
    ] {
        assert!(unit.lines().any(|l| l == line), "no {line}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
