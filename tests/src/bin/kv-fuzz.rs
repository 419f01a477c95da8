//! kv-fuzz: the keyvault ioctl fuzzer (run it in the test VM, as root,
//! with the module loaded). See `kv-fuzz --help` and tests/src/fuzz/.

#[path = "../fuzz/mod.rs"]
mod fuzz;

fn main() {
    std::process::exit(fuzz::main());
}
