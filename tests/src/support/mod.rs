//! What the test files share: the runner and its assertions (harness), the
//! raw-request layer (raw: one builder per request struct and the raw
//! calls), valid requests for every ioctl (fixture), memory for hostile
//! pointers (mem), test data (data), host reference crypto (host),
//! processes, users and fds (procs), the kernel keyring (keyring), the module's debugfs counters (stats)
//! and tracepoint recording (trace). Test files `use crate::support::*`.

pub mod data;
pub mod fixture;
pub mod harness;
pub mod host;
#[allow(dead_code)] // also the fuzzer's (by path): each binary uses part of it
pub mod keyring;
pub mod mem;
pub mod procs;
pub mod raw;
pub mod stats;
pub mod trace;

pub use data::*;
pub use fixture::*;
pub use harness::*;
pub use host::*;
pub use keyring::*;
pub use mem::*;
pub use procs::*;
pub use raw::*;
pub use stats::*;
pub use trace::*;
