//! Host tests of the native blob's framing (kmod/pure/wrap.rs): the layout
//! uapi/keyvault.h documents, with a blob sealed here by the `aes-gcm` crate
//! exactly as that layout says, and every header the decoder must refuse.

use aes_gcm::{aead::AeadInPlace, Aes256Gcm, KeyInit, Nonce, Tag};
use keyvault_pure::abi::*;
use keyvault_pure::alg::{Alg, ALL_ALGS};
use keyvault_pure::wrap::*;
use keyvault_pure::Reject;

fn header(alg: Alg) -> Header {
    Header {
        alg,
        key_len: alg.key_sizes().default,
        policy: KvPolicy {
            usage: alg.default_usage(),
            flags: KV_POLICY_WRAPPABLE | KV_POLICY_NO_CALLER_NONCE,
            max_uses: 1000,
            max_bytes: 1 << 40,
        },
        child: KvChildPolicy { algorithms: 1 << KV_ALG_AES256_GCM, usage: KV_CAP_ENCRYPT, max_uses: 5, max_bytes: 6 },
        expires_ms: 1_800_000_000_000,
    }
}

/// A native blob made by the documented layout alone.
fn seal(kek: &[u8; 32], h: &Header, key: &[u8], nonce: &[u8; 12]) -> Vec<u8> {
    let mut blob = h.encode().to_vec();
    blob.extend_from_slice(nonce);
    let mut body = key.to_vec();
    let tag = Aes256Gcm::new(kek.into())
        .encrypt_in_place_detached(Nonce::from_slice(nonce), &blob[..HEADER], &mut body)
        .unwrap();
    blob.extend_from_slice(&body);
    blob.extend_from_slice(&tag);
    blob
}

#[test]
fn the_header_is_the_documented_bytes() {
    let h = header(Alg::Ed25519);
    let e = h.encode();
    assert_eq!(&e[0..4], b"KVWK");
    assert_eq!(e[4..8], 1u32.to_le_bytes());
    assert_eq!(e[8..12], KV_ALG_ED25519.to_le_bytes());
    assert_eq!(e[12..16], 32u32.to_le_bytes());
    assert_eq!(e[16..20], (KV_CAP_SIGN | KV_CAP_VERIFY).to_le_bytes());
    assert_eq!(e[20..24], 3u32.to_le_bytes());
    assert_eq!(e[24..32], 1000u64.to_le_bytes());
    assert_eq!(e[32..40], (1u64 << 40).to_le_bytes());
    assert_eq!(e[40..48], 1_800_000_000_000u64.to_le_bytes());
    assert_eq!(e[48..52], (1u32 << KV_ALG_AES256_GCM).to_le_bytes());
    assert_eq!(e[52..56], KV_CAP_ENCRYPT.to_le_bytes());
    assert_eq!(e[56..64], [5, 0, 0, 0, 6, 0, 0, 0]);
    assert_eq!(HEADER, 64);
    assert_eq!(BODY_AT, 76);
}

#[test]
fn every_algorithm_round_trips_and_a_documented_blob_opens() {
    let kek = [9u8; 32];
    for alg in ALL_ALGS {
        let h = header(alg);
        let key = vec![0x42u8; h.key_len];
        let blob = seal(&kek, &h, &key, &[1; 12]);
        assert_eq!(blob.len(), Format::Native.blob_len(h.key_len));
        assert_eq!(Header::decode(&blob), Ok(h));
        // What the module does with it: the tag over the header as AAD.
        let mut body = blob[BODY_AT..BODY_AT + h.key_len].to_vec();
        let tag = Tag::from_slice(&blob[BODY_AT + h.key_len..]);
        Aes256Gcm::new((&kek).into())
            .decrypt_in_place_detached(Nonce::from_slice(&blob[NONCE_AT..BODY_AT]), &blob[..HEADER], &mut body, tag)
            .unwrap();
        assert_eq!(body, key);
    }
}

#[test]
fn headers_no_wrap_could_make_are_refused_before_any_crypto() {
    let h = header(Alg::HmacSha512);
    let blob = seal(&[1; 32], &h, &[0u8; 64], &[0; 12]);
    let with = |at: usize, bytes: &[u8]| {
        let mut b = blob.clone();
        b[at..at + bytes.len()].copy_from_slice(bytes);
        Header::decode(&b)
    };
    assert_eq!(with(4, &2u32.to_le_bytes()), Err(Reject::Invalid), "another version");
    assert_eq!(with(0, b"KVWX"), Err(Reject::BadMessage), "magic");
    assert_eq!(with(8, &0u32.to_le_bytes()), Err(Reject::BadMessage), "algorithm");
    assert_eq!(with(12, &63u32.to_le_bytes()), Err(Reject::BadMessage), "length vs blob");
    assert_eq!(with(12, &200u32.to_le_bytes()), Err(Reject::BadMessage), "length vs algorithm");
    assert_eq!(with(16, &KV_CAP_SIGN.to_le_bytes()), Err(Reject::BadMessage), "usage");
    assert_eq!(with(16, &0u32.to_le_bytes()), Err(Reject::BadMessage), "usage not explicit");
    assert_eq!(with(20, &0u32.to_le_bytes()), Err(Reject::BadMessage), "not wrappable");
    assert_eq!(with(20, &7u32.to_le_bytes()), Err(Reject::BadMessage), "unknown flag");
    assert_eq!(with(52, &(1u32 << 20).to_le_bytes()), Err(Reject::BadMessage), "child usage");
    assert_eq!(Header::decode(&blob[..blob.len() - 1]), Err(Reject::BadMessage), "truncated");
    assert_eq!(Header::decode(&[blob.clone(), vec![0]].concat()), Err(Reject::BadMessage), "extended");
    assert_eq!(Header::decode(&blob[..7]), Err(Reject::BadMessage));
    assert_eq!(Header::decode(&blob[..40]), Err(Reject::BadMessage));
    assert_eq!(Header::decode(&[]), Err(Reject::BadMessage));
}

#[test]
fn formats_and_their_lengths() {
    assert_eq!(Format::from_abi(KV_WRAP_NATIVE), Ok(Format::Native));
    assert_eq!(Format::from_abi(KV_WRAP_RFC5649), Ok(Format::Rfc5649));
    assert_eq!(Format::from_abi(2), Err(Reject::Invalid));
    assert_eq!(Format::Native.blob_len(32), 124);
    assert_eq!(Format::Rfc5649.blob_len(32), 40);
    assert_eq!(Format::Rfc5649.blob_len(20), 32);
    assert!(Format::Native.blob_len(KV_MAX_KEY_BYTES as usize) <= KV_WRAP_MAX_BLOB as usize);
    assert_eq!(native_request_clear(0, 0, &KvPolicy::default(), &KvChildPolicy::default()), Ok(()));
    assert_eq!(native_request_clear(1, 0, &KvPolicy::default(), &KvChildPolicy::default()), Err(Reject::Invalid));
    assert_eq!(native_request_clear(0, 1, &KvPolicy::default(), &KvChildPolicy::default()), Err(Reject::Invalid));
    let p = KvPolicy { max_uses: 1, ..Default::default() };
    assert_eq!(native_request_clear(0, 0, &p, &KvChildPolicy::default()), Err(Reject::Invalid));
    let c = KvChildPolicy { usage: 1, ..Default::default() };
    assert_eq!(native_request_clear(0, 0, &KvPolicy::default(), &c), Err(Reject::Invalid));
}
