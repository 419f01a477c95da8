//! CBC_ENCRYPT and CBC_DECRYPT (AES-CBC): round trips against RustCrypto,
//! padding, output sizes, kernel IVs, in-place use.

use crate::support::*;
use keyvault::uapi::*;
use keyvault::{Algorithm, Iv, KeyId, Vault};
use nix::errno::Errno;
use std::collections::HashSet;

/// CBC-encrypts with the vault, compares with RustCrypto, decrypts back.
fn cbc_round_trip(v: &Vault, (id, key): (KeyId, &[u8]), pt: &[u8], iv: Option<&Iv>, padding: bool) {
    let what = format!(
        "AES-{}-CBC, {} bytes, {} IV, {}",
        key.len() * 8,
        pt.len(),
        if iv.is_some() { "caller" } else { "kernel" },
        if padding { "PKCS#7" } else { "no padding" }
    );
    let (iv_used, ct) = v
        .cbc_encrypt(id, pt, iv, padding)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let want_len = if padding {
        (pt.len() / 16 + 1) * 16
    } else {
        pt.len()
    };
    assert_eq!(ct.len(), want_len, "{what}: ciphertext length");
    if let Some(iv) = iv {
        assert_eq!(&iv_used, iv, "{what}: the caller's IV came back changed");
    }
    assert!(
        ct == reference::cbc(key, &iv_used, pt, padding),
        "{what}: ciphertext differs from RustCrypto's"
    );
    let back = v
        .cbc_decrypt(id, &ct, &iv_used, padding)
        .unwrap_or_else(|e| panic!("{what}: decrypt: {e}"));
    assert!(*back == pt, "{what}: decryption gave other bytes");
}

pub fn cbc_round_trips_match_rustcrypto_for_both_key_sizes_with_and_without_padding() {
    let v = ok(Vault::open());
    for (i, alg) in CBCS.into_iter().enumerate() {
        let (id, key) = new_key(&v, alg, 200 + i as u64);
        for (j, &len) in SIZES.iter().enumerate().filter(|&(_, &n)| n < MAX) {
            let seed = (i * 100 + j * 10) as u64;
            let pt = data(len, seed);
            let iv = array(seed + 1);
            for iv in [Some(&iv), None] {
                cbc_round_trip(&v, (id, &key), &pt, iv, true);
                // Decrypt needs at least one block, so no unpadded empty round trip.
                if len % 16 == 0 && len > 0 {
                    cbc_round_trip(&v, (id, &key), &pt, iv, false);
                }
            }
        }
        // One 1 MiB round trip per key size: the input limit also holds for
        // decrypt, so the largest padded plaintext is MAX - 1 (ciphertext MAX).
        if alg == Algorithm::Aes128Cbc {
            cbc_round_trip(&v, (id, &key), &data(MAX - 1, 7), None, true);
        } else {
            cbc_round_trip(&v, (id, &key), &data(MAX, 8), Some(&array(9)), false);
        }
    }
}

// ---------------------------------------------------------------------------
// AES-CBC

pub fn cbc_output_is_the_next_whole_block_with_padding_and_the_input_length_without() {
    let v = ok(Vault::open());
    let (id, key) = new_key(&v, Algorithm::Aes256Cbc, 1100);
    let mut iv: Iv = array(1);
    for len in 0..=49 {
        let pt = data(len, len as u64);
        let mut modes = vec![(0, (len / 16 + 1) * 16)];
        if len % 16 == 0 {
            modes.push((KV_CBC_NO_PADDING, len));
        }
        for (flags, want) in modes {
            let what = format!("{len} bytes, flags {flags:#x}");
            let mut out = canary(80);
            let mut r = cbc_req(id, &pt, &mut out, &mut iv, flags);
            assert_eq!(ioctl(&v, KV_IOC_CBC_ENCRYPT, &mut r), Ok(0), "{what}");
            assert_eq!(r.out_len as usize, want, "{what}: out_len");
            assert_untouched(&out[want..], &what);
            let padding = flags == 0;
            assert_eq!(
                out[..want],
                reference::cbc(&key, &iv, &pt, padding)[..],
                "{what}"
            );
            if want == 0 {
                continue;
            }
            let ct = out[..want].to_vec();
            let mut back = canary(80);
            let mut r = cbc_req(id, &ct, &mut back, &mut iv, flags);
            assert_eq!(
                ioctl(&v, KV_IOC_CBC_DECRYPT, &mut r),
                Ok(0),
                "{what}: decrypt"
            );
            assert_eq!(r.out_len as usize, len, "{what}: decrypt out_len");
            assert_eq!(back[..len], pt[..], "{what}: decrypt");
            assert_untouched(&back[len..], &what);
        }
    }
}

