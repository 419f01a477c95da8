//! Recording the module's tracepoints into a private tracefs instance.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where tracefs is mounted, mounting it if needed.
pub(crate) fn tracefs() -> PathBuf {
    let usual = Path::new("/sys/kernel/tracing");
    if !usual.join("instances").exists() {
        let _ = Command::new("mount")
            .args(["-t", "tracefs", "nodev", "/sys/kernel/tracing"])
            .status();
    }
    for root in [usual, Path::new("/sys/kernel/debug/tracing")] {
        if root.join("instances").exists() {
            return root.to_path_buf();
        }
    }
    panic!("no tracefs: mount -t tracefs nodev /sys/kernel/tracing failed");
}

/// A tracefs instance recording the keyvault events; disabled and removed on drop.
pub(crate) struct Trace {
    dir: PathBuf,
}

impl Trace {
    /// A new instance with every keyvault event enabled and an empty buffer.
    pub(crate) fn start() -> Self {
        Self::start_with(&[])
    }

    /// A new instance recording only `names` (events under
    /// `events/keyvault/`; every keyvault event when empty), so a busy test
    /// cannot push the events it counts out of the buffer.
    pub(crate) fn start_with(names: &[&str]) -> Self {
        let root = tracefs();
        let events = root.join("events/keyvault");
        assert!(
            events.join("keyvault_op").exists(),
            "{} has no keyvault_op: the module's tracepoints are missing",
            events.display()
        );
        let dir = root.join(format!("instances/kv-tests-{}", std::process::id()));
        let _ = std::fs::remove_dir(&dir);
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        let t = Trace { dir };
        // A large buffer: every event of a test must still be there.
        t.write("buffer_size_kb", "4096");
        if names.is_empty() {
            t.write("events/keyvault/enable", "1");
        }
        for e in names {
            t.write(&format!("events/keyvault/{e}/enable"), "1");
        }
        t.clear();
        t
    }

    pub fn write(&self, file: &str, what: &str) {
        let path = self.dir.join(file);
        std::fs::write(&path, what).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    /// Empties the ring buffer (opening `trace` for writing with O_TRUNC).
    pub fn clear(&self) {
        self.write("trace", "");
    }

    /// The buffer as text (reading `trace` does not consume it).
    pub(crate) fn text(&self) -> String {
        let path = self.dir.join("trace");
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The raw ring-buffer pages of every CPU, consumed (best effort: what
    /// can be read without blocking).
    pub(crate) fn raw_pages(&self) -> Vec<u8> {
        let mut all = Vec::new();
        let Ok(cpus) = std::fs::read_dir(self.dir.join("per_cpu")) else {
            return all;
        };
        for cpu in cpus.flatten() {
            use std::os::unix::fs::OpenOptionsExt;
            let Ok(mut f) = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(cpu.path().join("trace_pipe_raw"))
            else {
                continue;
            };
            let mut page = vec![0u8; 4096];
            for _ in 0..2048 {
                match f.read(&mut page) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => all.extend_from_slice(&page[..n]),
                }
            }
        }
        all
    }
}

impl Drop for Trace {
    fn drop(&mut self) {
        let _ = std::fs::write(self.dir.join("events/keyvault/enable"), "0");
        if let Err(e) = std::fs::remove_dir(&self.dir) {
            eprintln!("    could not remove {}: {e}", self.dir.display());
        }
    }
}

/// The keyvault lines of a trace (for failure messages).
pub fn keyvault_lines(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("keyvault_")).collect();
    let skip = lines.len().saturating_sub(80);
    lines[skip..].join("\n")
}

/// Whether `line` contains `needle` followed by whitespace or the line's
/// end (so `key=1` does not match `key=12`).
pub fn has(line: &str, needle: &str) -> bool {
    line.match_indices(needle).any(|(i, _)| {
        line[i + needle.len()..]
            .chars()
            .next()
            .is_none_or(char::is_whitespace)
    })
}

/// How many trace lines contain `needle` (an event name and its fields).
pub(crate) fn count(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| has(l, needle)).count()
}
