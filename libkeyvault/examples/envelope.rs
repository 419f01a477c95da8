//! Envelope encryption: a data key made in the kernel encrypts a file's
//! contents; the data key itself leaves the kernel only wrapped under a
//! master key (`Vault::wrap`), stored beside the ciphertext. Opening the
//! envelope unwraps the data key into the kernel again and decrypts there:
//! no key byte is ever in this process's memory.
//!
//!   cargo run --release -p keyvault --example envelope -- [FILE]
//!
//! Seals FILE into FILE.kvenv (or a sample text into a temporary file,
//! removed after), destroys the data key, opens the envelope, and checks
//! that the contents came back, that an altered envelope or one under
//! another file's name does not open, and that no data key is left. In
//! a vault inherited through `$KEYVAULT_FD` (`kvctl exec -- envelope`) the
//! master key can be one made there: `KEYVAULT_MASTER=ID`.

use keyvault::aead::Payload;
use keyvault::{AeadKey, AeadNonce, Algorithm, Caps, KeyId, KeyOptions, Vault, WrapFormat};
use std::path::PathBuf;
use std::process::ExitCode;
use zeroize::Zeroizing;

/// The envelope file: `KVENV1\0\0`, the wrapped data key's length (u32
/// little-endian) and the blob, the 12-byte nonce, then ciphertext‖tag. A
/// format of this example's own (a real application has its container: a
/// database row, a header of its file format): the blob and the AEAD
/// output are each self-describing enough, this only places them.
const MAGIC: &[u8; 8] = b"KVENV1\0\0";

struct Envelope {
    wrapped_key: Vec<u8>,
    nonce: AeadNonce,
    sealed: Vec<u8>,
}

impl Envelope {
    fn to_bytes(&self) -> Vec<u8> {
        let len = u32::try_from(self.wrapped_key.len()).expect("a blob is at most 4096 bytes");
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&self.wrapped_key);
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.sealed);
        out
    }

    fn parse(bytes: &[u8]) -> Result<Envelope, String> {
        let rest = bytes
            .strip_prefix(MAGIC)
            .ok_or("not an envelope (no KVENV1 magic)")?;
        let (len, rest) = rest.split_first_chunk::<4>().ok_or("truncated envelope")?;
        let len = u32::from_le_bytes(*len) as usize;
        if rest.len() < len + 12 {
            return Err("truncated envelope".into());
        }
        let (wrapped_key, rest) = rest.split_at(len);
        let (nonce, sealed) = rest.split_at(12);
        Ok(Envelope {
            wrapped_key: wrapped_key.to_vec(),
            nonce: AeadNonce::try_from(nonce).map_err(|_| "truncated envelope")?,
            sealed: sealed.to_vec(),
        })
    }
}

/// The file's name is the AAD: an envelope renamed to another file's name
/// does not open.
fn seal(vault: &Vault, master: KeyId, name: &str, contents: &[u8]) -> Result<Envelope, String> {
    // A fresh data key per file, wrappable so that it can be stored.
    let opts = KeyOptions {
        wrappable: true,
        usage: Caps::ENCRYPT | Caps::DECRYPT,
        ..Default::default()
    };
    let data_key = vault
        .generate_with(Algorithm::Aes256Gcm, &opts)
        .map_err(|e| e.to_string())?;
    let (nonce, sealed) = vault
        .aead_key(data_key)
        .encrypt_with_kernel_nonce(Payload {
            msg: contents,
            aad: name.as_bytes(),
        })
        .map_err(|e| e.to_string())?;
    let wrapped_key = vault
        .wrap(master, data_key, WrapFormat::Native)
        .map_err(|e| e.to_string())?;
    // The envelope is all that is left of the data key.
    vault.destroy(data_key).map_err(|e| e.to_string())?;
    Ok(Envelope {
        wrapped_key,
        nonce,
        sealed,
    })
}

fn open(
    vault: &Vault,
    master: KeyId,
    name: &str,
    env: &Envelope,
) -> Result<Zeroizing<Vec<u8>>, String> {
    let data_key = vault
        .unwrap(master, &env.wrapped_key)
        .map_err(|e| format!("unwrap: {e}"))?;
    let key = AeadKey::new(vault, data_key);
    let plain = key.decrypt_zeroizing(
        &env.nonce,
        Payload {
            msg: &env.sealed,
            aad: name.as_bytes(),
        },
    );
    vault.destroy(data_key).map_err(|e| e.to_string())?;
    plain.map_err(|e| format!("decrypt: {e}"))
}

fn run() -> Result<(), String> {
    let (vault, inherited) = match std::env::var_os(keyvault::FD_ENV) {
        Some(_) => (Vault::from_env().map_err(|e| e.to_string())?, true),
        None => (Vault::open().map_err(|e| e.to_string())?, false),
    };
    println!(
        "vault: {}",
        if inherited {
            "inherited through $KEYVAULT_FD"
        } else {
            "a new one"
        }
    );
    let master = match std::env::var("KEYVAULT_MASTER") {
        Ok(id) => id
            .parse()
            .map_err(|_| format!("KEYVAULT_MASTER={id} is not a key id"))?,
        Err(_) => {
            let opts = KeyOptions {
                usage: Caps::WRAPPING,
                ..Default::default()
            };
            vault
                .generate_with(Algorithm::Aes256Gcm, &opts)
                .map_err(|e| e.to_string())?
        }
    };
    println!("master key: {master}");
    let keys_before = vault.list().map_err(|e| e.to_string())?;

    let sample = std::env::args_os().nth(1).is_none();
    let (input, contents) = match std::env::args_os().nth(1).map(PathBuf::from) {
        Some(path) => {
            let contents = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            (path, contents)
        }
        None => (
            std::env::temp_dir().join(format!("envelope-sample-{}", std::process::id())),
            b"The quarterly numbers, before anyone else sees them.\n".to_vec(),
        ),
    };
    let name = input
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut path = input.clone().into_os_string();
    path.push(".kvenv");
    let path = PathBuf::from(path);

    let envelope = seal(&vault, master, &name, &contents)?;
    std::fs::write(&path, envelope.to_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
    println!(
        "sealed {} bytes of {name} into {}: wrapped data key {} bytes, ciphertext+tag {} bytes",
        contents.len(),
        path.display(),
        envelope.wrapped_key.len(),
        envelope.sealed.len()
    );

    let stored = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let opened = open(&vault, master, &name, &Envelope::parse(&stored)?)?;
    if *opened != contents {
        return Err("the opened envelope differs from the input".into());
    }
    println!(
        "opened {}: {} bytes, the same as the input",
        path.display(),
        opened.len()
    );

    let mut altered = Envelope::parse(&stored)?;
    if let Some(b) = altered.sealed.first_mut() {
        *b ^= 1;
    }
    match open(&vault, master, &name, &altered) {
        Ok(_) => return Err("an altered envelope opened".into()),
        Err(e) => println!("an altered envelope does not open: {e}"),
    }
    match open(&vault, master, "another-name", &Envelope::parse(&stored)?) {
        Ok(_) => return Err("the envelope opened under another file's name".into()),
        Err(e) => println!("under another name it does not open either: {e}"),
    }
    let keys_after = vault.list().map_err(|e| e.to_string())?;
    if keys_after != keys_before {
        return Err(format!(
            "data keys left behind: {keys_after:?}, before: {keys_before:?}"
        ));
    }
    println!(
        "no data key left in the vault ({} keys, as before)",
        keys_after.len()
    );
    if sample {
        std::fs::remove_file(&path).ok();
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("envelope: {e}");
            ExitCode::FAILURE
        }
    }
}
