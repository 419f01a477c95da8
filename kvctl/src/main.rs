//! The kvctl binary: all of kvctl is in its library (src/lib.rs), which the
//! kvctl-docs binary shares to make the man pages and shell completions.

fn main() -> std::process::ExitCode {
    kvctl::run()
}