pub fn cbc_without_padding_needs_whole_blocks_and_padded_decrypt_a_nonzero_multiple_of_16() {
    let v = ok(Vault::open());
    let (id, _) = new_key(&v, Algorithm::Aes128Cbc, 1200);
    let mut iv: Iv = array(1);
    let input = data(64, 2);
    for len in [1, 15, 17, 31, 33] {
        let what = format!("encrypt of {len} bytes without padding");
        let mut out = canary(80);
        let mut r = cbc_req(id, &input[..len], &mut out, &mut iv, KV_CBC_NO_PADDING);
        expect_raw_err(ioctl(&v, KV_IOC_CBC_ENCRYPT, &mut r), Errno::EINVAL, &what);
        assert_untouched(&out, &what);
    }
    // Nothing to encrypt without padding gives nothing.
    let mut out = canary(16);
    let mut r = cbc_req(id, &[], &mut out, &mut iv, KV_CBC_NO_PADDING);
    assert_eq!(ioctl(&v, KV_IOC_CBC_ENCRYPT, &mut r), Ok(0));
    assert_eq!(r.out_len, 0);
    assert_untouched(&out, "empty encrypt without padding");
    // ... and decrypts back to nothing: the pair agrees.
    let mut back = canary(16);
    let mut r = cbc_req(id, &[], &mut back, &mut iv, KV_CBC_NO_PADDING);
    assert_eq!(ioctl(&v, KV_IOC_CBC_DECRYPT, &mut r), Ok(0));
    assert_eq!(r.out_len, 0);
    assert_untouched(&back, "empty decrypt without padding");
    for flags in [0, KV_CBC_NO_PADDING] {
        for len in [0, 1, 15, 17, 31, 47] {
            if len == 0 && flags == KV_CBC_NO_PADDING {
                continue;
            }
            let what = format!("decrypt of {len} bytes, flags {flags:#x}");
            let mut out = canary(80);
            let mut r = cbc_req(id, &input[..len], &mut out, &mut iv, flags);
            expect_raw_err(ioctl(&v, KV_IOC_CBC_DECRYPT, &mut r), Errno::EINVAL, &what);
            assert_untouched(&out, &what);
        }
    }
}

/// (what, ioctl, input, flags, too small a capacity, the needed one)
type SpaceCase<'a> = (&'a str, u32, &'a [u8], u32, u32, u32);

pub fn cbc_output_smaller_than_needed_is_enospc_with_the_needed_length() {
    let v = ok(Vault::open());
    let (id, _) = new_key(&v, Algorithm::Aes128Cbc, 1300);
    let iv: Iv = array(1);
    let p16 = data(16, 2);
    let p31 = data(31, 3);
    let p32 = data(32, 4);
    let (_, c16) = ok(v.cbc_encrypt(id, &p16, Some(&iv), true)); // 32 bytes
    let (_, c31) = ok(v.cbc_encrypt(id, &p31, Some(&iv), true)); // 32 bytes
    let (_, c32) = ok(v.cbc_encrypt(id, &p32, Some(&iv), false)); // 32 bytes
    let cases: [SpaceCase; 7] = [
        (
            "encrypt 16 with padding",
            KV_IOC_CBC_ENCRYPT,
            &p16,
            0,
            31,
            32,
        ),
        ("encrypt 0 with padding", KV_IOC_CBC_ENCRYPT, &[], 0, 15, 16),
        (
            "encrypt 31 with padding",
            KV_IOC_CBC_ENCRYPT,
            &p31,
            0,
            0,
            32,
        ),
        (
            "encrypt 32 without padding",
            KV_IOC_CBC_ENCRYPT,
            &p32,
            KV_CBC_NO_PADDING,
            31,
            32,
        ),
        (
            "decrypt 32 with padding",
            KV_IOC_CBC_DECRYPT,
            &c16,
            0,
            30,
            31,
        ),
        (
            "decrypt 32 with padding",
            KV_IOC_CBC_DECRYPT,
            &c31,
            0,
            16,
            31,
        ),
        (
            "decrypt 32 without padding",
            KV_IOC_CBC_DECRYPT,
            &c32,
            KV_CBC_NO_PADDING,
            31,
            32,
        ),
    ];
    for (what, cmd, input, flags, small, need) in cases {
        let mut out = canary(64);
        let mut iv = iv;
        let mut r = cbc_req(id, input, &mut out, &mut iv, flags);
        r.out_len = small;
        expect_raw_err(ioctl(&v, cmd, &mut r), Errno::ENOSPC, what);
        assert_eq!(r.out_len, need, "{what}: the needed length is copied back");
        assert_untouched(&out, what);
        // Exactly the needed capacity is enough.
        r.out_len = need;
        assert_eq!(ioctl(&v, cmd, &mut r), Ok(0), "{what} into {need} bytes");
    }
    // With padding, decrypt only needs in_len - 1: 31 bytes of plaintext fit.
    let mut out = canary(31);
    let mut iv2 = iv;
    let mut r = cbc_req(id, &c31, &mut out, &mut iv2, 0);
    assert_eq!(ioctl(&v, KV_IOC_CBC_DECRYPT, &mut r), Ok(0));
    assert_eq!((r.out_len, &out[..]), (31, &p31[..]));
}

