//! What DERIVE and KEYEXCHANGE check alike: algorithm, size, hash and
//! policy of the new key, capability, key state and uses, quotas, reserved
//! fields, salt and info, pointers, the reply.

use crate::support::*;
use crate::vectors::rfc::*;
use keyvault::uapi::*;
use keyvault::{Algorithm, KeyId, Vault};
use nix::errno::Errno;
use std::time::Duration;

/// DERIVE from `h` and KEYEXCHANGE of `x` with `peer`, both with `kdf`,
/// fail with `want`.
fn both_fail(
    v: &Vault,
    (h, x, peer): (KeyId, KeyId, &[u8; 32]),
    kdf: &Kdf,
    want: Errno,
    what: &str,
) {
    fails(derive(v, h, kdf), want, &format!("DERIVE, {what}"));
    fails(
        exchange(v, x, peer, kdf),
        want,
        &format!("KEYEXCHANGE, {what}"),
    );
}

pub fn exchange_and_derive_into_an_asymmetric_or_unknown_algorithm_size_hash_or_policy_are_einval()
{
    let v = ok(Vault::open());
    let x = ok(v.generate(Algorithm::X25519));
    let h = ok(v.generate(Algorithm::HmacSha256));
    let peer = some_peer();
    let bad_policy = |p: KvPolicy| Kdf {
        policy: p,
        ..HMAC256
    };
    let cases = [
        ("Ed25519", Kdf::new(KV_HASH_SHA256, KV_ALG_ED25519)),
        ("X25519", Kdf::new(KV_HASH_SHA256, KV_ALG_X25519)),
        ("algorithm 0", Kdf::new(KV_HASH_SHA256, 0)),
        ("algorithm 10", Kdf::new(KV_HASH_SHA256, 10)),
        ("algorithm u32::MAX", Kdf::new(KV_HASH_SHA256, u32::MAX)),
        ("hash 0", Kdf::new(0, KV_ALG_HMAC_SHA256)),
        ("hash 3", Kdf::new(3, KV_ALG_HMAC_SHA256)),
        ("hash u32::MAX", Kdf::new(u32::MAX, KV_ALG_HMAC_SHA256)),
        (
            "AES-256 of 128 bits",
            Kdf {
                bits: 128,
                ..Kdf::new(KV_HASH_SHA256, KV_ALG_AES256_GCM)
            },
        ),
        (
            "AES-128 of 256 bits",
            Kdf {
                bits: 256,
                ..Kdf::new(KV_HASH_SHA256, KV_ALG_AES128_CBC)
            },
        ),
        (
            "HMAC-SHA256 of 120 bits",
            Kdf {
                bits: 120,
                ..HMAC256
            },
        ),
        (
            "HMAC-SHA256 of 129 bits",
            Kdf {
                bits: 129,
                ..HMAC256
            },
        ),
        (
            "HMAC-SHA256 of 520 bits",
            Kdf {
                bits: 520,
                ..HMAC256
            },
        ),
        (
            "HMAC-SHA512 of 1032 bits",
            Kdf {
                bits: 1032,
                ..Kdf::new(KV_HASH_SHA512, KV_ALG_HMAC_SHA512)
            },
        ),
        (
            "HMAC-SHA512 of u32::MAX bits",
            Kdf {
                bits: u32::MAX,
                ..Kdf::new(KV_HASH_SHA512, KV_ALG_HMAC_SHA512)
            },
        ),
        (
            "usage SIGN for HMAC",
            bad_policy(KvPolicy {
                usage: KV_CAP_SIGN,
                ..Default::default()
            }),
        ),
        (
            "usage GENKEY",
            bad_policy(KvPolicy {
                usage: KV_CAP_GENKEY,
                ..Default::default()
            }),
        ),
        (
            "unknown usage bit",
            bad_policy(KvPolicy {
                usage: 1 << 20,
                ..Default::default()
            }),
        ),
        (
            "unknown policy flag",
            bad_policy(KvPolicy {
                flags: 1 << 5,
                ..Default::default()
            }),
        ),
        (
            "TTL that overflows",
            Kdf {
                ttl_ms: u64::MAX,
                ..HMAC256
            },
        ),
    ];
    for (what, kdf) in cases {
        both_fail(&v, (h, x, &peer), &kdf, Errno::EINVAL, what);
    }
    assert_eq!(n_keys(&v), 2, "a refused request left a key");
}

