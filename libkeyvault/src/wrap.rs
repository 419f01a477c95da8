//! Keys that leave the kernel encrypted: WRAP exports a wrappable key as a
//! blob under a wrapping key (an AES-256-GCM key with usage wrap/unwrap and
//! nothing else), UNWRAP makes a key from such a blob. The key bytes are
//! encrypted and decrypted in the kernel; userspace sees only the blob.

use crate::crypto::len32;
use crate::{Algorithm, Caps, ChildPolicy, Error, KeyId, KeyOptions, Result, Vault};
use keyvault_uapi as abi;
use nix::errno::Errno;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The format of a wrapped key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum WrapFormat {
    /// keyvault's own blob: a public header (algorithm, policy, child
    /// policy, expiry) authenticated with the key material by AES-256-GCM.
    /// UNWRAP restores the key exactly as it was.
    #[default]
    Native,
    /// AES Key Wrap with Padding (RFC 5649) of the material alone, as
    /// OpenSSL, PKCS#11 `CKM_AES_KEY_WRAP_KWP` and the cloud KMSes make it:
    /// UNWRAP is told what the key is.
    Rfc5649,
}

impl WrapFormat {
    /// The ABI value (`KV_WRAP_*`).
    pub fn to_raw(self) -> u32 {
        match self {
            WrapFormat::Native => abi::KV_WRAP_NATIVE,
            WrapFormat::Rfc5649 => abi::KV_WRAP_RFC5649,
        }
    }

    /// The name used on the command line (`native`, `rfc5649`).
    pub fn name(self) -> &'static str {
        match self {
            WrapFormat::Native => "native",
            WrapFormat::Rfc5649 => "rfc5649",
        }
    }

    /// The length of the blob of a `key_len`-byte key: native
    /// `KV_WRAP_OVERHEAD + key_len`, RFC 5649 `8 * (ceil(key_len / 8) + 1)`.
    pub fn blob_len(self, key_len: usize) -> usize {
        match self {
            WrapFormat::Native => abi::KV_WRAP_OVERHEAD as usize + key_len,
            WrapFormat::Rfc5649 => 8 * (key_len.div_ceil(8) + 1),
        }
    }
}

impl fmt::Display for WrapFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for WrapFormat {
    type Err = String;
    /// Parses `native` or `rfc5649` (any case; `rfc-5649` and `kwp` too).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().replace('-', "").as_str() {
            "native" => Ok(WrapFormat::Native),
            "rfc5649" | "kwp" => Ok(WrapFormat::Rfc5649),
            _ => Err(format!("unknown wrap format '{s}' (native or rfc5649)")),
        }
    }
}

/// What the public header of a native blob says (the ABI's layout in
/// `uapi/keyvault.h`); read without any key, e.g. to list a directory of
/// blobs. Whether the blob is genuine only UNWRAP can tell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobInfo {
    /// The key's algorithm (None: one this library does not know).
    pub algorithm: Option<Algorithm>,
    /// Raw algorithm value.
    pub algorithm_raw: u32,
    /// Bytes of key material.
    pub key_len: u32,
    /// Operations the key may be used for.
    pub usage: Caps,
    /// Kernel nonces only.
    pub no_caller_nonce: bool,
    /// Always true in a genuine blob.
    pub wrappable: bool,
    /// Most operations (0: unlimited).
    pub max_uses: u64,
    /// Most input bytes (0: unlimited).
    pub max_bytes: u64,
    /// When the key expires (wall clock), if it does.
    pub expires: Option<SystemTime>,
    /// What keys derived from it may be.
    pub children: ChildPolicy,
}

/// Why bytes are not a native blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlobError {
    /// No "KVWK" magic (not a keyvault blob, or an RFC 5649 one).
    NotNative,
    /// A format version this library does not know.
    Version(u32),
    /// The length does not match the header's key length.
    Length {
        /// What the header implies.
        expected: usize,
        /// What was given.
        actual: usize,
    },
}

