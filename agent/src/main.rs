//! keyvault-agent: holds one vault for its lifetime, loads its named keys
//! (the keystore, `[[key]]`s), and offers them on a broker socket (restricted
//! vault handles over SCM_RIGHTS, by policy) and an ssh-agent socket.
//! PROTOCOL.md documents the policy file and both protocols.

mod broker;
mod config;
mod keys;
mod listen;
mod peer;
mod policy;
mod ssh;

use clap::Parser;
use config::Policy;
use keys::{Agent, AgentKey, Origin};
use keyvault::{KeyOptions, Vault};
use listen::{Conn, Limit, Made};
use nix::sys::signal::{SigSet, Signal};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::Arc;

/// One line on stderr (journald keeps it, with the time and the unit).
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {
        eprintln!("keyvault-agent: {}", format_args!($($arg)*))
    };
}

/// Kernel-held keys, by name, for local services, ssh and age
///
/// Holds one /dev/keyvault vault for its lifetime and loads its named keys
/// at start (the keystore of `kvctl keystore add`, unwrapped under its
/// kernel-keyring root; keys made from `[[key]]`). On the broker socket a
/// local program asks for keys by name and capabilities; when a rule of the
/// policy matches the peer (SO_PEERCRED uid/gid, its executable, its
/// systemd unit) it receives a vault handle limited to them (KV_IOC_DUP,
/// over SCM_RIGHTS) and does its own ioctls. On the ssh-agent socket it
/// speaks OpenSSH's agent protocol, signing with keys that never leave the
/// kernel. The policy file and both protocols: /usr/share/doc/kvctl/PROTOCOL.md.
/// Clients: `kvctl agent`, `Vault::from_agent` (Rust), ssh (SSH_AUTH_SOCK),
/// age-plugin-keyvault.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    /// The policy file (TOML; see PROTOCOL.md).
    #[arg(long, short, value_name = "FILE", default_value = config::DEFAULT_PATH)]
    config: PathBuf,
    /// Check the policy file and exit (0 when it is valid).
    #[arg(long)]
    check: bool,
    /// Print this manual page (roff) and exit (the package's keyvault-agent(1)).
    #[arg(long, hide = true)]
    man: bool,
}

/// Everything a connection handler needs.
pub struct Shared {
    pub agent: Agent,
    pub policy: Policy,
    pub ssh: ssh::SshState,
}

fn main() {
    let cli = Cli::parse();
    if cli.man {
        use clap::CommandFactory;
        let page = clap_mangen::Man::new(Cli::command());
        if let Err(e) = page.render(&mut std::io::stdout()) {
            log!("writing the manual page: {e}");
            std::process::exit(1);
        }
        return;
    }
    let policy = match Policy::load(&cli.config) {
        Ok(p) => p,
        Err(e) => {
            log!("{e}");
            std::process::exit(2);
        }
    };
    if cli.check {
        println!("{}: ok, {} rules", cli.config.display(), policy.rules.len());
        return;
    }
    if let Err(e) = run(policy) {
        log!("{e}");
        std::process::exit(1);
    }
}

/// Opens the vault and makes or loads every named key.
fn load_keys(policy: &Policy) -> Result<Agent, String> {
    let vault = Vault::open().map_err(|e| format!("{e}"))?;
    let mut keys = Vec::new();
    if let Some(ks) = &policy.keystore {
        let store = kvctl::keystore::StoreArgs {
            keystore: ks.dir.clone(),
            root: ks.root.clone(),
            root_alg: ks.root_alg,
        };
        let loaded = kvctl::keystore::load(&vault, &store)
            .map_err(|e| format!("keystore {}: {e}", ks.dir.display()))?;
        for (name, id) in loaded {
            let info = vault.info(id).map_err(|e| format!("key {name}: {e}"))?;
            let alg = info
                .algorithm
                .ok_or_else(|| format!("key {name}: unknown algorithm {}", info.algorithm_raw))?;
            keys.push(AgentKey {
                name,
                id,
                alg,
                origin: Origin::Keystore,
            });
        }
    }
    for g in &policy.generated {
        if keys.iter().any(|k: &AgentKey| k.name == g.name) {
            return Err(format!(
                "key '{}' is in the keystore and in [[key]]",
                g.name
            ));
        }
        let mut opts = KeyOptions::default();
        if let Some(u) = g.usage {
            opts.usage = u;
        }
        let id = vault
            .generate_with(g.alg, &opts)
            .map_err(|e| format!("key {}: {e}", g.name))?;
        keys.push(AgentKey {
            name: g.name.clone(),
            id,
            alg: g.alg,
            origin: Origin::Generated,
        });
    }
    Ok(Agent::new(vault, keys))
}

