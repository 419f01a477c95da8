//! Handing a less trusted process a vault handle that can do one thing:
//! the parent opens a vault, makes two Ed25519 keys, DUPs a handle that
//! can only `sign`, and only with the first key, and sends it over a Unix
//! socket pair (SCM_RIGHTS) to a child process (this program run again).
//! The child signs the request the parent sends and is refused the rest
//! (the other key, making keys, verifying, listing); the parent verifies
//! the signature with its own, full handle.
//!
//!   cargo run --release -p keyvault --example fd_passing

use keyvault::{Algorithm, Caps, ErrorKind, KeyId, Result as KvResult, SignatureBytes, Vault};
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::{Command, ExitCode, Stdio};

const REQUEST: &[u8] = b"deploy build 1234 to production";

fn err(what: &str) -> impl Fn(keyvault::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

fn parent() -> Result<(), String> {
    let vault = Vault::open().map_err(err("open"))?;
    let signing = vault.generate(Algorithm::Ed25519).map_err(err("genkey"))?;
    let other = vault.generate(Algorithm::Ed25519).map_err(err("genkey"))?;
    let worker = vault
        .dup(Caps::SIGN, Some(&[signing]))
        .map_err(err("dup"))?;
    println!(
        "parent: keys {signing} and {other}; a handle for the child: {}, key {signing} only",
        worker.caps().map_err(err("caps"))?.names()
    );

    let (mine, theirs) = UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?;
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    // The child's end is its stdin: passed by the ordinary spawn, no fd
    // numbers to agree on. The vault goes over the socket, not by inheritance.
    let mut child = Command::new(exe)
        .args(["--child", &signing.to_string(), &other.to_string()])
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .spawn()
        .map_err(|e| format!("spawn the child: {e}"))?;
    worker.send(&mine).map_err(err("send"))?;
    drop(worker); // the child's handle is now only the child's
    println!("parent: sent the handle over SCM_RIGHTS");

    let mut sock = &mine;
    sock.write_all(&(REQUEST.len() as u32).to_le_bytes())
        .and_then(|()| sock.write_all(REQUEST))
        .map_err(|e| format!("send the request: {e}"))?;
    let mut sig: SignatureBytes = [0; 64];
    let got = sock
        .read_exact(&mut sig)
        .map_err(|e| format!("read the signature: {e}"));
    let status = child.wait().map_err(|e| format!("wait: {e}"))?;
    if !status.success() {
        return Err(format!("the child failed ({status})"));
    }
    got?;
    vault
        .verify(signing, REQUEST, &sig)
        .map_err(err("verify the child's signature"))?;
    let public = vault.public_key(signing).map_err(err("pubkey"))?;
    vault
        .verify_with_public_key(&public, REQUEST, &sig)
        .map_err(err("verify with the public key"))?;
    if vault.verify(other, REQUEST, &sig).is_ok() {
        return Err("the signature verifies with the other key too".into());
    }
    println!("parent: the child's signature verifies with key {signing}");
    Ok(())
}

/// `Ok` when `r` failed as `kind`.
fn refused<T>(what: &str, r: KvResult<T>, kind: ErrorKind) -> Result<(), String> {
    match r {
        Ok(_) => Err(format!("{what}: allowed, should be refused")),
        Err(e) if e.kind() == kind => {
            println!("child: {what}: refused ({})", e.explain());
            Ok(())
        }
        Err(e) => Err(format!("{what}: {e}, expected {kind:?}")),
    }
}

fn child(signing: KeyId, other: KeyId) -> Result<(), String> {
    let stdin = std::io::stdin().as_fd().try_clone_to_owned();
    let sock = UnixStream::from(stdin.map_err(|e| format!("stdin: {e}"))?);
    let vault = Vault::receive(&sock).map_err(err("receive"))?;
    let caps = vault.caps().map_err(err("caps"))?;
    println!("child: received a vault handle with {}", caps.names());
    if caps != Caps::SIGN {
        return Err(format!(
            "the handle has {}, expected sign only",
            caps.names()
        ));
    }

    let mut sock = &sock;
    let mut len = [0u8; 4];
    sock.read_exact(&mut len)
        .map_err(|e| format!("read the request: {e}"))?;
    let mut request = vec![0u8; u32::from_le_bytes(len) as usize];
    sock.read_exact(&mut request)
        .map_err(|e| format!("read the request: {e}"))?;
    let sig = vault.sign(signing, &request).map_err(err("sign"))?;
    println!("child: signed {} bytes with key {signing}", request.len());

    refused(
        &format!("sign with key {other}"),
        vault.sign(other, &request),
        ErrorKind::KeyNotFound,
    )?;
    refused(
        "genkey",
        vault.generate(Algorithm::Ed25519),
        ErrorKind::PermissionDenied,
    )?;
    refused(
        "verify",
        vault.verify(signing, &request, &sig),
        ErrorKind::PermissionDenied,
    )?;
    refused("list", vault.list(), ErrorKind::PermissionDenied)?;
    sock.write_all(&sig)
        .map_err(|e| format!("send the signature: {e}"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("--child") => {
            let id = |i: usize| args.get(i).and_then(|s| s.parse().ok()).ok_or("usage");
            match (id(2), id(3)) {
                (Ok(signing), Ok(other)) => child(signing, other),
                _ => Err("usage: fd_passing --child SIGNING_KEY OTHER_KEY".into()),
            }
        }
        None => parent(),
        Some(_) => Err("usage: fd_passing".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let who = if args.len() > 1 {
                "fd_passing child"
            } else {
                "fd_passing"
            };
            eprintln!("{who}: {e}");
            ExitCode::FAILURE
        }
    }
}
