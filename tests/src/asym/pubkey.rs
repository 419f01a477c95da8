//! X25519 keys (import, genkey, public keys against RFC 7748 and
//! curve25519-dalek) and GET_PUBKEY.

use crate::support::*;
use crate::vectors::rfc::*;
use curve25519_dalek::montgomery::MontgomeryPoint;
use keyvault::uapi::*;
use keyvault::{Algorithm, Caps, KeyId, KeyOptions, KeyState, Vault};
use nix::errno::Errno;
use std::time::Duration;

// ---------------------------------------------------------------------------
// X25519 keys and GET_PUBKEY

pub fn x25519_public_keys_are_rfc_7748s_and_curve25519_dalek_agrees_for_random_scalars() {
    let v = ok(Vault::open());
    for (private, public, who) in [
        (ALICE_PRIVATE, ALICE_PUBLIC, "Alice"),
        (BOB_PRIVATE, BOB_PUBLIC, "Bob"),
    ] {
        let id = import_x25519(&v, &arr(private));
        assert_eq!(
            must(pubkey(&v, id), who),
            arr::<32>(public),
            "{who}'s public key"
        );
    }
    for i in 0..16 {
        let scalar = rand32(1000 + i);
        let want = MontgomeryPoint::mul_base_clamped(scalar).to_bytes();
        let id = import_x25519(&v, &scalar);
        assert_eq!(must(pubkey(&v, id), "GET_PUBKEY"), want, "scalar {i}");
        ok(v.destroy(id));
        // RFC 7748 decodeScalar25519 clamps: the three low bits and the top
        // two bits of the scalar do not matter.
        let mut other = scalar;
        other[0] ^= 0x07;
        other[31] ^= 0xc0;
        let id = import_x25519(&v, &other);
        assert_eq!(
            must(pubkey(&v, id), "GET_PUBKEY"),
            want,
            "scalar {i}, unclamped bits changed"
        );
        ok(v.destroy(id));
    }
    let a = ok(v.generate(Algorithm::X25519));
    let b = ok(v.generate(Algorithm::X25519));
    let (pa, pb) = (must(pubkey(&v, a), "a"), must(pubkey(&v, b), "b"));
    assert_ne!(pa, pb, "two generated keys with one public key");
    assert_ne!(pa, [0; 32]);
}

pub fn x25519_import_takes_exactly_32_bytes_and_genkey_only_256_bits() {
    let v = ok(Vault::open());
    let buf = [0x42u8; 128];
    for len in [0, 1, 16, 31, 33, 64, 128] {
        expect_errno(
            v.import(Algorithm::X25519, &buf[..len], &KeyOptions::default()),
            Errno::EINVAL,
        );
    }
    for bits in [128, 255, 257, 512] {
        expect_errno(
            v.generate_with(Algorithm::X25519, &with(|o| o.bits = bits)),
            Errno::EINVAL,
        );
    }
    assert_eq!(n_keys(&v), 0);
    let id = ok(v.generate_with(Algorithm::X25519, &with(|o| o.bits = 256)));
    assert_eq!(ok(v.info(id)).bits, 256);
}

pub fn get_pubkey_below_32_bytes_of_room_is_enospc_with_the_needed_length_and_writes_nothing() {
    let v = ok(Vault::open());
    let id = import_x25519(&v, &arr(ALICE_PRIVATE));
    for cap in [0, 1, 31] {
        let mut buf = vec![CANARY; 64];
        let mut r = pubkey_req(id, &mut buf, cap);
        expect_raw(ioctl(&v, KV_IOC_GET_PUBKEY, &mut r), Errno::ENOSPC);
        assert_eq!(r.pubkey_len, 32, "room for {cap}: the needed length");
        assert_untouched(&buf, &format!("room for {cap}"));
    }
    for cap in [32, 33, 64] {
        let mut buf = vec![CANARY; 64];
        let mut r = pubkey_req(id, &mut buf, cap);
        assert_eq!(ioctl(&v, KV_IOC_GET_PUBKEY, &mut r), Ok(0));
        assert_eq!(r.pubkey_len, 32, "room for {cap}");
        assert_eq!(buf[..32], arr::<32>(ALICE_PUBLIC), "room for {cap}");
        assert_untouched(&buf[32..], &format!("room for {cap}: past the key"));
    }
}

