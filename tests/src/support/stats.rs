//! The module's debugfs counters (`/sys/kernel/debug/keyvault/stats`).

// ---------------------------------------------------------------- helpers

pub const STATS: &str = "/sys/kernel/debug/keyvault/stats";

/// The module-wide count of live keys (debugfs).
pub fn live_keys() -> u64 {
    let text = std::fs::read_to_string(STATS).unwrap_or_else(|e| panic!("{STATS}: {e}"));
    text.lines()
        .find_map(|l| l.strip_prefix("keys:")?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no 'keys:' in {STATS}: {text}"))
}

/// One module-wide counter (`vaults`, `keys`, `key_bytes`, `users`).
pub fn stat(name: &str) -> u64 {
    let text = std::fs::read_to_string(STATS).unwrap_or_else(|e| panic!("{STATS}: {e}"));
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no '{name}:' in {STATS}: {text}"))
}

/// The module-wide counters: (vaults, keys, key_bytes).
pub fn stats() -> (u64, u64, u64) {
    (stat("vaults"), stat("keys"), stat("key_bytes"))
}
