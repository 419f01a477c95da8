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
    assert_eq!(restrict(KV_CAP_ALL, 1 << 17), Err(Reject::Invalid));
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
fn verify_takes_a_key_id_or_a_public_key_not_both() {
    assert_eq!(verify_key(0, 0), Ok(()));
    assert_eq!(verify_key(5, 0), Ok(()));
    assert_eq!(verify_key(0, 0x1000), Ok(()));
    assert_eq!(verify_key(5, 0x1000), Err(Reject::Invalid));
}

#[test]
fn kdf_salt_and_info_are_bounded() {
    assert_eq!(kdf_inputs(0, 0), Ok(()));
    assert_eq!(kdf_inputs(KV_KDF_MAX_INPUT, KV_KDF_MAX_INPUT), Ok(()));
    assert_eq!(kdf_inputs(KV_KDF_MAX_INPUT + 1, 0), Err(Reject::Invalid));
    assert_eq!(kdf_inputs(0, KV_KDF_MAX_INPUT + 1), Err(Reject::Invalid));
}

#[test]
fn a_dup_key_list_is_bounded_and_cannot_make_keys() {
    assert_eq!(dup_keys(0, KV_CAP_ALL), Ok(()));
    assert_eq!(dup_keys(KV_DUP_MAX_KEYS, KV_CAP_READONLY), Ok(()));
    assert_eq!(dup_keys(KV_DUP_MAX_KEYS + 1, KV_CAP_READONLY), Err(Reject::Invalid));
    for cap in [KV_CAP_GENKEY, KV_CAP_IMPORT, KV_CAP_DERIVE, KV_CAP_EXCHANGE, KV_CAP_UNWRAP] {
        assert_eq!(dup_keys(1, KV_CAP_READONLY | cap), Err(Reject::Invalid));
        assert_eq!(dup_keys(0, KV_CAP_READONLY | cap), Ok(()));
    }
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
    // Zero bytes encrypted without padding decrypt back to zero bytes.
    assert_eq!(cbc_out_len(false, false, 0), Ok(0));
    assert_eq!(cbc_out_len(false, true, 33), Err(Reject::Invalid));
}

#[test]
fn every_cbc_ciphertext_the_limit_lets_out_it_lets_back_in() {
    for max in [0usize, 1, 15, 16, 17, 1 << 20, (1 << 20) + 5] {
        for padded in [true, false] {
            let most_in = cbc_max_in(true, padded, max);
            for len in [0, 1, 15, 16, 17, max.saturating_sub(1), max] {
                if len > most_in {
                    continue;
                }
                let Ok(out) = cbc_out_len(true, padded, len) else {
                    continue;
                };
                assert!(out <= cbc_max_in(false, padded, max), "max {max} padded {padded} len {len}");
                assert!(cbc_out_len(false, padded, out).is_ok(), "max {max} padded {padded} len {len}");
            }
        }
    }
    assert_eq!(cbc_max_in(false, true, 1 << 20), (1 << 20) + 16);
    assert_eq!(cbc_max_in(false, false, 1 << 20), 1 << 20);
    assert_eq!(cbc_max_in(true, true, 1 << 20), 1 << 20);
}

fn child(algorithms: u32, usage: u32, max_uses: u32, max_bytes: u32) -> KvChildPolicy {
    KvChildPolicy { algorithms, usage, max_uses, max_bytes }
}

fn asked(usage: u32, flags: u32, max_uses: u64, max_bytes: u64) -> KvPolicy {
    KvPolicy { usage, flags, max_uses, max_bytes }
}

const GCM: u32 = 1 << KV_ALG_AES256_GCM;
const CBC: u32 = 1 << KV_ALG_AES256_CBC;

#[test]
fn child_policies_name_only_symmetric_algorithms_and_usage_bits() {
    assert_eq!(child_policy(&child(0, 0, 0, 0)), Ok(child(0, 0, 0, 0)));
    assert_eq!(child_policy(&child(KV_CHILD_ALGS_ALL, KV_USAGE_ALL, 5, 6)), Ok(child(KV_CHILD_ALGS_ALL, KV_USAGE_ALL, 5, 6)));
    for bad in [1, 1 << KV_ALG_ED25519, 1 << KV_ALG_X25519, 1 << 10, 1 << 31] {
        assert_eq!(child_policy(&child(bad, 0, 0, 0)), Err(Reject::Invalid), "{bad:#x}");
    }
    assert_eq!(child_policy(&child(0, KV_CAP_GENKEY, 0, 0)), Err(Reject::Invalid));
}

