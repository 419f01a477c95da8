//! Ed25519 SIGN and VERIFY against RFC 8032 and ed25519-dalek: tampering,
//! sizes, pointers, key types, usage, capabilities, key state.

use crate::support::*;
use crate::vectors::rfc::*;
use keyvault::uapi::*;
use keyvault::{Algorithm, Caps, KeyId, KeyOptions, Vault};
use nix::errno::Errno;
use std::time::Duration;

pub fn dalek_sign(seed: &[u8; 32], msg: &[u8]) -> ([u8; 32], [u8; 64]) {
    use ed25519_dalek::Signer;
    let key = ed25519_dalek::SigningKey::from_bytes(seed);
    (key.verifying_key().to_bytes(), key.sign(msg).to_bytes())
}

pub fn dalek_verify_strict(public: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    ed25519_dalek::VerifyingKey::from_bytes(public).is_ok_and(|k| {
        k.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(sig))
            .is_ok()
    })
}

/// The group order L, little-endian.
pub const ED25519_L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// The signature with S replaced by S + L: the same value mod L, a
/// non-canonical encoding (malleability), which must not verify.
pub fn with_s_plus_l(sig: &[u8; 64]) -> [u8; 64] {
    let mut out = *sig;
    let mut carry = 0u16;
    for (o, l) in out[32..].iter_mut().zip(ED25519_L) {
        let sum = *o as u16 + l as u16 + carry;
        *o = sum as u8;
        carry = sum >> 8;
    }
    out
}

pub fn ed25519_rfc_8032_vectors_through_import_get_pubkey_sign_and_verify() {
    let v = ok(Vault::open());
    for (name, seed, public, msg, sig) in RFC8032 {
        let (seed, public, msg, sig) =
            (arr::<32>(seed), arr::<32>(public), hex(msg), arr::<64>(sig));
        let id = import_ed25519(&v, &seed);
        let info = ok(v.info(id));
        assert_eq!(
            (info.algorithm, info.bits),
            (Some(Algorithm::Ed25519), 256),
            "{name}"
        );
        assert_eq!(must(pubkey(&v, id), name), public, "{name}: public key");
        assert_eq!(must(sign(&v, id, &msg), name), sig, "{name}: signature");
        must(
            verify_with_key(&v, id, &msg, &sig),
            &format!("{name}: VERIFY with the key"),
        );
        must(
            verify_with_public(&v, &public, &msg, &sig),
            &format!("{name}: VERIFY with the public key"),
        );
        let mut longer = msg.clone();
        longer.push(0);
        fails(
            verify_with_key(&v, id, &longer, &sig),
            Errno::EBADMSG,
            &format!("{name}: another message"),
        );
        fails(
            verify_with_public(&v, &public, &longer, &sig),
            Errno::EBADMSG,
            &format!("{name}: another message"),
        );
    }
}

pub fn ed25519_generated_keys_make_signatures_that_ed25519_dalek_verifies() {
    let v = ok(Vault::open());
    let a = ok(v.generate(Algorithm::Ed25519));
    let b = ok(v.generate(Algorithm::Ed25519));
    let info = ok(v.info(a));
    assert_eq!((info.algorithm, info.bits), (Some(Algorithm::Ed25519), 256));
    assert_eq!(info.usage, Caps::SIGN | Caps::VERIFY);
    let (pa, pb) = (must(pubkey(&v, a), "a"), must(pubkey(&v, b), "b"));
    assert_ne!(pa, pb, "two generated keys with one public key");
    for len in [0, 1, 64, 1000] {
        let msg = data(len, len as u64);
        let sig = must(sign(&v, a, &msg), "SIGN");
        assert!(
            dalek_verify_strict(&pa, &msg, &sig),
            "{len} bytes: ed25519-dalek refuses the signature"
        );
        assert_eq!(
            must(sign(&v, a, &msg), "SIGN again"),
            sig,
            "Ed25519 is deterministic"
        );
        must(verify_with_key(&v, a, &msg, &sig), "VERIFY");
        fails(
            verify_with_key(&v, b, &msg, &sig),
            Errno::EBADMSG,
            "VERIFY with the other key",
        );
    }
}

