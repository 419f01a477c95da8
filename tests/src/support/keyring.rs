//! The kernel keyring from the tests and the fuzzer (IMPORT_KEYRING; the
//! fuzzer includes this file by path): add_key(2) and the few keyctl(2)
//! operations they need, straight through libc (keyutils' `keyctl` command
//! stands in where a test shows the real client).

use nix::errno::Errno;
use std::ffi::CString;

/// `KEY_SPEC_SESSION_KEYRING`.
pub const SESSION_KEYRING: i32 = -3;
/// `KEY_SPEC_PROCESS_KEYRING`: this process's keyring (possessed: searchable).
pub const PROCESS_KEYRING: i32 = -2;
/// `KEY_SPEC_USER_KEYRING`: this user's keyring (possessed through the
/// session keyring, and shared with child processes such as keyctl).
pub const USER_KEYRING: i32 = -4;

const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
const KEYCTL_REVOKE: libc::c_long = 3;
const KEYCTL_SETPERM: libc::c_long = 5;
const KEYCTL_SET_TIMEOUT: libc::c_long = 15;

/// add_key(2): a key of `ty` named `desc` with `payload` in `keyring`; its serial.
pub fn add_key(ty: &str, desc: &str, payload: &[u8], keyring: i32) -> Result<i32, Errno> {
    let (ty, desc) = (CString::new(ty).unwrap(), CString::new(desc).unwrap());
    // SAFETY: NUL-terminated strings and a payload valid for its length.
    let r = unsafe {
        libc::syscall(
            libc::SYS_add_key,
            ty.as_ptr(),
            desc.as_ptr(),
            payload.as_ptr(),
            payload.len(),
            keyring,
        )
    };
    Errno::result(r).map(|s| s as i32)
}

fn keyctl(op: libc::c_long, serial: i32, arg: libc::c_long) -> Result<(), Errno> {
    // SAFETY: integer arguments only.
    Errno::result(unsafe { libc::syscall(libc::SYS_keyctl, op, serial, arg) }).map(drop)
}

/// keyctl_join_session_keyring(3) with no name: a new anonymous session
/// keyring for this process (and the processes it forks later).
pub fn join_new_session_keyring() -> Result<(), Errno> {
    keyctl(KEYCTL_JOIN_SESSION_KEYRING, 0, 0)
}

/// keyctl_revoke(3).
pub fn revoke_key(serial: i32) -> Result<(), Errno> {
    keyctl(KEYCTL_REVOKE, serial, 0)
}

/// keyctl_setperm(3): the key's permission mask.
pub fn set_key_perm(serial: i32, perm: u32) -> Result<(), Errno> {
    keyctl(KEYCTL_SETPERM, serial, perm as libc::c_long)
}

/// keyctl_set_timeout(3): the key expires `secs` from now.
pub fn set_key_timeout(serial: i32, secs: u32) -> Result<(), Errno> {
    keyctl(KEYCTL_SET_TIMEOUT, serial, secs as libc::c_long)
}
