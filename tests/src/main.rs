//! keyvault's integration tests, run inside the test VM (`make test`) with
//! the module loaded: every ioctl through libkeyvault and raw ioctls.
//!
//! Usage: kv-vmtests [FILTER]   (runs the tests whose names contain FILTER)

mod caps;
mod crypto;
mod harness;
mod hostile;
mod keys;
mod module;
mod sharing;
mod util;
mod wycheproof;

fn main() {
    // The module's counters live in debugfs.
    if !std::path::Path::new("/sys/kernel/debug/keyvault").exists() {
        let _ = std::process::Command::new("mount")
            .args(["-t", "debugfs", "none", "/sys/kernel/debug"])
            .status();
    }
    let tests = tests![
        module::the_device_node_is_a_character_device,
        keys::genkey_makes_every_symmetric_algorithm_at_its_default_size,
        keys::genkey_reports_the_size_it_made_through_the_raw_struct,
        keys::genkey_hmac_accepts_whole_byte_sizes_in_range,
        keys::genkey_refuses_bad_sizes_with_einval,
        keys::genkey_refuses_unknown_algorithms_with_einval,
        keys::genkey_of_asymmetric_keys_is_eopnotsupp_until_their_crypto_exists,
        keys::genkey_refuses_nonzero_reserved_fields_with_einval,
        keys::genkey_refuses_bad_policies_with_einval,
        keys::genkey_refuses_a_ttl_that_overflows_with_einval,
        keys::key_policy_is_stored_and_reported,
        keys::key_ids_are_nonzero_unique_and_never_reused,
        keys::import_accepts_each_symmetric_algorithm_at_valid_lengths,
        keys::import_refuses_wrong_lengths_with_einval,
        keys::import_of_asymmetric_keys_is_eopnotsupp_until_their_crypto_exists,
        keys::import_refuses_nonzero_reserved_fields_with_einval,
        keys::destroy_removes_the_key_from_info_and_list,
        keys::destroy_twice_or_of_unknown_ids_is_enoent,
        keys::destroy_and_revoke_refuse_nonzero_reserved_with_einval,
        keys::revoke_is_permanent_idempotent_and_keeps_the_key_listed,
        keys::getinfo_reports_times_on_the_wall_clock,
        keys::getinfo_shows_expiry_without_any_operation,
        keys::getinfo_of_unknown_ids_is_enoent_and_reserved_must_be_zero,
        keys::list_of_a_fresh_vault_is_empty,
        keys::list_pages_through_every_key_in_ascending_order,
        keys::list_returns_at_most_kv_list_max_per_call,
        keys::list_with_zero_capacity_reports_only_the_total,
        keys::list_refuses_nonzero_reserved_with_einval,
        caps::a_fresh_open_has_every_capability,
        caps::restrict_clears_bits_and_getcaps_shows_it,
        caps::restrict_can_never_add_a_bit_back,
        caps::restrict_refuses_unknown_bits_and_reserved_with_einval,
        caps::getcaps_needs_no_capability,
        caps::readonly_keeps_use_but_not_management,
        caps::every_ioctl_is_denied_with_eperm_without_its_capability,
        caps::each_capability_removed_alone_leaves_the_others_working,
        sharing::two_opens_are_separate_vaults,
        sharing::dup_shares_keys_and_capabilities,
        sharing::fork_shares_the_vault_with_the_child,
        sharing::scm_rights_passes_the_same_vault_and_its_caps,
        sharing::keys_outlive_a_closed_fd_while_another_fd_is_open,
        hostile::every_ioctl_with_a_null_or_kernel_pointer_is_efault,
        hostile::a_request_struct_cut_off_by_an_unmapped_page_is_efault,
        hostile::genkey_whose_result_cannot_be_written_back_leaves_no_key,
        hostile::import_whose_result_cannot_be_written_back_leaves_no_key,
        hostile::import_with_a_bad_key_pointer_is_efault_and_leaves_no_key,
        hostile::list_with_a_bad_ids_pointer_is_efault,
        hostile::unknown_ioctls_are_enotty,
        hostile::the_key_count_quota_is_edquot_and_frees_up_on_destroy,
        hostile::the_key_bytes_quota_is_edquot,
        crypto::aead_round_trips_match_rustcrypto_for_every_algorithm_size_aad_and_nonce_source,
        crypto::cbc_round_trips_match_rustcrypto_for_both_key_sizes_with_and_without_padding,
        crypto::hmac_matches_rfc_4231_and_rustcrypto_for_both_hashes_and_key_lengths,
        crypto::hash_gives_the_standard_sha256_and_sha512_digests,
        crypto::aead_success_writes_out_len_equal_to_in_len_and_nothing_past_it,
        crypto::aead_output_smaller_than_the_input_is_enospc_with_the_needed_length,
        crypto::aead_kernel_nonces_are_a_fixed_per_key_prefix_and_a_counter_from_zero,
        crypto::aead_empty_plaintext_and_aad_are_valid_even_with_null_pointers,
        crypto::aead_in_place_encryption_and_decryption_give_the_standard_result,
        crypto::aead_decrypt_of_a_tampered_tag_aad_nonce_ciphertext_or_length_is_ebadmsg_and_writes_nothing,
        crypto::cbc_output_is_the_next_whole_block_with_padding_and_the_input_length_without,
        crypto::cbc_without_padding_needs_whole_blocks_and_decrypt_a_nonzero_multiple_of_16,
        crypto::cbc_output_smaller_than_needed_is_enospc_with_the_needed_length,
        crypto::cbc_bad_padding_is_ebadmsg_and_writes_nothing,
        crypto::cbc_kernel_ivs_are_random_and_written_back,
        crypto::cbc_in_place_encryption_and_decryption_work,
        crypto::mac_is_the_full_hmac_and_a_larger_buffer_gets_its_length,
        crypto::mac_buffer_smaller_than_the_hmac_is_enospc_with_the_needed_length,
        crypto::verify_mac_accepts_prefixes_from_16_bytes_and_refuses_other_lengths_with_einval,
        crypto::verify_mac_of_a_wrong_mac_data_or_key_is_ebadmsg,
        crypto::hash_buffer_smaller_than_the_digest_is_enospc_and_a_larger_one_gets_its_length,
        crypto::hash_of_an_unknown_algorithm_is_einval,
        crypto::hash_needs_only_the_hash_capability_and_no_key,
        crypto::crypto_ioctls_are_eperm_without_their_capability_even_with_a_bad_argument,
        crypto::crypto_with_an_unknown_destroyed_or_foreign_key_is_enoent,
        crypto::crypto_with_a_revoked_key_is_ekeyrevoked,
        crypto::crypto_with_an_expired_key_is_ekeyexpired,
        crypto::crypto_with_a_key_of_the_wrong_type_is_eopnotsupp,
        crypto::crypto_outside_the_key_usage_is_eperm,
        crypto::no_caller_nonce_keys_refuse_caller_nonces_and_ivs_with_eperm_but_take_the_kernels,
        crypto::max_uses_allows_exactly_that_many_operations_then_edquot,
        crypto::max_bytes_allows_operations_while_the_total_input_fits_then_edquot,
        crypto::getinfo_counts_every_operation_that_passed_the_checks_even_a_failed_decrypt,
        crypto::crypto_requests_with_nonzero_reserved_fields_or_unknown_flags_are_einval,
        crypto::inputs_over_max_data_bytes_are_emsgsize,
        crypto::inputs_of_exactly_max_data_bytes_are_accepted,
        crypto::every_crypto_pointer_field_that_is_null_or_in_the_kernel_is_efault,
        crypto::crypto_ioctls_with_a_null_kernel_or_cut_off_request_struct_are_efault,
        crypto::crypto_outputs_to_read_only_memory_and_inputs_running_into_unmapped_pages_are_efault,
        wycheproof::aes_gcm_vectors_give_the_exact_ciphertext_and_tag_and_forgeries_are_ebadmsg,
        wycheproof::chacha20_poly1305_vectors_give_the_exact_ciphertext_and_tag_and_forgeries_are_ebadmsg,
        wycheproof::aes_cbc_pkcs5_vectors_give_the_exact_ciphertext_and_bad_padding_is_ebadmsg,
        wycheproof::hmac_sha256_vectors_give_the_exact_mac_and_forged_tags_fail_verify,
        wycheproof::hmac_sha512_vectors_give_the_exact_mac_and_forged_tags_fail_verify,
        module::closing_the_last_fd_destroys_every_key,
        module::destroy_frees_the_key_at_once_when_no_operation_holds_it,
        module::the_c_example_runs_against_the_module,
        module::rmmod_is_refused_while_open_and_works_once_all_fds_are_closed,
    ];
    let filter = std::env::args().nth(1);
    let (passed, failed) = harness::run(tests, filter.as_deref());
    println!("{passed} passed, {failed} failed");
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
