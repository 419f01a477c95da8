//! OpenSSH signatures (PROTOCOL.sshsig): `sign --format sshsig` and
//! `verify --format sshsig`, as `ssh-keygen -Y sign` / `-Y verify` make
//! and check them.
//!
//! The input is hashed here, in pieces (any size, constant memory); the
//! kernel signs the small SSHSIG blob that holds the hash, with the vault's
//! Ed25519 key.

use crate::asym_cmds::{SignArgs, VerifyArgs};
use crate::fail::{Fail, Kind};
use crate::inout;
use crate::Session;
use keyvault::{PublicKey, SignatureBytes};
use serde_json::json;
use ssh_encoding::Encode;
use ssh_key::public::{Ed25519PublicKey, KeyData};
use ssh_key::{HashAlg, LineEnding, Signature, SshSig};
use std::io::Read;
use std::path::Path;

/// A signature that is well-formed but not the right one: exit status 1.
const VERIFICATION_FAILED: Kind = Kind::Vault(keyvault::ErrorKind::VerificationFailed);

/// The blob an SSH signature signs (PROTOCOL.sshsig, "Signed Data"): the
/// magic "SSHSIG", then namespace, reserved, hash algorithm name and the
/// message's hash, each an SSH string. `SshSig::signed_data` would hash the
/// message itself, so it would have to be in memory whole: this takes the
/// hash, computed while the input streams by.
pub fn signed_data(
    namespace: &str,
    reserved: &[u8],
    hash_alg: HashAlg,
    hash: &[u8],
) -> Result<Vec<u8>, String> {
    let mut out = b"SSHSIG".to_vec();
    (|| {
        namespace.encode(&mut out)?;
        reserved.encode(&mut out)?;
        hash_alg.encode(&mut out)?;
        hash.encode(&mut out)
    })()
    .map_err(|e| format!("SSHSIG: {e}"))?;
    Ok(out)
}

/// The hash of everything `input` yields, read in pieces.
pub fn digest(mut input: impl Read, hash_alg: HashAlg, name: &str) -> Result<Vec<u8>, String> {
    let alg = match hash_alg {
        HashAlg::Sha256 => keyvault::HashAlg::Sha256,
        HashAlg::Sha512 => keyvault::HashAlg::Sha512,
        other => return Err(format!("SSHSIG: hash {other} is not supported")),
    };
    Ok(crate::streaming::sha2_of(alg, &[], &mut input, name)?)
}

/// The namespace an SSH signature needs (`ssh-keygen -Y ... -n NS`).
fn namespace(ns: Option<&str>) -> Result<&str, String> {
    match ns {
        Some(ns) if !ns.is_empty() => Ok(ns),
        _ => Err(
            "an SSH signature needs --namespace NS (e.g. file or git: what the \
                  signature is for; the verifier names the same one)"
                .into(),
        ),
    }
}

/// The armored SSH signature of `sig` by `public` over a message hashed
/// into `signed_data(namespace, [], sha512, ...)`.
pub fn armor(public: &PublicKey, namespace: &str, sig: &SignatureBytes) -> Result<String, String> {
    let sig = Signature::new(ssh_key::Algorithm::Ed25519, sig.to_vec())
        .map_err(|e| format!("SSHSIG: {e}"))?;
    SshSig::new(
        KeyData::Ed25519(Ed25519PublicKey(*public)),
        namespace,
        HashAlg::Sha512,
        sig,
    )
    .and_then(|s| s.to_pem(LineEnding::LF))
    .map_err(|e| format!("SSHSIG: {e}"))
}

/// What an armored SSH signature says: who signed, for which namespace,
/// and the blob they signed given the message's hash.
struct Parsed {
    sig: SshSig,
    signer: PublicKey,
    bytes: SignatureBytes,
}

fn parse(text: &[u8]) -> Result<Parsed, String> {
    let sig = SshSig::from_pem(text.trim_ascii())
        .map_err(|e| format!("not an SSH signature (BEGIN SSH SIGNATURE): {e}"))?;
    let (KeyData::Ed25519(signer), ssh_key::Algorithm::Ed25519) =
        (sig.public_key(), sig.algorithm())
    else {
        return Err(format!(
            "an SSH signature by a {} key: kvctl checks ssh-ed25519 signatures",
            sig.algorithm()
        ));
    };
    let bytes = SignatureBytes::try_from(sig.signature_bytes())
        .map_err(|_| "SSHSIG: an Ed25519 signature is 64 bytes")?;
    Ok(Parsed {
        signer: signer.0,
        bytes,
        sig,
    })
}

/// True when a signature file holds an armored SSH signature.
pub fn is_armored(data: &[u8]) -> bool {
    data.trim_ascii_start()
        .starts_with(b"-----BEGIN SSH SIGNATURE-----")
}

impl Session {
    fn input_digest(&self, input: Option<&Path>, hash_alg: HashAlg) -> Result<Vec<u8>, Fail> {
        let mut inp = self.open(input)?;
        Ok(digest(&mut inp.reader, hash_alg, &inp.name)?)
    }

    pub(crate) fn sign_sshsig(&self, a: &SignArgs) -> Result<(), Fail> {
        let ns = namespace(a.namespace.as_deref())?;
        let public = self.vault.public_key(a.id)?;
        let hash = self.input_digest(a.io.input.as_deref(), HashAlg::Sha512)?;
        let blob = signed_data(ns, &[], HashAlg::Sha512, &hash)?;
        let sig = self.vault.sign(a.id, &blob)?;
        let pem = armor(&public, ns, &sig)?;
        let text = if self.json {
            format!("{}\n", json!({ "signature": pem, "encoding": "sshsig" }))
        } else {
            pem
        };
        inout::write_output(a.io.out.as_deref(), text.as_bytes(), false)
    }

