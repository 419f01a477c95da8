//! New keys from old ones, inside the kernel: HKDF from a vault key
//! (DERIVE), and X25519 with a peer's public key followed by HKDF
//! (KEYEXCHANGE). The derived bytes never leave the kernel; only the new
//! key's id comes back.

use crate::asym::PublicKey;
use crate::crypto::len32;
use crate::{Algorithm, HashAlg, KeyId, KeyOptions, Result, Vault};
use keyvault_uapi as abi;

/// How DERIVE and KEYEXCHANGE turn their input into a new key: HKDF
/// (RFC 5869) with `hash`, `salt` and `info` (each at most
/// [`Kdf::MAX_INPUT`] bytes). `Default`: HKDF-SHA256, empty salt and info.
///
/// The same parent key (or the same pair of X25519 keys) with the same
/// `Kdf` and new algorithm and size always gives the same key material: use
/// `info` to separate keys made for different purposes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kdf<'a> {
    /// The HKDF hash.
    pub hash: HashAlg,
    /// The HKDF salt (empty: none, i.e. zeros of the hash's length).
    pub salt: &'a [u8],
    /// The HKDF info: what the key is for.
    pub info: &'a [u8],
}

impl Default for Kdf<'_> {
    fn default() -> Self {
        Kdf {
            hash: HashAlg::Sha256,
            salt: &[],
            info: &[],
        }
    }
}

impl<'a> Kdf<'a> {
    /// The longest salt or info the kernel takes (`KV_KDF_MAX_INPUT`).
    pub const MAX_INPUT: usize = abi::KV_KDF_MAX_INPUT as usize;

    /// HKDF with `hash`, no salt, and `info`.
    pub fn new(hash: HashAlg, info: &'a [u8]) -> Self {
        Kdf {
            hash,
            salt: &[],
            info,
        }
    }

    /// The same, with `salt`.
    pub fn with_salt(self, salt: &'a [u8]) -> Self {
        Kdf { salt, ..self }
    }

    fn to_raw(self, op: &'static str, alg: Algorithm, opts: &KeyOptions) -> Result<abi::KvKdf> {
        Ok(abi::KvKdf {
            hash: self.hash.to_raw(),
            algorithm: alg.to_raw(),
            key_bits: opts.bits,
            salt_len: len32(op, self.salt.len())?,
            salt_ptr: self.salt.as_ptr() as u64,
            info_ptr: self.info.as_ptr() as u64,
            info_len: len32(op, self.info.len())?,
            reserved0: 0,
            ttl_ms: opts.ttl_ms(),
            policy: opts.policy(),
        })
    }
}

impl Vault {
    /// Derives a new key of `alg` (a symmetric algorithm) from the key
    /// `key` with HKDF, in the kernel; returns the new key's id. Needs the
    /// DERIVE capability and a key whose usage allows `derive` (e.g. an HMAC
    /// key).
    ///
    /// `opts` shapes the new key: `bits` (0: the algorithm's default), its
    /// usage policy, and `ttl` (none: the parent's; it never outlives its
    /// parent). Revoking the parent makes every key derived from it unusable
    /// too; derivation goes at most `KV_MAX_LINEAGE` generations deep.
    ///
    /// ```no_run
    /// use keyvault::{Algorithm, Caps, HashAlg, Kdf, KeyOptions, Vault};
    ///
    /// let vault = Vault::open()?;
    /// let master = vault.generate(Algorithm::HmacSha256)?;
    /// // One key per tenant, never stored: derived again when needed.
    /// let kdf = Kdf::new(HashAlg::Sha256, b"tenant 42 / files").with_salt(b"v1");
    /// let opts = KeyOptions { usage: Caps::ENCRYPT | Caps::DECRYPT, ..Default::default() };
    /// let tenant = vault.derive(master, &kdf, Algorithm::Aes256Gcm, &opts)?;
    /// let (ct, sealed) = vault.aead_encrypt(tenant, b"data", b"", None)?;
    /// # Ok::<(), keyvault::Error>(())
    /// ```
    pub fn derive(
        &self,
        key: KeyId,
        kdf: &Kdf<'_>,
        alg: Algorithm,
        opts: &KeyOptions,
    ) -> Result<KeyId> {
        const OP: &str = "derive";
        let mut r = abi::KvDerive {
            key_id: key.0,
            kdf: kdf.to_raw(OP, alg, opts)?,
            child: opts.children.to_raw(),
            ..Default::default()
        };
        self.ioctl(OP, abi::KV_IOC_DERIVE, &mut r)?;
        Ok(KeyId(r.new_key_id))
    }

