//! Reading inputs, writing outputs, and the text encodings of binary data.

use crate::fail::{Fail, Kind};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use std::borrow::Cow;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
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
    pub input: Option<PathBuf>,
    /// Write the output to FILE (none: stdout).
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// The name `path` has in messages and in `hash` output (`-` for stdin).
pub fn display_name<P: AsRef<Path> + ?Sized>(path: Option<&P>) -> Cow<'_, str> {
    path.map_or(Cow::Borrowed("-"), |p| p.as_ref().to_string_lossy())
}

/// True when `path` means stdin (or stdout).
pub fn is_stdin<P: AsRef<Path> + ?Sized>(path: Option<&P>) -> bool {
    path.is_none_or(|p| p.as_ref() == Path::new("-"))
}

/// All of a file, or of stdin for `None` / `-`, in memory that is wiped on
/// drop (it may be a key or a plaintext).
pub fn read_input<P: AsRef<Path> + ?Sized>(path: Option<&P>) -> Result<Zeroizing<Vec<u8>>, Fail> {
    let mut buf = Zeroizing::new(Vec::new());
    match path.filter(|p| !is_stdin(Some(*p))) {
        None => std::io::stdin()
            .lock()
            .read_to_end(&mut buf)
            .map_err(|e| Fail::io("reading stdin", &e))?,
        Some(p) => std::fs::File::open(p)
            .and_then(|mut f| f.read_to_end(&mut buf))
            .map_err(|e| Fail::io(p.as_ref().display(), &e))?,
    };
    Ok(buf)
}

/// Up to `max` bytes from the inherited file descriptor `fd` (which stays
/// open: kvctl reads a duplicate), in memory that is wiped on drop: a
/// caller that reads `limit + 1` knows the input was longer than `limit`
/// without reading all of it.
pub fn read_fd(fd: i32, max: usize) -> Result<Zeroizing<Vec<u8>>, String> {
    use std::os::fd::BorrowedFd;
    nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD)
        .map_err(|e| format!("fd {fd} is not open: {e}"))?;
    // SAFETY: `fd` is open (checked above), and only borrowed here, for the
    // duplicate made on the next line: nothing closes it meanwhile.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    let dup = borrowed
        .try_clone_to_owned()
        .map_err(|e| format!("fd {fd}: {e}"))?;
    let mut buf = Zeroizing::new(Vec::new());
    std::fs::File::from(dup)
        .take(max as u64)
        .read_to_end(&mut buf)
        .map_err(|e| format!("reading fd {fd}: {e}"))?;
    Ok(buf)
}

/// Writes `bytes` to the file `path` (created or truncated; a new file is
/// made owner-only when `private`), or to stdout for `None` / `-`.
pub fn write_output<P: AsRef<Path> + ?Sized>(
    path: Option<&P>,
    bytes: &[u8],
    private: bool,
) -> Result<(), Fail> {
    match path.filter(|p| !is_stdin(Some(*p))) {
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)
                .and_then(|()| out.flush())
                .map_err(|e| Fail::io("writing stdout", &e))
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
                .map_err(|e| Fail::io(p.as_ref().display(), &e))
        }
    }
}

/// Prints `line` and a newline on stdout. Every line kvctl prints goes
/// through here or [`write_output`] (never `println!`, which panics when
/// stdout is a closed pipe): a closed stdout is [`Kind::BrokenPipe`].
pub fn print_line(line: impl std::fmt::Display) -> Result<(), Fail> {
    write_output(None::<&Path>, format!("{line}\n").as_bytes(), false)
}

/// Refuses to write `what`, binary data, to stdout when stdout is a
/// terminal (it would garble it, and be lost); `flag` is the command's
/// option for an output file.
pub fn refuse_binary_to_terminal(what: &str, flag: &str) -> Result<(), Fail> {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() {
        return Err(Fail::new(
            Kind::Usage,
            format!("{what} is binary: write it to a file with {flag} FILE, or redirect stdout"),
        )
        .hint("--force writes it to the terminal anyway"));
    }
    Ok(())
}

/// Reports the verdict of a check made by the kernel (a signature, a MAC):
/// `OK` when it holds (`{"<field>": true}` with --json); a verdict that does
/// not hold is the failure `mismatch()`, exit status 1 (with --json its
/// error line carries `"<field>": false`). Any other failure of the check is
/// the kernel's error, with no verdict.
pub fn verdict(
    json: bool,
    field: &'static str,
    check: keyvault::Result<()>,
    mismatch: impl FnOnce() -> String,
) -> Result<(), Fail> {
    match check {
        Ok(()) if json => print_line(serde_json::json!({ field: true })),
        Ok(()) => print_line("OK"),
        // With --json the error line carries the verdict too: one line.
        Err(e) if e.is_verification_failure() => {
            Err(Fail::from(e).message(mismatch()).field(field, false))
        }
        Err(e) => Err(e.into()),
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
    fn inherited_fds_are_read_and_stay_open() {
        use std::os::fd::AsRawFd;
        let (r, w) = nix::unistd::pipe().unwrap();
        nix::unistd::write(&w, b"key bytes, and more").unwrap();
        drop(w);
        let fd = r.as_raw_fd();
        assert_eq!(&*read_fd(fd, 9).unwrap(), b"key bytes");
        // The fd is still ours and open: the rest is still there.
        assert_eq!(&*read_fd(fd, 100).unwrap(), b", and more");
        // (Not `fd` after closing it: another test may get its number.)
        let e = read_fd(999_999, 10).unwrap_err();
        assert!(e.starts_with("fd 999999 is not open"), "{e}");
        assert!(read_fd(-1, 10).is_err());
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
        assert!(is_stdin(None::<&str>) && is_stdin(Some("-")) && !is_stdin(Some("f")));
        assert_eq!(display_name(None::<&str>), "-");
    }
}
