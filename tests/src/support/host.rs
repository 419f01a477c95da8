//! Host-side reference crypto (RustCrypto, curve25519-dalek): what the
//! module's results must equal, and checks of a key by what it computes.

use crate::support::*;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use hmac::Mac;
use keyvault::uapi::*;
use keyvault::{KeyId, Vault};

/// The RustCrypto implementations the module's results must equal.
pub mod reference {
    use aes_gcm::aead::generic_array::GenericArray;
    use aes_gcm::aead::{AeadInPlace, KeyInit};
    use cbc::cipher::block_padding::{NoPadding, Pkcs7};
    use cbc::cipher::{BlockEncryptMut, KeyIvInit};
    use keyvault::{Algorithm, HashAlg};
    use sha2::Digest;

    /// (ciphertext, tag) of an AEAD encryption.
    pub fn aead(
        alg: Algorithm,
        key: &[u8],
        nonce: &[u8; 12],
        aad: &[u8],
        pt: &[u8],
    ) -> (Vec<u8>, [u8; 16]) {
        let mut buf = pt.to_vec();
        let n = GenericArray::from_slice(nonce);
        let tag = match alg {
            Algorithm::Aes128Gcm => aes_gcm::Aes128Gcm::new_from_slice(key)
                .unwrap()
                .encrypt_in_place_detached(n, aad, &mut buf),
            Algorithm::Aes256Gcm => aes_gcm::Aes256Gcm::new_from_slice(key)
                .unwrap()
                .encrypt_in_place_detached(n, aad, &mut buf),
            Algorithm::ChaCha20Poly1305 => chacha20poly1305::ChaCha20Poly1305::new_from_slice(key)
                .unwrap()
                .encrypt_in_place_detached(n, aad, &mut buf),
            other => unreachable!("{other} is no AEAD"),
        }
        .expect("RustCrypto AEAD");
        (buf, tag.as_slice().try_into().unwrap())
    }

    fn cbc_with<C: BlockEncryptMut + KeyIvInit>(
        key: &[u8],
        iv: &[u8; 16],
        pt: &[u8],
        padding: bool,
    ) -> Vec<u8> {
        let c = C::new_from_slices(key, iv).unwrap();
        if padding {
            c.encrypt_padded_vec_mut::<Pkcs7>(pt)
        } else {
            c.encrypt_padded_vec_mut::<NoPadding>(pt)
        }
    }

    /// AES-CBC ciphertext (PKCS#7, or whole blocks without padding).
    pub fn cbc(key: &[u8], iv: &[u8; 16], pt: &[u8], padding: bool) -> Vec<u8> {
        match key.len() {
            16 => cbc_with::<cbc::Encryptor<aes::Aes128>>(key, iv, pt, padding),
            32 => cbc_with::<cbc::Encryptor<aes::Aes256>>(key, iv, pt, padding),
            n => unreachable!("AES key of {n} bytes"),
        }
    }