#[test]
fn an_unrestricted_parent_lets_the_child_ask_anything_but_keeps_no_caller_nonce() {
    let p = asked(KV_CAP_MAC | KV_CAP_DERIVE, 0, 0, 0);
    let none = child(0, 0, 0, 0);
    assert_eq!(
        derived_policy(Alg::Aes256Cbc, &asked(0, 0, 0, 0), &p, &none),
        Ok(asked(KV_CAP_ENCRYPT | KV_CAP_DECRYPT, 0, 0, 0))
    );
    let strict = asked(KV_CAP_DERIVE, KV_POLICY_NO_CALLER_NONCE, 0, 0);
    assert_eq!(
        derived_policy(Alg::Aes256Gcm, &asked(KV_CAP_ENCRYPT, 0, 7, 0), &strict, &none),
        Ok(asked(KV_CAP_ENCRYPT, KV_POLICY_NO_CALLER_NONCE, 7, 0))
    );
}

#[test]
fn a_child_policy_refuses_twins_with_another_algorithm_wider_usage_or_larger_limits() {
    let p = asked(KV_CAP_DERIVE, KV_POLICY_NO_CALLER_NONCE, 0, 0);
    let t = child(GCM, KV_CAP_ENCRYPT, 10, 4096);
    // What the template allows, asked for with zeros: the most it allows.
    assert_eq!(
        derived_policy(Alg::Aes256Gcm, &asked(0, 0, 0, 0), &p, &t),
        Ok(asked(KV_CAP_ENCRYPT, KV_POLICY_NO_CALLER_NONCE, 10, 4096))
    );
    assert_eq!(
        derived_policy(Alg::Aes256Gcm, &asked(KV_CAP_ENCRYPT, 0, 3, 100), &p, &t),
        Ok(asked(KV_CAP_ENCRYPT, KV_POLICY_NO_CALLER_NONCE, 3, 100))
    );
    // The attacks: another algorithm (a raw AES block oracle), wider usage,
    // larger limits.
    assert_eq!(derived_policy(Alg::Aes256Cbc, &asked(0, 0, 0, 0), &p, &t), Err(Reject::Denied));
    assert_eq!(derived_policy(Alg::Aes128Gcm, &asked(0, 0, 0, 0), &p, &t), Err(Reject::Denied));
    assert_eq!(
        derived_policy(Alg::Aes256Gcm, &asked(KV_CAP_ENCRYPT | KV_CAP_DECRYPT, 0, 0, 0), &p, &t),
        Err(Reject::Denied)
    );
    assert_eq!(derived_policy(Alg::Aes256Gcm, &asked(0, 0, 11, 0), &p, &t), Err(Reject::Denied));
    assert_eq!(derived_policy(Alg::Aes256Gcm, &asked(0, 0, 0, 4097), &p, &t), Err(Reject::Denied));
    // A usage the algorithm cannot have at all under the template.
    let mac_only = child(0, KV_CAP_MAC, 0, 0);
    assert_eq!(derived_policy(Alg::Aes256Gcm, &asked(0, 0, 0, 0), &p, &mac_only), Err(Reject::Denied));
    assert_eq!(
        derived_policy(Alg::HmacSha256, &asked(0, 0, 0, 0), &p, &mac_only),
        Ok(asked(KV_CAP_MAC, KV_POLICY_NO_CALLER_NONCE, 0, 0))
    );
}

