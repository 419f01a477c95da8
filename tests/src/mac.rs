//! MAC, VERIFY_MAC (HMAC) and HASH: RFC 4231 and RustCrypto, output sizes,
//! truncated MACs, forgeries.

use crate::support::*;
use keyvault::uapi::*;
use keyvault::{Algorithm, Caps, HashAlg, KeyOptions, Vault};
use nix::errno::Errno;

pub fn hmac_matches_rfc_4231_and_rustcrypto_for_both_hashes_and_key_lengths() {
    let v = ok(Vault::open());
    // RFC 4231 test case 1.
    let key = [0x0b; 20];
    for (alg, want) in [
        (
            Algorithm::HmacSha256,
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        ),
        (
            Algorithm::HmacSha512,
            "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde\
             daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
        ),
    ] {
        let id = ok(v.import(alg, &key, &KeyOptions::default()));
        assert_eq!(
            ok(v.mac(id, b"Hi There")),
            hex(want),
            "{alg}: RFC 4231 case 1"
        );
    }
    let sizes = [
        0, 1, 55, 56, 63, 64, 65, 111, 112, 127, 128, 129, 4096, 65536,
    ];
    for (alg, full, key_lens) in [
        (Algorithm::HmacSha256, 32, [16, 32, 64]),
        (Algorithm::HmacSha512, 64, [16, 64, 128]),
    ] {
        for (i, kl) in key_lens.into_iter().enumerate() {
            let key = data(kl, 300 + i as u64);
            let id = ok(v.import(alg, &key, &KeyOptions::default()));
            for (j, len) in sizes.into_iter().enumerate() {
                let what = format!("{alg}, {kl}-byte key, {len} bytes");
                let d = data(len, (i * 100 + j) as u64);
                let mac = v.mac(id, &d).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(mac.len(), full, "{what}: MAC length");
                assert_eq!(
                    mac,
                    reference::hmac(alg, &key, &d),
                    "{what}: differs from RustCrypto"
                );
                v.verify_mac(id, &d, &mac)
                    .unwrap_or_else(|e| panic!("{what}: verify of the full MAC: {e}"));
                v.verify_mac(id, &d, &mac[..16])
                    .unwrap_or_else(|e| panic!("{what}: verify of a 16-byte prefix: {e}"));
            }
            if i == 0 {
                let d = data(MAX, 77);
                let mac = ok(v.mac(id, &d));
                assert_eq!(mac, reference::hmac(alg, &key, &d), "{alg}: 1 MiB of data");
            }
        }
    }
}

