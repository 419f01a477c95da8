//! GENKEY, IMPORT, DESTROY, REVOKE, GETINFO, LIST through libkeyvault and raw ioctls.

use crate::support::*;
use keyvault::uapi::*;
use keyvault::{Algorithm, Caps, KeyId, KeyOptions, KeyState, Vault};
use nix::errno::Errno;
use std::time::{Duration, SystemTime};

const SYMMETRIC: [(Algorithm, u32); 7] = [
    (Algorithm::Aes128Gcm, 128),
    (Algorithm::Aes256Gcm, 256),
    (Algorithm::ChaCha20Poly1305, 256),
    (Algorithm::Aes128Cbc, 128),
    (Algorithm::Aes256Cbc, 256),
    (Algorithm::HmacSha256, 256),
    (Algorithm::HmacSha512, 512),
];

fn opts(bits: u32) -> KeyOptions {
    KeyOptions {
        bits,
        ..Default::default()
    }
}

pub fn genkey_makes_every_symmetric_algorithm_at_its_default_size() {
    let v = ok(Vault::open());
    for (alg, bits) in SYMMETRIC {
        let id = ok(v.generate(alg));
        let info = ok(v.info(id));
        assert_eq!(info.algorithm, Some(alg));
        assert_eq!(info.bits, bits, "{alg}");
        assert_eq!(info.state, KeyState::Active);
    }
}

pub fn genkey_reports_the_size_it_made_through_the_raw_struct() {
    let v = ok(Vault::open());
    let mut r = KvGenkey {
        algorithm: KV_ALG_HMAC_SHA256,
        ..Default::default()
    };
    assert_eq!(ioctl(&v, KV_IOC_GENKEY, &mut r), Ok(0));
    assert_eq!(r.key_bits, 256);
    assert_ne!(r.key_id, 0);
}

pub fn genkey_hmac_accepts_whole_byte_sizes_in_range() {
    let v = ok(Vault::open());
    for (alg, bits) in [
        (Algorithm::HmacSha256, 128),
        (Algorithm::HmacSha256, 136),
        (Algorithm::HmacSha256, 512),
        (Algorithm::HmacSha512, 128),
        (Algorithm::HmacSha512, 1024),
    ] {
        let id = ok(v.generate_with(alg, &opts(bits)));
        assert_eq!(ok(v.info(id)).bits, bits);
    }
}

pub fn genkey_refuses_bad_sizes_with_einval() {
    let v = ok(Vault::open());
    for (alg, bits) in [
        (Algorithm::Aes256Gcm, 128),
        (Algorithm::Aes128Gcm, 256),
        (Algorithm::ChaCha20Poly1305, 128),
        (Algorithm::HmacSha256, 129),
        (Algorithm::HmacSha256, 120),
        (Algorithm::HmacSha256, 520),
        (Algorithm::HmacSha512, 1_000_000),
        (Algorithm::HmacSha512, u32::MAX),
    ] {
        expect_errno(v.generate_with(alg, &opts(bits)), Errno::EINVAL);
    }
    assert_eq!(ok(v.list()).len(), 0);
}

pub fn genkey_refuses_unknown_algorithms_with_einval() {
    let v = ok(Vault::open());
    for alg in [0, 10, 11, 9999, u32::MAX] {
        let mut r = KvGenkey {
            algorithm: alg,
            ..Default::default()
        };
        expect_raw(ioctl(&v, KV_IOC_GENKEY, &mut r), Errno::EINVAL);
    }
}

pub fn genkey_and_import_of_ed25519_make_256_bit_signing_keys() {
    let v = ok(Vault::open());
    for id in [
        ok(v.generate(Algorithm::Ed25519)),
        ok(v.import(Algorithm::Ed25519, &[9; 32], &KeyOptions::default())),
    ] {
        let info = ok(v.info(id));
        assert_eq!((info.algorithm, info.bits), (Some(Algorithm::Ed25519), 256));
        assert_eq!(info.usage, Caps::SIGN | Caps::VERIFY);
    }
}