pub fn ed25519_public_keys_and_signatures_equal_ed25519_dalek_for_200_random_seeds_and_messages() {
    let v = ok(Vault::open());
    for i in 0..200u64 {
        let seed = rand32(6000 + i);
        let len = match i {
            199 => 65536,
            198 => 4096,
            _ => (i as usize * 37) % 300,
        };
        let msg = data(len, 7000 + i);
        let (public, want) = dalek_sign(&seed, &msg);
        let id = import_ed25519(&v, &seed);
        let what = format!("seed {i}, {len} bytes");
        assert_eq!(must(pubkey(&v, id), &what), public, "{what}: public key");
        assert_eq!(must(sign(&v, id, &msg), &what), want, "{what}: signature");
        must(verify_with_public(&v, &public, &msg, &want), &what);
        ok(v.destroy(id));
    }
}

pub fn ed25519_tampered_signatures_messages_and_keys_are_ebadmsg() {
    let v = ok(Vault::open());
    let seed = rand32(8000);
    let msg = data(32, 8001);
    let id = import_ed25519(&v, &seed);
    let public = must(pubkey(&v, id), "public key");
    let sig = must(sign(&v, id, &msg), "SIGN");
    must(
        verify_with_public(&v, &public, &msg, &sig),
        "the untampered signature",
    );
    let mut accepted = Vec::new();
    for bit in 0..512 {
        let mut bad = sig;
        bad[bit / 8] ^= 1 << (bit % 8);
        match verify_with_public(&v, &public, &msg, &bad) {
            Err(Errno::EBADMSG) => {}
            other => accepted.push(format!("signature bit {bit}: {other:?}")),
        }
    }
    for bit in 0..msg.len() * 8 {
        let mut bad = msg.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        match verify_with_key(&v, id, &bad, &sig) {
            Err(Errno::EBADMSG) => {}
            other => accepted.push(format!("message bit {bit}: {other:?}")),
        }
    }
    assert!(accepted.is_empty(), "tampering not caught: {accepted:?}");
    let longer = [&msg[..], &[0u8]].concat();
    for (what, m) in [
        ("truncated message", &msg[..31]),
        ("empty message", &[][..]),
        ("longer message", &longer[..]),
    ] {
        fails(
            verify_with_public(&v, &public, m, &sig),
            Errno::EBADMSG,
            what,
        );
    }
    let other = import_ed25519(&v, &rand32(8002));
    let other_public = must(pubkey(&v, other), "other public key");
    fails(
        verify_with_key(&v, other, &msg, &sig),
        Errno::EBADMSG,
        "another vault key",
    );
    fails(
        verify_with_public(&v, &other_public, &msg, &sig),
        Errno::EBADMSG,
        "another public key",
    );
    fails(
        verify_with_public(&v, &public, &msg, &with_s_plus_l(&sig)),
        Errno::EBADMSG,
        "S + L",
    );
    fails(
        verify_with_public(&v, &public, &msg, &[0; 64]),
        Errno::EBADMSG,
        "all-zero signature",
    );
    // The identity (small order) as public key, with a signature (R =
    // identity, S = 0) that its cofactorless equation accepts.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut trivial = [0u8; 64];
    trivial[0] = 1;
    fails(
        verify_with_public(&v, &identity, &msg, &trivial),
        Errno::EBADMSG,
        "small-order public key",
    );
}

