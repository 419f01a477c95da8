//! KEYEXCHANGE: X25519 against RFC 7748 and curve25519-dalek, then HKDF.

use crate::support::*;
use crate::vectors::rfc::*;
use curve25519_dalek::montgomery::MontgomeryPoint;
use keyvault::uapi::*;
use keyvault::{Algorithm, Caps, KeyOptions, Vault};
use nix::errno::Errno;

// ---------------------------------------------------------------------------
// KEYEXCHANGE

pub fn exchange_between_two_vaults_gives_both_sides_the_same_key() {
    let (a, b) = (ok(Vault::open()), ok(Vault::open()));
    let ka = ok(a.generate(Algorithm::X25519));
    let kb = ok(b.generate(Algorithm::X25519));
    let (pa, pb) = (must(pubkey(&a, ka), "A"), must(pubkey(&b, kb), "B"));
    let kdf = Kdf {
        salt: b"salt",
        info: b"session",
        ..HMAC256
    };
    let sa = must(exchange(&a, ka, &pb, &kdf), "A with B's key");
    let sb = must(exchange(&b, kb, &pa, &kdf), "B with A's key");
    let mac = ok(a.mac(sa, MSG));
    assert_eq!(mac, ok(b.mac(sb, MSG)), "the two sides made different keys");
    // Into an AEAD key: what one side seals, the other opens.
    let aead = Kdf {
        info: b"aead",
        ..Kdf::new(KV_HASH_SHA512, KV_ALG_AES256_GCM)
    };
    let ea = must(exchange(&a, ka, &pb, &aead), "A, AES-256-GCM");
    let eb = must(exchange(&b, kb, &pa, &aead), "B, AES-256-GCM");
    let (ct, sealed) = ok(a.aead_encrypt(ea, b"hello Bob", b"aad", None));
    let pt = ok(b.aead_decrypt(eb, &ct, b"aad", &sealed.nonce, &sealed.tag));
    assert!(pt[..] == b"hello Bob"[..]);
    // Another salt, info, hash or peer: another key.
    let other_peer = some_peer();
    for (what, kdf, peer) in [
        (
            "info",
            Kdf {
                info: b"session2",
                ..kdf
            },
            &pa,
        ),
        (
            "salt",
            Kdf {
                salt: b"pepper",
                ..kdf
            },
            &pa,
        ),
        (
            "hash",
            Kdf {
                hash: KV_HASH_SHA512,
                ..kdf
            },
            &pa,
        ),
        ("peer", kdf, &other_peer),
    ] {
        let id = must(exchange(&b, kb, peer, &kdf), what);
        assert_ne!(ok(b.mac(id, MSG)), mac, "another {what} made the same key");
    }
}

pub fn exchange_of_the_rfc_7748_keys_is_hkdf_of_the_standard_shared_secret() {
    let shared = hex(SHARED);
    let (alice, bob, check) = (ok(Vault::open()), ok(Vault::open()), ok(Vault::open()));
    let ka = import_x25519(&alice, &arr(ALICE_PRIVATE));
    let kb = import_x25519(&bob, &arr(BOB_PRIVATE));
    for (hash, a, bits, len) in [
        (KV_HASH_SHA256, KV_ALG_HMAC_SHA256, 0, 32),
        (KV_HASH_SHA512, KV_ALG_HMAC_SHA512, 0, 64),
        (KV_HASH_SHA256, KV_ALG_HMAC_SHA512, 1024, 128),
        (KV_HASH_SHA512, KV_ALG_HMAC_SHA256, 128, 16),
    ] {
        let what = format!("hash {hash} into {} of {len} bytes", alg(a));
        let kdf = Kdf {
            hash,
            alg: a,
            bits,
            salt: b"s",
            info: b"i",
            ..HMAC256
        };
        let want = host_hkdf(hash, b"s", &shared, b"i", len);
        let sa = must(exchange(&alice, ka, &arr(BOB_PUBLIC), &kdf), &what);
        let sb = must(exchange(&bob, kb, &arr(ALICE_PUBLIC), &kdf), &what);
        assert_hmac_key(&alice, sa, a, &want, &format!("Alice, {what}"));
        assert_hmac_key(&bob, sb, a, &want, &format!("Bob, {what}"));
        // The expected bytes imported as a key MAC alike.
        let imported = ok(check.import(alg(a), &want, &KeyOptions::default()));
        assert_eq!(
            ok(check.mac(imported, MSG)),
            ok(alice.mac(sa, MSG)),
            "{what}"
        );
    }
}

