//! New keys from old: KEYEXCHANGE (X25519 + HKDF, exchange.rs), DERIVE (HKDF,
//! derive.rs) and the request checks they share (requests.rs). A new key's
//! bytes never leave the kernel, so it is checked by what it computes against
//! RustCrypto under the bytes the standard says it must be.

mod derive;
mod exchange;
mod requests;
pub use derive::*;
pub use exchange::*;
pub use requests::*;

/// This file's tests, in order.
pub fn tests() -> Vec<crate::support::harness::Test> {
    crate::tests![
        exchange_between_two_vaults_gives_both_sides_the_same_key,
        exchange_of_the_rfc_7748_keys_is_hkdf_of_the_standard_shared_secret,
        exchange_with_a_low_order_peer_point_is_einval_and_makes_no_key,
        exchange_matches_curve25519_dalek_for_random_keys_and_peer_points,
        exchange_with_a_key_that_is_not_x25519_is_eopnotsupp,
        x25519_keys_are_for_exchange_only,
        exchange_and_derive_into_an_asymmetric_or_unknown_algorithm_size_hash_or_policy_are_einval,
        exchange_needs_the_exchange_capability_and_derive_the_derive_capability,
        exchange_and_derive_with_an_unknown_destroyed_or_foreign_key_are_enoent,
        exchange_and_derive_with_a_revoked_or_expired_key_are_ekeyrevoked_or_ekeyexpired,
        exchange_and_derive_count_as_a_use_of_the_key_against_its_max_uses,
        derive_gives_the_rfc_5869_sha256_test_cases_1_to_3,
        derive_with_hkdf_sha512_and_sha256_matches_rustcrypto_for_every_input_and_output_size,
        derive_makes_every_symmetric_algorithm_at_its_default_size_and_writes_the_size_back,
        derive_is_deterministic_and_another_salt_info_hash_or_parent_gives_another_key,
        derive_from_a_key_that_cannot_derive_is_eopnotsupp,
        derive_outside_the_parents_usage_is_eperm,
        derived_keys_take_the_policy_they_are_given,
        derived_and_exchanged_keys_count_against_the_vault_key_quota,
        derive_and_exchange_with_nonzero_reserved_fields_or_bad_child_policies_are_einval,
        derive_and_exchange_take_salt_and_info_of_up_to_1024_bytes_and_refuse_1025_with_einval,
        derive_and_exchange_accept_null_salt_and_info_pointers_when_empty,
        derive_and_exchange_with_a_bad_salt_info_or_peer_pointer_are_efault_and_leave_no_key,
        derive_and_exchange_whose_result_cannot_be_written_back_leave_no_key,
        derive_and_exchange_return_only_the_new_keys_id_and_size,
    ]
}