#[test]
fn a_child_policy_only_narrows_down_the_generations() {
    let t = child(GCM | CBC, KV_CAP_ENCRYPT | KV_CAP_DECRYPT | KV_CAP_DERIVE, 10, 0);
    assert_eq!(narrowed_child(&t, &child(0, 0, 0, 0)), Ok(t));
    assert_eq!(
        narrowed_child(&t, &child(GCM, KV_CAP_ENCRYPT, 20, 50)),
        Ok(child(GCM, KV_CAP_ENCRYPT, 10, 50))
    );
    assert_eq!(narrowed_child(&child(0, 0, 0, 0), &child(CBC, 0, 3, 0)), Ok(child(CBC, 0, 3, 0)));
    // Nothing in common would read as "any": refused.
    assert_eq!(narrowed_child(&child(GCM, 0, 0, 0), &child(CBC, 0, 0, 0)), Err(Reject::Denied));
    assert_eq!(
        narrowed_child(&child(0, KV_CAP_MAC, 0, 0), &child(0, KV_CAP_ENCRYPT, 0, 0)),
        Err(Reject::Denied)
    );
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

#[test]
fn only_aes256_gcm_wraps_and_a_wrapping_key_does_nothing_else() {
    let with = |usage| KvPolicy { usage, ..Default::default() };
    for usage in [KV_CAP_WRAP, KV_CAP_UNWRAP, KV_USAGE_WRAPPING] {
        assert_eq!(policy(Alg::Aes256Gcm, &with(usage)).unwrap().usage, usage);
        for other in [KV_CAP_ENCRYPT, KV_CAP_DECRYPT] {
            assert_eq!(policy(Alg::Aes256Gcm, &with(usage | other)), Err(Reject::Invalid));
        }
        for alg in ALL_ALGS.into_iter().filter(|a| *a != Alg::Aes256Gcm) {
            assert_eq!(policy(alg, &with(usage)), Err(Reject::Invalid), "{alg:?}");
        }
    }
    // Usage 0 never makes a wrapping key.
    for alg in ALL_ALGS {
        assert_eq!(policy(alg, &KvPolicy::default()).unwrap().usage & KV_USAGE_WRAPPING, 0);
    }
}

#[test]
fn wrappable_is_a_flag_a_keyring_key_cannot_have() {
    let wrappable = KvPolicy { flags: KV_POLICY_WRAPPABLE, ..Default::default() };
    assert_eq!(policy(Alg::Ed25519, &wrappable).unwrap().flags, KV_POLICY_WRAPPABLE);
    assert_eq!(keyring_policy(Alg::Aes256Gcm, &wrappable), Err(Reject::Denied));
    assert_eq!(keyring_policy(Alg::Aes256Gcm, &KvPolicy::default()).unwrap().usage, KV_CAP_ENCRYPT | KV_CAP_DECRYPT);
    assert_eq!(keyring_policy(Alg::Aes256Gcm, &KvPolicy { flags: 4, ..Default::default() }), Err(Reject::Invalid));
}

#[test]
fn a_derived_key_is_wrappable_only_under_a_wrappable_parent_and_wraps_only_when_asked() {
    let open = KvChildPolicy::default();
    let wrappable = asked(0, KV_POLICY_WRAPPABLE, 0, 0);
    let plain_parent = policy(Alg::HmacSha256, &KvPolicy::default()).unwrap();
    let wrappable_parent = policy(Alg::HmacSha256, &wrappable).unwrap();
    assert_eq!(derived_policy(Alg::Aes256Gcm, &wrappable, &plain_parent, &open), Err(Reject::Denied));
    let p = derived_policy(Alg::Aes256Gcm, &wrappable, &wrappable_parent, &open).unwrap();
    assert_eq!(p.flags, KV_POLICY_WRAPPABLE);
    // Not inherited: a child of a wrappable key is wrappable only if asked.
    let p = derived_policy(Alg::Aes256Gcm, &asked(0, 0, 0, 0), &wrappable_parent, &open).unwrap();
    assert_eq!(p.flags & KV_POLICY_WRAPPABLE, 0);
    assert_eq!(p.usage, KV_CAP_ENCRYPT | KV_CAP_DECRYPT);
    // A derived wrapping key (the TPM flow: root -> wrapping key).
    let p = derived_policy(Alg::Aes256Gcm, &asked(KV_USAGE_WRAPPING, 0, 0, 0), &plain_parent, &open).unwrap();
    assert_eq!(p.usage, KV_USAGE_WRAPPING);
    // A child policy without wrapping refuses it; one with only wrapping
    // leaves usage 0 nothing to mean.
    let no_wrap = child(0, KV_CAP_ENCRYPT | KV_CAP_DECRYPT, 0, 0);
    assert_eq!(derived_policy(Alg::Aes256Gcm, &asked(KV_CAP_WRAP, 0, 0, 0), &plain_parent, &no_wrap), Err(Reject::Denied));
    let only_wrap = child(0, KV_USAGE_WRAPPING, 0, 0);
    assert_eq!(derived_policy(Alg::Aes256Gcm, &asked(0, 0, 0, 0), &plain_parent, &only_wrap), Err(Reject::Denied));
}