pub fn ed25519_sign_below_64_bytes_of_room_is_enospc_with_the_needed_length_and_writes_nothing() {
    let v = ok(Vault::open());
    let (name, seed, _, msg, sig) = RFC8032[2];
    let id = import_ed25519(&v, &arr(seed));
    let msg = hex(msg);
    for cap in [0, 1, 63] {
        let mut buf = vec![CANARY; 128];
        let mut r = sign_req(id, &msg, &mut buf, cap);
        expect_raw(ioctl(&v, KV_IOC_SIGN, &mut r), Errno::ENOSPC);
        assert_eq!(r.sig_len, 64, "room for {cap}: the needed length");
        assert_untouched(&buf, &format!("room for {cap}"));
    }
    for cap in [64, 65, 128] {
        let mut buf = vec![CANARY; 128];
        let mut r = sign_req(id, &msg, &mut buf, cap);
        assert_eq!(ioctl(&v, KV_IOC_SIGN, &mut r), Ok(0), "room for {cap}");
        assert_eq!(r.sig_len, 64, "room for {cap}");
        assert_eq!(buf[..64], arr::<64>(sig), "{name}, room for {cap}");
        assert_untouched(&buf[64..], &format!("room for {cap}: past the signature"));
    }
}

pub fn ed25519_import_takes_a_32_byte_seed_and_genkey_only_256_bits() {
    let v = ok(Vault::open());
    let buf = [0x42u8; 128];
    for len in [0, 16, 31, 33, 64] {
        expect_errno(
            v.import(Algorithm::Ed25519, &buf[..len], &KeyOptions::default()),
            Errno::EINVAL,
        );
    }
    for bits in [128, 255, 512] {
        expect_errno(
            v.generate_with(Algorithm::Ed25519, &with(|o| o.bits = bits)),
            Errno::EINVAL,
        );
    }
    assert_eq!(n_keys(&v), 0);
    let id = ok(v.generate_with(Algorithm::Ed25519, &with(|o| o.bits = 256)));
    assert_eq!(ok(v.info(id)).bits, 256);
}

pub fn ed25519_verify_takes_a_key_id_or_a_public_key_not_both_and_reserved_fields_must_be_0() {
    let v = ok(Vault::open());
    let (_, seed, public, msg, sig) = RFC8032[1];
    let (public, msg, sig) = (arr::<32>(public), hex(msg), arr::<64>(sig));
    let id = import_ed25519(&v, &arr(seed));
    let mut both = verify_req(id, Some(&public), &msg, &sig);
    expect_raw(ioctl(&v, KV_IOC_VERIFY, &mut both), Errno::EINVAL);
    // Key id 0 and no public key: the public key is read from address 0.
    let mut neither = verify_req(KeyId(0), None, &msg, &sig);
    expect_raw(ioctl(&v, KV_IOC_VERIFY, &mut neither), Errno::EFAULT);
    for field in 0..3 {
        for with_key in [true, false] {
            let mut r = if with_key {
                verify_req(id, None, &msg, &sig)
            } else {
                verify_req(KeyId(0), Some(&public), &msg, &sig)
            };
            match field {
                0 => r.reserved0 = 1,
                i => r.reserved[i - 1] = 1,
            }
            expect_raw(ioctl(&v, KV_IOC_VERIFY, &mut r), Errno::EINVAL);
        }
    }
    for i in 0..2 {
        let mut buf = vec![CANARY; 64];
        let mut r = sign_req(id, &msg, &mut buf, 64);
        r.reserved[i] = 1;
        expect_raw(ioctl(&v, KV_IOC_SIGN, &mut r), Errno::EINVAL);
        assert_untouched(&buf, &format!("SIGN, reserved[{i}]"));
    }
}

