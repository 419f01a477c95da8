//! DERIVE: HKDF against RFC 5869 and RustCrypto, every algorithm, policies.

use crate::support::*;
use crate::vectors::rfc::*;
use keyvault::uapi::*;
use keyvault::{Algorithm, Caps, KeyId, KeyOptions, Vault};
use nix::errno::Errno;

// ---------------------------------------------------------------------------
// DERIVE

pub fn derive_gives_the_rfc_5869_sha256_test_cases_1_to_3() {
    let v = ok(Vault::open());
    for tc in rfc5869() {
        // HMAC-SHA256 keys hold 16 to 64 bytes, HMAC-SHA512 keys up to 128:
        // test case 2's 80-byte IKM is an HMAC-SHA512 key (the parent's
        // algorithm does not choose the HKDF hash), and its 82-byte OKM an
        // HMAC-SHA512 key.
        let parent = import_hmac(&v, &tc.ikm);
        let out = if tc.okm.len() <= 64 {
            KV_ALG_HMAC_SHA256
        } else {
            KV_ALG_HMAC_SHA512
        };
        let kdf = Kdf {
            bits: tc.okm.len() as u32 * 8,
            salt: &tc.salt,
            info: &tc.info,
            ..Kdf::new(KV_HASH_SHA256, out)
        };
        let mut r = derive_req(parent, &kdf);
        assert_eq!(ioctl(&v, KV_IOC_DERIVE, &mut r), Ok(0), "{}", tc.name);
        assert_eq!(
            r.kdf.key_bits,
            tc.okm.len() as u32 * 8,
            "{}: key_bits",
            tc.name
        );
        let id = KeyId(r.new_key_id);
        assert_hmac_key(&v, id, out, &tc.okm, tc.name);
        // The OKM imported as a key MACs alike.
        let imported = ok(v.import(alg(out), &tc.okm, &KeyOptions::default()));
        assert_eq!(ok(v.mac(imported, MSG)), ok(v.mac(id, MSG)), "{}", tc.name);
    }
}

pub fn derive_with_hkdf_sha512_and_sha256_matches_rustcrypto_for_every_input_and_output_size() {
    let v = ok(Vault::open());
    // (hash, IKM, salt, info, output bytes)
    let cases: [(u32, usize, usize, usize, usize); 12] = [
        (KV_HASH_SHA512, 16, 0, 0, 64),
        (KV_HASH_SHA512, 64, 64, 16, 128),
        (KV_HASH_SHA512, 100, 128, 200, 65),
        (KV_HASH_SHA512, 128, 1024, 1024, 100),
        (KV_HASH_SHA512, 33, 7, 0, 16),
        (KV_HASH_SHA512, 65, 129, 1, 127),
        (KV_HASH_SHA256, 16, 0, 0, 32),
        (KV_HASH_SHA256, 64, 32, 32, 64),
        (KV_HASH_SHA256, 65, 100, 1024, 128),
        (KV_HASH_SHA256, 128, 1024, 0, 97),
        (KV_HASH_SHA256, 20, 1, 1, 17),
        (KV_HASH_SHA256, 40, 65, 300, 33),
    ];
    for (i, (hash, ikm_len, salt_len, info_len, out_len)) in cases.into_iter().enumerate() {
        let seed = 100 * i as u64;
        let (ikm, salt, info) = (
            data(ikm_len, seed),
            data(salt_len, seed + 1),
            data(info_len, seed + 2),
        );
        let parent = import_hmac(&v, &ikm);
        let out = if out_len <= 64 && i % 3 != 0 {
            KV_ALG_HMAC_SHA256
        } else {
            KV_ALG_HMAC_SHA512
        };
        let kdf = Kdf {
            bits: out_len as u32 * 8,
            salt: &salt,
            info: &info,
            ..Kdf::new(hash, out)
        };
        let what = format!("case {i}: hash {hash}, IKM {ikm_len}, salt {salt_len}, info {info_len}, {out_len} bytes");
        let id = must(derive(&v, parent, &kdf), &what);
        let want = host_hkdf(hash, &salt, &ikm, &info, out_len);
        assert_hmac_key(&v, id, out, &want, &what);
        ok(v.destroy(id));
        ok(v.destroy(parent));
    }
}

pub fn derive_makes_every_symmetric_algorithm_at_its_default_size_and_writes_the_size_back() {
    let v = ok(Vault::open());
    let ikm = data(32, 9);
    let parent = import_hmac(&v, &ikm);
    for (i, (a, default_bits)) in SYMMETRIC.into_iter().enumerate() {
        for bits in [0, default_bits] {
            let kdf = Kdf {
                bits,
                salt: b"salt",
                info: &[i as u8],
                ..Kdf::new(KV_HASH_SHA512, a)
            };
            let mut r = derive_req(parent, &kdf);
            let what = format!("{} asked for {bits} bits", alg(a));
            assert_eq!(ioctl(&v, KV_IOC_DERIVE, &mut r), Ok(0), "{what}");
            assert_eq!(
                r.kdf.key_bits, default_bits,
                "{what}: key_bits written back"
            );
            let want = host_hkdf(
                KV_HASH_SHA512,
                b"salt",
                &ikm,
                &[i as u8],
                default_bits as usize / 8,
            );
            assert_key(&v, KeyId(r.new_key_id), a, &want, &what);
        }
    }
    // A size other than the default is kept and reported as asked.
    for (a, bits) in [(KV_ALG_HMAC_SHA256, 384), (KV_ALG_HMAC_SHA512, 136)] {
        let mut r = derive_req(
            parent,
            &Kdf {
                bits,
                ..Kdf::new(KV_HASH_SHA256, a)
            },
        );
        assert_eq!(ioctl(&v, KV_IOC_DERIVE, &mut r), Ok(0));
        assert_eq!(r.kdf.key_bits, bits);
        let want = host_hkdf(KV_HASH_SHA256, b"", &ikm, b"", bits as usize / 8);
        assert_key(
            &v,
            KeyId(r.new_key_id),
            a,
            &want,
            &format!("{} of {bits} bits", alg(a)),
        );
    }
}

