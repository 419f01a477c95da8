//! Inputs of any size: the module's per-operation limit, bounded reads,
//! outputs that appear only when complete, and the progress bar.
//!
//! One kernel operation takes at most `max_data_bytes` (1 MiB by default,
//! at most 64 MiB). `encrypt` and `decrypt` with AEAD keys go past it with
//! KVS1 streams (`keyvault::stream`); `hash` past it computes SHA-2 in
//! userspace (no key is involved, so nothing is lost); `mac` and
//! `verify-mac` cannot split an HMAC over one-shot kernel operations, so
//! they refuse and say what to do (or `--prehash`).

use crate::fail::Fail;
use crate::inout;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use keyvault::{HashAlg, Vault};
use sha2::Digest;
use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// The largest `max_data_bytes` the module accepts: the limit when LIMITS
/// does not say (the kernel's EMSGSIZE then tells).
pub const HARD_MAX_DATA: usize = 64 << 20;
/// Inputs at least this large (or of unknown size) get a progress bar.
const PROGRESS_FROM: u64 = 8 << 20;
/// The read size when streaming.
const PIECE: usize = 64 << 10;

/// The module's per-operation limit (`max_data_bytes`), from the LIMITS
/// ioctl (Rust module parameters are not in sysfs); None when the handle
/// cannot say (an older module: the kernel's EMSGSIZE then tells).
pub fn max_data_bytes(vault: &Vault) -> Option<usize> {
    vault.limits().ok().map(|l| l.max_data_bytes as usize)
}

/// What to say of the limit: "N bytes" from LIMITS, or the module's default.
pub fn limit_text(limit: Option<usize>) -> String {
    match limit {
        Some(n) => format!("max_data_bytes = {n} bytes"),
        None => "max_data_bytes: 1 MiB unless keyvault.ko was loaded with another value".into(),
    }
}

/// An opened input: a file or stdin, and its size when known.
pub struct Input {
    pub reader: Box<dyn Read>,
    pub size: Option<u64>,
    pub name: String,
}

/// A reader whose errors name what it reads.
struct Named<R> {
    inner: R,
    name: String,
}

impl<R: Read> Read for Named<R> {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        self.inner
            .read(b)
            .map_err(|e| io::Error::new(e.kind(), format!("reading {}: {e}", self.name)))
    }
}

/// Opens `path` (`None` or `-`: stdin) for reading in pieces.
pub fn open_input(path: Option<&Path>) -> Result<Input, Fail> {
    let name = inout::display_name(path).to_string();
    if inout::is_stdin(path) {
        // A regular file redirected to stdin has a size too.
        let size = std::fs::metadata("/dev/stdin")
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        return Ok(Input {
            reader: Box::new(Named {
                inner: io::stdin(),
                name: "stdin".into(),
            }),
            size,
            name,
        });
    }
    let f = File::open(&name).map_err(|e| Fail::io(&name, &e))?;
    let size = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
    Ok(Input {
        reader: Box::new(Named {
            inner: f,
            name: name.clone(),
        }),
        size,
        name,
    })
}

