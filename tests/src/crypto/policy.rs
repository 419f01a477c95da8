//! Every crypto ioctl against its capability and its key's existence, type,
//! state, usage and limits.

use super::*;
use crate::support::*;
use keyvault::uapi::*;
use keyvault::{Algorithm, Caps, KeyId, KeyOptions, Vault};
use nix::errno::Errno;
use std::time::Duration;

// ---------------------------------------------------------------------------
// Capabilities, key state, key type, policy

pub fn crypto_ioctls_are_eperm_without_their_capability_even_with_a_bad_argument() {
    for (cmd, cap, name) in CRYPTO {
        let v = ok(Vault::open());
        let fx = Fixture::new(&v);
        assert_eq!(fx.call_own(&v, cmd), Ok(0), "{name} with every capability");
        ok(v.restrict(Caps::from_bits_retain(KV_CAP_ALL & !cap)));
        expect_raw_err(fx.call_own(&v, cmd), Errno::EPERM, name);
        // The capability is checked before the argument is read.
        for addr in [0, KERNEL_ADDR] {
            expect_raw_err(
                ioctl_addr(&v, cmd, addr),
                Errno::EPERM,
                &format!("{name} with the argument at {addr:#x}"),
            );
        }
        // The other crypto ioctls still work.
        for (cmd2, cap2, name2) in CRYPTO {
            if cap2 != cap {
                assert_eq!(
                    fx.call_own(&v, cmd2),
                    Ok(0),
                    "{name2} without {name}'s capability"
                );
            }
        }
    }
}

pub fn crypto_with_an_unknown_destroyed_or_foreign_key_is_enoent() {
    let v = ok(Vault::open());
    let fx = Fixture::new(&v);
    let gone = Keys::import(&v, &KeyOptions::default());
    for k in gone.all() {
        ok(v.destroy(k));
    }
    let w = ok(Vault::open());
    let foreign = Keys::import(&w, &KeyOptions::default());
    for (cmd, name) in KEYED {
        for key in [
            KeyId(0),
            KeyId(0xdead_beef_0000),
            KeyId(u64::MAX),
            gone.for_cmd(cmd),
            foreign.for_cmd(cmd),
        ] {
            expect_raw_err(
                fx.call(&v, cmd, key),
                Errno::ENOENT,
                &format!("{name}, key {key}"),
            );
        }
    }
}

pub fn crypto_with_a_revoked_key_is_ekeyrevoked() {
    let v = ok(Vault::open());
    let fx = Fixture::new(&v);
    let k = Keys::import(&v, &KeyOptions::default());
    for id in k.all() {
        ok(v.revoke(id));
    }
    for (cmd, name) in KEYED {
        expect_raw_err(fx.call(&v, cmd, k.for_cmd(cmd)), Errno::EKEYREVOKED, name);
    }
}

pub fn crypto_with_an_expired_key_is_ekeyexpired() {
    let v = ok(Vault::open());
    let fx = Fixture::new(&v);
    let k = Keys::import(&v, &with(|o| o.ttl = Some(Duration::from_millis(100))));
    std::thread::sleep(Duration::from_millis(300));
    for (cmd, name) in KEYED {
        expect_raw_err(fx.call(&v, cmd, k.for_cmd(cmd)), Errno::EKEYEXPIRED, name);
    }
}

pub fn crypto_with_a_key_of_the_wrong_type_is_eopnotsupp() {
    let v = ok(Vault::open());
    let fx = Fixture::new(&v);
    let aead = [
        fx.keys.aead,
        ok(v.generate(Algorithm::Aes128Gcm)),
        ok(v.generate(Algorithm::ChaCha20Poly1305)),
    ];
    let cbc = [fx.keys.cbc, ok(v.generate(Algorithm::Aes256Cbc))];
    let hmac = [fx.keys.hmac, ok(v.generate(Algorithm::HmacSha512))];
    for (cmd, name) in KEYED {
        let wrong: Vec<KeyId> = match cmd {
            KV_IOC_AEAD_ENCRYPT | KV_IOC_AEAD_DECRYPT => [&cbc[..], &hmac[..]].concat(),
            KV_IOC_CBC_ENCRYPT | KV_IOC_CBC_DECRYPT => [&aead[..], &hmac[..]].concat(),
            _ => [&aead[..], &cbc[..]].concat(),
        };
        for key in wrong {
            let alg = ok(v.info(key)).algorithm.unwrap();
            expect_raw_err(
                fx.call(&v, cmd, key),
                Errno::EOPNOTSUPP,
                &format!("{name} with {alg}"),
            );
        }
    }
}

