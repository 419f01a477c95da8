//! IMPORT_KEYRING: keys made from kernel keyring keys (`logon`, `user`,
//! `encrypted`; `trusted` needs a TPM: scripts/test-tpm), the keyring's own
//! permission model and errnos, and the policy rule that such a key never
//! leaves the kernel.

use crate::support::*;
use keyvault::uapi::*;
use keyvault::{Caps, KeyId, Vault};
use nix::errno::Errno;
use std::process::Command;

/// A key id of a keyring key imported as `alg` (no policy).
fn import(v: &Vault, alg: u32, serial: i32) -> Result<KeyId, Errno> {
    import_keyring(v, alg, serial, KvPolicy::default())
}

pub fn logon_and_user_keys_become_vault_keys_with_their_payload() {
    let v = ok(Vault::open());
    for (ty, desc) in [("logon", "kv:import-test"), ("user", "kv-import-test")] {
        let payload = data(32, 40);
        let serial = must(add_key(ty, desc, &payload, PROCESS_KEYRING), "add_key");
        for (alg, take) in [(KV_ALG_AES256_GCM, 32), (KV_ALG_HMAC_SHA256, 32), (KV_ALG_CHACHA20_POLY1305, 32)] {
            let id = must(import(&v, alg, serial), ty);
            assert_key(&v, id, alg, &payload[..take], &format!("{ty} key as algorithm {alg}"));
            let info = must(getinfo(&v, id), ty);
            assert_eq!(info.policy.flags & KV_POLICY_WRAPPABLE, 0);
        }
        // Ed25519 from a seed in the keyring: the public key is the seed's.
        let id = must(import(&v, KV_ALG_ED25519, serial), ty);
        let seed: [u8; 32] = payload[..].try_into().unwrap();
        let want = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key().to_bytes();
        assert_eq!(must(pubkey(&v, id), ty), want);
    }
    // keyutils' own client makes the key in the user keyring (its own
    // process keyring would die with it): `keyctl padd logon ... @u`.
    let out = Command::new("sh")
        .args(["-c", "head -c 16 /dev/zero | tr '\\0' 'k' | keyctl padd logon kv:from-keyctl @u"])
        .output()
        .expect("keyctl");
    assert!(out.status.success(), "keyctl: {}", String::from_utf8_lossy(&out.stderr));
    let serial: i32 = String::from_utf8(out.stdout).unwrap().trim().parse().unwrap();
    let id = must(import(&v, KV_ALG_AES128_GCM, serial), "keyctl's logon key");
    assert_key(&v, id, KV_ALG_AES128_GCM, &[b'k'; 16], "keyctl padd");
}

pub fn keyring_errnos_are_the_keyrings_own_and_a_wrong_size_or_type_is_refused() {
    let v = ok(Vault::open());
    let keys = n_keys(&v);
    // No such key.
    assert_eq!(import(&v, KV_ALG_AES256_GCM, 0x7fff_fff0), Err(Errno::ENOKEY));
    assert_eq!(import(&v, KV_ALG_AES256_GCM, 0), Err(Errno::EINVAL), "serial 0: the keyring's EINVAL");
    // A payload of the wrong size for the algorithm.
    let serial = must(add_key("logon", "kv:short", &[1; 20], PROCESS_KEYRING), "add_key");
    assert_eq!(import(&v, KV_ALG_AES256_GCM, serial), Err(Errno::EINVAL));
    assert_eq!(import(&v, KV_ALG_ED25519, serial), Err(Errno::EINVAL));
    must(import(&v, KV_ALG_HMAC_SHA256, serial), "20 bytes is an HMAC key");
    let long = must(add_key("user", "kv-long", &[1; 200], PROCESS_KEYRING), "add_key");
    assert_eq!(import(&v, KV_ALG_HMAC_SHA512, long), Err(Errno::EINVAL), "longer than any key");
    // A keyring is not a key: EOPNOTSUPP.
    let ring = must(add_key("keyring", "kv-ring", &[], PROCESS_KEYRING), "add_key keyring");
    assert_eq!(import(&v, KV_ALG_AES256_GCM, ring), Err(Errno::EOPNOTSUPP));
    // Revoked.
    let revoked = must(add_key("logon", "kv:revoked", &[2; 32], PROCESS_KEYRING), "add_key");
    must(revoke_key(revoked), "keyctl revoke");
    assert_eq!(import(&v, KV_ALG_AES256_GCM, revoked), Err(Errno::EKEYREVOKED));
    // Expired.
    let expiring = must(add_key("logon", "kv:expiring", &[3; 32], PROCESS_KEYRING), "add_key");
    must(set_key_timeout(expiring, 1), "keyctl timeout");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(import(&v, KV_ALG_AES256_GCM, expiring), Err(Errno::EKEYEXPIRED));
    // Not searchable by the caller: no permission at all (even possessed).
    let hidden = must(add_key("logon", "kv:hidden", &[4; 32], PROCESS_KEYRING), "add_key");
    must(set_key_perm(hidden, 0), "keyctl setperm");
    assert_eq!(import(&v, KV_ALG_AES256_GCM, hidden), Err(Errno::EACCES));
    // Another user's key: found by serial, not searchable by this user.
    let theirs = must(add_key("logon", "kv:root-only", &[5; 32], PROCESS_KEYRING), "add_key");
    must(set_key_perm(theirs, 0x3f01_0000), "keyctl setperm: possessor all, user view");
    in_child("IMPORT_KEYRING of another user's key", || {
        // Opened as root (the device is root's), used as 4343: the lookup
        // runs with the caller's credentials at the ioctl.
        let v = Vault::open().expect("open");
        become_user(4343, 4343, &[]);
        assert_eq!(import(&v, KV_ALG_AES256_GCM, theirs), Err(Errno::EACCES));
        0
    });
    // WRAPPABLE: never for a keyring key (EPERM), before the keyring is read.
    let fine = must(add_key("logon", "kv:fine", &[6; 32], PROCESS_KEYRING), "add_key");
    assert_eq!(import_keyring(&v, KV_ALG_AES256_GCM, fine, WRAPPABLE), Err(Errno::EPERM));
    // Reserved words, unknown algorithm.
    let mut r = keyring_req(KV_ALG_AES256_GCM, fine);
    r.reserved[1] = 1;
    expect_raw(ioctl(&v, KV_IOC_IMPORT_KEYRING, &mut r), Errno::EINVAL);
    assert_eq!(import(&v, 99, fine), Err(Errno::EINVAL));
    // The handle needs IMPORT.
    let no_import = must(dup(&v, Caps::from_bits_retain(KV_CAP_ALL & !KV_CAP_IMPORT), &[]), "DUP");
    assert_eq!(import(&no_import, KV_ALG_AES256_GCM, fine), Err(Errno::EPERM));
    assert_eq!(n_keys(&v), keys + 1, "only the HMAC key was made");
}