/// Reads as much of `dst` as `r` has (less only at its end).
pub fn fill(r: &mut dyn Read, dst: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < dst.len() {
        match r.read(&mut dst[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads `input` into `head`, up to `limit` bytes: `Ok(true)` when that is
/// all of it, `Ok(false)` when there is more (`head` then holds the first
/// `limit + 1` bytes, for a caller that goes on streaming).
pub fn read_at_most(
    input: &mut Input,
    limit: usize,
    head: &mut Zeroizing<Vec<u8>>,
) -> Result<bool, Fail> {
    head.clear();
    let mut got = 0;
    // Grow as the data comes (a small input needs no big buffer), up to
    // limit + 1 bytes: one more than fits says "too large".
    while got <= limit {
        let want = (got + PIECE).min(limit + 1);
        head.resize(want, 0);
        let n =
            fill(&mut input.reader, &mut head[got..want]).map_err(|e| Fail::io(&input.name, &e))?;
        got += n;
        if got < want {
            head.truncate(got);
            return Ok(true);
        }
    }
    Ok(false)
}

/// All of `input` for one kernel operation: None when it is larger than
/// the module's limit (or, when LIMITS does not say, than the largest limit
/// the module accepts: the kernel's EMSGSIZE then tells).
pub fn read_for_one_op(
    input: &mut Input,
    limit: Option<usize>,
) -> Result<Option<Zeroizing<Vec<u8>>>, Fail> {
    let mut data = Zeroizing::new(Vec::new());
    let limit = limit.unwrap_or(HARD_MAX_DATA);
    Ok(read_at_most(input, limit, &mut data)?.then_some(data))
}

/// The SHA-2 digest of `head` then the rest of `input`, in userspace, in
/// pieces (constant memory).
pub fn sha2_stream(alg: HashAlg, head: &[u8], input: &mut Input) -> Result<Vec<u8>, Fail> {
    sha2_of(alg, head, &mut input.reader, &input.name)
}

/// The SHA-2 digest of `head` then all `reader` yields (`name` in
/// messages), read in pieces (constant memory).
pub fn sha2_of(
    alg: HashAlg,
    head: &[u8],
    reader: &mut dyn Read,
    name: &str,
) -> Result<Vec<u8>, Fail> {
    fn run<D: Digest>(head: &[u8], reader: &mut dyn Read, name: &str) -> Result<Vec<u8>, Fail> {
        let mut d = D::new();
        d.update(head);
        let mut piece = Zeroizing::new(vec![0u8; PIECE]);
        loop {
            let n = fill(reader, &mut piece).map_err(|e| Fail::io(name, &e))?;
            if n == 0 {
                return Ok(d.finalize().to_vec());
            }
            d.update(&piece[..n]);
        }
    }
    match alg {
        HashAlg::Sha256 => run::<sha2::Sha256>(head, reader, name),
        HashAlg::Sha512 => run::<sha2::Sha512>(head, reader, name),
    }
}

/// The message `mac --prehash ALG` authenticates instead of the input:
/// "kvctl-prehash-v1:" || the hash's name ("sha256", "sha512") || ":" ||
/// the input's digest (raw bytes). A fixed, versioned prefix that names the
/// hash keeps these MACs apart from plain HMACs of other data and from each
/// other.
pub fn prehash_message(alg: HashAlg, digest: &[u8]) -> Vec<u8> {
    let mut m = format!("kvctl-prehash-v1:{}:", alg.name()).into_bytes();
    m.extend_from_slice(digest);
    m
}

/// Parses a size: bytes, or with a K/KiB or M/MiB suffix (powers of 1024).
pub fn parse_size(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("bad size '{s}' (e.g. 65536, 64K, 1M)"))?;
    let mul: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" | "kb" => 1 << 10,
        "m" | "mib" | "mb" => 1 << 20,
        _ => return Err(format!("bad size unit in '{s}' (K or M: KiB, MiB)")),
    };
    n.checked_mul(mul)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| format!("size '{s}' is too large"))
}

impl crate::Session {
    /// Opens a command's input for reading in pieces (`None` or `-`: stdin).
    pub(crate) fn open(&self, path: Option<&Path>) -> Result<Input, Fail> {
        self.stdin_free(path)?;
        open_input(path)
    }
}

/// Whether to draw a progress bar.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::Args)]
pub struct ProgressArgs {
    /// Show a progress bar on stderr whatever the input size (stderr must be
    /// a terminal). Default: only for inputs of 8 MiB or more, or of
    /// unknown size, and only when stderr is a terminal (never in pipes).
    #[arg(long, conflicts_with = "no_progress")]
    pub progress: bool,
    /// Never show a progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

impl ProgressArgs {
    /// Wraps `input`'s reader in a progress bar when one is wanted.
    pub fn attach(&self, input: &mut Input, what: &str) -> Option<ProgressBar> {
        let long = input.size.is_none_or(|n| n >= PROGRESS_FROM);
        let show = !self.no_progress && (self.progress || long) && io::stderr().is_terminal();
        if !show {
            return None;
        }
        let bar = ProgressBar::with_draw_target(input.size, ProgressDrawTarget::stderr());
        let style = if input.size.is_some() {
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}"
        } else {
            "{msg} {spinner} {bytes} {bytes_per_sec}"
        };
        if let Ok(s) = ProgressStyle::with_template(style) {
            bar.set_style(s.progress_chars("=> "));
        }
        bar.set_message(format!("{what} {}", input.name));
        let reader = std::mem::replace(&mut input.reader, Box::new(io::empty()));
        input.reader = Box::new(bar.wrap_read(reader));
        Some(bar)
    }
}

/// Where a command's output goes: stdout as it comes, or a file that
/// appears (renamed over FILE) only once [`Output::commit`] is called.
pub enum Output {
    Stdout(io::Stdout),
    File {
        tmp: tempfile::NamedTempFile,
        dest: PathBuf,
    },
}

impl Output {
    /// Stdout (`None` or `-`), or a new temporary file in FILE's directory:
    /// made with O_EXCL, mode 0600, deleted again unless committed.
    pub fn create(path: Option<&Path>) -> Result<Output, Fail> {
        let Some(p) = path.filter(|p| !inout::is_stdin(Some(*p))) else {
            return Ok(Output::Stdout(io::stdout()));
        };
        let dest = p.to_path_buf();
        let p = p.display();
        let dir = match dest.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = dest
            .file_name()
            .ok_or_else(|| Fail::usage(format!("{p}: not a file name")))?;
        if dest.is_dir() {
            return Err(Fail::usage(format!("{p}: is a directory")));
        }
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{}.", name.to_string_lossy()))
            .suffix(".kvctl-tmp")
            .tempfile_in(dir)
            .map_err(|e| {
                Fail::io(
                    format!("{p}: cannot make a temporary file in {}", dir.display()),
                    &e,
                )
            })?;
        Ok(Output::File { tmp, dest })
    }

    /// Makes the output final: flushes stdout, or syncs the temporary file
    /// and renames it over FILE (then syncs the directory).
    pub fn commit(self) -> Result<(), Fail> {
        match self {
            Output::Stdout(mut s) => s.flush().map_err(|e| Fail::io("writing stdout", &e)),
            Output::File { tmp, dest } => {
                let shown = dest.display().to_string();
                tmp.as_file().sync_all().map_err(|e| Fail::io(&shown, &e))?;
                tmp.persist(&dest).map_err(|e| Fail::io(&shown, &e.error))?;
                if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
                    // Best effort: the rename is durable once the directory is.
                    let _ = File::open(dir).and_then(|d| d.sync_all());
                }
                Ok(())
            }
        }
    }

    /// The error `e` of a command whose output was not committed, saying
    /// what became of the output.
    pub fn abandon(self, e: Fail) -> Fail {
        match self {
            Output::Stdout(_) => {
                e.append("the output written to stdout so far is incomplete and must be discarded")
            }
            // Dropping the temporary file deletes it.
            Output::File { dest, .. } => e.append(format!("{} was not written", dest.display())),
        }
    }
}

