//! Proves `keyvault.h` and `src/abi.rs` describe the same ABI.
//!
//! The C header is parsed for every `#define KV_*` and every field of every
//! `struct kv_*`; each must have a Rust twin. Then a C file of `_Static_assert`s
//! built from the Rust values (sizes, offsets, constants, ioctl numbers) is
//! compiled by the system C compiler against the header: any drift fails.

use keyvault_uapi::*;
use std::collections::BTreeMap;
use std::mem::{offset_of, size_of};
use std::process::Command;

const HEADER: &str = include_str!("../keyvault.h");

/// A struct's C name, its Rust size, and each field's (name, offset).
type StructLayout = (&'static str, usize, Vec<(&'static str, usize)>);

/// The layout of every ABI struct.
macro_rules! structs {
    ($($c:literal => $t:ty { $($f:ident),* $(,)? })*) => {
        vec![$(($c, size_of::<$t>(), vec![$((stringify!($f), offset_of!($t, $f))),*])),*]
    };
}

fn rust_structs() -> Vec<StructLayout> {
    structs! {
        "kv_policy" => KvPolicy { usage, flags, max_uses, max_bytes }
        "kv_child_policy" => KvChildPolicy { algorithms, usage, max_uses, max_bytes }
        "kv_caps" => KvCaps { caps, reserved }
        "kv_dup" => KvDup { caps, nkeys, keys_ptr, fd, flags, reserved }
        "kv_limits" => KvLimits { max_data_bytes, max_keys_per_vault, max_key_bytes_per_vault,
                                  max_keys_per_user, max_key_bytes_per_user, vault_keys,
                                  vault_key_bytes, user_keys, user_key_bytes, reserved }
        "kv_genkey" => KvGenkey { algorithm, key_bits, ttl_ms, policy, key_id, child }
        "kv_import" => KvImport { algorithm, key_len, key_ptr, ttl_ms, policy, key_id, child }
        "kv_keyref" => KvKeyref { key_id, reserved }
        "kv_keyinfo" => KvKeyinfo { key_id, algorithm, key_bits, state, reserved0, created_ms,
                                    expires_ms, policy, uses, bytes, child, reserved }
        "kv_list" => KvList { ids_ptr, max_ids, count, cursor, total, reserved }
        "kv_aead" => KvAead { key_id, in_ptr, out_ptr, aad_ptr, nonce_ptr, tag_ptr, in_len,
                              out_len, aad_len, flags, reserved }
        "kv_cbc" => KvCbc { key_id, in_ptr, out_ptr, iv_ptr, in_len, out_len, flags, reserved0,
                            reserved }
        "kv_mac" => KvMac { key_id, data_ptr, mac_ptr, data_len, mac_len, reserved }
        "kv_hash" => KvHash { algorithm, data_len, data_ptr, digest_ptr, digest_len, reserved0,
                              reserved }
        "kv_sign" => KvSign { key_id, data_ptr, sig_ptr, data_len, sig_len, reserved }
        "kv_verify" => KvVerify { key_id, pubkey_ptr, data_ptr, sig_ptr, data_len, reserved0, reserved }
        "kv_pubkey" => KvPubkey { key_id, pubkey_ptr, pubkey_len, reserved0, reserved }
        "kv_kdf" => KvKdf { hash, algorithm, key_bits, salt_len, salt_ptr, info_ptr, info_len,
                            reserved0, ttl_ms, policy }
        "kv_derive" => KvDerive { key_id, kdf, new_key_id, child }
        "kv_exchange" => KvExchange { key_id, peer_ptr, kdf, new_key_id, child }
        "kv_import_keyring" => KvImportKeyring { algorithm, serial, ttl_ms, policy, key_id, child, reserved }
        "kv_wrap" => KvWrap { wrapping_key_id, key_id, blob_ptr, blob_len, format, reserved }
        "kv_unwrap" => KvUnwrap { wrapping_key_id, blob_ptr, blob_len, format, algorithm, reserved0,
            ttl_ms, policy, child, new_key_id, reserved }
    }
}