pub fn genkey_and_import_of_x25519_make_256_bit_exchange_keys() {
    let v = ok(Vault::open());
    for id in [
        ok(v.generate(Algorithm::X25519)),
        ok(v.import(Algorithm::X25519, &[7; 32], &KeyOptions::default())),
    ] {
        let info = ok(v.info(id));
        assert_eq!((info.algorithm, info.bits), (Some(Algorithm::X25519), 256));
        assert_eq!(info.usage, Caps::EXCHANGE);
    }
    expect_errno(
        v.import(Algorithm::X25519, &[7; 31], &KeyOptions::default()),
        Errno::EINVAL,
    );
}

/// Bad child policies: no algorithm bit 0, no asymmetric algorithm (a
/// derived key is symmetric), no bit past the last algorithm, no usage bit
/// that is not an operation.
pub const BAD_CHILD_POLICIES: [KvChildPolicy; 4] = [
    KvChildPolicy {
        algorithms: 1,
        usage: 0,
        max_uses: 0,
        max_bytes: 0,
    },
    KvChildPolicy {
        algorithms: 1 << KV_ALG_ED25519,
        usage: 0,
        max_uses: 0,
        max_bytes: 0,
    },
    KvChildPolicy {
        algorithms: 1 << 10,
        usage: 0,
        max_uses: 0,
        max_bytes: 0,
    },
    KvChildPolicy {
        algorithms: 0,
        usage: KV_CAP_GENKEY,
        max_uses: 0,
        max_bytes: 0,
    },
];

pub fn genkey_refuses_bad_child_policies_with_einval() {
    let v = ok(Vault::open());
    for child in BAD_CHILD_POLICIES {
        let mut r = KvGenkey {
            algorithm: KV_ALG_HMAC_SHA256,
            child,
            ..Default::default()
        };
        expect_raw(ioctl(&v, KV_IOC_GENKEY, &mut r), Errno::EINVAL);
    }
    assert_eq!(ok(v.list()).len(), 0);
}

pub fn genkey_refuses_bad_policies_with_einval() {
    let v = ok(Vault::open());
    let bad = [
        KvPolicy {
            usage: KV_CAP_SIGN,
            ..Default::default()
        },
        KvPolicy {
            usage: KV_CAP_GENKEY,
            ..Default::default()
        },
        KvPolicy {
            usage: 1 << 20,
            ..Default::default()
        },
        KvPolicy {
            flags: 1 << 5,
            ..Default::default()
        },
    ];
    for policy in bad {
        let mut r = KvGenkey {
            algorithm: KV_ALG_AES256_GCM,
            policy,
            ..Default::default()
        };
        expect_raw(ioctl(&v, KV_IOC_GENKEY, &mut r), Errno::EINVAL);
    }
}

pub fn genkey_refuses_a_ttl_that_overflows_with_einval() {
    let v = ok(Vault::open());
    let mut r = KvGenkey {
        algorithm: KV_ALG_AES256_GCM,
        ttl_ms: u64::MAX,
        ..Default::default()
    };
    expect_raw(ioctl(&v, KV_IOC_GENKEY, &mut r), Errno::EINVAL);
}

pub fn key_policy_is_stored_and_reported() {
    let v = ok(Vault::open());
    let o = KeyOptions {
        usage: Caps::ENCRYPT,
        no_caller_nonce: true,
        max_uses: 7,
        max_bytes: 4096,
        ..Default::default()
    };
    let info = ok(v.info(ok(v.generate_with(Algorithm::Aes256Gcm, &o))));
    assert_eq!(info.usage, Caps::ENCRYPT);
    assert!(info.no_caller_nonce);
    assert_eq!(
        (info.max_uses, info.max_bytes, info.uses, info.bytes),
        (7, 4096, 0, 0)
    );
    let info = ok(v.info(ok(v.generate(Algorithm::HmacSha256))));
    assert_eq!(
        info.usage,
        Caps::MAC | Caps::DERIVE,
        "empty usage = all the algorithm can do"
    );
}

