// SPDX-License-Identifier: GPL-2.0

//! keyvault: cryptographic keys that live in kernel memory.
//!
//! `/dev/keyvault` is a misc device. Every `open()` creates an empty vault;
//! userspace generates or imports keys into it and only ever sees opaque
//! 64-bit key ids. Each open file description carries a capability mask that
//! can only shrink. Closing the last fd destroys (and zeroizes) every key.
//!
//! Map of the module:
//! - `keyvault_main.rs`: this file: module parameters, the misc device.
//! - `ops/`: `mod.rs` routes each ioctl of the ABI's list to its handler
//!   (number, request struct and capability come from `kv_ioctl_list!` in
//!   `uapi/src/abi.rs`); one handler file per ioctl family, holding only
//!   request handling.
//! - `uapi.rs`: the ABI (`uapi/src/abi.rs`, shared with userspace) as the
//!   module uses it: the request protocol (copy in, reserved words, trace
//!   info, `ENOSPC` with the needed length) and rejections as errnos.
//! - `vault.rs`: a vault (key table, quotas) and a handle (capabilities,
//!   visible keys).
//! - `key.rs`: a key: the only code that touches key material and the crypto
//!   engines; its lifecycle (creation, state, limits, nonces, drop).
//! - `crypto/`: safe wrappers over glue.c, the only calls into the kernel
//!   crypto library (`crypto/mod.rs` maps it).
//! - `secret.rs`: zeroize-on-drop buffers for key material and user data.
//! - `quota.rs`: per-user quotas across vaults. `stats.rs`: counters in
//!   debugfs. `trace.rs`: the `keyvault:*` tracepoints (trace.h/trace.c).
//! - `fdinstall.rs`: new file descriptions on the device, for DUP.
//! - `pure/`: core-only logic (request checks, Ed25519, HKDF, padding), also
//!   built and tested on the host as the crate keyvault-pure.
//!
//! The life of a request: the misc device's ioctl → `ops::dispatch` finds
//! the ioctl in the ABI's list and checks the handle's capability (`EPERM`
//! before the argument is read) → the handler reads the request
//! (`uapi::Arg::read`: `EFAULT`, reserved words) → request checks
//! (`pure/request.rs`) → the key (`Handle::key`, then `Key::authorize`:
//! `ENOENT`, `EOPNOTSUPP`, state, usage) → output room (`ENOSPC`) → the key's
//! limits (`Key::charge`: `EDQUOT`) → the operation (`Key::seal` etc., in
//! `key.rs`) → the kernel crypto (`crypto/`, glue.c) → the copies out → the
//! trace event (`trace::op`, on every exit path).
//!
//! Where new code goes:
//! - A validation rule that depends only on the request (and numbers such as
//!   a limit or the handle's capabilities) goes in `pure/request.rs`, with a
//!   host test in `pure/tests/`; one that needs the key, the vault or user
//!   memory stays in the handler. Reserved words are the `Request` impl in
//!   `uapi.rs` (one line per struct).
//! - New crypto: math the kernel lacks, or that must be checked against
//!   reference crates, is `pure/` Rust (as Ed25519 and HKDF are); a call into
//!   the kernel's crypto library is a small function in `glue.c` (inline
//!   functions and macros bindgen cannot see), declared in `crypto/ffi.rs`
//!   and wrapped once in `crypto/` (a typed owner per C resource); a key
//!   operation is a `Key` method that calls it.
//! - A new ioctl: one line in `kv_ioctl_list!`, its handler in `ops/` and a
//!   line in `route()`; the tests and the fuzzer iterate the list.

use kernel::{
    fs::File,
    miscdevice::{
        MiscDevice,
        MiscDeviceOptions,
        MiscDeviceRegistration, //
    },
    prelude::*,
    sync::{
        Arc,
        ArcBorrow, //
    },
    uaccess::UserPtr, //
};