pub fn exchange_needs_the_exchange_capability_and_derive_the_derive_capability() {
    let v = ok(Vault::open());
    let x = ok(v.generate(Algorithm::X25519));
    let h = ok(v.generate(Algorithm::HmacSha256));
    let peer = some_peer();
    let no_x = without(&v, KV_CAP_EXCHANGE);
    fails(
        exchange(&no_x, x, &peer, &HMAC256),
        Errno::EPERM,
        "KEYEXCHANGE without EXCHANGE",
    );
    // Checked before the argument is read.
    for addr in [0, KERNEL_ADDR] {
        expect_raw(ioctl_addr(&no_x, KV_IOC_KEYEXCHANGE, addr), Errno::EPERM);
    }
    must(derive(&no_x, h, &HMAC256), "DERIVE without EXCHANGE");
    let no_d = without(&v, KV_CAP_DERIVE);
    fails(
        derive(&no_d, h, &HMAC256),
        Errno::EPERM,
        "DERIVE without DERIVE",
    );
    for addr in [0, KERNEL_ADDR] {
        expect_raw(ioctl_addr(&no_d, KV_IOC_DERIVE, addr), Errno::EPERM);
    }
    must(
        exchange(&no_d, x, &peer, &HMAC256),
        "KEYEXCHANGE without DERIVE",
    );
    assert_eq!(n_keys(&v), 4);
}

pub fn exchange_and_derive_with_an_unknown_destroyed_or_foreign_key_are_enoent() {
    let v = ok(Vault::open());
    let gone_x = ok(v.generate(Algorithm::X25519));
    let gone_h = ok(v.generate(Algorithm::HmacSha256));
    ok(v.destroy(gone_x));
    ok(v.destroy(gone_h));
    let w = ok(Vault::open());
    let foreign_x = ok(w.generate(Algorithm::X25519));
    let foreign_h = ok(w.generate(Algorithm::HmacSha256));
    let peer = some_peer();
    let cases = [KeyId(0), KeyId(0xdead_beef_0000), KeyId(u64::MAX)]
        .map(|id| (id, id, format!("key {id}")))
        .into_iter()
        .chain([
            (gone_h, gone_x, "destroyed key".into()),
            (foreign_h, foreign_x, "another vault's key".into()),
        ]);
    for (h, x, what) in cases {
        both_fail(&v, (h, x, &peer), &HMAC256, Errno::ENOENT, &what);
    }
    assert_eq!(n_keys(&v), 0);
}

pub fn exchange_and_derive_with_a_revoked_or_expired_key_are_ekeyrevoked_or_ekeyexpired() {
    let v = ok(Vault::open());
    let peer = some_peer();
    let x_rev = ok(v.generate(Algorithm::X25519));
    let h_rev = ok(v.generate(Algorithm::HmacSha512));
    ok(v.revoke(x_rev));
    ok(v.revoke(h_rev));
    let x_exp = ok(v.generate_with(Algorithm::X25519, &ttl(100)));
    let h_exp = ok(v.generate_with(Algorithm::HmacSha256, &ttl(100)));
    std::thread::sleep(Duration::from_millis(300));
    let revoked = (h_rev, x_rev, &peer);
    both_fail(&v, revoked, &HMAC256, Errno::EKEYREVOKED, "revoked key");
    let expired = (h_exp, x_exp, &peer);
    both_fail(&v, expired, &HMAC256, Errno::EKEYEXPIRED, "expired key");
    assert_eq!(n_keys(&v), 4);
}

