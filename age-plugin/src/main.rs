//! age-plugin-keyvault: age's plugin protocol (identity side) for X25519
//! keys that live in /dev/keyvault. The identity names a key; the X25519
//! agreement, the HKDF and the file key's decryption happen in the kernel.
//! agent/PROTOCOL.md ("age-plugin-keyvault") documents it.

mod identity;
mod kernel;
mod plugin;
mod x25519;

use clap::{ArgGroup, Parser};
use identity::KeyName;
use kernel::Finder;
use std::process::ExitCode;
use x25519::{Agreement, Failure};

/// age identities whose X25519 keys live in the kernel (/dev/keyvault)
///
/// age runs this plugin for identities `AGE-PLUGIN-KEYVAULT-1...` (found on
/// PATH by that name). An identity names a vault key; the key is found in
/// the vault handed in $KEYVAULT_FD (under `kvctl exec --keystore DIR
/// --root KEY -- age -d -i FILE ...`, its id in $KEYVAULT_KEY_<NAME>), or
/// else through keyvault-agent ($KEYVAULT_AGENT_SOCK, default
/// /run/keyvault/agent.sock; the policy must give `exchange` and `getinfo`
/// on the key). Files are encrypted with any age to the key's plain
/// `age1...` recipient.
#[derive(Parser, Debug)]
#[command(version, after_help = EXAMPLES, group(ArgGroup::new("what").required(true).args(["age_plugin", "identity", "recipient", "man"])))]
struct Cli {
    /// Run age's plugin state machine (age passes --age-plugin=identity-v1).
    #[arg(long, value_name = "STATE_MACHINE")]
    age_plugin: Option<String>,
    /// Print the identity file of the X25519 key NAME: its name, its
    /// recipient and the identity line (for `age -d -i FILE`).
    #[arg(long, value_name = "NAME", value_parser = KeyName::parse)]
    identity: Option<KeyName>,
    /// Print the age recipient (age1...) to encrypt to, of the key NAME
    /// or of an identity (AGE-PLUGIN-KEYVAULT-1...), as `age-keygen -y`.
    #[arg(long, value_name = "NAME|IDENTITY", value_parser = name_or_identity)]
    recipient: Option<KeyName>,
    /// Print this manual page (roff) and exit (the package's age-plugin-keyvault(1)).
    #[arg(long, hide = true)]
    man: bool,
}

const EXAMPLES: &str = "Examples:
  age-plugin-keyvault --identity age-id > id.txt
  age -r \"$(age-plugin-keyvault --recipient age-id)\" -o f.age f
  age -d -i id.txt f.age";

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.man {
        use clap::CommandFactory;
        return match clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&format!("writing the manual page: {e}")),
        };
    }
    if let Some(state_machine) = cli.age_plugin {
        return match age_plugin::run_state_machine(
            &state_machine,
            plugin::Handler(Finder::default()),
        ) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&format!("--age-plugin={state_machine}: {e}")),
        };
    }
    let (name, whole) = match (cli.identity, cli.recipient) {
        (Some(name), _) => (name, true),
        (None, Some(name)) => (name, false),
        (None, None) => unreachable!("clap requires one of the group (--man returned above)"),
    };
    let public = match Finder::default()
        .find(&name)
        .map_err(Failure::Key)
        .and_then(|mut key| key.public_key())
    {
        Ok(p) => p,
        Err(Failure::Key(m) | Failure::BadShare(m)) => return fail(&m),
    };
    if whole {
        print!("{}", identity::identity_file(&name, &public));
    } else {
        println!("{}", identity::encode_recipient(&public));
    }
    ExitCode::SUCCESS
}

fn name_or_identity(s: &str) -> Result<KeyName, String> {
    let prefix = "AGE-PLUGIN-";
    if s.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    {
        identity::decode_identity(s)
    } else {
        KeyName::parse(s)
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("age-plugin-keyvault: {message}");
    ExitCode::FAILURE
}
