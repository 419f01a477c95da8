//! What every crypto ioctl (AEAD, CBC, MAC, VERIFY_MAC, HASH) checks alike:
//! capability, key state, usage and quotas (policy.rs); reserved fields,
//! sizes and pointers (requests.rs).

mod policy;
mod requests;
pub use policy::*;
pub use requests::*;

use keyvault::uapi::*;

/// Every crypto ioctl with the capability it needs.
const CRYPTO: [(u32, u32, &str); 7] = [
    (KV_IOC_AEAD_ENCRYPT, KV_CAP_ENCRYPT, "AEAD_ENCRYPT"),
    (KV_IOC_AEAD_DECRYPT, KV_CAP_DECRYPT, "AEAD_DECRYPT"),
    (KV_IOC_CBC_ENCRYPT, KV_CAP_ENCRYPT, "CBC_ENCRYPT"),
    (KV_IOC_CBC_DECRYPT, KV_CAP_DECRYPT, "CBC_DECRYPT"),
    (KV_IOC_MAC, KV_CAP_MAC, "MAC"),
    (KV_IOC_VERIFY_MAC, KV_CAP_MAC, "VERIFY_MAC"),
    (KV_IOC_HASH, KV_CAP_HASH, "HASH"),
];

/// The crypto ioctls that use a key.
const KEYED: [(u32, &str); 6] = [
    (KV_IOC_AEAD_ENCRYPT, "AEAD_ENCRYPT"),
    (KV_IOC_AEAD_DECRYPT, "AEAD_DECRYPT"),
    (KV_IOC_CBC_ENCRYPT, "CBC_ENCRYPT"),
    (KV_IOC_CBC_DECRYPT, "CBC_DECRYPT"),
    (KV_IOC_MAC, "MAC"),
    (KV_IOC_VERIFY_MAC, "VERIFY_MAC"),
];

/// This file's tests, in order.
pub fn tests() -> Vec<crate::support::harness::Test> {
    crate::tests![
        crypto_ioctls_are_eperm_without_their_capability_even_with_a_bad_argument,
        crypto_with_an_unknown_destroyed_or_foreign_key_is_enoent,
        crypto_with_a_revoked_key_is_ekeyrevoked,
        crypto_with_an_expired_key_is_ekeyexpired,
        crypto_with_a_key_of_the_wrong_type_is_eopnotsupp,
        crypto_outside_the_key_usage_is_eperm,
        no_caller_nonce_keys_refuse_caller_nonces_and_ivs_with_eperm_but_take_the_kernels,
        max_uses_allows_exactly_that_many_operations_then_edquot,
        max_bytes_allows_operations_while_the_total_input_fits_then_edquot,
        getinfo_counts_every_operation_that_passed_the_checks_even_a_failed_decrypt,
        crypto_requests_with_nonzero_reserved_fields_or_unknown_flags_are_einval,
        inputs_over_max_data_bytes_are_emsgsize,
        inputs_of_exactly_max_data_bytes_are_accepted,
        every_crypto_pointer_field_that_is_null_or_in_the_kernel_is_efault,
        crypto_ioctls_with_a_null_kernel_or_cut_off_request_struct_are_efault,
        crypto_outputs_to_read_only_memory_and_inputs_running_into_unmapped_pages_are_efault,
    ]
}
