//! Every crypto ioctl's request checks: reserved fields and flags, input
//! sizes, and pointers (null, kernel, read-only, cut off).

use super::*;
use crate::support::*;
use keyvault::uapi::*;
use keyvault::{Algorithm, HashAlg, KeyOptions, Nonce, Vault};
use nix::errno::Errno;

// ---------------------------------------------------------------------------
// Malformed requests

/// A named change that spoils a valid request.
pub type Spoil<T> = (String, Box<dyn Fn(&mut T)>);

pub fn crypto_requests_with_nonzero_reserved_fields_or_unknown_flags_are_einval() {
    let v = ok(Vault::open());
    let fx = Fixture::new(&v);
    for (cmd, name) in [
        (KV_IOC_AEAD_ENCRYPT, "AEAD_ENCRYPT"),
        (KV_IOC_AEAD_DECRYPT, "AEAD_DECRYPT"),
    ] {
        let mut cases: Vec<Spoil<KvAead>> = Vec::new();
        for i in 0..2 {
            cases.push((
                format!("reserved[{i}]"),
                Box::new(move |r: &mut KvAead| r.reserved[i] = 1),
            ));
        }
        for f in [1 << 1, 1 << 7, 1 << 31, !KV_AEAD_FLAGS_ALL] {
            cases.push((
                format!("flags {f:#x}"),
                Box::new(move |r: &mut KvAead| r.flags = f),
            ));
        }
        if cmd == KV_IOC_AEAD_DECRYPT {
            cases.push((
                "GEN_NONCE".into(),
                Box::new(|r: &mut KvAead| r.flags = KV_AEAD_GEN_NONCE),
            ));
        }
        for (what, spoil) in cases {
            let what = format!("{name}, {what}");
            let mut s = fx.scratch();
            let mut r = fx.aead(cmd, &mut s);
            spoil(&mut r);
            expect_raw_err(ioctl(&v, cmd, &mut r), Errno::EINVAL, &what);
            assert_untouched(&s.out, &what);
        }
    }
    for (cmd, name) in [
        (KV_IOC_CBC_ENCRYPT, "CBC_ENCRYPT"),
        (KV_IOC_CBC_DECRYPT, "CBC_DECRYPT"),
    ] {
        let mut cases: Vec<Spoil<KvCbc>> = vec![(
            "reserved0".into(),
            Box::new(|r: &mut KvCbc| r.reserved0 = 1),
        )];
        for i in 0..2 {
            cases.push((
                format!("reserved[{i}]"),
                Box::new(move |r: &mut KvCbc| r.reserved[i] = 1),
            ));
        }
        for f in [1 << 2, 1 << 8, 1 << 31, !KV_CBC_FLAGS_ALL] {
            cases.push((
                format!("flags {f:#x}"),
                Box::new(move |r: &mut KvCbc| r.flags = f),
            ));
        }
        if cmd == KV_IOC_CBC_DECRYPT {
            cases.push((
                "GEN_IV".into(),
                Box::new(|r: &mut KvCbc| r.flags = KV_CBC_GEN_IV),
            ));
            cases.push((
                "GEN_IV | NO_PADDING".into(),
                Box::new(|r: &mut KvCbc| r.flags = KV_CBC_GEN_IV | KV_CBC_NO_PADDING),
            ));
        }
        for (what, spoil) in cases {
            let what = format!("{name}, {what}");
            let mut s = fx.scratch();
            let mut r = fx.cbc(cmd, &mut s);
            spoil(&mut r);
            expect_raw_err(ioctl(&v, cmd, &mut r), Errno::EINVAL, &what);
            assert_untouched(&s.out, &what);
            assert_eq!(s.iv, fx.iv, "{what}: the IV was overwritten");
        }
    }
    for (cmd, name) in [(KV_IOC_MAC, "MAC"), (KV_IOC_VERIFY_MAC, "VERIFY_MAC")] {
        for i in 0..2 {
            let mut s = fx.scratch();
            let mut r = fx.mac(cmd, &mut s);
            r.reserved[i] = 1;
            expect_raw_err(
                ioctl(&v, cmd, &mut r),
                Errno::EINVAL,
                &format!("{name}, reserved[{i}]"),
            );
            assert_untouched(&s.mac[32..], name);
        }
    }
    for i in 0..3 {
        let mut s = fx.scratch();
        let mut r = fx.hash(&mut s);
        match i {
            0 => r.reserved0 = 1,
            _ => r.reserved[i - 1] = 1,
        }
        expect_raw_err(
            ioctl(&v, KV_IOC_HASH, &mut r),
            Errno::EINVAL,
            &format!("HASH, reserved field {i}"),
        );
        assert_untouched(&s.out, "HASH");
    }
}