pub fn crypto_outside_the_key_usage_is_eperm() {
    let v = ok(Vault::open());
    let fx = Fixture::new(&v);
    let imp = |alg, key: &[u8], usage| ok(v.import(alg, key, &with(|o| o.usage = usage)));
    for (enc, dec, alg, key) in [
        (
            KV_IOC_AEAD_ENCRYPT,
            KV_IOC_AEAD_DECRYPT,
            Algorithm::Aes256Gcm,
            &FX_AEAD_KEY[..],
        ),
        (
            KV_IOC_CBC_ENCRYPT,
            KV_IOC_CBC_DECRYPT,
            Algorithm::Aes128Cbc,
            &FX_CBC_KEY[..],
        ),
    ] {
        let enc_only = imp(alg, key, Caps::ENCRYPT);
        let dec_only = imp(alg, key, Caps::DECRYPT);
        assert_eq!(
            fx.call(&v, enc, enc_only),
            Ok(0),
            "{alg}: encrypt with an encrypt-only key"
        );
        expect_raw_err(
            fx.call(&v, dec, enc_only),
            Errno::EPERM,
            &format!("{alg}: decrypt, encrypt-only key"),
        );
        expect_raw_err(
            fx.call(&v, enc, dec_only),
            Errno::EPERM,
            &format!("{alg}: encrypt, decrypt-only key"),
        );
        assert_eq!(
            fx.call(&v, dec, dec_only),
            Ok(0),
            "{alg}: decrypt with a decrypt-only key"
        );
    }
    let derive_only = imp(Algorithm::HmacSha256, &FX_HMAC_KEY, Caps::DERIVE);
    let mac_only = imp(Algorithm::HmacSha256, &FX_HMAC_KEY, Caps::MAC);
    for cmd in [KV_IOC_MAC, KV_IOC_VERIFY_MAC] {
        expect_raw_err(
            fx.call(&v, cmd, derive_only),
            Errno::EPERM,
            "HMAC key for DERIVE only",
        );
        assert_eq!(fx.call(&v, cmd, mac_only), Ok(0), "HMAC key for MAC only");
    }
}

pub fn no_caller_nonce_keys_refuse_caller_nonces_and_ivs_with_eperm_but_take_the_kernels() {
    let v = ok(Vault::open());
    let o = with(|o| o.no_caller_nonce = true);
    for (i, alg) in AEADS.into_iter().enumerate() {
        let id = ok(v.import(alg, &data(key_len(alg), 1700 + i as u64), &o));
        let mut out = canary(3);
        expect_err(
            v.aead_encrypt_into(id, b"msg", b"aad", Some(&[1; 12]), &mut out),
            Errno::EPERM,
            &format!("{alg} with a caller nonce"),
        );
        assert_untouched(&out, alg.name());
        let (ct, sealed) = ok(v.aead_encrypt(id, b"msg", b"aad", None));
        // Decrypt takes the nonce from the caller, as it must.
        assert_eq!(
            *ok(v.aead_decrypt(id, &ct, b"aad", &sealed.nonce, &sealed.tag)),
            b"msg"
        );
        assert_eq!(
            ok(v.info(id)).uses,
            2,
            "{alg}: the refused encrypt is not counted"
        );
    }
    for (i, alg) in CBCS.into_iter().enumerate() {
        let id = ok(v.import(alg, &data(key_len(alg), 1710 + i as u64), &o));
        for padding in [true, false] {
            expect_err(
                v.cbc_encrypt(id, &[7; 32], Some(&[1; 16]), padding),
                Errno::EPERM,
                &format!("{alg} with a caller IV"),
            );
            let (iv, ct) = ok(v.cbc_encrypt(id, &[7; 32], None, padding));
            assert_eq!(*ok(v.cbc_decrypt(id, &ct, &iv, padding)), [7; 32]);
        }
    }
}