impl fmt::Display for BlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlobError::NotNative => f.write_str("not a keyvault native blob (no KVWK magic)"),
            BlobError::Version(v) => write!(
                f,
                "native blob version {v}; this kvctl reads version {}",
                abi::KV_WRAP_VERSION
            ),
            BlobError::Length { expected, actual } => write!(
                f,
                "truncated or extended native blob: {actual} bytes, its header says {expected}"
            ),
        }
    }
}

impl std::error::Error for BlobError {}

/// The magic of a native blob.
const MAGIC: &[u8; 4] = b"KVWK";

impl BlobInfo {
    /// Reads the header of a native blob.
    pub fn parse(blob: &[u8]) -> std::result::Result<BlobInfo, BlobError> {
        if blob.len() < abi::KV_WRAP_HEADER_SIZE as usize || !blob.starts_with(MAGIC) {
            return Err(BlobError::NotNative);
        }
        let u32_at = |at: usize| u32::from_le_bytes(blob[at..at + 4].try_into().expect("4 bytes"));
        let u64_at = |at: usize| u64::from_le_bytes(blob[at..at + 8].try_into().expect("8 bytes"));
        let version = u32_at(4);
        if version != abi::KV_WRAP_VERSION {
            return Err(BlobError::Version(version));
        }
        let key_len = u32_at(12);
        let expected = WrapFormat::Native.blob_len(key_len as usize);
        if blob.len() != expected {
            return Err(BlobError::Length {
                expected,
                actual: blob.len(),
            });
        }
        let flags = u32_at(20);
        let expires_ms = u64_at(40);
        Ok(BlobInfo {
            algorithm: Algorithm::from_raw(u32_at(8)),
            algorithm_raw: u32_at(8),
            key_len,
            usage: Caps::from_bits_truncate(u32_at(16)),
            no_caller_nonce: flags & abi::KV_POLICY_NO_CALLER_NONCE != 0,
            wrappable: flags & abi::KV_POLICY_WRAPPABLE != 0,
            max_uses: u64_at(24),
            max_bytes: u64_at(32),
            expires: (expires_ms != 0).then(|| UNIX_EPOCH + Duration::from_millis(expires_ms)),
            children: ChildPolicy::from_raw(&abi::KvChildPolicy {
                algorithms: u32_at(48),
                usage: u32_at(52),
                max_uses: u32_at(56),
                max_bytes: u32_at(60),
            }),
        })
    }
}