pub fn exchange_with_a_low_order_peer_point_is_einval_and_makes_no_key() {
    let v = ok(Vault::open());
    let keys = [
        import_x25519(&v, &arr(ALICE_PRIVATE)),
        ok(v.generate(Algorithm::X25519)),
    ];
    for id in keys {
        for p in LOW_ORDER {
            fails(
                exchange(&v, id, &arr(p), &HMAC256),
                Errno::EINVAL,
                &format!("peer {p}"),
            );
        }
    }
    assert_eq!(n_keys(&v), 2, "a refused exchange left a key");
    must(
        exchange(&v, keys[0], &arr(BOB_PUBLIC), &HMAC256),
        "after the refusals",
    );
}

pub fn exchange_matches_curve25519_dalek_for_random_keys_and_peer_points() {
    let v = ok(Vault::open());
    for i in 0..16u64 {
        let scalar = rand32(2000 + i);
        // Peers: public keys of random scalars, and (odd i) any 32 bytes,
        // which X25519 takes as well (twist points, u >= p, top bit set).
        let peer = if i % 2 == 0 {
            MontgomeryPoint::mul_base_clamped(rand32(3000 + i)).to_bytes()
        } else {
            rand32(4000 + i)
        };
        let shared = MontgomeryPoint(peer).mul_clamped(scalar).to_bytes();
        assert_ne!(shared, [0; 32], "a random point of low order");
        let salt = data(i as usize * 3, i);
        let kdf = Kdf {
            salt: &salt,
            ..HMAC256
        };
        let id = import_x25519(&v, &scalar);
        let new = must(exchange(&v, id, &peer, &kdf), &format!("case {i}"));
        let want = host_hkdf(KV_HASH_SHA256, &salt, &shared, b"", 32);
        assert_hmac_key(&v, new, KV_ALG_HMAC_SHA256, &want, &format!("case {i}"));
        ok(v.destroy(new));
        ok(v.destroy(id));
    }
}

pub fn exchange_with_a_key_that_is_not_x25519_is_eopnotsupp() {
    let v = ok(Vault::open());
    let peer = some_peer();
    for (a, _) in SYMMETRIC {
        let id = ok(v.generate(alg(a)));
        fails(
            exchange(&v, id, &peer, &HMAC256),
            Errno::EOPNOTSUPP,
            &alg(a).to_string(),
        );
    }
    assert_eq!(n_keys(&v), SYMMETRIC.len());
}

pub fn x25519_keys_are_for_exchange_only() {
    let v = ok(Vault::open());
    let id = ok(v.generate(Algorithm::X25519));
    assert_eq!(ok(v.info(id)).usage, Caps::EXCHANGE);
    ok(v.import(Algorithm::X25519, &rand32(5), &usage(Caps::EXCHANGE)));
    for u in [
        Caps::MAC,
        Caps::DERIVE,
        Caps::SIGN,
        Caps::ENCRYPT,
        Caps::EXCHANGE | Caps::DERIVE,
    ] {
        expect_errno(
            v.import(Algorithm::X25519, &rand32(5), &usage(u)),
            Errno::EINVAL,
        );
    }
    fails(
        derive(&v, id, &HMAC256),
        Errno::EOPNOTSUPP,
        "DERIVE from X25519",
    );
    expect_errno(v.mac(id, MSG), Errno::EOPNOTSUPP);
    expect_errno(v.aead_encrypt(id, MSG, b"", None), Errno::EOPNOTSUPP);
    assert_eq!(n_keys(&v), 2);
}