pub fn get_pubkey_of_a_symmetric_key_is_eopnotsupp() {
    let v = ok(Vault::open());
    for (a, _) in SYMMETRIC {
        let id = ok(v.generate(alg(a)));
        let mut buf = vec![CANARY; 32];
        let mut r = pubkey_req(id, &mut buf, 32);
        expect_raw(ioctl(&v, KV_IOC_GET_PUBKEY, &mut r), Errno::EOPNOTSUPP);
        assert_untouched(&buf, &alg(a).to_string());
    }
}

pub fn get_pubkey_of_an_unknown_destroyed_or_foreign_key_is_enoent() {
    let v = ok(Vault::open());
    let gone = ok(v.generate(Algorithm::X25519));
    ok(v.destroy(gone));
    let w = ok(Vault::open());
    let foreign = ok(w.generate(Algorithm::X25519));
    for id in [
        KeyId(0),
        KeyId(0xdead_beef_0000),
        KeyId(u64::MAX),
        gone,
        foreign,
    ] {
        fails(pubkey(&v, id), Errno::ENOENT, &format!("key {id}"));
    }
}

pub fn get_pubkey_with_nonzero_reserved_fields_is_einval() {
    let v = ok(Vault::open());
    let id = ok(v.generate(Algorithm::X25519));
    for field in 0..3 {
        let mut buf = vec![CANARY; 32];
        let mut r = pubkey_req(id, &mut buf, 32);
        match field {
            0 => r.reserved0 = 1,
            i => r.reserved[i - 1] = 1,
        }
        expect_raw(ioctl(&v, KV_IOC_GET_PUBKEY, &mut r), Errno::EINVAL);
        assert_untouched(&buf, &format!("reserved field {field}"));
    }
}

pub fn get_pubkey_needs_only_the_getinfo_capability() {
    let v = ok(Vault::open());
    let id = import_x25519(&v, &arr(BOB_PRIVATE));
    let no = without(&v, KV_CAP_GETINFO);
    fails(pubkey(&no, id), Errno::EPERM, "without GETINFO");
    expect_raw(ioctl_addr(&no, KV_IOC_GET_PUBKEY, 0), Errno::EPERM);
    let only = ok(v.dup(Caps::GETINFO, None));
    assert_eq!(
        must(pubkey(&only, id), "GETINFO only"),
        arr::<32>(BOB_PUBLIC)
    );
}

pub fn get_pubkey_answers_for_revoked_and_expired_keys() {
    let v = ok(Vault::open());
    let revoked = import_x25519(&v, &arr(ALICE_PRIVATE));
    ok(v.revoke(revoked));
    let expired = ok(v.import(Algorithm::X25519, &arr::<32>(BOB_PRIVATE), &ttl(50)));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(ok(v.info(revoked)).state, KeyState::Revoked);
    assert_eq!(ok(v.info(expired)).state, KeyState::Expired);
    assert_eq!(
        must(pubkey(&v, revoked), "revoked"),
        arr::<32>(ALICE_PUBLIC)
    );
    assert_eq!(must(pubkey(&v, expired), "expired"), arr::<32>(BOB_PUBLIC));
}

pub fn get_pubkey_to_a_null_kernel_or_read_only_buffer_is_efault() {
    let v = ok(Vault::open());
    let id = ok(v.generate(Algorithm::X25519));
    let ro = Mapping::new(4096);
    ro.read_only();
    for addr in [0, KERNEL_ADDR, ro.addr as usize] {
        let mut r = KvPubkey {
            key_id: id.0,
            pubkey_ptr: addr as u64,
            pubkey_len: 32,
            ..Default::default()
        };
        expect_raw(ioctl(&v, KV_IOC_GET_PUBKEY, &mut r), Errno::EFAULT);
    }
}
