//! The agent's keys: one vault for the agent's lifetime, and the names its
//! keys are found by (ids change every start; names do not).

use keyvault::{Algorithm, KeyId, Vault};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// Where a key came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Unwrapped from the keystore at start.
    Keystore,
    /// Made at start from a `[[key]]` of the policy.
    Generated,
    /// Sent by `ssh-add`; destroyed when removed.
    SshAdded {
        /// ADD_ID_CONSTRAINED's confirm: ask `$SSH_ASKPASS` before each use.
        confirm: bool,
        /// The comment it was sent with, shown by `ssh-add -l` (the name is
        /// the comment when that is a valid, free key name).
        comment: String,
        /// ADD_ID_CONSTRAINED's lifetime: when the kernel expires it, and
        /// the agent forgets it.
        expires: Option<Instant>,
    },
}

/// One named key of the agent's vault.
#[derive(Clone, Debug)]
pub struct AgentKey {
    /// Its name: a keystore file's, a `[[key]]`'s, or an ssh key's comment.
    pub name: String,
    pub id: KeyId,
    pub alg: Algorithm,
    pub origin: Origin,
}

/// The agent's vault and its named keys, shared by every connection.
pub struct Agent {
    pub vault: Arc<Vault>,
    keys: Mutex<Vec<AgentKey>>,
}

impl Agent {
    pub fn new(vault: Vault, keys: Vec<AgentKey>) -> Self {
        Self {
            vault: Arc::new(vault),
            keys: Mutex::new(keys),
        }
    }

    /// The table, locked (a panicking holder cannot leave it half-changed:
    /// every change is one push or one remove).
    pub fn keys(&self) -> MutexGuard<'_, Vec<AgentKey>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The key called `name`.
    pub fn by_name(&self, name: &str) -> Option<AgentKey> {
        self.keys().iter().find(|k| k.name == name).cloned()
    }

    /// Every key, in the order they were added.
    pub fn all(&self) -> Vec<AgentKey> {
        self.keys().clone()
    }

    /// Adds a key; `false` (nothing added) when the name is taken.
    pub fn add(&self, key: AgentKey) -> bool {
        let mut keys = self.keys();
        if keys.iter().any(|k| k.name == key.name) {
            return false;
        }
        keys.push(key);
        true
    }

    /// Puts `key` in the place of the key `old` (same position), unless
    /// another key already has `key`'s name; `false`: nothing changed.
    pub fn replace(&self, old: KeyId, key: AgentKey) -> bool {
        let mut keys = self.keys();
        if keys.iter().any(|k| k.name == key.name && k.id != old) {
            return false;
        }
        match keys.iter_mut().find(|k| k.id == old) {
            Some(slot) => {
                *slot = key;
                true
            }
            None => false,
        }
    }

    /// Removes the key with this id from the table (the caller destroys it
    /// in the vault if it should go there too).
    pub fn remove(&self, id: KeyId) -> Option<AgentKey> {
        let mut keys = self.keys();
        let at = keys.iter().position(|k| k.id == id)?;
        Some(keys.remove(at))
    }
}