pub fn hash_gives_the_standard_sha256_and_sha512_digests() {
    let v = ok(Vault::open());
    for (alg, msg, want) in [
        (
            HashAlg::Sha256,
            &b""[..],
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        (
            HashAlg::Sha256,
            &b"abc"[..],
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            HashAlg::Sha512,
            &b""[..],
            "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce\
             47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
        ),
        (
            HashAlg::Sha512,
            &b"abc"[..],
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        ),
    ] {
        assert_eq!(ok(v.hash(alg, msg)), hex(want), "{alg:?}({msg:?})");
    }
    // Empty data through a NULL pointer.
    for (alg, raw, want) in [
        (
            HashAlg::Sha256,
            KV_HASH_SHA256,
            reference::hash(HashAlg::Sha256, b""),
        ),
        (
            HashAlg::Sha512,
            KV_HASH_SHA512,
            reference::hash(HashAlg::Sha512, b""),
        ),
    ] {
        let mut digest = canary(64);
        let mut r = hash_req(raw, &[], &mut digest);
        r.data_ptr = 0;
        assert_eq!(
            ioctl(&v, KV_IOC_HASH, &mut r),
            Ok(0),
            "{alg:?} of nothing at NULL"
        );
        assert_eq!(r.digest_len as usize, alg.len());
        assert_eq!(digest[..alg.len()], want[..]);
    }
    for (i, len) in [1, 55, 56, 63, 64, 111, 112, 127, 128, 4096, 65537]
        .into_iter()
        .enumerate()
    {
        let d = data(len, 400 + i as u64);
        for alg in [HashAlg::Sha256, HashAlg::Sha512] {
            assert_eq!(
                ok(v.hash(alg, &d)),
                reference::hash(alg, &d),
                "{alg:?}, {len} bytes"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// HMAC

pub fn mac_is_the_full_hmac_and_a_larger_buffer_gets_its_length() {
    let v = ok(Vault::open());
    for (alg, full) in [(Algorithm::HmacSha256, 32), (Algorithm::HmacSha512, 64)] {
        let key = data(32, 1);
        let id = ok(v.import(alg, &key, &KeyOptions::default()));
        let d = data(77, 2);
        let mut mac = canary(100);
        let mut r = mac_req(id, &d, &mut mac);
        assert_eq!(ioctl(&v, KV_IOC_MAC, &mut r), Ok(0), "{alg}");
        assert_eq!(r.mac_len as usize, full, "{alg}: mac_len");
        assert_eq!(mac[..full], reference::hmac(alg, &key, &d)[..], "{alg}");
        assert_untouched(&mac[full..], alg.name());
        // Empty data, at NULL.
        let mut mac = canary(full);
        let mut r = mac_req(id, &[], &mut mac);
        r.data_ptr = 0;
        assert_eq!(
            ioctl(&v, KV_IOC_MAC, &mut r),
            Ok(0),
            "{alg} of nothing at NULL"
        );
        assert_eq!(mac, reference::hmac(alg, &key, b""), "{alg} of nothing");
        assert_eq!(ok(v.mac(id, b"")), mac, "{alg} of nothing");
        let mut r = mac_req(id, &[], &mut mac);
        r.data_ptr = 0;
        assert_eq!(
            ioctl(&v, KV_IOC_VERIFY_MAC, &mut r),
            Ok(0),
            "{alg}: verify of nothing"
        );
    }
}

pub fn mac_buffer_smaller_than_the_hmac_is_enospc_with_the_needed_length() {
    let v = ok(Vault::open());
    for (alg, full) in [(Algorithm::HmacSha256, 32u32), (Algorithm::HmacSha512, 64)] {
        let id = ok(v.generate(alg));
        for cap in [full - 1, 16, 1, 0] {
            let what = format!("{alg}, capacity {cap}");
            let mut mac = canary(64);
            let mut r = mac_req(id, b"data", &mut mac);
            r.mac_len = cap;
            expect_raw_err(ioctl(&v, KV_IOC_MAC, &mut r), Errno::ENOSPC, &what);
            assert_eq!(r.mac_len, full, "{what}: the needed length is copied back");
            assert_untouched(&mac, &what);
        }
    }
}

pub fn verify_mac_accepts_prefixes_from_16_bytes_and_refuses_other_lengths_with_einval() {
    let v = ok(Vault::open());
    for (alg, full) in [(Algorithm::HmacSha256, 32), (Algorithm::HmacSha512, 64)] {
        let id = ok(v.generate(alg));
        let d = data(50, 1);
        let mut mac = ok(v.mac(id, &d));
        mac.resize(200, 0);
        for n in [16, 17, 20, full - 1, full] {
            v.verify_mac(id, &d, &mac[..n])
                .unwrap_or_else(|e| panic!("{alg}: a {n}-byte prefix: {e}"));
        }
        for n in [0, 1, 15, full + 1, 128, 200] {
            expect_err(
                v.verify_mac(id, &d, &mac[..n]),
                Errno::EINVAL,
                &format!("{alg}: {n} bytes"),
            );
        }
    }
}

pub fn verify_mac_of_a_wrong_mac_data_or_key_is_ebadmsg() {
    let v = ok(Vault::open());
    for (alg, full) in [(Algorithm::HmacSha256, 32), (Algorithm::HmacSha512, 64)] {
        let id = ok(v.generate(alg));
        let other = ok(v.generate(alg));
        let d = data(50, 1);
        let mac = ok(v.mac(id, &d));
        let mut d2 = d.clone();
        d2[49] ^= 1;
        let mut cases = vec![
            ("other data", id, d2, mac.clone()),
            ("other key", other, d.clone(), mac.clone()),
            ("data cut short", id, d[..49].to_vec(), mac.clone()),
        ];
        for byte in [0, 15, full - 1] {
            let mut m = mac.clone();
            m[byte] ^= 0x10;
            cases.push(("MAC byte changed", id, d.clone(), m));
        }
        let mut m = mac[..16].to_vec();
        m[15] ^= 1;
        cases.push((
            "16-byte prefix with its last byte changed",
            id,
            d.clone(),
            m,
        ));
        for (what, key, d, mut m) in cases {
            let what = format!("{alg}, {what}");
            let mut r = mac_req(key, &d, &mut m);
            expect_raw_err(ioctl(&v, KV_IOC_VERIFY_MAC, &mut r), Errno::EBADMSG, &what);
            expect_verification_failure(v.verify_mac(key, &d, &m), &what);
        }
    }
}

// ---------------------------------------------------------------------------
// HASH

pub fn hash_buffer_smaller_than_the_digest_is_enospc_and_a_larger_one_gets_its_length() {
    let v = ok(Vault::open());
    for (alg, raw) in [
        (HashAlg::Sha256, KV_HASH_SHA256),
        (HashAlg::Sha512, KV_HASH_SHA512),
    ] {
        let full = alg.len() as u32;
        for cap in [full - 1, 16, 0] {
            let what = format!("{alg:?}, capacity {cap}");
            let mut digest = canary(64);
            let mut r = hash_req(raw, b"abc", &mut digest);
            r.digest_len = cap;
            expect_raw_err(ioctl(&v, KV_IOC_HASH, &mut r), Errno::ENOSPC, &what);
            assert_eq!(
                r.digest_len, full,
                "{what}: the needed length is copied back"
            );
            assert_untouched(&digest, &what);
        }
        let mut digest = canary(100);
        let mut r = hash_req(raw, b"abc", &mut digest);
        assert_eq!(ioctl(&v, KV_IOC_HASH, &mut r), Ok(0), "{alg:?}");
        assert_eq!(r.digest_len, full, "{alg:?}: digest_len");
        assert_eq!(digest[..alg.len()], reference::hash(alg, b"abc")[..]);
        assert_untouched(&digest[alg.len()..], "past the digest");
    }
}

pub fn hash_of_an_unknown_algorithm_is_einval() {
    let v = ok(Vault::open());
    for alg in [0, 3, 4, 100, u32::MAX] {
        let mut digest = canary(64);
        let mut r = hash_req(alg, b"abc", &mut digest);
        expect_raw_err(
            ioctl(&v, KV_IOC_HASH, &mut r),
            Errno::EINVAL,
            &format!("algorithm {alg}"),
        );
        assert_untouched(&digest, "unknown hash");
    }
}

pub fn hash_needs_only_the_hash_capability_and_no_key() {
    let v = ok(Vault::open());
    assert_eq!(ok(v.restrict(Caps::HASH)), Caps::HASH);
    assert_eq!(
        ok(v.hash(HashAlg::Sha256, b"abc")),
        reference::hash(HashAlg::Sha256, b"abc")
    );
    assert_eq!(
        ok(v.hash(HashAlg::Sha512, b"abc")),
        reference::hash(HashAlg::Sha512, b"abc")
    );
}

/// This file's tests, in order.
pub fn tests() -> Vec<crate::support::harness::Test> {
    crate::tests![
        hmac_matches_rfc_4231_and_rustcrypto_for_both_hashes_and_key_lengths,
        hash_gives_the_standard_sha256_and_sha512_digests,
        mac_is_the_full_hmac_and_a_larger_buffer_gets_its_length,
        mac_buffer_smaller_than_the_hmac_is_enospc_with_the_needed_length,
        verify_mac_accepts_prefixes_from_16_bytes_and_refuses_other_lengths_with_einval,
        verify_mac_of_a_wrong_mac_data_or_key_is_ebadmsg,
        hash_buffer_smaller_than_the_digest_is_enospc_and_a_larger_one_gets_its_length,
        hash_of_an_unknown_algorithm_is_einval,
        hash_needs_only_the_hash_capability_and_no_key,
    ]
}
