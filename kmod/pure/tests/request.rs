//! Host tests of the module's request validation (kmod/pure/request.rs).

use keyvault_pure::abi::*;
use keyvault_pure::alg::{Alg, ALL_ALGS};
use keyvault_pure::request::*;
use keyvault_pure::Reject;

#[test]
fn every_algorithm_round_trips_through_its_abi_value() {
    for alg in ALL_ALGS {
        assert_eq!(Alg::from_abi(alg.to_abi()), Ok(alg));
    }
}

#[test]
fn unknown_algorithms_are_invalid() {
    for v in [0, 10, 11, 9999, u32::MAX] {
        assert_eq!(Alg::from_abi(v), Err(Reject::Invalid), "{v}");
    }
}

#[test]
fn genkey_zero_bits_means_the_default_size() {
    assert_eq!(genkey_len(Alg::Aes128Gcm, 0), Ok(16));
    assert_eq!(genkey_len(Alg::Aes256Gcm, 0), Ok(32));
    assert_eq!(genkey_len(Alg::HmacSha256, 0), Ok(32));
    assert_eq!(genkey_len(Alg::HmacSha512, 0), Ok(64));
}

#[test]
fn genkey_refuses_sizes_outside_the_algorithm_range() {
    assert_eq!(genkey_len(Alg::Aes256Gcm, 128), Err(Reject::Invalid));
    assert_eq!(genkey_len(Alg::Aes128Gcm, 256), Err(Reject::Invalid));
    assert_eq!(genkey_len(Alg::HmacSha256, 120), Err(Reject::Invalid));
    assert_eq!(genkey_len(Alg::HmacSha256, 520), Err(Reject::Invalid));
    assert_eq!(genkey_len(Alg::HmacSha512, 1032), Err(Reject::Invalid));
    assert_eq!(genkey_len(Alg::HmacSha512, 1_000_000), Err(Reject::Invalid));
    assert_eq!(genkey_len(Alg::HmacSha512, u32::MAX), Err(Reject::Invalid));
}

#[test]
fn genkey_refuses_bit_counts_that_are_not_whole_bytes() {
    assert_eq!(genkey_len(Alg::HmacSha256, 129), Err(Reject::Invalid));
    assert_eq!(genkey_len(Alg::HmacSha256, 136), Ok(17));
}

#[test]
fn import_lengths_follow_the_same_ranges() {
    for alg in ALL_ALGS {
        let s = alg.key_sizes();
        assert_eq!(import_len(alg, s.min as u32), Ok(s.min));
        assert_eq!(import_len(alg, s.max as u32), Ok(s.max));
        assert_eq!(import_len(alg, s.min as u32 - 1), Err(Reject::Invalid));
        assert_eq!(import_len(alg, s.max as u32 + 1), Err(Reject::Invalid));
        assert!(s.max <= KV_MAX_KEY_BYTES as usize);
    }
    assert_eq!(import_len(Alg::Aes256Gcm, u32::MAX), Err(Reject::Invalid));
}

#[test]
fn empty_usage_becomes_everything_the_algorithm_can_do() {
    let p = policy(Alg::Aes256Gcm, &KvPolicy::default()).unwrap();
    assert_eq!(p.usage, KV_CAP_ENCRYPT | KV_CAP_DECRYPT);
    let p = policy(Alg::HmacSha256, &KvPolicy::default()).unwrap();
    assert_eq!(p.usage, KV_CAP_MAC | KV_CAP_DERIVE);
}

#[test]
fn usage_may_be_narrowed_but_not_widened_past_the_algorithm() {
    let enc_only = KvPolicy {
        usage: KV_CAP_ENCRYPT,
        ..Default::default()
    };
    assert_eq!(
        policy(Alg::Aes128Gcm, &enc_only).unwrap().usage,
        KV_CAP_ENCRYPT
    );
    let sign = KvPolicy {
        usage: KV_CAP_SIGN,
        ..Default::default()
    };
    assert_eq!(policy(Alg::Aes128Gcm, &sign), Err(Reject::Invalid));
}