pub fn inputs_over_max_data_bytes_are_emsgsize() {
    let v = ok(Vault::open());
    let fx = Fixture::new(&v);
    let big = data(MAX + 16, 1);
    let mut out = canary(MAX + 32);
    let over = (MAX + 1) as u32;
    for (cmd, name) in [
        (KV_IOC_AEAD_ENCRYPT, "AEAD_ENCRYPT"),
        (KV_IOC_AEAD_DECRYPT, "AEAD_DECRYPT"),
    ] {
        for (in_len, aad_len) in [
            (over, 0),
            (0, over),
            (over, over),
            (u32::MAX, 0),
            (0, u32::MAX),
        ] {
            let what = format!("{name}, in_len {in_len}, aad_len {aad_len}");
            let (mut nonce, mut tag) = (fx.nonce, fx.aead_tag);
            let mut r = aead_req(fx.keys.aead, &big, &mut out, &big, &mut nonce, &mut tag);
            (r.in_len, r.aad_len, r.out_len) = (in_len, aad_len, in_len.max(16));
            expect_raw_err(ioctl(&v, cmd, &mut r), Errno::EMSGSIZE, &what);
        }
    }
    assert_untouched(&out, "AEAD over the limit");
    for (cmd, flags, in_len, name) in [
        (KV_IOC_CBC_ENCRYPT, 0, over, "CBC_ENCRYPT"),
        (
            KV_IOC_CBC_ENCRYPT,
            KV_CBC_NO_PADDING,
            over + 15,
            "CBC_ENCRYPT without padding",
        ),
        (
            KV_IOC_CBC_ENCRYPT,
            KV_CBC_NO_PADDING,
            u32::MAX - 15,
            "CBC_ENCRYPT without padding",
        ),
        // With padding, the ciphertext of MAX bytes (MAX + 16) is the most.
        (KV_IOC_CBC_DECRYPT, 0, over + 31, "CBC_DECRYPT"),
        (
            KV_IOC_CBC_DECRYPT,
            KV_CBC_NO_PADDING,
            over + 15,
            "CBC_DECRYPT without padding",
        ),
        (KV_IOC_CBC_DECRYPT, 0, u32::MAX - 15, "CBC_DECRYPT"),
    ] {
        let what = format!("{name}, in_len {in_len}");
        let mut iv = fx.iv;
        let mut r = cbc_req(fx.keys.cbc, &big, &mut out, &mut iv, flags);
        r.in_len = in_len;
        r.out_len = in_len.saturating_add(16);
        expect_raw_err(ioctl(&v, cmd, &mut r), Errno::EMSGSIZE, &what);
    }
    assert_untouched(&out, "CBC over the limit");
    for (cmd, n, name) in [
        (KV_IOC_MAC, 64, "MAC"),
        (KV_IOC_VERIFY_MAC, 32, "VERIFY_MAC"),
    ] {
        for data_len in [over, u32::MAX] {
            let mut mac = fx.scratch().mac;
            let mut r = mac_req(fx.keys.hmac, &big, &mut mac[..n]);
            r.data_len = data_len;
            expect_raw_err(
                ioctl(&v, cmd, &mut r),
                Errno::EMSGSIZE,
                &format!("{name}, data_len {data_len}"),
            );
        }
    }
    for alg in [KV_HASH_SHA256, KV_HASH_SHA512] {
        for data_len in [over, u32::MAX] {
            let mut digest = canary(64);
            let mut r = hash_req(alg, &big, &mut digest);
            r.data_len = data_len;
            expect_raw_err(
                ioctl(&v, KV_IOC_HASH, &mut r),
                Errno::EMSGSIZE,
                &format!("HASH {alg}, data_len {data_len}"),
            );
            assert_untouched(&digest, "HASH over the limit");
        }
    }
}