pub fn max_uses_allows_exactly_that_many_operations_then_edquot() {
    let v = ok(Vault::open());
    let fx = Fixture::new(&v);
    let k = Keys::import(&v, &with(|o| o.max_uses = 3));
    // AEAD: a failed decrypt uses up a use too (no unlimited forgery attempts).
    assert_eq!(fx.call(&v, KV_IOC_AEAD_ENCRYPT, k.aead), Ok(0));
    let bad = [0u8; 16];
    expect_errno(
        v.aead_decrypt(k.aead, &fx.aead_ct, &fx.aad, &fx.nonce, &bad),
        Errno::EBADMSG,
    );
    assert_eq!(fx.call(&v, KV_IOC_AEAD_DECRYPT, k.aead), Ok(0));
    for cmd in [KV_IOC_AEAD_ENCRYPT, KV_IOC_AEAD_DECRYPT] {
        expect_raw_err(fx.call(&v, cmd, k.aead), Errno::EDQUOT, "AEAD after 3 uses");
    }
    // CBC.
    for cmd in [KV_IOC_CBC_ENCRYPT, KV_IOC_CBC_DECRYPT, KV_IOC_CBC_ENCRYPT] {
        assert_eq!(fx.call(&v, cmd, k.cbc), Ok(0));
    }
    for cmd in [KV_IOC_CBC_ENCRYPT, KV_IOC_CBC_DECRYPT] {
        expect_raw_err(fx.call(&v, cmd, k.cbc), Errno::EDQUOT, "CBC after 3 uses");
    }
    // HMAC: a failed verify counts.
    assert_eq!(fx.call(&v, KV_IOC_MAC, k.hmac), Ok(0));
    expect_verification_failure(v.verify_mac(k.hmac, &fx.pt, &[0; 32]), "a wrong MAC");
    assert_eq!(fx.call(&v, KV_IOC_VERIFY_MAC, k.hmac), Ok(0));
    for cmd in [KV_IOC_MAC, KV_IOC_VERIFY_MAC] {
        expect_raw_err(fx.call(&v, cmd, k.hmac), Errno::EDQUOT, "HMAC after 3 uses");
    }
    for id in k.all() {
        assert_eq!(ok(v.info(id)).uses, 3, "refused operations are not counted");
    }
    // A key with one use.
    let once = ok(v.import(
        Algorithm::Aes256Gcm,
        &FX_AEAD_KEY,
        &with(|o| o.max_uses = 1),
    ));
    assert_eq!(fx.call(&v, KV_IOC_AEAD_DECRYPT, once), Ok(0));
    expect_raw_err(
        fx.call(&v, KV_IOC_AEAD_DECRYPT, once),
        Errno::EDQUOT,
        "after 1 use",
    );
}

pub fn max_bytes_allows_operations_while_the_total_input_fits_then_edquot() {
    let v = ok(Vault::open());
    // AEAD (no AAD, so only plaintext and ciphertext count).
    let id = ok(v.import(
        Algorithm::Aes256Gcm,
        &FX_AEAD_KEY,
        &with(|o| o.max_bytes = 100),
    ));
    ok(v.aead_encrypt(id, &[1; 60], b"", None));
    expect_errno(v.aead_encrypt(id, &[1; 41], b"", None), Errno::EDQUOT);
    let (ct, s) = ok(v.aead_encrypt(id, &[1; 40], b"", None));
    ok(v.aead_encrypt(id, b"", b"", None)); // 100 + 0 <= 100
    expect_errno(v.aead_encrypt(id, &[1], b"", None), Errno::EDQUOT);
    expect_errno(
        v.aead_decrypt(id, &ct, b"", &s.nonce, &s.tag),
        Errno::EDQUOT,
    );
    let info = ok(v.info(id));
    assert_eq!((info.uses, info.bytes), (3, 100), "AEAD uses and bytes");
    // CBC: ciphertext bytes count on decrypt.
    let id = ok(v.import(
        Algorithm::Aes128Cbc,
        &FX_CBC_KEY,
        &with(|o| o.max_bytes = 64),
    ));
    let (iv, ct) = ok(v.cbc_encrypt(id, &[2; 48], None, false));
    expect_errno(v.cbc_encrypt(id, &[2; 17], None, true), Errno::EDQUOT);
    ok(v.cbc_encrypt(id, &[2; 16], None, false));
    expect_errno(v.cbc_decrypt(id, &ct, &iv, false), Errno::EDQUOT);
    let info = ok(v.info(id));
    assert_eq!((info.uses, info.bytes), (2, 64), "CBC uses and bytes");
    // HMAC.
    let id = ok(v.import(
        Algorithm::HmacSha256,
        &FX_HMAC_KEY,
        &with(|o| o.max_bytes = 64),
    ));
    let mac = ok(v.mac(id, &[3; 64]));
    ok(v.verify_mac(
        id,
        b"",
        &reference::hmac(Algorithm::HmacSha256, &FX_HMAC_KEY, b""),
    ));
    expect_errno(v.mac(id, &[3]), Errno::EDQUOT);
    expect_errno(v.verify_mac(id, &[3; 64], &mac), Errno::EDQUOT);
    let info = ok(v.info(id));
    assert_eq!((info.uses, info.bytes), (2, 64), "HMAC uses and bytes");
}