pub fn cbc_bad_padding_is_ebadmsg_and_writes_nothing() {
    let v = ok(Vault::open());
    let (id, _) = new_key(&v, Algorithm::Aes256Cbc, 1400);
    let iv: Iv = array(1);
    let block = |tail: &[u8]| {
        let mut b = data(32, 2);
        b[32 - tail.len()..].copy_from_slice(tail);
        b
    };
    let mut sixteen = [16u8; 16];
    sixteen[3] = 15;
    let bad: [(&str, Vec<u8>); 6] = [
        ("last byte 0", block(&[0])),
        ("last byte 17", block(&[17])),
        ("last byte 255", block(&[255])),
        ("02 02 expected, 03 02 found", block(&[3, 2])),
        ("04 x4 expected, one 05", block(&[4, 5, 4, 4])),
        ("a full block of 16 with one 15", block(&sixteen)),
    ];
    for (what, padded) in bad {
        let (_, ct) = ok(v.cbc_encrypt(id, &padded, Some(&iv), false));
        let mut out = canary(64);
        let mut iv = iv;
        let mut r = cbc_req(id, &ct, &mut out, &mut iv, 0);
        expect_raw_err(ioctl(&v, KV_IOC_CBC_DECRYPT, &mut r), Errno::EBADMSG, what);
        assert_untouched(&out, what);
        // The same ciphertext without padding removal is just data.
        assert_eq!(*ok(v.cbc_decrypt(id, &ct, &iv, false)), padded, "{what}");
    }
    for (tail, keep) in [(&[1u8][..], 31), (&[2, 2][..], 30), (&[16; 16][..], 16)] {
        let padded = block(tail);
        let (_, ct) = ok(v.cbc_encrypt(id, &padded, Some(&iv), false));
        assert_eq!(
            *ok(v.cbc_decrypt(id, &ct, &iv, true)),
            padded[..keep],
            "good padding {tail:?}"
        );
    }
}

pub fn cbc_kernel_ivs_are_random_and_written_back() {
    let v = ok(Vault::open());
    for (i, alg) in CBCS.into_iter().enumerate() {
        let (id, key) = new_key(&v, alg, 1500 + i as u64);
        let pt = data(40, 1);
        let mut ivs = HashSet::new();
        for _ in 0..8 {
            let mut iv = [CANARY; 16];
            let mut out = canary(48);
            let mut r = cbc_req(id, &pt, &mut out, &mut iv, KV_CBC_GEN_IV);
            assert_eq!(ioctl(&v, KV_IOC_CBC_ENCRYPT, &mut r), Ok(0), "{alg}");
            assert_ne!(iv, [CANARY; 16], "{alg}: no IV was written back");
            assert_ne!(iv, [0; 16], "{alg}: an all-zero IV");
            assert!(ivs.insert(iv), "{alg}: a kernel IV repeated");
            assert_eq!(
                out,
                reference::cbc(&key, &iv, &pt, true),
                "{alg}: with the returned IV"
            );
            assert_eq!(*ok(v.cbc_decrypt(id, &out, &iv, true)), pt, "{alg}");
        }
    }
}

pub fn cbc_in_place_encryption_and_decryption_work() {
    let v = ok(Vault::open());
    let (id, key) = new_key(&v, Algorithm::Aes128Cbc, 1600);
    let pt = data(40, 1);
    let mut iv: Iv = array(2);
    let mut buf = pt.clone();
    buf.resize(64, CANARY);
    let mut r = cbc_req(id, &[], &mut [], &mut iv, 0);
    (r.in_ptr, r.out_ptr) = (buf.as_mut_ptr() as u64, buf.as_mut_ptr() as u64);
    (r.in_len, r.out_len) = (40, 64);
    assert_eq!(ioctl(&v, KV_IOC_CBC_ENCRYPT, &mut r), Ok(0));
    assert_eq!(r.out_len, 48);
    assert_eq!(buf[..48], reference::cbc(&key, &iv, &pt, true)[..]);
    assert_untouched(&buf[48..], "in-place encrypt past the padding");
    (r.in_len, r.out_len) = (48, 48);
    assert_eq!(ioctl(&v, KV_IOC_CBC_DECRYPT, &mut r), Ok(0));
    assert_eq!((r.out_len, &buf[..40]), (40, &pt[..]));
}

/// This file's tests, in order.
pub fn tests() -> Vec<crate::support::harness::Test> {
    crate::tests![
        cbc_round_trips_match_rustcrypto_for_both_key_sizes_with_and_without_padding,
        cbc_output_is_the_next_whole_block_with_padding_and_the_input_length_without,
        cbc_without_padding_needs_whole_blocks_and_padded_decrypt_a_nonzero_multiple_of_16,
        cbc_output_smaller_than_needed_is_enospc_with_the_needed_length,
        cbc_bad_padding_is_ebadmsg_and_writes_nothing,
        cbc_kernel_ivs_are_random_and_written_back,
        cbc_in_place_encryption_and_decryption_work,
    ]
}
