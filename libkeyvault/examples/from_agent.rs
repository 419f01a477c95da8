//! A service that gets its signing key from keyvault-agent by name: it asks
//! the broker ($KEYVAULT_AGENT_SOCK, else /run/keyvault/agent.sock) for a
//! handle that can only sign (and describe) with key NAME, signs its input
//! with it, and prints the signature in hex. The agent's policy decides
//! from who runs this; the signing is this process's own ioctl.
//!
//!   cargo run --release -p keyvault --example from_agent -- NAME < message

use keyvault::{agent, Caps, Vault};
use std::io::Read;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(name) = std::env::args().nth(1) else {
        eprintln!("usage: from_agent NAME < message");
        return ExitCode::from(2);
    };
    let (vault, ids) =
        match Vault::from_agent(agent::socket_path(), &[&name], Caps::SIGN | Caps::GETINFO) {
            Ok(got) => got,
            Err(e) => {
                eprintln!("from_agent: {e}");
                return ExitCode::FAILURE;
            }
        };
    let mut message = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut message) {
        eprintln!("from_agent: stdin: {e}");
        return ExitCode::FAILURE;
    }
    match vault.sign(ids[&name], &message) {
        Ok(sig) => {
            println!(
                "{}",
                sig.iter().map(|b| format!("{b:02x}")).collect::<String>()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("from_agent: sign: {e}");
            ExitCode::FAILURE
        }
    }
}
