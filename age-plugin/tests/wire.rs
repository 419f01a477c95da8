//! The built plugin as age runs it, with no kernel: the real age crate
//! finds `age-plugin-keyvault` on PATH, speaks identity-v1 with it, and
//! must get the plugin's reasons (no agent, the agent's refusal, a bad
//! $KEYVAULT_FD) as errors, never a hang or a crash. One test: it sets the
//! environment the plugin inherits.

use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::Command;
use std::str::FromStr;

const PLUGIN: &str = env!("CARGO_BIN_EXE_age-plugin-keyvault");

/// `AGE-PLUGIN-KEYVAULT-1...` for key `age-id`, as the plugin prints it.
fn identity_string() -> String {
    let data = [&[1u8][..], b"age-id"].concat();
    age_core::primitives::bech32_encode(bech32::Hrp::parse_unchecked("age-plugin-keyvault-"), &data)
        .to_uppercase()
}

fn encrypt_to(recipient: &age::x25519::Recipient, plaintext: &[u8]) -> Vec<u8> {
    let e =
        age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient)).unwrap();
    let mut out = Vec::new();
    let mut w = e.wrap_output(&mut out).unwrap();
    w.write_all(plaintext).unwrap();
    w.finish().unwrap();
    out
}

/// Decrypts with the plugin identity alone; the error as age reports it.
fn decrypt_error(file: &[u8]) -> String {
    let id = age::plugin::Identity::from_str(&identity_string()).unwrap();
    let plugin = age::plugin::IdentityPluginV1::new("keyvault", &[id], age::NoCallbacks).unwrap();
    let d = age::Decryptor::new(file).unwrap();
    match d.decrypt(std::iter::once(&plugin as &dyn age::Identity)) {
        Ok(mut r) => {
            let mut s = Vec::new();
            r.read_to_end(&mut s).unwrap();
            panic!("decrypted without a key: {s:?}")
        }
        Err(e) => e.to_string(),
    }
}

/// A fake broker that refuses every request, `n` times.
fn refusing_agent(path: &Path, n: usize) -> std::thread::JoinHandle<Vec<String>> {
    let l = UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        let mut requests = Vec::new();
        for _ in 0..n {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 4096];
            let k = s.read(&mut buf).unwrap();
            requests.push(String::from_utf8_lossy(&buf[..k]).into_owned());
            s.write_all(
                b"{\"v\":1,\"ok\":false,\"error\":{\"kind\":\"policy\",\"message\":\"uid 0 (exe /x): no rule allows key 'age-id'\"}}\n",
            )
            .unwrap();
        }
        requests
    })
}

#[test]
fn age_gets_the_plugins_reasons_over_the_protocol() {
    let dir = std::env::temp_dir().join(format!("age-plugin-wire-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // age finds the plugin on PATH, by name.
    let bin = dir.join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(PLUGIN, bin.join("age-plugin-keyvault")).unwrap();
    std::env::set_var("PATH", &bin);
    std::env::remove_var("KEYVAULT_FD");

    let other = age::x25519::Identity::generate();
    let file = encrypt_to(&other.to_public(), b"secret");

    // No agent.
    std::env::set_var("KEYVAULT_AGENT_SOCK", dir.join("none.sock"));
    let e = decrypt_error(&file);
    assert!(
        e.contains("key age-id: no keyvault-agent at") && e.contains("none.sock"),
        "{e}"
    );

    // The agent's refusal, word for word.
    let sock = dir.join("agent.sock");
    std::env::set_var("KEYVAULT_AGENT_SOCK", &sock);
    let agent = refusing_agent(&sock, 1);
    let e = decrypt_error(&file);
    assert!(e.contains("no rule allows key 'age-id'"), "{e}");
    let asked = agent.join().unwrap();
    assert!(
        asked[0].contains("\"op\":\"handle\"") && asked[0].contains("\"getinfo\""),
        "{asked:?}"
    );

    // $KEYVAULT_FD set but no vault: said so, and not silently the agent.
    std::env::set_var("KEYVAULT_FD", "987");
    std::env::set_var("KEYVAULT_KEY_AGE_ID", "5");
    let e = decrypt_error(&file);
    assert!(e.contains("$KEYVAULT_FD names no open fd"), "{e}");
    std::env::set_var("KEYVAULT_KEY_AGE_ID", "five");
    let e = decrypt_error(&file);
    assert!(
        e.contains("$KEYVAULT_KEY_AGE_ID is 'five', not a key id"),
        "{e}"
    );
    // $KEYVAULT_FD without the key's variable: the agent, and if there is
    // none either, both reasons.
    std::env::remove_var("KEYVAULT_KEY_AGE_ID");
    std::env::set_var("KEYVAULT_AGENT_SOCK", dir.join("none.sock"));
    let e = decrypt_error(&file);
    assert!(
        e.contains("no key age-id: the vault of $KEYVAULT_FD has no $KEYVAULT_KEY_AGE_ID, and no keyvault-agent at"),
        "{e}"
    );
    std::env::remove_var("KEYVAULT_FD");

    // The command line: the same reasons, exit status 1; bad names are usage errors.
    std::env::set_var("KEYVAULT_AGENT_SOCK", dir.join("none.sock"));
    let run = |args: &[&str]| {
        let o = Command::new(PLUGIN).args(args).output().unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, out, err) = run(&["--recipient", "age-id"]);
    assert_eq!((code, out.as_str()), (Some(1), ""), "{err}");
    assert!(
        err.contains("key age-id: no keyvault-agent at") && err.contains("none.sock"),
        "{err}"
    );
    let (code, _, err) = run(&["--recipient", &identity_string()]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("key age-id:"),
        "an identity names its key: {err}"
    );
    let (code, _, err) = run(&["--identity", "no/slash"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("bad key name"), "{err}");
    let (code, _, err) = run(&["--recipient", "AGE-PLUGIN-YUBIKEY-1QQQQ"]);
    assert_eq!(code, Some(2), "{err}");
    let (code, _, _) = run(&[]);
    assert_eq!(code, Some(2), "nothing to do is a usage error");
    let (code, _, err) = run(&["--age-plugin=recipient-v1"]);
    assert_ne!(code, Some(0), "no recipient side: {err}");

    let _ = std::fs::remove_dir_all(&dir);
}
