//! keyvault's integration tests, run inside the test VM (`make test`) with
//! the module loaded: every ioctl through libkeyvault and raw ioctls.
//!
//! Usage: kv-vmtests [FILTER]   (runs the tests whose `file::name`, e.g.
//! `kv_vmtests::races::concurrent_destroys_of_one_key_succeed_exactly_once`,
//! contains FILTER: `races::` selects a file)

// One file (or directory) per ioctl family, as kmod/ops/ is split, then the
// cross-cutting concerns; support/ is what they share.
mod aead;
mod asym;
mod caps;
mod cbc;
mod crypto;
mod faults;
mod hardening;
mod hostile;
mod kdf;
mod keyring;
mod keys;
mod lifecycle;
mod limits;
mod lineage;
mod mac;
mod module;
mod races;
mod secrets;
mod sharing;
mod support;
mod tracing;
mod vectors;
mod wrap;

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
    tests.extend(limits::tests());
    tests.extend(sharing::tests());
    tests.extend(hostile::tests());
    tests.extend(aead::tests());
    tests.extend(cbc::tests());
    tests.extend(mac::tests());
    tests.extend(crypto::tests());
    tests.extend(vectors::wycheproof::tests());
    tests.extend(lifecycle::tests());
    tests.extend(module::tests());
    tests.extend(tracing::tests());
    tests.extend(races::tests());
    tests.extend(asym::tests());
    tests.extend(kdf::tests());
    tests.extend(lineage::tests());
    tests.extend(wrap::tests());
    tests.extend(keyring::tests());
    tests.extend(vectors::asym_wycheproof::tests());
    tests.extend(secrets::tests());
    tests.extend(hardening::tests());
    tests.extend(faults::tests());
    tests.extend(module::last());
    let filter = std::env::args().nth(1);
    let (passed, failed) = support::harness::run(tests, filter.as_deref());
    println!("{passed} passed, {failed} failed");
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
