//! `kvctl agent`: a client of keyvault-agent's broker (agent/PROTOCOL.md).
//! `list` says what this process may have; `exec` asks for a handle limited
//! to named keys and capabilities and runs a command with it, as
//! `kvctl exec --keystore` does with a keystore: the keys' ids in
//! `$KEYVAULT_KEY_<NAME>` and `$KEYVAULT_KEYS`.

use crate::fail::{Fail, Kind};
use crate::inout::print_line;
use crate::keystore;
use keyvault::agent::{self, AgentError};
use keyvault::{Caps, ErrorKind, Vault};
use serde_json::json;
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(clap::Subcommand, Clone, Debug, PartialEq)]
pub enum AgentCmd {
    /// What keyvault-agent would give this process: its keys' names,
    /// algorithms and the capabilities the policy allows on each.
    List {
        /// The broker socket (default: $KEYVAULT_AGENT_SOCK, else /run/keyvault/agent.sock).
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
    },
    /// Ask keyvault-agent for a handle that sees only the keys NAME and has
    /// only CAPS, and run CMD with it as $KEYVAULT_FD; key NAME's id is in
    /// $KEYVAULT_KEY_NAME (upper case, - as _), all of them in
    /// $KEYVAULT_KEYS. The agent decides from its policy and who kvctl is.
    Exec {
        /// The broker socket (default: $KEYVAULT_AGENT_SOCK, else /run/keyvault/agent.sock).
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
        /// The keys, by name (repeat, or comma-separated).
        #[arg(long = "key", value_name = "NAME,...", value_delimiter = ',', required = true,
              value_parser = keystore::parse_name)]
        names: Vec<String>,
        /// The capabilities, e.g. sign,getinfo.
        #[arg(long)]
        caps: Caps,
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        cmd: Vec<OsString>,
    },
}

/// The exit status of a refusal, as for the same refusal by the module.
impl From<AgentError> for Fail {
    fn from(e: AgentError) -> Fail {
        let kind = match &e {
            AgentError::Connect { .. } => Kind::Vault(ErrorKind::NoDevice),
            AgentError::Refused(r) => match r.kind.as_str() {
                "policy" => Kind::Vault(ErrorKind::PermissionDenied),
                "unknown-key" => Kind::Vault(ErrorKind::KeyNotFound),
                "bad-request" => Kind::INVALID,
                _ => Kind::Vault(ErrorKind::Other),
            },
            AgentError::Protocol(_) => Kind::Vault(ErrorKind::Other),
            AgentError::Vault(v) => Kind::Vault(v.kind()),
        };
        Fail::new(kind, e.to_string())
    }
}

pub fn run(cmd: AgentCmd, json: bool) -> Result<(), Fail> {
    match cmd {
        AgentCmd::List { socket } => {
            let listed = agent::list(socket.unwrap_or_else(agent::socket_path))?;
            if json {
                return print_line(json!(listed
                    .iter()
                    .map(|l| json!({"name": l.name, "alg": l.alg, "caps": l.caps}))
                    .collect::<Vec<_>>()));
            }
            for l in listed {
                print_line(format!("{}: {}, {}", l.name, l.alg, l.caps.join(",")))?;
            }
            Ok(())
        }
        AgentCmd::Exec {
            socket,
            names,
            caps,
            cmd,
        } => {
            let socket = socket.unwrap_or_else(agent::socket_path);
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let (vault, ids): (Vault, _) = Vault::from_agent(&socket, &refs, caps)?;
            let loaded: Vec<(String, keyvault::KeyId)> = ids.into_iter().collect();
            crate::exec_with(vault, keystore::env(&loaded), &cmd)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_args as parse, Cmd};

    #[test]
    fn agent_exec_takes_names_caps_and_a_command() {
        let Ok(Cmd::Agent {
            cmd:
                AgentCmd::Exec {
                    socket,
                    names,
                    caps,
                    cmd,
                },
        }) = parse(&[
            "agent",
            "exec",
            "--key",
            "a,b-2",
            "--key",
            "c",
            "--caps",
            "sign,getinfo",
            "--",
            "env",
            "-0",
        ])
        else {
            panic!("agent exec")
        };
        assert_eq!(socket, None);
        assert_eq!(names, ["a", "b-2", "c"]);
        assert_eq!(caps, Caps::SIGN | Caps::GETINFO);
        assert_eq!(cmd, ["env", "-0"]);
        assert!(
            parse(&["agent", "exec", "--caps", "sign", "--", "env"]).is_err(),
            "no key"
        );
        assert!(parse(&["agent", "exec", "--key", "a/b", "--caps", "sign", "--", "env"]).is_err());
        assert!(parse(&["agent", "list", "--socket", "/x"]).is_ok());
    }

    #[test]
    fn no_agent_is_exit_3_naming_the_socket() {
        let f: Fail = agent::list("/nonexistent/kv.sock").unwrap_err().into();
        assert_eq!(f.exit_code(), 3);
        assert!(f.to_string().contains("/nonexistent/kv.sock"), "{f}");
    }
}