pub fn exchange_and_derive_count_as_a_use_of_the_key_against_its_max_uses() {
    let v = ok(Vault::open());
    let peer = some_peer();
    let once = with(|o| o.max_uses = 1);
    let x = ok(v.import(Algorithm::X25519, &rand32(11), &once));
    let h = ok(v.import(Algorithm::HmacSha256, &rand32(12), &once));
    must(exchange(&v, x, &peer, &HMAC256), "first KEYEXCHANGE");
    must(derive(&v, h, &HMAC256), "first DERIVE");
    both_fail(&v, (h, x, &peer), &HMAC256, Errno::EDQUOT, "second use");
    assert_eq!((ok(v.info(x)).uses, ok(v.info(h)).uses), (1, 1));
    assert_eq!(n_keys(&v), 4);
}

// ---------------------------------------------------------------------------
// Quota, hostile requests, no secret output

pub fn derived_and_exchanged_keys_count_against_the_vault_key_quota() {
    let v = ok(Vault::open());
    let h = ok(v.generate(Algorithm::HmacSha256));
    let x = ok(v.generate(Algorithm::X25519));
    let peer = some_peer();
    let mut last = None;
    let mut made = 0;
    loop {
        match v.generate(Algorithm::Aes128Gcm) {
            Ok(id) => last = Some(id),
            Err(e) => {
                assert_eq!(Errno::from_raw(e.errno()), Errno::EDQUOT, "{e}");
                break;
            }
        }
        made += 1;
        assert!(made <= 1 << 20, "no quota");
    }
    let full = n_keys(&v);
    both_fail(&v, (h, x, &peer), &HMAC256, Errno::EDQUOT, "a full vault");
    ok(v.destroy(last.unwrap()));
    let d = must(derive(&v, h, &HMAC256), "DERIVE after a destroy");
    fails(
        exchange(&v, x, &peer, &HMAC256),
        Errno::EDQUOT,
        "KEYEXCHANGE, full again",
    );
    ok(v.destroy(d));
    must(
        exchange(&v, x, &peer, &HMAC256),
        "KEYEXCHANGE after a destroy",
    );
    assert_eq!(n_keys(&v), full);
}

pub fn derive_and_exchange_with_nonzero_reserved_fields_or_bad_child_policies_are_einval() {
    let v = ok(Vault::open());
    let h = ok(v.generate(Algorithm::HmacSha256));
    let x = ok(v.generate(Algorithm::X25519));
    let peer = some_peer();
    for field in 0..5 {
        let mut d = derive_req(h, &HMAC256);
        let mut e = exchange_req(x, &peer, &HMAC256);
        match field {
            0 => {
                d.kdf.reserved0 = 1;
                e.kdf.reserved0 = 1;
            }
            // A child policy naming no algorithm bit, an asymmetric one, or
            // a capability that is no usage.
            1 => (d.child.algorithms, e.child.algorithms) = (1, 1),
            2 => {
                (d.child.algorithms, e.child.algorithms) = (1 << KV_ALG_ED25519, 1 << KV_ALG_X25519)
            }
            3 => (d.child.usage, e.child.usage) = (KV_CAP_GENKEY, KV_CAP_IMPORT),
            _ => (d.child.algorithms, e.child.algorithms) = (1 << 12, 1 << 31),
        }
        expect_raw(ioctl(&v, KV_IOC_DERIVE, &mut d), Errno::EINVAL);
        expect_raw(ioctl(&v, KV_IOC_KEYEXCHANGE, &mut e), Errno::EINVAL);
        assert_eq!(
            (d.new_key_id, e.new_key_id),
            (0, 0),
            "reserved field {field}: an id came back"
        );
    }
    assert_eq!(n_keys(&v), 2);
}

