//! What the run ran on, for the report's header and the JSON's `meta`:
//! the kernel (uname), the guest CPU and its crypto flags, keyvault's
//! module parameters, the accelerator scripts/vm chose, and the date.

/// The machine the report describes.
pub struct Host {
    /// uname: release, version, machine.
    pub krel: String,
    pub kver: String,
    pub arch: String,
    /// The guest CPU's model, count and flags of interest.
    pub cpu: String,
    pub ncpu: usize,
    pub feats: String,
    /// KVM or TCG, as scripts/bench passed it (KV_BENCH_ACCEL).
    pub accel: String,
    /// The host's CPU, as scripts/bench passed it (KV_BENCH_HOST_CPU).
    pub host_cpu: String,
    pub params: Vec<(String, String)>,
}

impl Host {
    pub fn read() -> Host {
        let (krel, kver, arch) = uname();
        let (cpu, ncpu, feats) = cpu_model();
        let accel = std::env::var("KV_BENCH_ACCEL")
            .ok()
            .filter(|s| !s.is_empty())
            .map(|s| s.to_uppercase())
            .unwrap_or_else(|| "unknown (not run through scripts/bench)".into());
        let host_cpu = std::env::var("KV_BENCH_HOST_CPU").unwrap_or_default();
        let params = module_params();
        Host {
            krel,
            kver,
            arch,
            cpu,
            ncpu,
            feats,
            accel,
            host_cpu,
            params,
        }
    }
}

fn uname() -> (String, String, String) {
    // SAFETY: uname fills the struct; all-zero is valid.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer.
    if unsafe { libc::uname(&mut u) } != 0 {
        return Default::default();
    }
    let s = |f: &[libc::c_char]| {
        let b: Vec<u8> = f
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        String::from_utf8_lossy(&b).into_owned()
    };
    (s(&u.release), s(&u.version), s(&u.machine))
}

fn cpu_model() -> (String, usize, String) {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let n = info.lines().filter(|l| l.starts_with("processor")).count();
    let flags = field("flags");
    let has = |f: &str| flags.split_whitespace().any(|x| x == f);
    let feats: Vec<&str> = ["aes", "pclmulqdq", "avx2", "sha_ni", "hypervisor"]
        .into_iter()
        .filter(|f| has(f))
        .collect();
    (field("model name"), n, feats.join(" "))
}

fn module_params() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::fs::read_dir("/sys/module/keyvault/parameters")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| {
                    let val = std::fs::read_to_string(e.path()).unwrap_or_default();
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        val.trim().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if v.is_empty() {
        // The module does not show its parameters in sysfs: take what
        // scripts/bench passed to insmod (the rest are the defaults).
        v = std::env::var("KV_BENCH_PARAMS")
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, val)| (k.to_string(), val.to_string()))
            .collect();
    }
    v.sort();
    v
}

/// UTC date and time from the system clock (no date crate needed).
pub fn utc_now() -> (String, String) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    (
        format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC"),
        format!("{y:04}-{m:02}-{d:02}T{h:02}{mi:02}{s:02}Z"),
    )
}

/// Did scripts/vm run the VM under TCG (KV_BENCH_ACCEL)?
pub fn accel_is_tcg() -> bool {
    std::env::var("KV_BENCH_ACCEL").is_ok_and(|a| a.eq_ignore_ascii_case("tcg"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil() {
        let (human, stamp) = utc_now();
        assert!(human.ends_with(" UTC") && human.len() == 23, "{human}");
        assert!(stamp.ends_with('Z') && stamp.len() == 18, "{stamp}");
    }
}