#[test]
fn unknown_usage_or_flag_bits_are_invalid() {
    let bad_usage = KvPolicy {
        usage: KV_CAP_GENKEY,
        ..Default::default()
    };
    assert_eq!(policy(Alg::Aes128Gcm, &bad_usage), Err(Reject::Invalid));
    let bad_flags = KvPolicy {
        flags: 1 << 31,
        ..Default::default()
    };
    assert_eq!(policy(Alg::Aes128Gcm, &bad_flags), Err(Reject::Invalid));
    let ok_flags = KvPolicy {
        flags: KV_POLICY_NO_CALLER_NONCE,
        max_uses: 3,
        ..Default::default()
    };
    assert_eq!(policy(Alg::Aes128Gcm, &ok_flags).unwrap().max_uses, 3);
}

#[test]
fn restrict_only_clears_bits() {
    assert_eq!(restrict(KV_CAP_ALL, KV_CAP_READONLY), Ok(KV_CAP_READONLY));
    assert_eq!(restrict(KV_CAP_READONLY, KV_CAP_ALL), Ok(KV_CAP_READONLY));
    assert_eq!(restrict(KV_CAP_GENKEY, 0), Ok(0));
    assert_eq!(restrict(KV_CAP_ALL, 1 << 15), Err(Reject::Invalid));
}

#[test]
fn ttl_converts_to_nanoseconds_and_refuses_overflow() {
    assert_eq!(ttl_ns(0), Ok(None));
    assert_eq!(ttl_ns(1500), Ok(Some(1_500_000_000)));
    assert_eq!(ttl_ns(u64::MAX), Err(Reject::Invalid));
    assert_eq!(
        ttl_ns(i64::MAX as u64 / 1_000_000 + 1),
        Err(Reject::Invalid)
    );
}

#[test]
fn reserved_words_must_be_zero() {
    assert_eq!(reserved_zero(&[0, 0]), Ok(()));
    assert_eq!(reserved_zero(&[0, 1]), Err(Reject::Invalid));
}

#[test]
fn cbc_needs_room_for_padding_or_whole_blocks() {
    assert_eq!(cbc_out_len(true, true, 0), Ok(16));
    assert_eq!(cbc_out_len(true, true, 16), Ok(32));
    assert_eq!(cbc_out_len(true, true, 17), Ok(32));
    assert_eq!(cbc_out_len(true, false, 32), Ok(32));
    assert_eq!(cbc_out_len(true, false, 0), Ok(0));
    assert_eq!(cbc_out_len(true, false, 17), Err(Reject::Invalid));
    assert_eq!(cbc_out_len(false, true, 32), Ok(31));
    assert_eq!(cbc_out_len(false, false, 32), Ok(32));
    assert_eq!(cbc_out_len(false, true, 0), Err(Reject::Invalid));
    assert_eq!(cbc_out_len(false, false, 0), Err(Reject::Invalid));
    assert_eq!(cbc_out_len(false, true, 33), Err(Reject::Invalid));
}

#[test]
fn data_longer_than_the_limit_is_too_big() {
    assert_eq!(data_len(1 << 20, 1 << 20), Ok(1 << 20));
    assert_eq!(data_len((1 << 20) + 1, 1 << 20), Err(Reject::TooBig));
    assert_eq!(data_len(0, 0), Ok(0));
}

#[test]
fn mac_verification_compares_sixteen_bytes_up_to_the_full_length() {
    assert_eq!(verify_mac_len(15, 32), Err(Reject::Invalid));
    assert_eq!(verify_mac_len(16, 32), Ok(16));
    assert_eq!(verify_mac_len(32, 32), Ok(32));
    assert_eq!(verify_mac_len(33, 32), Err(Reject::Invalid));
    assert_eq!(verify_mac_len(64, 64), Ok(64));
}

#[test]
fn only_known_flags_and_hashes_pass() {
    assert_eq!(flags(KV_AEAD_GEN_NONCE, KV_AEAD_FLAGS_ALL), Ok(()));
    assert_eq!(flags(KV_AEAD_GEN_NONCE, 0), Err(Reject::Invalid));
    assert_eq!(flags(1 << 9, KV_CBC_FLAGS_ALL), Err(Reject::Invalid));
    assert_eq!(hash_is_sha512(KV_HASH_SHA256), Ok(false));
    assert_eq!(hash_is_sha512(KV_HASH_SHA512), Ok(true));
    assert_eq!(hash_is_sha512(0), Err(Reject::Invalid));
    assert_eq!(hash_is_sha512(3), Err(Reject::Invalid));
}