pub fn ed25519_an_empty_message_signs_and_verifies_even_with_a_null_data_pointer() {
    let v = ok(Vault::open());
    let (_, seed, public, _, sig) = RFC8032[0];
    let (public, sig) = (arr::<32>(public), arr::<64>(sig));
    let id = import_ed25519(&v, &arr(seed));
    let mut out = [0u8; 64];
    let mut r = sign_req(id, &[], &mut out, 64);
    r.data_ptr = 0;
    assert_eq!(ioctl(&v, KV_IOC_SIGN, &mut r), Ok(0));
    assert_eq!(out, sig, "TEST 1 (empty message)");
    let mut r = verify_req(KeyId(0), Some(&public), &[], &sig);
    r.data_ptr = 0;
    assert_eq!(ioctl(&v, KV_IOC_VERIFY, &mut r), Ok(0));
    let mut r = verify_req(id, None, &[], &sig);
    r.data_ptr = 0;
    assert_eq!(ioctl(&v, KV_IOC_VERIFY, &mut r), Ok(0));
}

pub fn ed25519_sign_and_verify_with_bad_pointers_are_efault() {
    let v = ok(Vault::open());
    let (_, seed, public, _, _) = RFC8032[2];
    let public: [u8; 32] = arr(public);
    let id = import_ed25519(&v, &arr(seed));
    let msg = data(64, 9000);
    let sig = must(sign(&v, id, &msg), "SIGN");
    // The read-only mapping first: made after the straddle, it could land
    // in the straddle's unmapped page.
    let ro = Mapping::new(4096);
    ro.read_only();
    let page = Straddle::new();
    let cut_msg = page.fill(&msg, 1) as u64;
    for (what, addr) in bad_addrs(("cut off", cut_msg)) {
        let mut out = [0u8; 64];
        let mut r = sign_req(id, &msg, &mut out, 64);
        r.data_ptr = addr;
        assert_eq!(
            ioctl(&v, KV_IOC_SIGN, &mut r),
            Err(Errno::EFAULT),
            "SIGN, {what} message"
        );
        let mut r = verify_req(KeyId(0), Some(&public), &msg, &sig);
        r.data_ptr = addr;
        assert_eq!(
            ioctl(&v, KV_IOC_VERIFY, &mut r),
            Err(Errno::EFAULT),
            "VERIFY, {what} message"
        );
    }
    for (what, addr) in bad_addrs(("read-only", ro.addr as u64)) {
        let mut out = [0u8; 64];
        let mut r = sign_req(id, &msg, &mut out, 64);
        r.sig_ptr = addr;
        assert_eq!(
            ioctl(&v, KV_IOC_SIGN, &mut r),
            Err(Errno::EFAULT),
            "SIGN, {what} signature"
        );
    }
    let cut_sig = page.fill(&sig, 1) as u64;
    for (what, addr) in bad_addrs(("cut off", cut_sig)) {
        let mut r = verify_req(id, None, &msg, &sig);
        r.sig_ptr = addr;
        assert_eq!(
            ioctl(&v, KV_IOC_VERIFY, &mut r),
            Err(Errno::EFAULT),
            "VERIFY, {what} signature"
        );
    }
    let cut_pub = page.fill(&public, 1) as u64;
    for (what, addr) in [("kernel", KERNEL_ADDR as u64), ("cut off", cut_pub)] {
        let mut r = verify_req(KeyId(0), Some(&public), &msg, &sig);
        r.pubkey_ptr = addr;
        assert_eq!(
            ioctl(&v, KV_IOC_VERIFY, &mut r),
            Err(Errno::EFAULT),
            "VERIFY, {what} public key"
        );
    }
}

