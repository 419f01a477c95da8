//! keyvault's integration tests, run inside the test VM (`make test`) with
//! the module loaded: every ioctl through libkeyvault and raw ioctls.
//!
//! Usage: kv-vmtests [FILTER]   (runs the tests whose `file::name`, e.g.
//! `kv_vmtests::races::concurrent_destroys_of_one_key_succeed_exactly_once`,
//! contains FILTER: `races::` selects a file)

mod asym;
mod asym_wycheproof;
mod caps;
mod crypto;
mod faults;
mod harness;
mod hardening;
mod hostile;
mod keys;
mod lifecycle;
mod module;
mod races;
mod secrets;
mod sharing;
mod tracing;
mod util;
mod wycheproof;

fn main() {
    // The module's counters live in debugfs.
    if !std::path::Path::new("/sys/kernel/debug/keyvault").exists() {
        let _ = std::process::Command::new("mount")
            .args(["-t", "debugfs", "none", "/sys/kernel/debug"])
            .status();
    }
    let mut tests = module::first();
    tests.extend(keys::tests());
    tests.extend(caps::tests());
    tests.extend(sharing::tests());
    tests.extend(hostile::tests());
    tests.extend(crypto::tests());
    tests.extend(wycheproof::tests());
    tests.extend(lifecycle::tests());
    tests.extend(tracing::tests());
    tests.extend(races::tests());
    tests.extend(asym::tests());
    tests.extend(asym_wycheproof::tests());
    tests.extend(secrets::tests());
    tests.extend(hardening::tests());
    tests.extend(faults::tests());
    tests.extend(module::last());
    let filter = std::env::args().nth(1);
    let (passed, failed) = harness::run(tests, filter.as_deref());
    println!("{passed} passed, {failed} failed");
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