pub fn derive_is_deterministic_and_another_salt_info_hash_or_parent_gives_another_key() {
    let v = ok(Vault::open());
    let parent = import_hmac(&v, &data(32, 1));
    let other_parent = import_hmac(&v, &data(32, 2));
    let base = Kdf {
        salt: b"salt",
        info: b"info",
        ..HMAC256
    };
    let k1 = must(derive(&v, parent, &base), "first");
    let k2 = must(derive(&v, parent, &base), "second");
    assert_ne!(k1, k2, "two derives, one id");
    let mac = ok(v.mac(k1, MSG));
    assert_eq!(ok(v.mac(k2, MSG)), mac, "the same parameters made two keys");
    for (what, kdf, p) in [
        (
            "info",
            Kdf {
                info: b"inf0",
                ..base
            },
            parent,
        ),
        ("empty info", Kdf { info: b"", ..base }, parent),
        (
            "salt",
            Kdf {
                salt: b"salt2",
                ..base
            },
            parent,
        ),
        ("empty salt", Kdf { salt: b"", ..base }, parent),
        (
            "hash",
            Kdf {
                hash: KV_HASH_SHA512,
                ..base
            },
            parent,
        ),
        ("parent", base, other_parent),
    ] {
        let id = must(derive(&v, p, &kdf), what);
        assert_ne!(ok(v.mac(id, MSG)), mac, "another {what} made the same key");
    }
    // An empty info and an info of one zero byte are different infos.
    let empty = must(derive(&v, parent, &HMAC256), "empty info");
    let zero = must(
        derive(
            &v,
            parent,
            &Kdf {
                info: &[0],
                ..HMAC256
            },
        ),
        "info 00",
    );
    assert_ne!(ok(v.mac(empty, MSG)), ok(v.mac(zero, MSG)));
}

pub fn derive_from_a_key_that_cannot_derive_is_eopnotsupp() {
    let v = ok(Vault::open());
    for (a, _) in SYMMETRIC
        .into_iter()
        .filter(|&(a, _)| a != KV_ALG_HMAC_SHA256 && a != KV_ALG_HMAC_SHA512)
    {
        let id = ok(v.generate(alg(a)));
        fails(
            derive(&v, id, &HMAC256),
            Errno::EOPNOTSUPP,
            &alg(a).to_string(),
        );
    }
    let x = ok(v.generate(Algorithm::X25519));
    fails(derive(&v, x, &HMAC256), Errno::EOPNOTSUPP, "X25519");
    assert_eq!(n_keys(&v), 6);
}

pub fn derive_outside_the_parents_usage_is_eperm() {
    let v = ok(Vault::open());
    let key = data(32, 3);
    let mac_only = ok(v.import(Algorithm::HmacSha256, &key, &usage(Caps::MAC)));
    let derive_only = ok(v.import(Algorithm::HmacSha256, &key, &usage(Caps::DERIVE)));
    fails(
        derive(&v, mac_only, &HMAC256),
        Errno::EPERM,
        "MAC-only parent",
    );
    let child = must(derive(&v, derive_only, &HMAC256), "DERIVE-only parent");
    expect_errno(v.mac(derive_only, MSG), Errno::EPERM);
    // The child has its own policy: by default all an HMAC key can do.
    assert_eq!(ok(v.info(child)).usage, Caps::MAC | Caps::DERIVE);
    ok(v.mac(child, MSG));
}

pub fn derived_keys_take_the_policy_they_are_given() {
    let v = ok(Vault::open());
    let parent = import_hmac(&v, &data(32, 4));
    let limited = Kdf {
        policy: KvPolicy {
            usage: KV_CAP_MAC,
            max_uses: 2,
            ..Default::default()
        },
        ..HMAC256
    };
    let k = must(derive(&v, parent, &limited), "MAC-only, 2 uses");
    let info = ok(v.info(k));
    assert_eq!((info.usage, info.max_uses, info.uses), (Caps::MAC, 2, 0));
    ok(v.mac(k, MSG));
    ok(v.mac(k, MSG));
    expect_errno(v.mac(k, MSG), Errno::EDQUOT);
    fails(
        derive(&v, k, &HMAC256),
        Errno::EPERM,
        "DERIVE from a MAC-only child",
    );
    let aead = Kdf {
        policy: KvPolicy {
            flags: KV_POLICY_NO_CALLER_NONCE,
            ..Default::default()
        },
        ..Kdf::new(KV_HASH_SHA256, KV_ALG_CHACHA20_POLY1305)
    };
    let a = must(derive(&v, parent, &aead), "kernel nonces only");
    assert!(ok(v.info(a)).no_caller_nonce);
    expect_errno(v.aead_encrypt(a, MSG, b"", Some(&[1; 12])), Errno::EPERM);
    ok(v.aead_encrypt(a, MSG, b"", None));
    // Exchanged keys too.
    let x = ok(v.generate(Algorithm::X25519));
    let e = must(
        exchange(&v, x, &some_peer(), &limited),
        "exchanged, MAC-only",
    );
    assert_eq!(ok(v.info(e)).usage, Caps::MAC);
    fails(
        derive(&v, e, &HMAC256),
        Errno::EPERM,
        "DERIVE from a MAC-only exchanged key",
    );
}