/// An IMPORT_KEYRING whose new key id cannot be written back (a read-only
/// request) is EFAULT and leaves no key.
pub fn import_keyring_whose_result_cannot_be_written_back_leaves_no_key() {
    let v = ok(Vault::open());
    let serial = must(add_key("logon", "kv:readonly", &[9; 32], PROCESS_KEYRING), "add_key");
    let m = Mapping::new(4096);
    let p = m.put(keyring_req(KV_ALG_AES256_GCM, serial));
    m.read_only();
    expect_raw(ioctl_addr(&v, KV_IOC_IMPORT_KEYRING, p as usize), Errno::EFAULT);
    assert_eq!(n_keys(&v), 0, "a key whose id never reached the caller was left");
}

/// Runs keyctl with `args`; its trimmed stdout.
fn keyctl(args: &[&str]) -> Result<String, String> {
    let out = Command::new("keyctl").args(args).output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

pub fn an_encrypted_key_imports_its_decrypted_payload_the_same_after_a_reload() {
    let v = ok(Vault::open());
    // encrypted keys under a user master key (the kernel decrypts them;
    // userspace sees only the encrypted blob).
    // In the user keyring: keyctl (a child process) must find the master,
    // and this process the keys keyctl makes (a process keyring dies with
    // its process).
    must(add_key("user", "kv-master", &[7; 32], USER_KEYRING), "add_key master");
    let serial = keyctl(&["add", "encrypted", "kv-enc", "new default user:kv-master 32", "@u"])
        .unwrap_or_else(|e| panic!("keyctl add encrypted (a kernel without CONFIG_ENCRYPTED_KEYS?): {e}"));
    let serial: i32 = serial.parse().unwrap();
    let a = must(import(&v, KV_ALG_HMAC_SHA256, serial), "IMPORT_KEYRING of an encrypted key");
    let mac = ok(v.mac(a, b"the same key"));
    // The encrypted blob, loaded again as another key: the same payload.
    let blob = keyctl(&["pipe", &serial.to_string()]).expect("keyctl pipe");
    assert!(!blob.is_empty());
    let again = keyctl(&["add", "encrypted", "kv-enc2", &format!("load {blob}"), "@u"]).expect("keyctl add encrypted load");
    let b = must(import(&v, KV_ALG_HMAC_SHA256, again.parse().unwrap()), "IMPORT_KEYRING of the reloaded key");
    assert_eq!(ok(v.mac(b, b"the same key")), mac);
    // And not the master's bytes, nor anything userspace ever held.
    assert_ne!(mac, host_hmac(KV_ALG_HMAC_SHA256, &[7; 32], b"the same key"));
    assert_eq!(import(&v, KV_ALG_AES128_GCM, serial), Err(Errno::EINVAL), "32 bytes, not 16");
}

/// This file's tests, in order.
pub fn tests() -> Vec<crate::support::harness::Test> {
    crate::tests![
        logon_and_user_keys_become_vault_keys_with_their_payload,
        keyring_errnos_are_the_keyrings_own_and_a_wrong_size_or_type_is_refused,
        an_encrypted_key_imports_its_decrypted_payload_the_same_after_a_reload,
        import_keyring_whose_result_cannot_be_written_back_leaves_no_key,
    ]
}