pub fn inputs_of_exactly_max_data_bytes_are_accepted() {
    let v = ok(Vault::open());
    let big = data(MAX, 2);
    // AEAD with MAX bytes of AAD (MAX of plaintext: see the round trips).
    let (id, key) = new_key(&v, Algorithm::Aes128Gcm, 1800);
    let nonce: Nonce = array(3);
    let (ct, s) = ok(v.aead_encrypt(id, b"sixteen bytes...", &big, Some(&nonce)));
    let want = reference::aead(
        Algorithm::Aes128Gcm,
        &key,
        &nonce,
        &big,
        b"sixteen bytes...",
    );
    assert_eq!((ct.clone(), s.tag), want, "AEAD with 1 MiB of AAD");
    assert_eq!(
        *ok(v.aead_decrypt(id, &ct, &big, &nonce, &s.tag)),
        b"sixteen bytes..."
    );
    // CBC with padding: MAX bytes encrypt to MAX + 16, and that ciphertext
    // decrypts (the limit bounds the plaintext: nothing keyvault makes is
    // refused by its inverse); so do MAX - 1 and MAX bytes without padding
    // (whole blocks).
    let (id, _) = new_key(&v, Algorithm::Aes128Cbc, 1801);
    for len in [MAX - 1, MAX] {
        let (iv, ct) = ok(v.cbc_encrypt(id, &big[..len], None, true));
        assert_eq!(ct.len(), (len / 16 + 1) * 16);
        assert_eq!(
            *ok(v.cbc_decrypt(id, &ct, &iv, true)),
            big[..len],
            "CBC of {len} bytes back"
        );
    }
    let (iv, ct) = ok(v.cbc_encrypt(id, &big, None, false));
    assert_eq!(
        *ok(v.cbc_decrypt(id, &ct, &iv, false)),
        big,
        "CBC without padding of MAX bytes back"
    );
    // MAC and VERIFY_MAC.
    let key = data(64, 4);
    let id = ok(v.import(Algorithm::HmacSha512, &key, &KeyOptions::default()));
    let mac = ok(v.mac(id, &big));
    assert_eq!(
        mac,
        reference::hmac(Algorithm::HmacSha512, &key, &big),
        "HMAC-SHA512 of 1 MiB"
    );
    ok(v.verify_mac(id, &big, &mac));
    // HASH (SHA-256: see the MAC above for SHA-512's compression).
    assert_eq!(
        ok(v.hash(HashAlg::Sha256, &big)),
        reference::hash(HashAlg::Sha256, &big)
    );
}

// ---------------------------------------------------------------------------
// Bad pointers