    /// The full HMAC.
    pub fn hmac(alg: Algorithm, key: &[u8], data: &[u8]) -> Vec<u8> {
        use hmac::{Hmac, Mac};
        match alg {
            Algorithm::HmacSha256 => {
                let mut m = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).unwrap();
                Mac::update(&mut m, data);
                m.finalize().into_bytes().to_vec()
            }
            Algorithm::HmacSha512 => {
                let mut m = <Hmac<sha2::Sha512> as Mac>::new_from_slice(key).unwrap();
                Mac::update(&mut m, data);
                m.finalize().into_bytes().to_vec()
            }
            other => unreachable!("{other} is no HMAC"),
        }
    }

    /// The digest.
    pub fn hash(alg: HashAlg, data: &[u8]) -> Vec<u8> {
        match alg {
            HashAlg::Sha256 => sha2::Sha256::digest(data).to_vec(),
            HashAlg::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

/// HKDF (RFC 5869) on the host, RustCrypto's.
pub fn host_hkdf(hash: u32, salt: &[u8], ikm: &[u8], info: &[u8], len: usize) -> Vec<u8> {
    let mut okm = vec![0u8; len];
    match hash {
        KV_HASH_SHA256 => hkdf::Hkdf::<sha2::Sha256>::new(Some(salt), ikm).expand(info, &mut okm),
        KV_HASH_SHA512 => hkdf::Hkdf::<sha2::Sha512>::new(Some(salt), ikm).expand(info, &mut okm),
        h => panic!("hash {h}"),
    }
    .expect("HKDF output length");
    okm
}

/// HMAC on the host, RustCrypto's.
pub fn host_hmac(alg: u32, key: &[u8], msg: &[u8]) -> Vec<u8> {
    use hmac::{Hmac, Mac};
    match alg {
        KV_ALG_HMAC_SHA256 => {
            let mut m = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).unwrap();
            m.update(msg);
            m.finalize().into_bytes().to_vec()
        }
        KV_ALG_HMAC_SHA512 => {
            let mut m = <Hmac<sha2::Sha512> as Mac>::new_from_slice(key).unwrap();
            m.update(msg);
            m.finalize().into_bytes().to_vec()
        }
        a => panic!("algorithm {a} is no HMAC"),
    }
}

/// Whether the vault key `id` is the HMAC key `want` of `alg`: GETINFO
/// gives the algorithm and size, and its MAC of `MSG` equals RustCrypto's
/// HMAC under `want`.
pub fn hmac_key_is(v: &Vault, id: KeyId, alg: u32, want: &[u8]) -> Result<(), String> {
    let info = getinfo(v, id).map_err(|e| format!("GETINFO: {e}"))?;
    if (info.algorithm, info.key_bits) != (alg, want.len() as u32 * 8) {
        return Err(format!(
            "GETINFO says algorithm {} of {} bits, expected {alg} of {}",
            info.algorithm,
            info.key_bits,
            want.len() * 8
        ));
    }
    let mac = v.mac(id, MSG).map_err(|e| format!("MAC: {e}"))?;
    if mac != host_hmac(alg, want, MSG) {
        return Err("its MAC differs from the expected key's: other key bytes".into());
    }
    Ok(())
}

#[track_caller]
pub fn assert_hmac_key(v: &Vault, id: KeyId, alg: u32, want: &[u8], what: &str) {
    if let Err(e) = hmac_key_is(v, id, alg, want) {
        panic!("{what}: {e}");
    }
}

/// An AEAD encryption on the host: (ciphertext, tag).
pub fn host_seal(alg: u32, key: &[u8], nonce: &[u8; 12], pt: &[u8]) -> (Vec<u8>, [u8; 16]) {
    use aes_gcm::aead::generic_array::GenericArray;
    use aes_gcm::aead::{AeadInPlace, KeyInit};
    let mut buf = pt.to_vec();
    let n = GenericArray::from_slice(nonce);
    let tag = match alg {
        KV_ALG_AES128_GCM => aes_gcm::Aes128Gcm::new_from_slice(key)
            .unwrap()
            .encrypt_in_place_detached(n, b"", &mut buf),
        KV_ALG_AES256_GCM => aes_gcm::Aes256Gcm::new_from_slice(key)
            .unwrap()
            .encrypt_in_place_detached(n, b"", &mut buf),
        KV_ALG_CHACHA20_POLY1305 => chacha20poly1305::ChaCha20Poly1305::new_from_slice(key)
            .unwrap()
            .encrypt_in_place_detached(n, b"", &mut buf),
        a => panic!("algorithm {a} is no AEAD"),
    }
    .expect("RustCrypto AEAD");
    (buf, tag.as_slice().try_into().unwrap())
}

/// AES-CBC with PKCS#7 on the host.
pub fn host_cbc(key: &[u8], iv: &[u8; 16], pt: &[u8]) -> Vec<u8> {
    use cbc::cipher::block_padding::Pkcs7;
    use cbc::cipher::{BlockEncryptMut, KeyIvInit};
    match key.len() {
        16 => cbc::Encryptor::<aes::Aes128>::new_from_slices(key, iv)
            .unwrap()
            .encrypt_padded_vec_mut::<Pkcs7>(pt),
        32 => cbc::Encryptor::<aes::Aes256>::new_from_slices(key, iv)
            .unwrap()
            .encrypt_padded_vec_mut::<Pkcs7>(pt),
        n => panic!("AES key of {n} bytes"),
    }
}

/// Asserts the vault key `id` of a symmetric algorithm is the key `want`:
/// HMAC keys by their MAC, AEAD and CBC keys by a ciphertext.
#[track_caller]
pub fn assert_key(v: &Vault, id: KeyId, alg_raw: u32, want: &[u8], what: &str) {
    let info = must(getinfo(v, id), what);
    assert_eq!(
        (info.algorithm, info.key_bits),
        (alg_raw, want.len() as u32 * 8),
        "{what}: GETINFO algorithm and size"
    );
    match alg_raw {
        KV_ALG_HMAC_SHA256 | KV_ALG_HMAC_SHA512 => assert_hmac_key(v, id, alg_raw, want, what),
        KV_ALG_AES128_GCM | KV_ALG_AES256_GCM | KV_ALG_CHACHA20_POLY1305 => {
            let nonce = [7u8; 12];
            let (ct, sealed) = v
                .aead_encrypt(id, MSG, b"", Some(&nonce))
                .unwrap_or_else(|e| panic!("{what}: encrypt: {e}"));
            let (want_ct, want_tag) = host_seal(alg_raw, want, &nonce, MSG);
            assert!(
                ct == want_ct && sealed.tag == want_tag,
                "{what}: the ciphertext is not that of the expected key"
            );
        }
        KV_ALG_AES128_CBC | KV_ALG_AES256_CBC => {
            let iv = [9u8; 16];
            let (_, ct) = v
                .cbc_encrypt(id, MSG, Some(&iv), true)
                .unwrap_or_else(|e| panic!("{what}: encrypt: {e}"));
            assert!(
                ct == host_cbc(want, &iv, MSG),
                "{what}: the ciphertext is not that of the expected key"
            );
        }
        a => panic!("{what}: algorithm {a}"),
    }
}

/// AES-256-GCM on the host.
pub fn host_open(
    key: &[u8],
    nonce: &[u8; 12],
    ct: &[u8],
    tag: &[u8; 16],
    aad: &[u8],
) -> Option<Vec<u8>> {
    let c = aes_gcm::Aes256Gcm::new_from_slice(key).ok()?;
    let mut sealed = ct.to_vec();
    sealed.extend_from_slice(tag);
    c.decrypt(nonce.into(), Payload { msg: &sealed, aad }).ok()
}

/// ChaCha20-Poly1305 on the host.
pub fn host_open_chacha(
    key: &[u8],
    nonce: &[u8; 12],
    ct: &[u8],
    tag: &[u8; 16],
) -> Option<Vec<u8>> {
    let c = chacha20poly1305::ChaCha20Poly1305::new_from_slice(key).ok()?;
    let mut sealed = ct.to_vec();
    sealed.extend_from_slice(tag);
    c.decrypt(nonce.into(), sealed.as_slice()).ok()
}

pub fn host_hmac512(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = <hmac::Hmac<sha2::Sha512> as Mac>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

pub fn clamp(mut s: [u8; 32]) -> [u8; 32] {
    s[0] &= 248;
    s[31] &= 127;
    s[31] |= 64;
    s
}