pub fn ed25519_sign_and_verify_with_a_key_of_another_type_are_eopnotsupp_and_ed25519_keys_do_nothing_else(
) {
    let v = ok(Vault::open());
    let msg = b"message";
    let sig = [0u8; 64];
    for (a, _) in SYMMETRIC {
        let id = ok(v.generate(alg(a)));
        fails(
            sign(&v, id, msg),
            Errno::EOPNOTSUPP,
            &format!("SIGN with {}", alg(a)),
        );
        fails(
            verify_with_key(&v, id, msg, &sig),
            Errno::EOPNOTSUPP,
            &format!("VERIFY with {}", alg(a)),
        );
    }
    let x = ok(v.generate(Algorithm::X25519));
    fails(sign(&v, x, msg), Errno::EOPNOTSUPP, "SIGN with X25519");
    fails(
        verify_with_key(&v, x, msg, &sig),
        Errno::EOPNOTSUPP,
        "VERIFY with X25519",
    );
    let ed = ok(v.generate(Algorithm::Ed25519));
    expect_errno(v.mac(ed, msg), Errno::EOPNOTSUPP);
    expect_errno(v.aead_encrypt(ed, msg, b"", None), Errno::EOPNOTSUPP);
    fails(
        derive(&v, ed, &HMAC256),
        Errno::EOPNOTSUPP,
        "DERIVE from Ed25519",
    );
    fails(
        exchange(&v, ed, &some_peer(), &HMAC256),
        Errno::EOPNOTSUPP,
        "KEYEXCHANGE with Ed25519",
    );
    assert_eq!(n_keys(&v), SYMMETRIC.len() + 2);
}

pub fn ed25519_keys_follow_their_usage_policy() {
    let v = ok(Vault::open());
    let (_, seed, public, msg, sig) = RFC8032[1];
    let (seed, public, msg, sig) = (arr::<32>(seed), arr::<32>(public), hex(msg), arr::<64>(sig));
    let sign_only = ok(v.import(Algorithm::Ed25519, &seed, &usage(Caps::SIGN)));
    let verify_only = ok(v.import(Algorithm::Ed25519, &seed, &usage(Caps::VERIFY)));
    assert_eq!(must(sign(&v, sign_only, &msg), "sign-only key"), sig);
    fails(
        verify_with_key(&v, sign_only, &msg, &sig),
        Errno::EPERM,
        "VERIFY with a sign-only key",
    );
    // Its public key, given to VERIFY, needs no key usage.
    assert_eq!(must(pubkey(&v, sign_only), "sign-only key"), public);
    must(
        verify_with_public(&v, &public, &msg, &sig),
        "its public key",
    );
    fails(
        sign(&v, verify_only, &msg),
        Errno::EPERM,
        "SIGN with a verify-only key",
    );
    must(
        verify_with_key(&v, verify_only, &msg, &sig),
        "verify-only key",
    );
    for u in [
        Caps::EXCHANGE,
        Caps::MAC,
        Caps::DERIVE,
        Caps::ENCRYPT,
        Caps::SIGN | Caps::MAC,
    ] {
        expect_errno(
            v.import(Algorithm::Ed25519, &seed, &usage(u)),
            Errno::EINVAL,
        );
    }
    let twice = ok(v.import(Algorithm::Ed25519, &seed, &with(|o| o.max_uses = 2)));
    must(sign(&v, twice, &msg), "use 1");
    must(sign(&v, twice, &msg), "use 2");
    fails(sign(&v, twice, &msg), Errno::EDQUOT, "use 3");
}

pub fn ed25519_sign_and_verify_need_their_capabilities() {
    let v = ok(Vault::open());
    let (_, seed, public, msg, sig) = RFC8032[2];
    let (public, msg, sig) = (arr::<32>(public), hex(msg), arr::<64>(sig));
    let id = import_ed25519(&v, &arr(seed));
    let no_sign = without(&v, KV_CAP_SIGN);
    fails(sign(&no_sign, id, &msg), Errno::EPERM, "SIGN without SIGN");
    for addr in [0, KERNEL_ADDR] {
        expect_raw(ioctl_addr(&no_sign, KV_IOC_SIGN, addr), Errno::EPERM);
    }
    must(
        verify_with_key(&no_sign, id, &msg, &sig),
        "VERIFY without SIGN",
    );
    let no_verify = without(&v, KV_CAP_VERIFY);
    fails(
        verify_with_key(&no_verify, id, &msg, &sig),
        Errno::EPERM,
        "VERIFY (key) without VERIFY",
    );
    fails(
        verify_with_public(&no_verify, &public, &msg, &sig),
        Errno::EPERM,
        "VERIFY (public key) without VERIFY",
    );
    for addr in [0, KERNEL_ADDR] {
        expect_raw(ioctl_addr(&no_verify, KV_IOC_VERIFY, addr), Errno::EPERM);
    }
    assert_eq!(must(sign(&no_verify, id, &msg), "SIGN without VERIFY"), sig);
    let only_verify = ok(v.dup(Caps::VERIFY, None));
    must(
        verify_with_public(&only_verify, &public, &msg, &sig),
        "a VERIFY-only handle",
    );
    must(
        verify_with_key(&only_verify, id, &msg, &sig),
        "a VERIFY-only handle, with the key",
    );
}