/// Every numeric `KV_*` constant of the Rust crate.
macro_rules! consts {
    ($($n:ident),* $(,)?) => { vec![$((stringify!($n), u64::from($n))),*] };
}

/// Every constant, the ioctl numbers taken from the one list of ioctls.
fn rust_consts() -> Vec<(&'static str, u64)> {
    let ioctls = KV_IOCTLS.iter().map(|i| (i.name, u64::from(i.cmd)));
    let mut all = consts![
        KV_IOC_MAGIC,
        KV_ALG_AES128_GCM,
        KV_ALG_AES256_GCM,
        KV_ALG_CHACHA20_POLY1305,
        KV_ALG_AES128_CBC,
        KV_ALG_AES256_CBC,
        KV_ALG_HMAC_SHA256,
        KV_ALG_HMAC_SHA512,
        KV_ALG_ED25519,
        KV_ALG_X25519,
        KV_CAP_GENKEY,
        KV_CAP_DESTROY,
        KV_CAP_REVOKE,
        KV_CAP_ENCRYPT,
        KV_CAP_DECRYPT,
        KV_CAP_SIGN,
        KV_CAP_VERIFY,
        KV_CAP_MAC,
        KV_CAP_HASH,
        KV_CAP_GETINFO,
        KV_CAP_LIST,
        KV_CAP_RESTRICT,
        KV_CAP_DERIVE,
        KV_CAP_EXCHANGE,
        KV_CAP_IMPORT,
        KV_CAP_WRAP,
        KV_CAP_UNWRAP,
        KV_CAP_ALL,
        KV_CAP_READONLY,
        KV_USAGE_ALL,
        KV_USAGE_WRAPPING,
        KV_POLICY_NO_CALLER_NONCE,
        KV_POLICY_WRAPPABLE,
        KV_POLICY_FLAGS_ALL,
        KV_WRAP_NATIVE,
        KV_WRAP_RFC5649,
        KV_WRAP_VERSION,
        KV_WRAP_HEADER_SIZE,
        KV_WRAP_OVERHEAD,
        KV_WRAP_MAX_BLOB,
        KV_STATE_ACTIVE,
        KV_STATE_REVOKED,
        KV_STATE_EXPIRED,
        KV_MAX_KEY_BYTES,
        KV_LIST_MAX,
        KV_HASH_SHA256,
        KV_HASH_SHA512,
        KV_AEAD_NONCE_SIZE,
        KV_AEAD_TAG_SIZE,
        KV_CBC_IV_SIZE,
        KV_MAX_DIGEST_SIZE,
        KV_MIN_MAC_VERIFY_SIZE,
        KV_AEAD_GEN_NONCE,
        KV_AEAD_FLAGS_ALL,
        KV_CBC_GEN_IV,
        KV_CBC_NO_PADDING,
        KV_CBC_FLAGS_ALL,
        KV_ED25519_SIG_SIZE,
        KV_PUBKEY_SIZE,
        KV_KDF_MAX_INPUT,
        KV_MAX_LINEAGE,
        KV_DUP_MAX_KEYS,
        KV_CHILD_ALGS_ALL,
    ];
    all.extend(ioctls);
    all
}

/// `#define KV_NAME ...` names in the header (string-valued ones excluded).
fn header_defines() -> Vec<String> {
    HEADER
        .lines()
        .filter_map(|l| l.strip_prefix("#define "))
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let name = it.next()?;
            let value = it.next().unwrap_or("");
            (name.starts_with("KV_") && !value.starts_with('"')).then(|| name.to_string())
        })
        .collect()
}

/// struct name -> field names, parsed from the header.
fn header_structs() -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in HEADER.lines() {
        let line = line.split("/*").next().unwrap().trim();
        if let Some(rest) = line.strip_prefix("struct ") {
            if let Some(name) = rest.strip_suffix(" {") {
                current = Some(name.to_string());
                out.insert(name.to_string(), Vec::new());
                continue;
            }
        }
        if line.starts_with("};") {
            current = None;
        } else if let (Some(s), Some(decl)) = (&current, line.strip_suffix(';')) {
            let field = decl.rsplit(' ').next().unwrap();
            let field = field.split('[').next().unwrap();
            out.get_mut(s).unwrap().push(field.to_string());
        }
    }
    out
}