pub fn key_ids_are_nonzero_unique_and_never_reused() {
    let a = ok(Vault::open());
    let b = ok(Vault::open());
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        for v in [&a, &b] {
            let id = ok(v.generate(Algorithm::Aes128Gcm));
            assert_ne!(id.0, 0);
            assert!(seen.insert(id), "id {id} reused");
            ok(v.destroy(id));
        }
    }
}

pub fn import_accepts_each_symmetric_algorithm_at_valid_lengths() {
    let v = ok(Vault::open());
    for (alg, len) in [
        (Algorithm::Aes128Gcm, 16),
        (Algorithm::Aes256Gcm, 32),
        (Algorithm::ChaCha20Poly1305, 32),
        (Algorithm::Aes128Cbc, 16),
        (Algorithm::Aes256Cbc, 32),
        (Algorithm::HmacSha256, 16),
        (Algorithm::HmacSha256, 64),
        (Algorithm::HmacSha512, 128),
    ] {
        let key = vec![0x5a; len];
        let id = ok(v.import(alg, &key, &KeyOptions::default()));
        let info = ok(v.info(id));
        assert_eq!((info.algorithm, info.bits), (Some(alg), len as u32 * 8));
    }
}

pub fn import_refuses_wrong_lengths_with_einval() {
    let v = ok(Vault::open());
    let big = vec![1u8; 4096];
    for (alg, len) in [
        (Algorithm::Aes256Gcm, 16),
        (Algorithm::Aes128Gcm, 32),
        (Algorithm::Aes128Gcm, 0),
        (Algorithm::HmacSha256, 15),
        (Algorithm::HmacSha256, 65),
        (Algorithm::HmacSha512, 129),
        (Algorithm::HmacSha512, 4096),
    ] {
        expect_errno(
            v.import(alg, &big[..len], &KeyOptions::default()),
            Errno::EINVAL,
        );
    }
    // A huge length is refused before anything is read.
    let mut r = KvImport {
        key_len: u32::MAX,
        ..import_req(KV_ALG_AES256_GCM, &big)
    };
    expect_raw(ioctl(&v, KV_IOC_IMPORT, &mut r), Errno::EINVAL);
    assert_eq!(ok(v.list()).len(), 0);
}

pub fn import_of_ed25519_takes_exactly_a_32_byte_seed() {
    let v = ok(Vault::open());
    for len in [0, 31, 33, 64] {
        expect_errno(
            v.import(Algorithm::Ed25519, &vec![7; len], &KeyOptions::default()),
            Errno::EINVAL,
        );
    }
}

pub fn import_refuses_bad_child_policies_with_einval() {
    let v = ok(Vault::open());
    let key = [1u8; 32];
    for child in BAD_CHILD_POLICIES {
        let mut r = KvImport {
            child,
            ..import_req(KV_ALG_HMAC_SHA256, &key)
        };
        expect_raw(ioctl(&v, KV_IOC_IMPORT, &mut r), Errno::EINVAL);
    }
}

pub fn destroy_removes_the_key_from_info_and_list() {
    let v = ok(Vault::open());
    let a = ok(v.generate(Algorithm::Aes256Gcm));
    let b = ok(v.generate(Algorithm::Aes256Gcm));
    ok(v.destroy(a));
    expect_errno(v.info(a), Errno::ENOENT);
    assert_eq!(ok(v.list()), vec![b]);
}

pub fn destroy_twice_or_of_unknown_ids_is_enoent() {
    let v = ok(Vault::open());
    let a = ok(v.generate(Algorithm::Aes256Gcm));
    ok(v.destroy(a));
    expect_errno(v.destroy(a), Errno::ENOENT);
    expect_errno(v.destroy(KeyId(0)), Errno::ENOENT);
    expect_errno(v.destroy(KeyId(0xdead_beef)), Errno::ENOENT);
    expect_errno(v.destroy(KeyId(u64::MAX)), Errno::ENOENT);
}

