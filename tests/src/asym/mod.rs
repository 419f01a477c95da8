//! The asymmetric keys: X25519 keys and GET_PUBKEY (pubkey.rs), Ed25519 SIGN
//! and VERIFY (ed25519.rs). Every Ed25519 test's name starts with
//! `ed25519_`, and they come last.

mod ed25519;
mod pubkey;
pub use ed25519::*;
pub use pubkey::*;

/// This file's tests, in order.
pub fn tests() -> Vec<crate::support::harness::Test> {
    crate::tests![
        x25519_public_keys_are_rfc_7748s_and_curve25519_dalek_agrees_for_random_scalars,
        x25519_import_takes_exactly_32_bytes_and_genkey_only_256_bits,
        get_pubkey_below_32_bytes_of_room_is_enospc_with_the_needed_length_and_writes_nothing,
        get_pubkey_of_a_symmetric_key_is_eopnotsupp,
        get_pubkey_of_an_unknown_destroyed_or_foreign_key_is_enoent,
        get_pubkey_with_nonzero_reserved_fields_is_einval,
        get_pubkey_needs_only_the_getinfo_capability,
        get_pubkey_answers_for_revoked_and_expired_keys,
        get_pubkey_to_a_null_kernel_or_read_only_buffer_is_efault,
        ed25519_rfc_8032_vectors_through_import_get_pubkey_sign_and_verify,
        ed25519_generated_keys_make_signatures_that_ed25519_dalek_verifies,
        ed25519_public_keys_and_signatures_equal_ed25519_dalek_for_200_random_seeds_and_messages,
        ed25519_tampered_signatures_messages_and_keys_are_ebadmsg,
        ed25519_sign_below_64_bytes_of_room_is_enospc_with_the_needed_length_and_writes_nothing,
        ed25519_import_takes_a_32_byte_seed_and_genkey_only_256_bits,
        ed25519_verify_takes_a_key_id_or_a_public_key_not_both_and_reserved_fields_must_be_0,
        ed25519_an_empty_message_signs_and_verifies_even_with_a_null_data_pointer,
        ed25519_sign_and_verify_with_bad_pointers_are_efault,
        ed25519_sign_and_verify_with_a_key_of_another_type_are_eopnotsupp_and_ed25519_keys_do_nothing_else,
        ed25519_keys_follow_their_usage_policy,
        ed25519_sign_and_verify_need_their_capabilities,
        ed25519_revoked_or_expired_keys_cannot_sign_or_verify_but_keep_their_public_key,
        ed25519_libkeyvault_verify_rejects_a_forgery_as_a_verification_failure,
    ]
}
