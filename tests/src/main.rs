//! keyvault's integration tests, run inside the test VM (`make test`) with
//! the module loaded: every ioctl through libkeyvault and raw ioctls.
//!
//! Usage: kv-vmtests [FILTER]   (runs the tests whose names contain FILTER)

mod caps;
mod harness;
mod hostile;
mod keys;
mod module;
mod sharing;
mod util;

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