pub fn derive_and_exchange_take_salt_and_info_of_up_to_1024_bytes_and_refuse_1025_with_einval() {
    let v = ok(Vault::open());
    let ikm = data(32, 10);
    let h = import_hmac(&v, &ikm);
    let x = ok(v.generate(Algorithm::X25519));
    let peer = some_peer();
    let big = data(KV_KDF_MAX_INPUT as usize + 1, 11);
    let (max, over) = (&big[..1024], &big[..]);
    for (what, kdf) in [
        (
            "salt of 1025",
            Kdf {
                salt: over,
                ..HMAC256
            },
        ),
        (
            "info of 1025",
            Kdf {
                info: over,
                ..HMAC256
            },
        ),
    ] {
        both_fail(&v, (h, x, &peer), &kdf, Errno::EINVAL, what);
    }
    // Lengths far past the limit are refused before any pointer is read.
    let mut d = derive_req(h, &HMAC256);
    d.kdf.salt_len = u32::MAX;
    expect_raw(ioctl(&v, KV_IOC_DERIVE, &mut d), Errno::EINVAL);
    let mut d = derive_req(h, &HMAC256);
    d.kdf.info_len = u32::MAX;
    expect_raw(ioctl(&v, KV_IOC_DERIVE, &mut d), Errno::EINVAL);
    assert_eq!(n_keys(&v), 2);
    let kdf = Kdf {
        salt: max,
        info: max,
        ..HMAC256
    };
    let id = must(derive(&v, h, &kdf), "salt and info of 1024");
    let want = host_hkdf(KV_HASH_SHA256, max, &ikm, max, 32);
    assert_hmac_key(&v, id, KV_ALG_HMAC_SHA256, &want, "salt and info of 1024");
    must(
        exchange(&v, x, &peer, &kdf),
        "KEYEXCHANGE, salt and info of 1024",
    );
}

pub fn derive_and_exchange_accept_null_salt_and_info_pointers_when_empty() {
    let v = ok(Vault::open());
    let ikm = data(40, 12);
    let h = import_hmac(&v, &ikm);
    let x = import_x25519(&v, &arr(ALICE_PRIVATE));
    let mut d = derive_req(h, &HMAC256);
    (d.kdf.salt_ptr, d.kdf.info_ptr) = (0, 0);
    assert_eq!(ioctl(&v, KV_IOC_DERIVE, &mut d), Ok(0));
    let want = host_hkdf(KV_HASH_SHA256, b"", &ikm, b"", 32);
    assert_hmac_key(
        &v,
        KeyId(d.new_key_id),
        KV_ALG_HMAC_SHA256,
        &want,
        "DERIVE, null salt and info",
    );
    let bob: [u8; 32] = arr(BOB_PUBLIC);
    let mut e = exchange_req(x, &bob, &HMAC256);
    (e.kdf.salt_ptr, e.kdf.info_ptr) = (0, 0);
    assert_eq!(ioctl(&v, KV_IOC_KEYEXCHANGE, &mut e), Ok(0));
    let want = host_hkdf(KV_HASH_SHA256, b"", &hex(SHARED), b"", 32);
    assert_hmac_key(
        &v,
        KeyId(e.new_key_id),
        KV_ALG_HMAC_SHA256,
        &want,
        "KEYEXCHANGE, null salt and info",
    );
}

pub fn derive_and_exchange_with_a_bad_salt_info_or_peer_pointer_are_efault_and_leave_no_key() {
    let v = ok(Vault::open());
    let h = ok(v.generate(Algorithm::HmacSha256));
    let x = ok(v.generate(Algorithm::X25519));
    let peer = some_peer();
    let page = Straddle::new();
    // 16 bytes of which the last runs into an unmapped page.
    let cut16 = page.fill(&[1; 16], 1) as u64;
    for (what, addr) in bad_addrs(("cut off", cut16)) {
        for field in ["salt", "info"] {
            let mut d = derive_req(h, &HMAC256);
            let mut e = exchange_req(x, &peer, &HMAC256);
            for k in [&mut d.kdf, &mut e.kdf] {
                if field == "salt" {
                    (k.salt_ptr, k.salt_len) = (addr, 16);
                } else {
                    (k.info_ptr, k.info_len) = (addr, 16);
                }
            }
            let case = format!("{what} {field} pointer");
            assert_eq!(
                ioctl(&v, KV_IOC_DERIVE, &mut d),
                Err(Errno::EFAULT),
                "DERIVE, {case}"
            );
            assert_eq!(
                ioctl(&v, KV_IOC_KEYEXCHANGE, &mut e),
                Err(Errno::EFAULT),
                "KEYEXCHANGE, {case}"
            );
        }
    }
    let cut32 = page.fill(&peer, 1) as u64;
    for (what, addr) in bad_addrs(("cut off", cut32)) {
        let mut e = exchange_req(x, &peer, &HMAC256);
        e.peer_ptr = addr;
        assert_eq!(
            ioctl(&v, KV_IOC_KEYEXCHANGE, &mut e),
            Err(Errno::EFAULT),
            "{what} peer pointer"
        );
    }
    assert_eq!(n_keys(&v), 2, "a failed request left a key");
}