pub fn getinfo_counts_every_operation_that_passed_the_checks_even_a_failed_decrypt() {
    let v = ok(Vault::open());
    let fx = Fixture::new(&v);
    let k = Keys::import(&v, &KeyOptions::default());
    let count = |id| {
        let i = ok(v.info(id));
        (i.uses, i.bytes)
    };
    // AEAD: 32 bytes of plaintext, 32 of ciphertext.
    assert_eq!(count(k.aead), (0, 0));
    assert_eq!(fx.call(&v, KV_IOC_AEAD_ENCRYPT, k.aead), Ok(0));
    assert_eq!(count(k.aead), (1, 32));
    assert_eq!(fx.call(&v, KV_IOC_AEAD_DECRYPT, k.aead), Ok(0));
    assert_eq!(count(k.aead), (2, 64));
    expect_errno(
        v.aead_decrypt(k.aead, &fx.aead_ct, &fx.aad, &fx.nonce, &[1; 16]),
        Errno::EBADMSG,
    );
    assert_eq!(
        count(k.aead),
        (3, 96),
        "a decrypt that failed authentication counts"
    );
    // Requests refused by a check do not count.
    let mut s = fx.scratch();
    let mut r = fx.aead(KV_IOC_AEAD_DECRYPT, &mut s);
    r.key_id = k.aead.0;
    r.reserved[1] = 1;
    expect_raw_err(
        ioctl(&v, KV_IOC_AEAD_DECRYPT, &mut r),
        Errno::EINVAL,
        "reserved",
    );
    r.reserved[1] = 0;
    r.flags = KV_AEAD_GEN_NONCE;
    expect_raw_err(
        ioctl(&v, KV_IOC_AEAD_DECRYPT, &mut r),
        Errno::EINVAL,
        "GEN_NONCE on decrypt",
    );
    assert_eq!(count(k.aead), (3, 96), "refused requests are not counted");
    // CBC: 32 in, 48 back, then 32 more of bad padding.
    assert_eq!(fx.call(&v, KV_IOC_CBC_ENCRYPT, k.cbc), Ok(0));
    assert_eq!(fx.call(&v, KV_IOC_CBC_DECRYPT, k.cbc), Ok(0));
    assert_eq!(count(k.cbc), (2, 80));
    let (iv, ct) = ok(v.cbc_encrypt(fx.keys.cbc, &[0; 32], None, false));
    expect_errno(v.cbc_decrypt(k.cbc, &ct, &iv, true), Errno::EBADMSG);
    assert_eq!(count(k.cbc), (3, 112), "a decrypt with bad padding counts");
    // HMAC: 32 bytes each.
    assert_eq!(fx.call(&v, KV_IOC_MAC, k.hmac), Ok(0));
    assert_eq!(fx.call(&v, KV_IOC_VERIFY_MAC, k.hmac), Ok(0));
    expect_verification_failure(v.verify_mac(k.hmac, &fx.pt, &[0; 32]), "a wrong MAC");
    assert_eq!(count(k.hmac), (3, 96), "a failed verify counts");
}