    /// X25519 of our X25519 key `key` with the peer's 32-byte public key,
    /// then HKDF of the shared secret into a new key of `alg` (as
    /// [`derive`](Vault::derive)); returns its id. Needs the EXCHANGE
    /// capability. The shared secret never leaves the kernel. A low-order
    /// peer key (one that would make the shared secret all zeros) fails with
    /// `EINVAL`.
    ///
    /// ```no_run
    /// use keyvault::{Algorithm, HashAlg, Kdf, KeyOptions, Vault};
    ///
    /// let vault = Vault::open()?;
    /// let ours = vault.generate(Algorithm::X25519)?;
    /// # fn swap_with_peer(_ours: &[u8; 32]) -> [u8; 32] { [9; 32] }
    /// // Send our public key to the peer, get theirs back.
    /// let peer_public = swap_with_peer(&vault.public_key(ours)?);
    /// let kdf = Kdf::new(HashAlg::Sha256, b"my protocol v1: client to server");
    /// let session = vault.exchange(ours, &peer_public, &kdf, Algorithm::ChaCha20Poly1305,
    ///                              &KeyOptions::default())?;
    /// # Ok::<(), keyvault::Error>(())
    /// ```
    pub fn exchange(
        &self,
        key: KeyId,
        peer_public: &PublicKey,
        kdf: &Kdf<'_>,
        alg: Algorithm,
        opts: &KeyOptions,
    ) -> Result<KeyId> {
        const OP: &str = "exchange";
        let mut r = abi::KvExchange {
            key_id: key.0,
            peer_ptr: peer_public.as_ptr() as u64,
            kdf: kdf.to_raw(OP, alg, opts)?,
            child: opts.children.to_raw(),
            ..Default::default()
        };
        self.ioctl(OP, abi::KV_IOC_KEYEXCHANGE, &mut r)?;
        Ok(KeyId(r.new_key_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Caps;
    use std::time::Duration;

    #[test]
    fn the_kdf_and_the_new_key_options_fill_the_abi_struct() {
        let kdf = Kdf::new(HashAlg::Sha512, b"info").with_salt(b"salty");
        let opts = KeyOptions {
            bits: 128,
            ttl: Some(Duration::from_secs(2)),
            usage: Caps::MAC,
            no_caller_nonce: true,
            wrappable: true,
            max_uses: 3,
            max_bytes: 4,
            children: crate::ChildPolicy {
                algorithms: vec![Algorithm::Aes256Gcm, Algorithm::Aes128Cbc],
                usage: Caps::ENCRYPT,
                max_uses: 5,
                max_bytes: 6,
            },
        };
        assert_eq!(
            opts.children.to_raw(),
            abi::KvChildPolicy {
                algorithms: 1 << abi::KV_ALG_AES256_GCM | 1 << abi::KV_ALG_AES128_CBC,
                usage: abi::KV_CAP_ENCRYPT,
                max_uses: 5,
                max_bytes: 6,
            }
        );
        assert_eq!(
            crate::ChildPolicy::from_raw(&opts.children.to_raw()),
            opts.children
        );
        let r = kdf.to_raw("derive", Algorithm::HmacSha256, &opts).unwrap();
        assert_eq!(r.hash, abi::KV_HASH_SHA512);
        assert_eq!(r.algorithm, abi::KV_ALG_HMAC_SHA256);
        assert_eq!(r.key_bits, 128);
        assert_eq!((r.salt_ptr, r.salt_len), (kdf.salt.as_ptr() as u64, 5));
        assert_eq!((r.info_ptr, r.info_len), (kdf.info.as_ptr() as u64, 4));
        assert_eq!(r.ttl_ms, 2000);
        assert_eq!(
            r.policy,
            abi::KvPolicy {
                usage: abi::KV_CAP_MAC,
                flags: abi::KV_POLICY_NO_CALLER_NONCE | abi::KV_POLICY_WRAPPABLE,
                max_uses: 3,
                max_bytes: 4,
            }
        );
        assert_eq!(r.reserved0, 0);

        let d = Kdf::default();
        assert_eq!(
            (d.hash, d.salt, d.info),
            (HashAlg::Sha256, &[][..], &[][..])
        );
        let r = d
            .to_raw("derive", Algorithm::Aes128Gcm, &KeyOptions::default())
            .unwrap();
        // No TTL: the parent's; bits 0: the algorithm's default.
        assert_eq!((r.ttl_ms, r.key_bits, r.salt_len, r.info_len), (0, 0, 0, 0));
        assert_eq!(Kdf::MAX_INPUT, 1024);
    }

    #[test]
    fn derive_and_exchange_report_the_kernel_error() {
        let vault = Vault::open_path("/dev/null").expect("open /dev/null");
        let kdf = Kdf::default();
        let opts = KeyOptions::default();
        let e = vault
            .derive(KeyId(1), &kdf, Algorithm::Aes256Gcm, &opts)
            .unwrap_err();
        assert_eq!((e.op(), e.errno()), ("derive", libc::ENOTTY));
        let e = vault
            .exchange(KeyId(1), &[9; 32], &kdf, Algorithm::Aes256Gcm, &opts)
            .unwrap_err();
        assert_eq!((e.op(), e.errno()), ("exchange", libc::ENOTTY));
    }
}