pub fn derive_and_exchange_whose_result_cannot_be_written_back_leave_no_key() {
    let v = ok(Vault::open());
    let h = ok(v.generate(Algorithm::HmacSha256));
    let x = ok(v.generate(Algorithm::X25519));
    let peer = some_peer();
    let m = Mapping::new(4096);
    let d = m.put(derive_req(h, &HMAC256));
    m.read_only();
    expect_raw(ioctl_addr(&v, KV_IOC_DERIVE, d as usize), Errno::EFAULT);
    let m = Mapping::new(4096);
    let e = m.put(exchange_req(x, &peer, &HMAC256));
    m.read_only();
    expect_raw(
        ioctl_addr(&v, KV_IOC_KEYEXCHANGE, e as usize),
        Errno::EFAULT,
    );
    assert_eq!(
        n_keys(&v),
        2,
        "a key whose id never reached the caller was left"
    );
}

pub fn derive_and_exchange_return_only_the_new_keys_id_and_size() {
    let v = ok(Vault::open());
    let h = import_hmac(&v, &data(32, 13));
    let x = import_x25519(&v, &arr(ALICE_PRIVATE));
    let salt = data(20, 14);
    let info = data(30, 15);
    let kdf = Kdf {
        salt: &salt,
        info: &info,
        ttl_ms: 60_000,
        ..Kdf::new(KV_HASH_SHA512, KV_ALG_AES256_GCM)
    };
    let peer: [u8; 32] = arr(BOB_PUBLIC);
    let before_d = derive_req(h, &kdf);
    let before_e = exchange_req(x, &peer, &kdf);
    let (mut d, mut e) = (before_d, before_e);
    assert_eq!(ioctl(&v, KV_IOC_DERIVE, &mut d), Ok(0));
    assert_eq!(ioctl(&v, KV_IOC_KEYEXCHANGE, &mut e), Ok(0));
    // Only new_key_id and kdf.key_bits change; no pointer to write a secret to
    // exists, and the inputs are as they were.
    let mut want_d = before_d;
    want_d.new_key_id = d.new_key_id;
    want_d.kdf.key_bits = 256;
    assert_eq!(d, want_d, "DERIVE wrote other fields back");
    let mut want_e = before_e;
    want_e.new_key_id = e.new_key_id;
    want_e.kdf.key_bits = 256;
    assert_eq!(e, want_e, "KEYEXCHANGE wrote other fields back");
    assert!(
        salt == data(20, 14) && info == data(30, 15) && peer == arr::<32>(BOB_PUBLIC),
        "an input buffer was written"
    );
    let ids = ok(v.list());
    for (what, id) in [("derived", d.new_key_id), ("exchanged", e.new_key_id)] {
        assert!(
            ids.contains(&KeyId(id)),
            "LIST does not show the {what} key"
        );
        let i = must(getinfo(&v, KeyId(id)), what);
        assert_eq!(
            (i.algorithm, i.key_bits, i.state, i.policy.usage, i.uses),
            (
                KV_ALG_AES256_GCM,
                256,
                KV_STATE_ACTIVE,
                KV_CAP_ENCRYPT | KV_CAP_DECRYPT,
                0
            ),
            "{what}: GETINFO"
        );
        assert!(i.expires_ms > i.created_ms, "{what}: TTL");
        // Nothing reads a symmetric key's bytes out: no public half either.
        fails(
            pubkey(&v, KeyId(id)),
            Errno::EOPNOTSUPP,
            &format!("GET_PUBKEY of the {what} key"),
        );
    }
    assert_ne!(d.new_key_id, e.new_key_id);
}