impl Vault {
    /// The key `key` (made with [`KeyOptions::wrappable`]) encrypted under
    /// the wrapping key `wrapping_key` (AES-256-GCM, usage
    /// [`Caps::WRAP`]), as a blob in `format`. Needs the WRAP capability.
    /// A key that is not wrappable is `EPERM`: it never leaves the kernel.
    ///
    /// ```no_run
    /// use keyvault::{Algorithm, Caps, KeyOptions, Vault, WrapFormat};
    ///
    /// let vault = Vault::open()?;
    /// let wrapping = vault.generate_with(
    ///     Algorithm::Aes256Gcm,
    ///     &KeyOptions { usage: Caps::WRAPPING, ..Default::default() },
    /// )?;
    /// let signer = vault.generate_with(
    ///     Algorithm::Ed25519,
    ///     &KeyOptions { wrappable: true, ..Default::default() },
    /// )?;
    /// let blob = vault.wrap(wrapping, signer, WrapFormat::Native)?;
    /// // Later, or in another vault holding the same wrapping key:
    /// let again = vault.unwrap(wrapping, &blob)?;
    /// assert_eq!(vault.public_key(again)?, vault.public_key(signer)?);
    /// # Ok::<(), keyvault::Error>(())
    /// ```
    pub fn wrap(&self, wrapping_key: KeyId, key: KeyId, format: WrapFormat) -> Result<Vec<u8>> {
        const OP: &str = "wrap";
        // Room for the largest key: one call, no GETINFO; a kernel with
        // longer keys says how much it needs (ENOSPC), and gets it once.
        let mut blob = vec![0u8; format.blob_len(abi::KV_MAX_KEY_BYTES as usize)];
        for _ in 0..2 {
            let mut r = abi::KvWrap {
                wrapping_key_id: wrapping_key.0,
                key_id: key.0,
                blob_ptr: blob.as_mut_ptr() as u64,
                blob_len: len32(OP, blob.len())?,
                format: format.to_raw(),
                ..Default::default()
            };
            match self.ioctl(OP, abi::KV_IOC_WRAP, &mut r) {
                Ok(()) => {
                    blob.truncate(r.blob_len as usize);
                    return Ok(blob);
                }
                Err(e) if e.errno() == libc::ENOSPC && r.blob_len as usize > blob.len() => {
                    blob.resize(r.blob_len as usize, 0);
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::new(OP, Errno::ENOSPC))
    }

    /// A new key from a native blob made by [`Vault::wrap`] under the same
    /// wrapping key material: with the algorithm, policy, child policy and
    /// expiry the blob records. Needs the UNWRAP capability. A blob that
    /// does not open under `wrapping_key` (another wrapping key, an altered
    /// or truncated blob) is `EBADMSG`; a key past its expiry `EKEYEXPIRED`.
    pub fn unwrap(&self, wrapping_key: KeyId, blob: &[u8]) -> Result<KeyId> {
        let mut r = abi::KvUnwrap {
            wrapping_key_id: wrapping_key.0,
            blob_ptr: blob.as_ptr() as u64,
            blob_len: len32("unwrap", blob.len())?,
            format: abi::KV_WRAP_NATIVE,
            ..Default::default()
        };
        self.ioctl("unwrap", abi::KV_IOC_UNWRAP, &mut r)?;
        Ok(KeyId(r.new_key_id))
    }

    /// A new key of `alg` from an RFC 5649 blob (the material alone, e.g.
    /// from a KMS or `openssl`), with the TTL, policy and child policy of
    /// `opts` as for [`Vault::import`] (`opts.bits` is not used: the
    /// material's length is the key's size).
    pub fn unwrap_rfc5649(
        &self,
        wrapping_key: KeyId,
        blob: &[u8],
        alg: Algorithm,
        opts: &KeyOptions,
    ) -> Result<KeyId> {
        let mut r = abi::KvUnwrap {
            wrapping_key_id: wrapping_key.0,
            blob_ptr: blob.as_ptr() as u64,
            blob_len: len32("unwrap", blob.len())?,
            format: abi::KV_WRAP_RFC5649,
            algorithm: alg.to_raw(),
            ttl_ms: opts.ttl_ms(),
            policy: opts.policy(),
            child: opts.children.to_raw(),
            ..Default::default()
        };
        self.ioctl("unwrap", abi::KV_IOC_UNWRAP, &mut r)?;
        Ok(KeyId(r.new_key_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_lengths_follow_the_format() {
        let overhead = abi::KV_WRAP_OVERHEAD as usize;
        assert_eq!(overhead, 92);
        for (key_len, native, kwp) in [(16, 108, 24), (32, 124, 40), (33, 125, 48), (1, 93, 16)] {
            assert_eq!(WrapFormat::Native.blob_len(key_len), native, "{key_len}");
            assert_eq!(WrapFormat::Rfc5649.blob_len(key_len), kwp, "{key_len}");
        }
        // The largest blob fits what UNWRAP reads.
        let max = abi::KV_MAX_KEY_BYTES as usize;
        assert_eq!(WrapFormat::Rfc5649.blob_len(max), 136);
        assert!(WrapFormat::Native.blob_len(max) <= abi::KV_WRAP_MAX_BLOB as usize);
    }

    #[test]
    fn formats_parse_by_name() {
        for f in [WrapFormat::Native, WrapFormat::Rfc5649] {
            assert_eq!(f.name().parse::<WrapFormat>(), Ok(f));
            assert_eq!(f.to_string(), f.name());
        }
        assert_eq!("RFC-5649".parse(), Ok(WrapFormat::Rfc5649));
        assert_eq!("kwp".parse(), Ok(WrapFormat::Rfc5649));
        assert!("pkcs8".parse::<WrapFormat>().is_err());
        assert_eq!(WrapFormat::default(), WrapFormat::Native);
        assert_eq!(
            (WrapFormat::Native.to_raw(), WrapFormat::Rfc5649.to_raw()),
            (abi::KV_WRAP_NATIVE, abi::KV_WRAP_RFC5649)
        );
    }

    /// A native blob of a `key_len`-byte key as the ABI lays it out.
    fn blob(key_len: u32) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(b"KVWK");
        for v in [1, abi::KV_ALG_ED25519, key_len, abi::KV_CAP_SIGN] {
            b.extend_from_slice(&u32::to_le_bytes(v));
        }
        b.extend_from_slice(
            &(abi::KV_POLICY_WRAPPABLE | abi::KV_POLICY_NO_CALLER_NONCE).to_le_bytes(),
        );
        for v in [7u64, 8, 1_700_000_000_000] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        for v in [1u32 << abi::KV_ALG_AES256_GCM, abi::KV_CAP_ENCRYPT, 5, 6] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        assert_eq!(b.len(), abi::KV_WRAP_HEADER_SIZE as usize);
        b.resize(WrapFormat::Native.blob_len(key_len as usize), 0xAA);
        b
    }

    #[test]
    fn a_native_header_reads_back_field_by_field() {
        let info = BlobInfo::parse(&blob(32)).unwrap();
        assert_eq!(info.algorithm, Some(Algorithm::Ed25519));
        assert_eq!(
            (info.algorithm_raw, info.key_len),
            (abi::KV_ALG_ED25519, 32)
        );
        assert_eq!(info.usage, Caps::SIGN);
        assert!(info.wrappable && info.no_caller_nonce);
        assert_eq!((info.max_uses, info.max_bytes), (7, 8));
        assert_eq!(
            info.expires,
            Some(UNIX_EPOCH + Duration::from_millis(1_700_000_000_000))
        );
        assert_eq!(
            info.children,
            ChildPolicy {
                algorithms: vec![Algorithm::Aes256Gcm],
                usage: Caps::ENCRYPT,
                max_uses: 5,
                max_bytes: 6,
            }
        );
    }

    #[test]
    fn what_is_not_a_native_blob_says_why() {
        let good = blob(32);
        assert_eq!(BlobInfo::parse(&good[..40]), Err(BlobError::NotNative));
        assert_eq!(BlobInfo::parse(&[0; 124]), Err(BlobError::NotNative));
        let mut v2 = good.clone();
        v2[4] = 2;
        assert_eq!(BlobInfo::parse(&v2), Err(BlobError::Version(2)));
        let short = &good[..good.len() - 1];
        let e = BlobInfo::parse(short).unwrap_err();
        assert_eq!(
            e,
            BlobError::Length {
                expected: 124,
                actual: 123
            }
        );
        assert!(e.to_string().contains("123 bytes"), "{e}");
        let mut long = good;
        long.push(0);
        assert!(matches!(
            BlobInfo::parse(&long),
            Err(BlobError::Length { .. })
        ));
    }

    #[test]
    fn wrap_and_unwrap_report_the_kernel_error_under_their_op() {
        let vault = Vault::open_path("/dev/null").expect("open /dev/null");
        let e = vault
            .wrap(KeyId(1), KeyId(2), WrapFormat::Native)
            .unwrap_err();
        assert_eq!((e.op(), e.errno()), ("wrap", libc::ENOTTY));
        let e = vault.unwrap(KeyId(1), &blob(32)).unwrap_err();
        assert_eq!((e.op(), e.errno()), ("unwrap", libc::ENOTTY));
        let e = vault
            .unwrap_rfc5649(
                KeyId(1),
                &[0; 40],
                Algorithm::Aes256Gcm,
                &KeyOptions::default(),
            )
            .unwrap_err();
        assert_eq!((e.op(), e.errno()), ("unwrap", libc::ENOTTY));
    }
}
