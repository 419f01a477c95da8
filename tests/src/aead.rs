//! AEAD_ENCRYPT and AEAD_DECRYPT (AES-GCM, ChaCha20-Poly1305): round trips
//! against RustCrypto, output sizes, kernel nonces, in-place use, tampering.

use crate::support::*;
use keyvault::uapi::*;
use keyvault::{Algorithm, KeyId, Nonce, Tag, Vault};
use nix::errno::Errno;
use std::collections::HashSet;

// ---------------------------------------------------------------------------
// Round trips, checked against RustCrypto

/// Encrypts with the vault, compares with RustCrypto, decrypts back.
fn aead_round_trip(
    v: &Vault,
    alg: Algorithm,
    (id, key): (KeyId, &[u8]),
    pt: &[u8],
    aad: &[u8],
    nonce: Option<&Nonce>,
) {
    let what = format!(
        "{alg}, {} bytes, {} bytes of AAD, {} nonce",
        pt.len(),
        aad.len(),
        if nonce.is_some() { "caller" } else { "kernel" }
    );
    let (ct, sealed) = v
        .aead_encrypt(id, pt, aad, nonce)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(ct.len(), pt.len(), "{what}: ciphertext length");
    if let Some(n) = nonce {
        assert_eq!(
            &sealed.nonce, n,
            "{what}: the caller's nonce came back changed"
        );
    }
    let (want_ct, want_tag) = reference::aead(alg, key, &sealed.nonce, aad, pt);
    assert!(
        ct == want_ct,
        "{what}: ciphertext differs from RustCrypto's"
    );
    assert_eq!(
        sealed.tag, want_tag,
        "{what}: tag differs from RustCrypto's"
    );
    let back = v
        .aead_decrypt(id, &ct, aad, &sealed.nonce, &sealed.tag)
        .unwrap_or_else(|e| panic!("{what}: decrypt: {e}"));
    assert!(*back == pt, "{what}: decryption gave other bytes");
}