pub fn ed25519_revoked_or_expired_keys_cannot_sign_or_verify_but_keep_their_public_key() {
    let v = ok(Vault::open());
    let (_, seed, public, msg, sig) = RFC8032[4];
    let (seed, public, msg, sig) = (arr::<32>(seed), arr::<32>(public), hex(msg), arr::<64>(sig));
    let revoked = import_ed25519(&v, &seed);
    ok(v.revoke(revoked));
    let expired = ok(v.import(Algorithm::Ed25519, &seed, &ttl(100)));
    std::thread::sleep(Duration::from_millis(300));
    for (what, id, want) in [
        ("revoked", revoked, Errno::EKEYREVOKED),
        ("expired", expired, Errno::EKEYEXPIRED),
    ] {
        fails(sign(&v, id, &msg), want, &format!("SIGN, {what}"));
        fails(
            verify_with_key(&v, id, &msg, &sig),
            want,
            &format!("VERIFY, {what}"),
        );
        assert_eq!(must(pubkey(&v, id), what), public, "{what}: GET_PUBKEY");
    }
    must(
        verify_with_public(&v, &public, &msg, &sig),
        "VERIFY with the public key of a revoked key",
    );
}

pub fn ed25519_libkeyvault_verify_rejects_a_forgery_as_a_verification_failure() {
    use keyvault::ed25519::Signature;
    use keyvault::signature::Verifier;
    let v = ok(Vault::open());
    let id = ok(v.generate(Algorithm::Ed25519));
    let other = ok(v.generate(Algorithm::Ed25519));
    let public = ok(v.public_key(id));
    let msg = data(100, 8100);
    let sig = ok(v.sign(id, &msg));
    let mut forged = sig;
    forged[0] ^= 1;
    ok(v.verify(id, &msg, &sig));
    ok(v.verify_with_public_key(&public, &msg, &sig));
    expect_verification_failure(v.verify(id, &msg, &forged), "forged, with the key");
    expect_verification_failure(
        v.verify_with_public_key(&public, &msg, &forged),
        "forged, with the public key",
    );
    expect_verification_failure(v.verify(other, &msg, &sig), "another key");
    // A check that could not be made is an error too, but not a verdict.
    let no_verify = without(&v, KV_CAP_VERIFY);
    let e = no_verify.verify(id, &msg, &sig).unwrap_err();
    assert_eq!(Errno::from_raw(e.errno()), Errno::EPERM);
    assert!(!e.is_verification_failure(), "EPERM taken for a forgery");

    // Through the RustCrypto trait: a forgery is an error without a source,
    // a check that could not be made one whose source is the kernel's error.
    let key = v.signing_key(id);
    key.verify(&msg, &Signature::from_bytes(&sig))
        .expect("the trait accepts the good signature");
    let e = key
        .verify(&msg, &Signature::from_bytes(&forged))
        .expect_err("the trait accepts a forgery");
    assert!(std::error::Error::source(&e).is_none(), "forgery: {e:?}");
    let e = no_verify
        .signing_key(id)
        .verify(&msg, &Signature::from_bytes(&sig))
        .expect_err("the trait verifies without VERIFY");
    assert!(std::error::Error::source(&e).is_some(), "EPERM: {e:?}");
}