pub type Field<T> = (&'static str, fn(&mut T) -> &mut u64);

pub fn every_crypto_pointer_field_that_is_null_or_in_the_kernel_is_efault() {
    let v = ok(Vault::open());
    let fx = Fixture::new(&v);
    let aead: [Field<KvAead>; 5] = [
        ("in_ptr", |r| &mut r.in_ptr),
        ("out_ptr", |r| &mut r.out_ptr),
        ("aad_ptr", |r| &mut r.aad_ptr),
        ("nonce_ptr", |r| &mut r.nonce_ptr),
        ("tag_ptr", |r| &mut r.tag_ptr),
    ];
    let cbc: [Field<KvCbc>; 3] = [
        ("in_ptr", |r| &mut r.in_ptr),
        ("out_ptr", |r| &mut r.out_ptr),
        ("iv_ptr", |r| &mut r.iv_ptr),
    ];
    let mac: [Field<KvMac>; 2] = [
        ("data_ptr", |r| &mut r.data_ptr),
        ("mac_ptr", |r| &mut r.mac_ptr),
    ];
    let hash: [Field<KvHash>; 2] = [
        ("data_ptr", |r| &mut r.data_ptr),
        ("digest_ptr", |r| &mut r.digest_ptr),
    ];
    for bad in [0u64, KERNEL_ADDR as u64] {
        for (cmd, name, flags) in [
            (KV_IOC_AEAD_ENCRYPT, "AEAD_ENCRYPT", 0),
            (
                KV_IOC_AEAD_ENCRYPT,
                "AEAD_ENCRYPT with GEN_NONCE",
                KV_AEAD_GEN_NONCE,
            ),
            (KV_IOC_AEAD_DECRYPT, "AEAD_DECRYPT", 0),
        ] {
            for (field, get) in aead {
                let what = format!("{name}, {field} = {bad:#x}");
                let mut s = fx.scratch();
                let mut r = fx.aead(cmd, &mut s);
                r.flags = flags;
                *get(&mut r) = bad;
                expect_raw_err(ioctl(&v, cmd, &mut r), Errno::EFAULT, &what);
                if cmd == KV_IOC_AEAD_DECRYPT {
                    assert_untouched(&s.out, &what);
                }
            }
        }
        for (cmd, name, flags) in [
            (KV_IOC_CBC_ENCRYPT, "CBC_ENCRYPT", 0),
            (KV_IOC_CBC_ENCRYPT, "CBC_ENCRYPT with GEN_IV", KV_CBC_GEN_IV),
            (KV_IOC_CBC_DECRYPT, "CBC_DECRYPT", 0),
            (
                KV_IOC_CBC_DECRYPT,
                "CBC_DECRYPT without padding",
                KV_CBC_NO_PADDING,
            ),
        ] {
            for (field, get) in cbc {
                let what = format!("{name}, {field} = {bad:#x}");
                let mut s = fx.scratch();
                let mut r = fx.cbc(cmd, &mut s);
                r.flags = flags;
                *get(&mut r) = bad;
                expect_raw_err(ioctl(&v, cmd, &mut r), Errno::EFAULT, &what);
                if cmd == KV_IOC_CBC_DECRYPT {
                    assert_untouched(&s.out, &what);
                }
            }
        }
        for (cmd, name) in [(KV_IOC_MAC, "MAC"), (KV_IOC_VERIFY_MAC, "VERIFY_MAC")] {
            for (field, get) in mac {
                let mut s = fx.scratch();
                let mut r = fx.mac(cmd, &mut s);
                *get(&mut r) = bad;
                expect_raw_err(
                    ioctl(&v, cmd, &mut r),
                    Errno::EFAULT,
                    &format!("{name}, {field} = {bad:#x}"),
                );
            }
        }
        for (field, get) in hash {
            let mut s = fx.scratch();
            let mut r = fx.hash(&mut s);
            *get(&mut r) = bad;
            expect_raw_err(
                ioctl(&v, KV_IOC_HASH, &mut r),
                Errno::EFAULT,
                &format!("HASH, {field} = {bad:#x}"),
            );
        }
    }
}

pub fn crypto_ioctls_with_a_null_kernel_or_cut_off_request_struct_are_efault() {
    let v = ok(Vault::open());
    let fx = Fixture::new(&v);
    for (cmd, _, name) in CRYPTO {
        for addr in [0, 8, KERNEL_ADDR, usize::MAX - 4095] {
            expect_raw_err(
                ioctl_addr(&v, cmd, addr),
                Errno::EFAULT,
                &format!("{name} at {addr:#x}"),
            );
        }
        // A valid request whose last 8 bytes lie on an unmapped page.
        let mut s = fx.scratch();
        let bytes = fx.request_bytes(cmd, &mut s);
        let st = Straddle::new();
        let addr = st.fill(&bytes, 8);
        expect_raw_err(
            ioctl_addr(&v, cmd, addr),
            Errno::EFAULT,
            &format!("{name} cut off"),
        );
        assert_untouched(&s.out, name);
    }
}

pub fn crypto_outputs_to_read_only_memory_and_inputs_running_into_unmapped_pages_are_efault() {
    let v = ok(Vault::open());
    let fx = Fixture::new(&v);
    let ro = Mapping::new(4096);
    ro.read_only();
    let ro_addr = ro.addr as u64;
    // Outputs into a read-only page.
    for cmd in [KV_IOC_AEAD_ENCRYPT, KV_IOC_AEAD_DECRYPT] {
        let mut s = fx.scratch();
        let mut r = fx.aead(cmd, &mut s);
        r.out_ptr = ro_addr;
        expect_raw_err(
            ioctl(&v, cmd, &mut r),
            Errno::EFAULT,
            &format!("AEAD {cmd:#x} into read-only memory"),
        );
    }
    let mut s = fx.scratch();
    let mut r = fx.aead(KV_IOC_AEAD_ENCRYPT, &mut s);
    r.tag_ptr = ro_addr;
    expect_raw_err(
        ioctl(&v, KV_IOC_AEAD_ENCRYPT, &mut r),
        Errno::EFAULT,
        "AEAD tag into read-only memory",
    );
    r.tag_ptr = s.tag.as_mut_ptr() as u64;
    (r.flags, r.nonce_ptr) = (KV_AEAD_GEN_NONCE, ro_addr);
    expect_raw_err(
        ioctl(&v, KV_IOC_AEAD_ENCRYPT, &mut r),
        Errno::EFAULT,
        "kernel nonce into read-only memory",
    );
    for cmd in [KV_IOC_CBC_ENCRYPT, KV_IOC_CBC_DECRYPT] {
        let mut s = fx.scratch();
        let mut r = fx.cbc(cmd, &mut s);
        r.out_ptr = ro_addr;
        expect_raw_err(
            ioctl(&v, cmd, &mut r),
            Errno::EFAULT,
            &format!("CBC {cmd:#x} into read-only memory"),
        );
    }
    let mut s = fx.scratch();
    let mut r = fx.cbc(KV_IOC_CBC_ENCRYPT, &mut s);
    (r.flags, r.iv_ptr) = (KV_CBC_GEN_IV, ro_addr);
    expect_raw_err(
        ioctl(&v, KV_IOC_CBC_ENCRYPT, &mut r),
        Errno::EFAULT,
        "kernel IV into read-only memory",
    );
    let mut s = fx.scratch();
    let mut r = fx.mac(KV_IOC_MAC, &mut s);
    r.mac_ptr = ro_addr;
    expect_raw_err(
        ioctl(&v, KV_IOC_MAC, &mut r),
        Errno::EFAULT,
        "MAC into read-only memory",
    );
    let mut s = fx.scratch();
    let mut r = fx.hash(&mut s);
    r.digest_ptr = ro_addr;
    expect_raw_err(
        ioctl(&v, KV_IOC_HASH, &mut r),
        Errno::EFAULT,
        "digest into read-only memory",
    );

    // Inputs whose last byte is on an unmapped page; decrypt writes nothing.
    let st = Straddle::new();
    let mut s = fx.scratch();
    let mut r = fx.aead(KV_IOC_AEAD_DECRYPT, &mut s);
    r.in_ptr = st.fill(&fx.aead_ct, 1) as u64;
    expect_raw_err(
        ioctl(&v, KV_IOC_AEAD_DECRYPT, &mut r),
        Errno::EFAULT,
        "AEAD ciphertext cut off",
    );
    assert_untouched(&s.out, "AEAD ciphertext cut off");
    let mut r = fx.aead(KV_IOC_AEAD_DECRYPT, &mut s);
    r.aad_ptr = st.fill(&fx.aad, 1) as u64;
    expect_raw_err(
        ioctl(&v, KV_IOC_AEAD_DECRYPT, &mut r),
        Errno::EFAULT,
        "AAD cut off",
    );
    assert_untouched(&s.out, "AAD cut off");
    let mut r = fx.aead(KV_IOC_AEAD_DECRYPT, &mut s);
    r.tag_ptr = st.fill(&fx.aead_tag, 1) as u64;
    expect_raw_err(
        ioctl(&v, KV_IOC_AEAD_DECRYPT, &mut r),
        Errno::EFAULT,
        "tag cut off",
    );
    assert_untouched(&s.out, "tag cut off");
    let mut s = fx.scratch();
    let mut r = fx.cbc(KV_IOC_CBC_DECRYPT, &mut s);
    r.in_ptr = st.fill(&fx.cbc_ct, 1) as u64;
    expect_raw_err(
        ioctl(&v, KV_IOC_CBC_DECRYPT, &mut r),
        Errno::EFAULT,
        "CBC ciphertext cut off",
    );
    assert_untouched(&s.out, "CBC ciphertext cut off");
    for cmd in [KV_IOC_MAC, KV_IOC_VERIFY_MAC] {
        let mut s = fx.scratch();
        let mut r = fx.mac(cmd, &mut s);
        r.data_ptr = st.fill(&fx.pt, 1) as u64;
        expect_raw_err(
            ioctl(&v, cmd, &mut r),
            Errno::EFAULT,
            &format!("MAC {cmd:#x} data cut off"),
        );
    }
    let mut s = fx.scratch();
    let mut r = fx.hash(&mut s);
    r.data_ptr = st.fill(&fx.pt, 1) as u64;
    expect_raw_err(
        ioctl(&v, KV_IOC_HASH, &mut r),
        Errno::EFAULT,
        "HASH data cut off",
    );
    assert_untouched(&s.out, "HASH data cut off");
}
