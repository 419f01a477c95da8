//! Kernel keyring keys named on the command line: a serial, or
//! `%TYPE:DESC`, looked up as keyctl(1) does, with keyctl(KEYCTL_SEARCH).
//! Only the serial is needed: the kernel reads the payload itself
//! (IMPORT_KEYRING), so the key's bytes never reach kvctl.

use crate::fail::{Fail, Kind};
use nix::errno::Errno;
use std::ffi::CString;
use std::fmt;
use std::str::FromStr;

/// `KEYCTL_SEARCH` (include/uapi/linux/keyctl.h; libc does not define it).
const KEYCTL_SEARCH: libc::c_long = 10;

/// The keyrings `%TYPE:DESC` is searched in, in this order (each search
/// also descends into the keyrings linked from it, as keyctl's does): the
/// first match wins.
pub const SEARCHED: [(i32, &str); 3] = [
    (-3, "session"),      // KEY_SPEC_SESSION_KEYRING, @s
    (-4, "user"),         // KEY_SPEC_USER_KEYRING, @u
    (-5, "user-session"), // KEY_SPEC_USER_SESSION_KEYRING, @us
];

/// A kernel keyring key: by serial, or by type and description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyringRef {
    /// A `key_serial_t`, as `keyctl add` prints it.
    Serial(i32),
    /// `%TYPE:DESC`, e.g. `%trusted:kvroot`.
    Described {
        /// The key type (`logon`, `user`, `trusted`, `encrypted`).
        ktype: String,
        /// Its description.
        desc: String,
    },
}

impl fmt::Display for KeyringRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyringRef::Serial(s) => write!(f, "{s}"),
            KeyringRef::Described { ktype, desc } => write!(f, "%{ktype}:{desc}"),
        }
    }
}

impl FromStr for KeyringRef {
    type Err = String;
    /// A serial (decimal, or hex with 0x) or `%TYPE:DESC`.
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(rest) = s.strip_prefix('%') {
            return match rest.split_once(':') {
                Some((t, d)) if !t.is_empty() && !d.is_empty() && !s.contains('\0') => {
                    Ok(KeyringRef::Described {
                        ktype: t.into(),
                        desc: d.into(),
                    })
                }
                _ => Err(format!(
                    "'{s}': a keyring key is %TYPE:DESC, e.g. %trusted:kvroot or %logon:myapp:root"
                )),
            };
        }
        let serial = match s.strip_prefix("0x") {
            Some(hex) => i32::from_str_radix(hex, 16),
            None => s.parse(),
        };
        match serial {
            Ok(n) if n > 0 => Ok(KeyringRef::Serial(n)),
            _ => Err(format!(
                "'{s}' is neither a key serial (a positive number, as keyctl add prints) \
                 nor %TYPE:DESC"
            )),
        }
    }
}

impl KeyringRef {
    /// The key's serial: as given, or the first key of that type and
    /// description found in the [`SEARCHED`] keyrings.
    pub fn serial(&self) -> Result<i32, Fail> {
        let (ktype, desc) = match self {
            KeyringRef::Serial(s) => return Ok(*s),
            KeyringRef::Described { ktype, desc } => (ktype, desc),
        };
        let c = |s: &str| CString::new(s).map_err(|_| format!("{self}: contains a NUL byte"));
        let (ct, cd) = (c(ktype)?, c(desc)?);
        let mut refused = Vec::new();
        for (ring, name) in SEARCHED {
            // SAFETY: keyctl(KEYCTL_SEARCH, keyring, type, description,
            // dest_keyring): two NUL-terminated strings that outlive the
            // call, and 0 for "link the key nowhere"; the kernel keeps no
            // pointer.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_keyctl,
                    KEYCTL_SEARCH,
                    libc::c_long::from(ring),
                    ct.as_ptr(),
                    cd.as_ptr(),
                    0 as libc::c_long,
                )
            };
            match Errno::result(r) {
                Ok(serial) => {
                    return i32::try_from(serial).map_err(|_| {
                        Fail::new(
                            Kind::Vault(keyvault::ErrorKind::Other),
                            format!("{self}: keyctl returned serial {serial}"),
                        )
                    })
                }
                Err(Errno::ENOKEY) => {}
                Err(e) => refused.push(format!("{name} keyring: {e}")),
            }
        }
        let why = if refused.is_empty() {
            String::new()
        } else {
            format!(" ({})", refused.join("; "))
        };
        Err(Fail::new(
            Kind::Vault(keyvault::ErrorKind::KeyNotFound),
            format!("no {ktype} key '{desc}' in the session, user or user-session keyring{why}"),
        )
        .hint("see `keyctl show @s` and `keyctl show @u`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyring_key_is_a_serial_or_type_and_description() {
        assert_eq!("123".parse(), Ok(KeyringRef::Serial(123)));
        assert_eq!("0x1f".parse(), Ok(KeyringRef::Serial(31)));
        let d: KeyringRef = "%logon:app:root".parse().unwrap();
        assert_eq!(
            d,
            KeyringRef::Described {
                ktype: "logon".into(),
                desc: "app:root".into()
            }
        );
        assert_eq!(d.to_string(), "%logon:app:root");
        for bad in [
            "0",
            "-3",
            "@u",
            "x",
            "%trusted",
            "%:x",
            "%user:",
            "99999999999",
        ] {
            assert!(bad.parse::<KeyringRef>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_serial_needs_no_search_and_a_missing_description_names_the_keyrings() {
        assert_eq!(KeyringRef::Serial(7).serial().ok(), Some(7));
        let missing = KeyringRef::Described {
            ktype: "user".into(),
            desc: format!("kvctl-test-no-such-key-{}", std::process::id()),
        };
        let e = missing.serial().unwrap_err();
        assert_eq!(e.exit_code(), 5);
        let e = e.to_string();
        assert!(
            e.contains("no user key 'kvctl-test-no-such-key-")
                && e.contains("session, user or user-session"),
            "{e}"
        );
    }
}