#[path = "../uapi/src/abi.rs"]
#[allow(
    unreachable_pub,
    dead_code,
    reason = "the whole ABI is shared with userspace; the module uses part of it"
)]
mod abi;
mod crypto;
mod fdinstall;
mod key;
mod keyring;
mod ops;
#[allow(
    unreachable_pub,
    dead_code,
    reason = "a library shared with the host crate keyvault-pure, which uses every item"
)]
mod pure;
mod quota;
mod secret;
mod stats;
mod trace;
mod uapi;
mod vault;

use vault::Handle;

module! {
    type: KeyvaultModule,
    name: "keyvault",
    authors: ["keyvault developers"],
    description: "Kernel-resident cryptographic keys behind /dev/keyvault",
    license: "GPL",
    params: {
        max_keys_per_vault: u32 {
            default: 4096,
            description: "Most keys one vault (open file description) may hold",
        },
        max_key_bytes_per_vault: u32 {
            default: 262144,
            description: "Most key material bytes one vault may hold",
        },
        max_keys_per_user: u32 {
            default: 16384,
            description: "Most keys one user may hold across all vaults",
        },
        max_key_bytes_per_user: u32 {
            default: 1048576,
            description: "Most key material bytes one user may hold across all vaults",
        },
        max_data_bytes: u32 {
            default: 1048576,
            description: "Most input bytes of one operation (at most 64 MiB)",
        },
    },
}

/// The largest `max_data_bytes` the module accepts.
const MAX_DATA_HARD_LIMIT: u32 = 64 << 20;

#[pin_data]
struct KeyvaultModule {
    #[pin]
    _dev: MiscDeviceRegistration<KeyvaultDevice>,
    _stats: stats::StatsFile,
}

impl kernel::InPlaceModule for KeyvaultModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            // Checked before the device exists, so a bad parameter fails the load.
            _stats: {
                check_parameters()?;
                // SAFETY: the module initializer runs once, before the
                // device (the only way to reach `quota`) exists.
                unsafe { quota::init() };
                stats::StatsFile::new()?
            },
            _dev <- MiscDeviceRegistration::register(MiscDeviceOptions { name: c"keyvault" }),
        })
    }
}

/// An operation holds up to `max_data_bytes` in kernel memory (in and out):
/// refuse a limit that would let one caller pin too much.
fn check_parameters() -> Result {
    let max_data = module_parameters::max_data_bytes.value();
    if max_data > MAX_DATA_HARD_LIMIT {
        pr_err!("max_data_bytes is {max_data}, at most {MAX_DATA_HARD_LIMIT} is allowed\n");
        return Err(EINVAL);
    }
    Ok(())
}

/// The misc device's per-open-file state is a [`Handle`] on a vault.
struct KeyvaultDevice;

#[vtable]
impl MiscDevice for KeyvaultDevice {
    type Ptr = Arc<Handle>;

    fn open(file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Arc<Handle>> {
        // Keys, nonce prefixes and IVs come from the kernel CSPRNG: make
        // none before it is seeded (a signal interrupts the wait).
        crypto::wait_for_random()?;
        let owner = quota::Owner::new(file.cred().euid());
        Handle::new_vault(
            vault::Limits {
                max_data: module_parameters::max_data_bytes.value() as usize,
                user: quota::UserLimits {
                    max_keys: module_parameters::max_keys_per_user.value() as usize,
                    max_bytes: module_parameters::max_key_bytes_per_user.value() as usize,
                },
                max_keys: module_parameters::max_keys_per_vault.value(),
                max_key_bytes: module_parameters::max_key_bytes_per_vault.value(),
            },
            owner,
        )
    }

    // No compat_ioctl: every struct has one layout for 32- and 64-bit callers
    // (user pointers are u64), so the default compat_ptr_ioctl is exact.
    fn ioctl(handle: ArcBorrow<'_, Handle>, file: &File, cmd: u32, arg: usize) -> Result<isize> {
        // SAFETY: the misc device calls its ioctl only on its own files.
        let file = unsafe { fdinstall::VaultFile::new(file) };
        ops::dispatch(&handle, file, cmd, UserPtr::from_addr(arg)).map(|()| 0)
    }
}
