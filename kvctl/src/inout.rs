//! Reading inputs, writing outputs, and the text encodings of binary data.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use std::io::{Read, Write};
use zeroize::Zeroizing;

/// How binary data (an envelope, a MAC, a digest) is written or read.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// The bytes themselves.
    #[value(alias = "binary")]
    Raw,
    /// Lower-case hex.
    Hex,
    /// Standard base64 (RFC 4648, with padding).
    Base64,
}

impl Encoding {
    /// Its name (`raw`, `hex`, `base64`).
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Raw => "raw",
            Encoding::Hex => "hex",
            Encoding::Base64 => "base64",
        }
    }

    /// `bytes` as text; None for raw.
    pub fn text(self, bytes: &[u8]) -> Option<String> {
        match self {
            Encoding::Raw => None,
            Encoding::Hex => Some(hex::encode(bytes)),
            Encoding::Base64 => Some(BASE64.encode(bytes)),
        }
    }

    /// Decodes `data` (whitespace, e.g. line breaks, is ignored in hex and
    /// base64).
    pub fn decode(self, data: &[u8]) -> Result<Vec<u8>, String> {
        if self == Encoding::Raw {
            return Ok(data.to_vec());
        }
        let text: Vec<u8> = data
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        match self {
            Encoding::Raw => unreachable!(),
            Encoding::Hex => hex::decode(&text).map_err(|e| format!("bad hex: {e}")),
            Encoding::Base64 => BASE64.decode(&text).map_err(|e| format!("bad base64: {e}")),
        }
    }
}

/// Files to read from and write to; `-` or none: stdin / stdout.
#[derive(clap::Args, Clone, Debug, Default, PartialEq, Eq)]
pub struct IoArgs {
    /// Read the input from FILE (`-` or none: stdin).
    #[arg(long = "in", value_name = "FILE")]
    pub input: Option<String>,
    /// Write the output to FILE (none: stdout).
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<String>,
}

/// The name `path` has in messages and in `hash` output (`-` for stdin).
pub fn display_name(path: Option<&str>) -> &str {
    path.unwrap_or("-")
}

/// True when `path` means stdin.
pub fn is_stdin(path: Option<&str>) -> bool {
    matches!(path, None | Some("-"))
}

/// All of a file, or of stdin for `None` / `-`, in memory that is wiped on
/// drop (it may be a key or a plaintext).
pub fn read_input(path: Option<&str>) -> Result<Zeroizing<Vec<u8>>, String> {
    let mut buf = Zeroizing::new(Vec::new());
    match path {
        Some("-") | None => std::io::stdin()
            .lock()
            .read_to_end(&mut buf)
            .map_err(|e| format!("reading stdin: {e}"))?,
        Some(p) => std::fs::File::open(p)
            .and_then(|mut f| f.read_to_end(&mut buf))
            .map_err(|e| format!("{p}: {e}"))?,
    };
    Ok(buf)
}

/// Writes `bytes` to the file `path` (created or truncated; a new file is
/// made owner-only when `private`), or to stdout for `None` / `-`.
pub fn write_output(path: Option<&str>, bytes: &[u8], private: bool) -> Result<(), String> {
    match path {
        Some("-") | None => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)
                .and_then(|()| out.flush())
                .map_err(|e| format!("writing stdout: {e}"))
        }
        Some(p) => {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(if private { 0o600 } else { 0o666 })
                .open(p)
                .and_then(|mut f| f.write_all(bytes))
                .map_err(|e| format!("{p}: {e}"))
        }
    }
}

/// Refuses to write `what`, binary data, to stdout when stdout is a
/// terminal (it would garble it, and be lost).
pub fn refuse_binary_to_terminal(what: &str) -> Result<(), String> {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() {
        return Err(format!(
            "{what} is binary: write it to a file with -o FILE, or redirect stdout"
        ));
    }
    Ok(())
}

/// Reports the verdict of a check made by the kernel (a signature, a MAC):
/// `{"<field>": true|false}` with --json, otherwise `OK` when it holds (and
/// nothing when it does not); a verdict that does not hold becomes the error
/// `mismatch()`, so the exit status says it too. Any other failure of the
/// check is reported as the kernel's error, with no verdict.
pub fn verdict(
    json: bool,
    field: &str,
    check: keyvault::Result<()>,
    mismatch: impl FnOnce() -> String,
) -> Result<(), String> {
    let holds = match check {
        Ok(()) => true,
        Err(e) if e.is_verification_failure() => false,
        Err(e) => return Err(e.to_string()),
    };
    if json {
        let line = format!("{}\n", serde_json::json!({ field: holds }));
        write_output(None, line.as_bytes(), false)?;
    } else if holds {
        write_output(None, b"OK\n", false)?;
    }
    if holds {
        Ok(())
    } else {
        Err(mismatch())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_encodings_round_trip_and_ignore_whitespace() {
        let data = b"\x00\x01KVE1\xff";
        assert_eq!(Encoding::Hex.text(data).unwrap(), "00014b564531ff");
        assert_eq!(Encoding::Base64.text(data).unwrap(), "AAFLVkUx/w==");
        assert_eq!(Encoding::Raw.text(data), None);
        for enc in [Encoding::Hex, Encoding::Base64] {
            let text = enc.text(data).unwrap();
            assert_eq!(enc.decode(text.as_bytes()).unwrap(), data);
            let wrapped = format!("  {}\n{}\n", &text[..4], &text[4..]);
            assert_eq!(enc.decode(wrapped.as_bytes()).unwrap(), data);
        }
        assert_eq!(Encoding::Raw.decode(b" x\n").unwrap(), b" x\n");
        assert!(Encoding::Hex.decode(b"abc").is_err());
        assert!(Encoding::Hex.decode(b"zz").is_err());
        assert!(Encoding::Base64.decode(b"!!!!").is_err());
    }

    #[test]
    fn files_are_written_and_read_back() {
        let dir = std::env::temp_dir().join(format!("kvctl-inout-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        let p = path.to_str().unwrap();
        write_output(Some(p), b"first, longer", true).unwrap();
        write_output(Some(p), b"second", true).unwrap();
        assert_eq!(&*read_input(Some(p)).unwrap(), b"second");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "a private file is owner-only");
        let e = read_input(Some(dir.join("missing").to_str().unwrap())).unwrap_err();
        assert!(e.contains("missing") && e.contains("No such file"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(is_stdin(None) && is_stdin(Some("-")) && !is_stdin(Some("f")));
        assert_eq!(display_name(None), "-");
    }
}
