//! The kvctl binary as a script sees it, on a host without the module:
//! exit statuses, `--json` errors, and no panic (exit status 101) when
//! stdout is a closed pipe.

use serde_json::Value;
use std::process::{Command, Output, Stdio};

fn kvctl(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kvctl"));
    c.args(args).env_remove("KEYVAULT_FD");
    c
}

fn run(args: &[&str]) -> Output {
    kvctl(args).output().expect("run kvctl")
}

/// kvctl with a stdout whose reading end is already closed: every write
/// is EPIPE.
fn run_into_closed_pipe(args: &[&str]) -> Output {
    let (read, write) = nix::unistd::pipe().expect("pipe");
    drop(read);
    kvctl(args)
        .stdout(Stdio::from(write))
        .stderr(Stdio::piped())
        .output()
        .expect("run kvctl")
}

fn json_error(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let line = lines.next().expect("a JSON line on stdout");
    assert_eq!(lines.next(), None, "one line: {text}");
    serde_json::from_str(line).expect("stdout is JSON")
}

#[test]
fn a_closed_stdout_ends_kvctl_quietly_with_141_not_a_panic() {
    for args in [&["algorithms"][..], &["--json", "algorithms"], &["--help"]] {
        let out = run_into_closed_pipe(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(out.status.code(), Some(101), "{args:?}");
        if args != ["--help"] {
            assert_eq!(out.status.code(), Some(141), "{args:?}: {stderr}");
            assert!(stderr.is_empty(), "{args:?}: nothing to say: {stderr}");
        }
    }
}

#[test]
fn usage_errors_exit_2_with_json_if_asked() {
    let out = run(&["genkey", "rot13"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rot13"));
    assert!(out.stdout.is_empty());
    let out = run(&["--json", "frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    let e = json_error(&out);
    assert_eq!(e["error"]["kind"], "usage");
    assert_eq!(e["error"]["exit_code"], 2);
    let m = e["error"]["message"].as_str().unwrap();
    assert!(m.contains("frobnicate") && !m.starts_with("error:"), "{m}");
    // --json given after the subcommand counts too; after `--` it is CMD's.
    assert_eq!(
        json_error(&run(&["info", "x", "--json"]))["error"]["kind"],
        "usage"
    );
    let out = run(&["exec", "--keys", "x", "--", "echo", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert_eq!(run(&["--help"]).status.code(), Some(0));
    assert_eq!(run(&["--version"]).status.code(), Some(0));
}

#[test]
fn a_key_made_outside_a_kept_vault_is_refused_with_the_ways_to_keep_it() {
    for cmd in [
        &["genkey", "aes256-gcm"][..],
        &["import", "aes128-gcm", "--key-file", "/dev/null"],
        &["derive", "1", "--to", "aes256-gcm"],
        &[
            "exchange",
            "1",
            "--peer",
            &"11".repeat(32),
            "--to",
            "hmac-sha256",
        ],
        &["unwrap", "--with", "1", "blob"],
    ] {
        let out = run(cmd);
        assert_eq!(out.status.code(), Some(2), "{cmd:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        for way in [
            "kvctl exec -- sh -c",
            "kvctl batch",
            "kvctl keystore add",
            "--ephemeral",
        ] {
            assert!(err.contains(way), "{cmd:?}: no {way} in {err}");
        }
    }
    let e = json_error(&run(&["--json", "genkey", "ed25519"]));
    assert_eq!(e["error"]["exit_code"], 2);
    assert!(e["error"]["hint"].as_str().unwrap().contains("kvctl exec"));
}

#[test]
fn no_module_is_exit_status_3() {
    if std::path::Path::new("/dev/keyvault").exists() {
        eprintln!("skipped: this host has /dev/keyvault");
        return;
    }
    let out = run(&["list"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is the keyvault module loaded"));
    let e = json_error(&run(&["--json", "--ephemeral", "genkey", "aes256-gcm"]));
    assert_eq!(e["error"]["kind"], "no_device");
    assert_eq!(e["error"]["op"], "open");
    assert_eq!(e["error"]["errno"], libc::ENOENT);
    // An fd that is not a vault: ENOTTY from the first request.
    let out = kvctl(&["caps"])
        .env("KEYVAULT_FD", "0")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = kvctl(&["caps"])
        .env("KEYVAULT_FD", "nine")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}