pub fn destroy_and_revoke_refuse_nonzero_reserved_with_einval() {
    let v = ok(Vault::open());
    let a = ok(v.generate(Algorithm::Aes256Gcm));
    for cmd in [KV_IOC_DESTROY, KV_IOC_REVOKE] {
        let mut r = KvKeyref {
            key_id: a.0,
            reserved: 1,
        };
        expect_raw(ioctl(&v, cmd, &mut r), Errno::EINVAL);
    }
    assert_eq!(ok(v.info(a)).state, KeyState::Active);
}

pub fn revoke_is_permanent_idempotent_and_keeps_the_key_listed() {
    let v = ok(Vault::open());
    let a = ok(v.generate(Algorithm::Aes256Gcm));
    ok(v.revoke(a));
    ok(v.revoke(a));
    assert_eq!(ok(v.info(a)).state, KeyState::Revoked);
    assert_eq!(ok(v.list()), vec![a]);
    expect_errno(v.revoke(KeyId(0x1234_5678_9abc)), Errno::ENOENT);
    ok(v.destroy(a));
    expect_errno(v.revoke(a), Errno::ENOENT);
}

pub fn getinfo_reports_times_on_the_wall_clock() {
    let v = ok(Vault::open());
    let before = SystemTime::now() - Duration::from_secs(2);
    let id = ok(v.generate_with(
        Algorithm::Aes128Gcm,
        &KeyOptions {
            ttl: Some(Duration::from_secs(3600)),
            ..Default::default()
        },
    ));
    let info = ok(v.info(id));
    let after = SystemTime::now() + Duration::from_secs(2);
    assert!(
        info.created >= before && info.created <= after,
        "{:?}",
        info.created
    );
    let exp = info.expires.expect("a TTL key has an expiry");
    assert_eq!(
        exp.duration_since(info.created).unwrap(),
        Duration::from_secs(3600)
    );
    assert_eq!(
        ok(v.info(ok(v.generate(Algorithm::Aes128Gcm)))).expires,
        None
    );
}

pub fn getinfo_shows_expiry_without_any_operation() {
    let v = ok(Vault::open());
    let id = ok(v.generate_with(
        Algorithm::Aes128Gcm,
        &KeyOptions {
            ttl: Some(Duration::from_millis(150)),
            ..Default::default()
        },
    ));
    assert_eq!(ok(v.info(id)).state, KeyState::Active);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(ok(v.info(id)).state, KeyState::Expired);
    ok(v.revoke(id));
    assert_eq!(
        ok(v.info(id)).state,
        KeyState::Revoked,
        "revocation outranks expiry"
    );
}

pub fn getinfo_of_unknown_ids_is_enoent_and_reserved_must_be_zero() {
    let v = ok(Vault::open());
    expect_errno(v.info(KeyId(42_000_000)), Errno::ENOENT);
    let a = ok(v.generate(Algorithm::Aes256Gcm));
    let mut r = KvKeyinfo {
        key_id: a.0,
        reserved0: 1,
        ..Default::default()
    };
    expect_raw(ioctl(&v, KV_IOC_GETINFO, &mut r), Errno::EINVAL);
    let mut r = KvKeyinfo {
        key_id: a.0,
        ..Default::default()
    };
    r.reserved[1] = 1;
    expect_raw(ioctl(&v, KV_IOC_GETINFO, &mut r), Errno::EINVAL);
}

pub fn list_of_a_fresh_vault_is_empty() {
    let v = ok(Vault::open());
    let page = ok(v.list_page(None, 16));
    assert_eq!((page.ids.len(), page.total), (0, 0));
}