impl Write for Output {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(s) => s
                .write(b)
                .map_err(|e| io::Error::new(e.kind(), format!("writing stdout: {e}"))),
            Output::File { tmp, dest } => tmp
                .write(b)
                .map_err(|e| io::Error::new(e.kind(), format!("writing {}: {e}", dest.display()))),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(s) => s.flush(),
            Output::File { tmp, .. } => tmp.flush(),
        }
    }
}

/// Writes lower-case hex of what is written to it (streaming, for
/// `encrypt --format hex`).
pub struct HexWriter<W: Write>(pub W);

impl<W: Write> Write for HexWriter<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let b = &b[..b.len().min(PIECE)];
        self.0.write_all(hex::encode(b).as_bytes())?;
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Reads the text (hex or base64) encoding of binary data back as the
/// data, ignoring whitespace, in constant memory.
pub struct TextDecoder<R: Read> {
    inner: R,
    hex: bool,
    /// Encoded characters read and waiting for the rest of their group.
    carry: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    done: bool,
}

impl<R: Read> TextDecoder<R> {
    /// Decodes hex (`hex`) or standard base64.
    pub fn new(inner: R, hex: bool) -> Self {
        TextDecoder {
            inner,
            hex,
            carry: Vec::new(),
            out: Vec::new(),
            pos: 0,
            done: false,
        }
    }

    fn refill(&mut self) -> io::Result<()> {
        let mut raw = vec![0u8; PIECE];
        let n = fill(&mut self.inner, &mut raw)?;
        self.carry
            .extend(raw[..n].iter().filter(|b| !b.is_ascii_whitespace()));
        let group = if self.hex { 2 } else { 4 };
        let take = if n == 0 {
            self.done = true;
            self.carry.len()
        } else {
            self.carry.len() / group * group
        };
        let text: Vec<u8> = self.carry.drain(..take).collect();
        let bad = |e: String| io::Error::new(io::ErrorKind::InvalidData, e);
        self.out = if self.hex {
            hex::decode(&text).map_err(|e| bad(format!("bad hex: {e}")))?
        } else {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(&text)
                .map_err(|e| bad(format!("bad base64: {e}")))?
        };
        self.pos = 0;
        Ok(())
    }
}