fn run(policy: Policy) -> Result<(), String> {
    // SIGTERM/SIGINT/SIGHUP are taken by the main thread (sigwait below):
    // blocked here, before any thread exists, so every thread inherits the
    // mask. SIGPIPE is ignored (writes use MSG_NOSIGNAL or get EPIPE).
    let mut stop = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        stop.add(s);
    }
    stop.thread_block()
        .map_err(|e| format!("sigprocmask: {e}"))?;
    // SAFETY: SIG_IGN installs no handler code; nothing else in this
    // process sets SIGPIPE's disposition.
    unsafe { nix::sys::signal::signal(Signal::SIGPIPE, nix::sys::signal::SigHandler::SigIgn) }
        .map_err(|e| format!("SIGPIPE: {e}"))?;

    let mut activated = listen::activated()?;
    // Socket-activated, the agent serves the sockets systemd passed and
    // binds none itself (the service may not write /run; the socket units
    // say where the sockets are); started by hand, the policy's paths.
    let by_hand = activated.is_empty();
    let mut take = |name: &str| {
        activated
            .iter()
            .position(|(n, _)| n == name)
            .map(|i| activated.remove(i).1)
    };
    let mut made = Made::default();
    let broker_listener: Option<UnixListener> = match (take("broker"), &policy.socket) {
        (Some(l), _) => Some(l),
        (None, Some(path)) if by_hand => {
            let l = listen::bind(path, 0o666)?;
            made.0.push(path.clone());
            Some(l)
        }
        (None, _) => None,
    };
    let ssh_listener: Option<UnixListener> = match (take("ssh"), &policy.ssh_socket) {
        (Some(l), _) => Some(l),
        (None, Some(path)) if by_hand => {
            let mode = if policy.ssh_allow_uids.is_empty() {
                0o600
            } else {
                0o666
            };
            let l = listen::bind(path, mode)?;
            made.0.push(path.clone());
            Some(l)
        }
        (None, _) => None,
    };
    if broker_listener.is_none() && ssh_listener.is_none() {
        made.remove_all();
        return Err(
            "no socket: set agent.socket and/or agent.ssh_socket, or socket-activate".into(),
        );
    }
    let agent = match load_keys(&policy) {
        Ok(a) => a,
        Err(e) => {
            made.remove_all();
            return Err(e);
        }
    };
    let names: Vec<String> = agent.all().iter().map(|k| k.name.clone()).collect();
    log!(
        "ready: {} keys ({}), broker {}, ssh-agent {}",
        names.len(),
        names.join(", "),
        policy
            .socket
            .as_ref()
            .map_or("-".into(), |p| p.display().to_string()),
        policy
            .ssh_socket
            .as_ref()
            .map_or("-".into(), |p| p.display().to_string()),
    );
    let limit = Limit::new(policy.max_clients, policy.max_clients_per_uid);
    let shared = Arc::new(Shared {
        ssh: ssh::SshState::new(&policy),
        agent,
        policy,
    });
    if let Some(l) = broker_listener {
        let s = shared.clone();
        let serve: Arc<dyn Fn(Conn) + Send + Sync> = Arc::new(move |c| broker::serve(&s, c));
        let busy = Some(broker::busy_line());
        let limit = limit.clone();
        std::thread::spawn(move || listen::serve_forever("broker", l, limit, busy, serve));
    }
    if let Some(l) = ssh_listener {
        let s = shared.clone();
        let serve: Arc<dyn Fn(Conn) + Send + Sync> = Arc::new(move |c| ssh::serve(&s, c));
        let limit = limit.clone();
        std::thread::spawn(move || listen::serve_forever("ssh", l, limit, None, serve));
    }
    let sig = stop.wait().map_err(|e| format!("sigwait: {e}"))?;
    log!("{sig:?}: stopping (the vault and its keys go with this process)");
    made.remove_all();
    Ok(())
}