pub fn list_pages_through_every_key_in_ascending_order() {
    let v = ok(Vault::open());
    let mut made: Vec<KeyId> = (0..300)
        .map(|_| ok(v.generate(Algorithm::Aes128Gcm)))
        .collect();
    ok(v.destroy(made.remove(17)));
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = ok(v.list_page(cursor, 64));
        assert_eq!(page.total, 299);
        assert!(page.ids.len() <= 64);
        let Some(last) = page.ids.last().copied() else {
            break;
        };
        seen.extend(page.ids);
        cursor = Some(last);
    }
    assert_eq!(seen, made);
    assert_eq!(ok(v.list()), made);
}

pub fn list_returns_at_most_kv_list_max_per_call() {
    let v = ok(Vault::open());
    for _ in 0..(KV_LIST_MAX + 5) {
        ok(v.generate(Algorithm::Aes128Gcm));
    }
    let mut ids = vec![0u64; 4096];
    let mut r = KvList {
        ids_ptr: ids.as_mut_ptr() as u64,
        max_ids: 4096,
        ..Default::default()
    };
    assert_eq!(ioctl(&v, KV_IOC_LIST, &mut r), Ok(0));
    assert_eq!((r.count, r.total), (KV_LIST_MAX, KV_LIST_MAX as u64 + 5));
    assert!(
        ids[KV_LIST_MAX as usize..].iter().all(|&x| x == 0),
        "wrote past the page"
    );
}

pub fn list_with_zero_capacity_reports_only_the_total() {
    let v = ok(Vault::open());
    for _ in 0..3 {
        ok(v.generate(Algorithm::Aes128Gcm));
    }
    let mut r = KvList::default();
    assert_eq!(ioctl(&v, KV_IOC_LIST, &mut r), Ok(0));
    assert_eq!((r.count, r.total), (0, 3));
}

pub fn list_refuses_nonzero_reserved_with_einval() {
    let v = ok(Vault::open());
    let mut r = KvList {
        reserved: [0, 9],
        ..Default::default()
    };
    expect_raw(ioctl(&v, KV_IOC_LIST, &mut r), Errno::EINVAL);
}

/// This file's tests, in order.
pub fn tests() -> Vec<crate::support::harness::Test> {
    crate::tests![
        genkey_makes_every_symmetric_algorithm_at_its_default_size,
        genkey_reports_the_size_it_made_through_the_raw_struct,
        genkey_hmac_accepts_whole_byte_sizes_in_range,
        genkey_refuses_bad_sizes_with_einval,
        genkey_refuses_unknown_algorithms_with_einval,
        genkey_and_import_of_ed25519_make_256_bit_signing_keys,
        genkey_and_import_of_x25519_make_256_bit_exchange_keys,
        genkey_refuses_bad_child_policies_with_einval,
        genkey_refuses_bad_policies_with_einval,
        genkey_refuses_a_ttl_that_overflows_with_einval,
        key_policy_is_stored_and_reported,
        key_ids_are_nonzero_unique_and_never_reused,
        import_accepts_each_symmetric_algorithm_at_valid_lengths,
        import_refuses_wrong_lengths_with_einval,
        import_of_ed25519_takes_exactly_a_32_byte_seed,
        import_refuses_bad_child_policies_with_einval,
        destroy_removes_the_key_from_info_and_list,
        destroy_twice_or_of_unknown_ids_is_enoent,
        destroy_and_revoke_refuse_nonzero_reserved_with_einval,
        revoke_is_permanent_idempotent_and_keeps_the_key_listed,
        getinfo_reports_times_on_the_wall_clock,
        getinfo_shows_expiry_without_any_operation,
        getinfo_of_unknown_ids_is_enoent_and_reserved_must_be_zero,
        list_of_a_fresh_vault_is_empty,
        list_pages_through_every_key_in_ascending_order,
        list_returns_at_most_kv_list_max_per_call,
        list_with_zero_capacity_reports_only_the_total,
        list_refuses_nonzero_reserved_with_einval,
    ]
}