/// `KvGenkey` -> `kv_genkey`.
fn c_struct_name(rust: &str) -> String {
    let mut out = String::new();
    for (i, ch) in rust.chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(ch.to_ascii_lowercase());
    }
    out
}

#[test]
fn the_ioctl_list_is_ordered_and_unique() {
    for pair in KV_IOCTLS.windows(2) {
        assert!(pair[0].nr() < pair[1].nr(), "{} and {} out of order", pair[0].name, pair[1].name);
    }
    for i in KV_IOCTLS {
        assert_eq!(KvIoctl::find(i.cmd), Some(i));
        assert_eq!(i.cmd >> 8 & 0xff, KV_IOC_MAGIC, "{}", i.name);
        assert!(i.cap == 0 || (i.cap.is_power_of_two() && i.cap & KV_CAP_ALL == i.cap), "{}", i.name);
        assert!(rust_structs().iter().any(|(n, size, _)| *n == c_struct_name(i.request) && *size == i.size()));
    }
    assert_eq!(KvIoctl::find(0), None);
}

#[test]
fn every_c_define_has_a_rust_twin_and_back() {
    let mut c: Vec<String> = header_defines();
    c.sort();
    let mut r: Vec<String> = rust_consts().iter().map(|(n, _)| n.to_string()).collect();
    r.sort();
    assert_eq!(c, r, "C #defines and Rust constants differ");
}

#[test]
fn every_c_struct_field_has_a_rust_twin_and_back() {
    let c = header_structs();
    let r: BTreeMap<String, Vec<String>> = rust_structs()
        .into_iter()
        .map(|(n, _, f)| {
            (
                n.to_string(),
                f.iter().map(|(f, _)| f.to_string()).collect(),
            )
        })
        .collect();
    assert_eq!(c, r, "C structs and Rust structs differ");
}

#[test]
fn structs_have_no_implicit_padding() {
    // Same layout for 32- and 64-bit callers: every struct is a multiple of 8
    // and each field starts where the previous one ended (checked by C below
    // through offsets; here: 8-byte multiples).
    for (name, size, _) in rust_structs() {
        assert_eq!(size % 8, 0, "struct {name} is {size} bytes");
    }
}

#[test]
fn c_compiler_agrees_on_sizes_offsets_and_values() {
    let mut src = String::from("#include <stddef.h>\n#include \"keyvault.h\"\n");
    for (name, size, fields) in rust_structs() {
        src += &format!("_Static_assert(sizeof(struct {name}) == {size}, \"size {name}\");\n");
        for (f, off) in fields {
            src += &format!(
                "_Static_assert(offsetof(struct {name}, {f}) == {off}, \"offset {name}.{f}\");\n"
            );
        }
    }
    for (n, v) in rust_consts() {
        src += &format!("_Static_assert((unsigned long long)({n}) == {v}ULL, \"value {n}\");\n");
    }
    // Each ioctl is declared in C with the direction and request struct of
    // the Rust list, not only with an equal number.
    for i in KV_IOCTLS {
        let dir = match (i.reads_request(), i.writes_request()) {
            (true, true) => "_IOWR",
            (true, false) => "_IOW",
            (false, true) => "_IOR",
            (false, false) => panic!("{} moves no request", i.name),
        };
        let (name, nr, req) = (i.name, i.nr(), c_struct_name(i.request));
        src += &format!(
            "_Static_assert({name} == {dir}(KV_IOC_MAGIC, {nr}, struct {req}), \"declaration {name}\");\n"
        );
    }
    let dir = std::env::temp_dir().join(format!("kv-abi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = dir.join("abi.c");
    std::fs::write(&c, src).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let inc = concat!(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Werror", "-fsyntax-only", "-I", inc])
        .arg(&c)
        .output()
        .expect("running the C compiler");
    assert!(
        out.status.success(),
        "C header disagrees with abi.rs:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).ok();
}