    /// Checks the SSH signature `text` of the input, by the vault key `a.id`
    /// or by `public`, for `--namespace`.
    pub(crate) fn verify_sshsig(
        &self,
        a: &VerifyArgs,
        text: &[u8],
        public: Option<PublicKey>,
    ) -> Result<(), Fail> {
        let ns = namespace(a.namespace.as_deref())?;
        let p = parse(text)?;
        if p.sig.namespace() != ns {
            return Err(Fail::new(
                VERIFICATION_FAILED,
                format!(
                    "bad signature: it is for namespace '{}', not '{ns}'",
                    p.sig.namespace()
                ),
            ));
        }
        let (expected, id) = match (public, a.id) {
            (Some(key), _) => (key, None),
            (None, Some(id)) => (self.vault.public_key(id)?, Some(id)),
            (None, None) => return Err(Fail::usage("give a key id, --pubkey or --pubkey-file")),
        };
        if p.signer != expected {
            return Err(Fail::new(
                VERIFICATION_FAILED,
                format!(
                    "bad signature: made by the key {}, not by {}",
                    hex::encode(p.signer),
                    id.map_or_else(
                        || format!("public key {}", hex::encode(expected)),
                        |id| format!("key {id}")
                    )
                ),
            ));
        }
        let input = a.input.as_deref();
        let hash = self.input_digest(input, p.sig.hash_alg())?;
        let blob = signed_data(ns, p.sig.reserved(), p.sig.hash_alg(), &hash)?;
        let check = match id {
            Some(id) => self.vault.verify(id, &blob, &p.bytes),
            None => self
                .vault
                .verify_with_public_key(&expected, &blob, &p.bytes),
        };
        inout::verdict(self.json, "valid", check, || {
            format!(
                "bad signature: not an SSH signature of {} in namespace '{ns}'",
                &inout::display_name(input)
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, Verifier};

    fn key() -> ed25519_dalek::SigningKey {
        ed25519_dalek::SigningKey::from_bytes(&[9; 32])
    }

    #[test]
    fn the_signed_data_is_ssh_keys_for_the_streamed_hash() {
        let msg: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        for alg in [HashAlg::Sha512, HashAlg::Sha256] {
            let hash = digest(&msg[..], alg, "msg").unwrap();
            assert_eq!(hash, alg.digest(&msg));
            assert_eq!(
                signed_data("file", &[], alg, &hash).unwrap(),
                SshSig::signed_data("file", alg, &msg).unwrap()
            );
        }
    }

    #[test]
    fn armored_signatures_verify_with_ssh_key_and_read_back() {
        let sk = key();
        let public = sk.verifying_key().to_bytes();
        let msg = b"release 1.0\n";
        let hash = digest(&msg[..], HashAlg::Sha512, "msg").unwrap();
        let blob = signed_data("file", &[], HashAlg::Sha512, &hash).unwrap();
        let sig = sk.sign(&blob).to_bytes();
        let pem = armor(&public, "file", &sig).unwrap();
        assert!(pem.starts_with("-----BEGIN SSH SIGNATURE-----\n"), "{pem}");
        assert!(is_armored(pem.as_bytes()));
        assert!(!is_armored(hex::encode(sig).as_bytes()));

        // ssh-key's own verification (as ssh-keygen -Y verify does it).
        let ssh_public = ssh_key::PublicKey::new(KeyData::Ed25519(Ed25519PublicKey(public)), "");
        ssh_public
            .verify("file", msg, &SshSig::from_pem(&pem).unwrap())
            .unwrap();
        assert!(ssh_public
            .verify("file", b"release 1.1\n", &SshSig::from_pem(&pem).unwrap())
            .is_err());
        assert!(ssh_public
            .verify("git", msg, &SshSig::from_pem(&pem).unwrap())
            .is_err());

        let p = parse(format!("\n{pem}\n").as_bytes()).unwrap();
        assert_eq!((p.signer, p.bytes), (public, sig));
        assert_eq!(p.sig.namespace(), "file");
        let again =
            signed_data(p.sig.namespace(), p.sig.reserved(), p.sig.hash_alg(), &hash).unwrap();
        sk.verifying_key()
            .verify(&again, &ed25519_dalek::Signature::from_bytes(&p.bytes))
            .unwrap();
    }

    #[test]
    fn ssh_keygen_style_signatures_by_ssh_key_are_read() {
        let ssh_private = ssh_key::PrivateKey::new(
            ssh_key::private::KeypairData::Ed25519(ssh_key::private::Ed25519Keypair::from_seed(
                &[9; 32],
            )),
            "",
        )
        .unwrap();
        let sig = ssh_private.sign("git", HashAlg::Sha256, b"commit").unwrap();
        let p = parse(sig.to_pem(LineEnding::LF).unwrap().as_bytes()).unwrap();
        assert_eq!(p.signer, key().verifying_key().to_bytes());
        let hash = digest(&b"commit"[..], p.sig.hash_alg(), "m").unwrap();
        let blob = signed_data("git", p.sig.reserved(), p.sig.hash_alg(), &hash).unwrap();
        key()
            .verifying_key()
            .verify(&blob, &ed25519_dalek::Signature::from_bytes(&p.bytes))
            .unwrap();
    }

    #[test]
    fn bad_signature_files_and_namespaces_are_refused() {
        assert!(
            parse(b"-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n")
                .err()
                .unwrap()
                .contains("not an SSH signature")
        );
        assert!(parse(b"garbage").is_err());
        assert!(namespace(None).unwrap_err().contains("--namespace"));
        assert!(namespace(Some("")).is_err());
        assert_eq!(namespace(Some("file")), Ok("file"));
    }
}