impl<R: Read> Read for TextDecoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.out.len() {
            if self.done {
                return Ok(0);
            }
            self.refill()?;
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(bytes: &'static [u8]) -> Input {
        Input {
            reader: Box::new(bytes),
            size: Some(bytes.len() as u64),
            name: "t".into(),
        }
    }

    #[test]
    fn read_at_most_says_whether_all_of_the_input_fits() {
        let mut head = Zeroizing::new(Vec::new());
        assert!(read_at_most(&mut input(b"12345"), 5, &mut head).unwrap());
        assert_eq!(&head[..], b"12345");
        assert!(!read_at_most(&mut input(b"123456"), 5, &mut head).unwrap());
        assert_eq!(&head[..], b"123456", "one byte more than the limit");
        assert!(read_at_most(&mut input(b""), 0, &mut head).unwrap());
        let big: &'static [u8] = Box::leak(vec![1u8; 3 * PIECE + 1].into_boxed_slice());
        assert!(read_at_most(&mut input(big), 3 * PIECE + 1, &mut head).unwrap());
        assert_eq!(head.len(), 3 * PIECE + 1);
    }

    #[test]
    fn the_streamed_sha2_is_the_digest_of_head_and_rest() {
        let big: &'static [u8] = Box::leak(vec![0x61u8; 200_000].into_boxed_slice());
        let d = sha2_stream(HashAlg::Sha256, b"", &mut input(big)).unwrap();
        assert_eq!(d, sha2::Sha256::digest(big).to_vec());
        let d = sha2_stream(HashAlg::Sha512, &big[..10], &mut input(&big[10..])).unwrap();
        assert_eq!(d, sha2::Sha512::digest(big).to_vec());
        // FIPS 180-2 "abc".
        let d = sha2_stream(HashAlg::Sha256, b"a", &mut input(b"bc")).unwrap();
        assert_eq!(
            hex::encode(d),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn text_is_decoded_in_pieces_ignoring_whitespace() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let mut hex_text = hex::encode(&data).into_bytes();
        hex_text.insert(5, b'\n');
        hex_text.push(b'\n');
        let mut got = Vec::new();
        TextDecoder::new(&hex_text[..], true)
            .read_to_end(&mut got)
            .unwrap();
        assert_eq!(got, data);
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&data) + "\n";
        let mut got = Vec::new();
        TextDecoder::new(b64.as_bytes(), false)
            .read_to_end(&mut got)
            .unwrap();
        assert_eq!(got, data);
        let e = TextDecoder::new(&b"abz"[..], true)
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);

        let mut w = HexWriter(Vec::new());
        w.write_all(&data).unwrap();
        assert_eq!(w.0, hex::encode(&data).into_bytes());
    }

    #[test]
    fn the_prehash_message_and_sizes_are_the_documented_ones() {
        let m = prehash_message(HashAlg::Sha512, &[0xab; 64]);
        assert_eq!(&m[..24], b"kvctl-prehash-v1:sha512:");
        assert_eq!(m.len(), 24 + 64);
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("16m"), Ok(16 << 20));
        assert!(parse_size("4096M").unwrap_err().contains("too large"));
        assert!(parse_size("1G").unwrap_err().contains("unit"));
        assert!(parse_size("K").unwrap_err().contains("bad size"));
    }

    #[test]
    fn a_file_output_appears_only_when_committed() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("plain");
        let p = dest.as_path();
        let mut out = Output::create(Some(p)).unwrap();
        out.write_all(b"partial").unwrap();
        assert!(!dest.exists());
        let e = out.abandon(Fail::invalid("chunk 2 does not authenticate"));
        assert!(e.to_string().ends_with("plain was not written"), "{e}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "no temp left"
        );

        std::fs::write(&dest, b"old").unwrap();
        let mut out = Output::create(Some(p)).unwrap();
        out.write_all(b"new").unwrap();
        drop(out.abandon(Fail::invalid("")));
        assert_eq!(std::fs::read(&dest).unwrap(), b"old", "left untouched");
        let mut out = Output::create(Some(p)).unwrap();
        out.write_all(b"new").unwrap();
        out.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"new");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dest).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(Output::create(Some(dir.path())).is_err());
        assert!(Output::create(Some(Path::new("/nonexistent-dir/x"))).is_err());
    }
}
