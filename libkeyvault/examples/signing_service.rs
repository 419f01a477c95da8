//! A signing service: a struct that owns its vault (`Arc<Vault>`) and an
//! Ed25519 `SigningKey` (no lifetime, so it can be stored and shared), and
//! serves sign requests from several threads at once. Every signature is
//! checked with ed25519-dalek against the public key: the kernel's Ed25519
//! is the standard one.
//!
//!   cargo run --release -p keyvault --example signing_service -- [KEY_ID]
//!
//! With `$KEYVAULT_FD` (under `kvctl exec`) it serves from the inherited
//! vault, with KEY_ID a key made there (`kvctl genkey ed25519`); else it
//! opens a vault and makes a key. It prints the public key and the
//! signature of `hello` in hex, one per line (`public HEX`, `hello HEX`),
//! which `kvctl verify --pubkey HEX --sig HEX` checks.

use ed25519_dalek::{Verifier, VerifyingKey};
use keyvault::ed25519::Signature;
use keyvault::signature::Signer;
use keyvault::{Algorithm, KeyId, PublicKey, SigningKey, Vault};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const THREADS: usize = 4;
const REQUESTS_PER_THREAD: usize = 25;

/// What a service keeps: no borrow, so it lives in an `Arc` shared by
/// worker threads (`SigningKey` is `SigningKey<Arc<Vault>>`, `Send + Sync`).
struct SigningService {
    key: SigningKey,
    public: PublicKey,
    served: AtomicU64,
}

impl SigningService {
    fn new(vault: Arc<Vault>, key: KeyId) -> Result<Self, String> {
        let key = SigningKey::new(vault, key);
        let public = key
            .public_key()
            .map_err(|e| format!("key {}: {e}", key.id()))?;
        Ok(SigningService {
            key,
            public,
            served: AtomicU64::new(0),
        })
    }

    /// One request: the kernel signs; the private key never leaves it.
    fn sign(&self, request: &[u8]) -> Result<Signature, String> {
        let sig = self.key.try_sign(request).map_err(|e| {
            // The kernel's error (which errno) is the trait error's source.
            let why =
                std::error::Error::source(&e).map_or_else(|| e.to_string(), |s| s.to_string());
            format!("sign: {why}")
        })?;
        self.served.fetch_add(1, Ordering::Relaxed);
        Ok(sig)
    }
}

fn run() -> Result<(), String> {
    let inherited = std::env::var_os(keyvault::FD_ENV).is_some();
    let vault = Arc::new(if inherited {
        Vault::from_env().map_err(|e| e.to_string())?
    } else {
        Vault::open().map_err(|e| e.to_string())?
    });
    let key = match std::env::args().nth(1) {
        Some(id) => id.parse().map_err(|_| format!("'{id}' is not a key id"))?,
        None => vault
            .generate(Algorithm::Ed25519)
            .map_err(|e| e.to_string())?,
    };
    let service = Arc::new(SigningService::new(Arc::clone(&vault), key)?);
    println!(
        "vault: {}; key {key}",
        if inherited {
            "inherited through $KEYVAULT_FD"
        } else {
            "a new one"
        }
    );
    drop(vault); // the service owns its share

    let verifier = VerifyingKey::from_bytes(&service.public)
        .map_err(|e| format!("the kernel's public key is not a curve point: {e}"))?;
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let service = Arc::clone(&service);
            std::thread::spawn(move || -> Result<Vec<(Vec<u8>, Signature)>, String> {
                (0..REQUESTS_PER_THREAD)
                    .map(|i| {
                        let request = format!("request {i} from thread {t}").into_bytes();
                        let sig = service.sign(&request)?;
                        Ok((request, sig))
                    })
                    .collect()
            })
        })
        .collect();
    let mut signed = 0;
    for worker in workers {
        for (request, sig) in worker.join().map_err(|_| "a worker panicked")?? {
            verifier.verify(&request, &sig).map_err(|e| {
                format!(
                    "{}: does not verify: {e}",
                    String::from_utf8_lossy(&request)
                )
            })?;
            signed += 1;
        }
    }
    let served = service.served.load(Ordering::Relaxed);
    if signed != THREADS * REQUESTS_PER_THREAD || served != signed as u64 {
        return Err(format!("{signed} signatures back, {served} served"));
    }
    println!("{THREADS} threads signed {signed} requests; all verify with ed25519-dalek");
    // Deterministic (RFC 8032): the same request always gets the same signature.
    let hello = service.sign(b"hello")?;
    if service.sign(b"hello")? != hello {
        return Err("two signatures of one message differ".into());
    }
    println!("public {}", hex::encode(service.public));
    println!("hello {}", hex::encode(hello.to_bytes()));
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("signing_service: {e}");
            ExitCode::FAILURE
        }
    }
}