pub fn aead_round_trips_match_rustcrypto_for_every_algorithm_size_aad_and_nonce_source() {
    let v = ok(Vault::open());
    for (i, alg) in AEADS.into_iter().enumerate() {
        let (id, key) = new_key(&v, alg, 100 + i as u64);
        for (j, &len) in SIZES.iter().enumerate() {
            let seed = (i * 100 + j * 10) as u64;
            let pt = data(len, seed);
            let aad = data(len % 61 + 1, seed + 1);
            if len == MAX {
                // One 1 MiB round trip per algorithm keeps the VM run short.
                aead_round_trip(&v, alg, (id, &key), &pt, &aad, None);
                continue;
            }
            for (k, aad) in [&[][..], &aad[..]].into_iter().enumerate() {
                let nonce = array(seed + 2 + k as u64);
                aead_round_trip(&v, alg, (id, &key), &pt, aad, Some(&nonce));
                aead_round_trip(&v, alg, (id, &key), &pt, aad, None);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// AEAD

pub fn aead_success_writes_out_len_equal_to_in_len_and_nothing_past_it() {
    let v = ok(Vault::open());
    for (i, alg) in AEADS.into_iter().enumerate() {
        let (id, key) = new_key(&v, alg, 500 + i as u64);
        let pt = data(100, 1);
        let aad = data(7, 2);
        let mut nonce: Nonce = array(3);
        let mut tag = Tag::default();
        let mut out = canary(150);
        let mut r = aead_req(id, &pt, &mut out, &aad, &mut nonce, &mut tag);
        assert_eq!(ioctl(&v, KV_IOC_AEAD_ENCRYPT, &mut r), Ok(0), "{alg}");
        assert_eq!(r.out_len, 100, "{alg}: out_len after encrypt");
        assert_untouched(&out[100..], "encrypt past in_len");
        let (want_ct, want_tag) = reference::aead(alg, &key, &nonce, &aad, &pt);
        assert_eq!((&out[..100], tag), (&want_ct[..], want_tag), "{alg}");

        let ct = out[..100].to_vec();
        let mut back = canary(150);
        let mut r = aead_req(id, &ct, &mut back, &aad, &mut nonce, &mut tag);
        assert_eq!(ioctl(&v, KV_IOC_AEAD_DECRYPT, &mut r), Ok(0), "{alg}");
        assert_eq!(r.out_len, 100, "{alg}: out_len after decrypt");
        assert_eq!(back[..100], pt[..], "{alg}");
        assert_untouched(&back[100..], "decrypt past in_len");
    }
}

pub fn aead_output_smaller_than_the_input_is_enospc_with_the_needed_length() {
    let v = ok(Vault::open());
    for (i, alg) in AEADS.into_iter().enumerate() {
        let (id, _) = new_key(&v, alg, 600 + i as u64);
        let pt = data(100, 1);
        let nonce: Nonce = array(3);
        let (ct, sealed) = ok(v.aead_encrypt(id, &pt, b"aad", Some(&nonce)));
        for (cmd, input) in [(KV_IOC_AEAD_ENCRYPT, &pt), (KV_IOC_AEAD_DECRYPT, &ct)] {
            for cap in [99, 1, 0] {
                let what = format!("{alg}, cmd {cmd:#x}, capacity {cap} for 100 bytes");
                let mut out = canary(100);
                let (mut n, mut t) = (sealed.nonce, sealed.tag);
                let mut r = aead_req(id, input, &mut out, b"aad", &mut n, &mut t);
                r.out_len = cap;
                expect_raw_err(ioctl(&v, cmd, &mut r), Errno::ENOSPC, &what);
                assert_eq!(r.out_len, 100, "{what}: the needed length is copied back");
                assert_untouched(&out, &what);
            }
        }
    }
}

pub fn aead_kernel_nonces_are_a_fixed_8_byte_per_key_prefix_and_a_32_bit_counter_from_zero() {
    let v = ok(Vault::open());
    for (i, (alg, n)) in [
        (Algorithm::Aes256Gcm, 1000),
        (Algorithm::Aes128Gcm, 100),
        (Algorithm::ChaCha20Poly1305, 100),
    ]
    .into_iter()
    .enumerate()
    {
        // A second key of the same algorithm counts from zero again.
        for (k, n) in [n, 3].into_iter().enumerate() {
            let (id, _) = new_key(&v, alg, 700 + (i * 10 + k) as u64);
            let mut seen = HashSet::new();
            let mut prefix = None;
            for c in 0..n {
                let (_, sealed) = ok(v.aead_encrypt(id, b"x", b"", None));
                assert!(
                    seen.insert(sealed.nonce),
                    "{alg}: kernel nonce repeated at {c}"
                );
                let p: [u8; 8] = sealed.nonce[..8].try_into().unwrap();
                assert_eq!(
                    *prefix.get_or_insert(p),
                    p,
                    "{alg}: the 8-byte prefix changed at {c}"
                );
                let counter = u64::from(u32::from_be_bytes(sealed.nonce[8..].try_into().unwrap()));
                assert_eq!(counter, c, "{alg}: the counter of kernel nonce number {c}");
            }
        }
    }
}

pub fn aead_empty_plaintext_and_aad_are_valid_even_with_null_pointers() {
    let v = ok(Vault::open());
    for (i, alg) in AEADS.into_iter().enumerate() {
        let (id, key) = new_key(&v, alg, 800 + i as u64);
        let aad = data(20, 5);
        for aad in [&[][..], &aad[..]] {
            let what = format!("{alg}, empty plaintext at NULL, {} bytes of AAD", aad.len());
            let mut nonce: Nonce = array(6 + aad.len() as u64);
            let mut tag = Tag::default();
            let mut r = aead_req(id, &[], &mut [], aad, &mut nonce, &mut tag);
            r.in_ptr = 0;
            r.out_ptr = 0;
            if aad.is_empty() {
                r.aad_ptr = 0;
            }
            assert_eq!(ioctl(&v, KV_IOC_AEAD_ENCRYPT, &mut r), Ok(0), "{what}");
            assert_eq!(r.out_len, 0, "{what}");
            assert_eq!(
                tag,
                reference::aead(alg, &key, &nonce, aad, &[]).1,
                "{what}: tag"
            );
            r.flags = 0;
            assert_eq!(
                ioctl(&v, KV_IOC_AEAD_DECRYPT, &mut r),
                Ok(0),
                "{what}: decrypt"
            );
            // And the empty message is authenticated: another tag is refused.
            tag[0] ^= 1;
            expect_raw_err(
                ioctl(&v, KV_IOC_AEAD_DECRYPT, &mut r),
                Errno::EBADMSG,
                &what,
            );
        }
    }
}

pub fn aead_in_place_encryption_and_decryption_give_the_standard_result() {
    let v = ok(Vault::open());
    for (i, alg) in AEADS.into_iter().enumerate() {
        let (id, key) = new_key(&v, alg, 900 + i as u64);
        let pt = data(4101, 1);
        let aad = data(13, 2);
        let mut nonce: Nonce = array(3);
        let mut tag = Tag::default();
        let mut buf = pt.clone();
        let mut r = aead_req(id, &[], &mut [], &aad, &mut nonce, &mut tag);
        (r.in_ptr, r.out_ptr) = (buf.as_mut_ptr() as u64, buf.as_mut_ptr() as u64);
        (r.in_len, r.out_len) = (buf.len() as u32, buf.len() as u32);
        assert_eq!(ioctl(&v, KV_IOC_AEAD_ENCRYPT, &mut r), Ok(0), "{alg}");
        let (want_ct, want_tag) = reference::aead(alg, &key, &nonce, &aad, &pt);
        assert!(
            buf == want_ct,
            "{alg}: in-place ciphertext differs from RustCrypto's"
        );
        assert_eq!(tag, want_tag, "{alg}");
        // A forged in-place decrypt leaves the ciphertext as it was.
        tag[15] ^= 0x40;
        expect_raw_err(
            ioctl(&v, KV_IOC_AEAD_DECRYPT, &mut r),
            Errno::EBADMSG,
            alg.name(),
        );
        assert!(
            buf == want_ct,
            "{alg}: a failed in-place decrypt changed the buffer"
        );
        tag[15] ^= 0x40;
        assert_eq!(ioctl(&v, KV_IOC_AEAD_DECRYPT, &mut r), Ok(0), "{alg}");
        assert!(buf == pt, "{alg}: in-place decryption");
    }
}

/// (what, key, ciphertext, AAD, nonce, tag)
type Tampered = (String, KeyId, Vec<u8>, Vec<u8>, Nonce, Tag);

/// AES-GCM messages from 256 bytes on go through the crypto API's
/// gcm(aes), shorter ones through the library: both sides of that line,
/// page-crossing and long messages, and
/// AAD that is empty, short, crosses a page or is long, give RustCrypto's
/// result, and a tampered long message is EBADMSG with nothing written.
pub fn aes_gcm_matches_rustcrypto_on_both_sides_of_the_crypto_api_threshold_and_rejects_tampering()
{
    let v = ok(Vault::open());
    for (i, alg) in [Algorithm::Aes128Gcm, Algorithm::Aes256Gcm]
        .into_iter()
        .enumerate()
    {
        let (id, key) = new_key(&v, alg, 1500 + i as u64);
        for (j, len) in [255, 256, 257, 4095, 4097, 8191, 70001]
            .into_iter()
            .enumerate()
        {
            let pt = data(len, 1600 + j as u64);
            for (k, aad_len) in [0, 13, 256, 257, 5000].into_iter().enumerate() {
                let aad = data(aad_len, 1700 + k as u64);
                let nonce: Nonce = array(1800 + (j * 10 + k) as u64);
                aead_round_trip(&v, alg, (id, &key), &pt, &aad, Some(&nonce));
            }
            let aad = data(300, 1900);
            let nonce: Nonce = array(1901);
            let (ct, sealed) = ok(v.aead_encrypt(id, &pt, &aad, Some(&nonce)));
            let mut bad_tag = sealed.tag;
            bad_tag[15] ^= 0x80;
            let mut bad_ct = ct.clone();
            bad_ct[len - 1] ^= 1;
            let mut bad_aad = aad.clone();
            bad_aad[299] ^= 4;
            for (what, c, a, t) in [
                ("tag", &ct, &aad, bad_tag),
                ("last ciphertext byte", &bad_ct, &aad, sealed.tag),
                ("last AAD byte", &ct, &bad_aad, sealed.tag),
            ] {
                let what = format!("{alg}, {len} bytes, {what} flipped");
                let mut out = canary(len);
                expect_err(
                    v.aead_decrypt_into(id, c, a, &nonce, &t, &mut out),
                    Errno::EBADMSG,
                    &what,
                );
                assert_untouched(&out, &what);
            }
        }
    }
}

pub fn aead_decrypt_of_a_tampered_tag_aad_nonce_ciphertext_or_length_is_ebadmsg_and_writes_nothing()
{
    let v = ok(Vault::open());
    for (i, alg) in AEADS.into_iter().enumerate() {
        let (id, _) = new_key(&v, alg, 1000 + i as u64);
        let (other, _) = new_key(&v, alg, 1010 + i as u64);
        let pt = data(64, 1);
        let aad = data(20, 2);
        let nonce: Nonce = array(3);
        let (ct, sealed) = ok(v.aead_encrypt(id, &pt, &aad, Some(&nonce)));
        let tag = sealed.tag;
        let flip = |b: &[u8], i: usize, bit: u32| {
            let mut b = b.to_vec();
            b[i] ^= 1 << bit;
            b
        };
        let cat = |a: &[u8], b: &[u8]| [a, b].concat();
        let mut cases: Vec<Tampered> = Vec::new();
        for (byte, bit) in [(0, 0), (7, 3), (15, 7)] {
            let t = flip(&tag, byte, bit).try_into().unwrap();
            cases.push((
                format!("tag byte {byte} bit {bit}"),
                id,
                ct.clone(),
                aad.clone(),
                nonce,
                t,
            ));
        }
        cases.push((
            "all-zero tag".into(),
            id,
            ct.clone(),
            aad.clone(),
            nonce,
            [0; 16],
        ));
        for (what, a) in [
            ("AAD bit flipped", flip(&aad, 0, 0)),
            ("AAD last byte dropped", aad[..19].to_vec()),
            ("AAD left out", vec![]),
            ("AAD one byte longer", cat(&aad, &[0])),
        ] {
            cases.push((what.into(), id, ct.clone(), a, nonce, tag));
        }
        for byte in [0, 4, 11] {
            let n = flip(&nonce, byte, 7).try_into().unwrap();
            cases.push((
                format!("nonce byte {byte}"),
                id,
                ct.clone(),
                aad.clone(),
                n,
                tag,
            ));
        }
        for byte in [0, 31, 63] {
            let c = flip(&ct, byte, 2);
            cases.push((
                format!("ciphertext byte {byte}"),
                id,
                c,
                aad.clone(),
                nonce,
                tag,
            ));
        }
        for (what, c) in [
            ("ciphertext one byte shorter", ct[..63].to_vec()),
            ("ciphertext cut to nothing", vec![]),
            ("ciphertext one byte longer", cat(&ct, &[0])),
            ("ciphertext one block longer", cat(&ct, &[0; 16])),
        ] {
            cases.push((what.into(), id, c, aad.clone(), nonce, tag));
        }
        cases.push((
            "another key".into(),
            other,
            ct.clone(),
            aad.clone(),
            nonce,
            tag,
        ));
        for (what, key, c, a, n, t) in cases {
            let what = format!("{alg}, {what}");
            let mut out = canary(128);
            expect_err(
                v.aead_decrypt_into(key, &c, &a, &n, &t, &mut out),
                Errno::EBADMSG,
                &what,
            );
            assert_untouched(&out, &what);
        }
        let back = ok(v.aead_decrypt(id, &ct, &aad, &nonce, &tag));
        assert_eq!(*back, pt, "{alg}: the untampered message still decrypts");
    }
}

/// This file's tests, in order.
pub fn tests() -> Vec<crate::support::harness::Test> {
    crate::tests![
        aead_round_trips_match_rustcrypto_for_every_algorithm_size_aad_and_nonce_source,
        aead_success_writes_out_len_equal_to_in_len_and_nothing_past_it,
        aead_output_smaller_than_the_input_is_enospc_with_the_needed_length,
        aead_kernel_nonces_are_a_fixed_8_byte_per_key_prefix_and_a_32_bit_counter_from_zero,
        aead_empty_plaintext_and_aad_are_valid_even_with_null_pointers,
        aead_in_place_encryption_and_decryption_give_the_standard_result,
        aes_gcm_matches_rustcrypto_on_both_sides_of_the_crypto_api_threshold_and_rejects_tampering,
        aead_decrypt_of_a_tampered_tag_aad_nonce_ciphertext_or_length_is_ebadmsg_and_writes_nothing,
    ]
}
