//! Streaming AEAD: data of any size, in constant memory, as a sequence of
//! independently authenticated chunks ("KVS1").
//!
//! One kernel AEAD operation takes at most the module's `max_data_bytes`
//! (1 MiB by default). A [`StreamEncryptor`] cuts its input into chunks of a
//! fixed size, seals each one with a fresh kernel nonce, and binds the
//! chunks together so that a [`StreamDecryptor`] notices any change to their
//! order, number or content. Memory is one chunk's worth, whatever the
//! length of the data.
//!
//! # Format
//!
//! All integers are big-endian.
//!
//! ```text
//! header (32 bytes)
//! offset  size  field
//!      0     4  magic "KVS1"
//!      4     1  algorithm: the key's KV_ALG_* value (AEAD only: 1 AES-128-GCM,
//!               2 AES-256-GCM, 3 ChaCha20-Poly1305)
//!      5     1  flags: 0
//!      6     2  reserved: 0
//!      8     4  chunk size c: plaintext bytes per chunk, 1 <= c <= 16 MiB
//!               (default 64 KiB)
//!     12    16  stream id: random, chosen by the writer
//!     28     4  reserved: 0
//!
//! chunks, one after the other, up to the end of the data
//!         12  nonce (made by the kernel for this chunk)
//!          n  ciphertext: n = c for every chunk but the last, 0 <= n <= c for
//!             the last (n = 0 only when the whole plaintext is empty)
//!         16  tag
//!
//! AAD of chunk i (i = 0, 1, ...):
//!     header (32) || i (8, u64) || last (1: 1 for the final chunk, else 0)
//!     || the caller's AAD
//! ```
//!
//! Nothing follows the last chunk. The caller's AAD is not stored: the
//! reader must be given the same again.
//!
//! # Security
//!
//! This is the STREAM construction of Hoang, Reyhanitabar, Rogaway and
//! Vizár ("Online Authenticated-Encryption and its Nonce-Reuse
//! Misuse-Resistance", CRYPTO 2015), as age uses for its payload, with one
//! change: the chunk counter and the last-chunk flag are bound through the
//! AAD instead of being the nonce, and each chunk's nonce is the kernel's.
//! A kernel nonce is unique for the key object by construction (a key made
//! `no_caller_nonce` accepts no other), so no nonce is ever reused across
//! chunks or streams, and each chunk is an ordinary AEAD message whose AAD
//! says where it belongs. A reader that only accepts a chunk whose tag
//! verifies under that AAD detects:
//!
//! - **reordering, dropping or duplicating chunks**: chunk i only
//!   authenticates with i in its AAD, and the reader counts;
//! - **truncation at a chunk boundary**: the chunk that is then the final
//!   one was sealed with last = 0, and the reader opens the final chunk with
//!   last = 1; truncation inside a chunk breaks that chunk's tag;
//! - **splicing in chunks of another stream under the same key**: the
//!   header, with its random 16-byte stream id, is in every chunk's AAD;
//! - **altering the header** (algorithm, chunk size, id, reserved bytes):
//!   every chunk's AAD changes, so chunk 0 fails;
//! - **appending after the last chunk**: the reader refuses any byte after
//!   a chunk that authenticates as the last;
//! - **another AAD**: the caller's AAD is in every chunk's AAD.
//!
//! A reader can only know a chunk is the last when the data ends after it,
//! so [`StreamDecryptor`] reads one byte ahead, and returns a chunk's
//! plaintext only after its tag verified. A stream that fails still yields
//! the authenticated chunks before the failure: whoever consumes the
//! plaintext as it comes must discard all of it when a read fails (or, like
//! `kvctl decrypt -o FILE`, keep it out of sight until the end).
//!
//! ```no_run
//! use keyvault::stream::{StreamDecryptor, StreamEncryptor, VaultCipher};
//! use keyvault::{Algorithm, Vault};
//! use std::io::{Read, Write};
//!
//! # fn main() -> std::io::Result<()> {
//! let vault = Vault::open()?;
//! let key = vault.generate(Algorithm::ChaCha20Poly1305)?;
//! let cipher = VaultCipher::new(&vault, key)?;
//!
//! let mut enc = StreamEncryptor::new(cipher, b"backup 2024-06-01", Vec::new())?;
//! for _ in 0..100 {
//!     enc.write_all(&[7u8; 100_000])?; // 10 MB in all, 64 KiB at a time
//! }
//! let sealed = enc.finish()?;
//!
//! let mut dec = StreamDecryptor::new(cipher, b"backup 2024-06-01", &sealed[..])?;
//! let mut plaintext = Vec::new();
//! dec.read_to_end(&mut plaintext)?;
//! assert_eq!(plaintext.len(), 10_000_000);
//! # Ok(())
//! # }
//! ```

use crate::{Algorithm, KeyId, Nonce, Tag, Vault};
use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use zeroize::Zeroizing;

/// The first bytes of every stream.
pub const MAGIC: &[u8; 4] = b"KVS1";
/// The length of the header.
pub const HEADER_LEN: usize = 32;
/// The default chunk size (plaintext bytes per chunk): 64 KiB.
pub const DEFAULT_CHUNK_SIZE: u32 = 64 << 10;
/// The largest chunk size a stream may have: 16 MiB.
pub const MAX_CHUNK_SIZE: u32 = 16 << 20;
/// What each chunk adds to its plaintext: nonce (12) and tag (16).
pub const CHUNK_OVERHEAD: usize = NONCE_LEN + TAG_LEN;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const STREAM_ID_LEN: usize = 16;

/// The AEAD that seals and opens a stream's chunks, one at a time.
///
/// [`VaultCipher`] is the kernel's (a vault key, kernel nonces); tests and
/// other tools can implement it with any AEAD of 12-byte nonces and 16-byte
/// tags (e.g. the `aes-gcm` crate's, to read a stream without the kernel
/// when the key is known).
pub trait ChunkCipher {
    /// The key's algorithm, which the header names (an AEAD one).
    fn algorithm(&self) -> Algorithm;

    /// Encrypts `buf` in place under a fresh nonce that never repeats for
    /// the key; returns the nonce and the tag.
    fn seal(&self, aad: &[u8], buf: &mut [u8]) -> io::Result<(Nonce, Tag)>;

    /// Decrypts `buf` in place if `tag` verifies for `nonce`, `aad` and
    /// `buf`. A tag that does not verify must be reported as an error of
    /// kind [`ErrorKind::InvalidData`], leaving `buf` as it was (any other
    /// failure is passed on as it is).
    fn open(&self, aad: &[u8], nonce: &Nonce, buf: &mut [u8], tag: &Tag) -> io::Result<()>;
}

impl<C: ChunkCipher + ?Sized> ChunkCipher for &C {
    fn algorithm(&self) -> Algorithm {
        (**self).algorithm()
    }
    fn seal(&self, aad: &[u8], buf: &mut [u8]) -> io::Result<(Nonce, Tag)> {
        (**self).seal(aad, buf)
    }
    fn open(&self, aad: &[u8], nonce: &Nonce, buf: &mut [u8], tag: &Tag) -> io::Result<()> {
        (**self).open(aad, nonce, buf, tag)
    }
}

/// True for the algorithms a stream can use (AES-128/256-GCM,
/// ChaCha20-Poly1305).
pub fn is_stream_algorithm(alg: Algorithm) -> bool {
    matches!(
        alg,
        Algorithm::Aes128Gcm | Algorithm::Aes256Gcm | Algorithm::ChaCha20Poly1305
    )
}

/// An AEAD key of a vault as a [`ChunkCipher`]: each chunk is one
/// `AEAD_ENCRYPT` with a kernel nonce ([`Vault::aead_encrypt_in_place`])
/// or one `AEAD_DECRYPT` ([`Vault::aead_decrypt_in_place`]), so the chunk
/// size must not exceed the module's `max_data_bytes` (`EMSGSIZE`).
///
/// ```no_run
/// use keyvault::stream::VaultCipher;
/// use keyvault::{Algorithm, Vault};
///
/// let vault = Vault::open()?;
/// let key = vault.generate(Algorithm::Aes256Gcm)?;
/// let cipher = VaultCipher::new(&vault, key)?; // looks up the algorithm
/// let same = VaultCipher::with_algorithm(&vault, key, Algorithm::Aes256Gcm)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct VaultCipher<'v> {
    vault: &'v Vault,
    key: KeyId,
    alg: Algorithm,
}

impl<'v> VaultCipher<'v> {
    /// Key `key` of `vault`, whose algorithm is looked up (the handle needs
    /// the getinfo capability; see [`with_algorithm`](Self::with_algorithm)
    /// otherwise).
    pub fn new(vault: &'v Vault, key: KeyId) -> io::Result<Self> {
        let info = vault.info(key).map_err(io_error)?;
        let alg = info.algorithm.ok_or_else(|| {
            io::Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "key {key} has algorithm {}, unknown here",
                    info.algorithm_raw
                ),
            )
        })?;
        Self::with_algorithm(vault, key, alg)
    }

    /// Key `key` of `vault`, of algorithm `alg` (which the kernel checks at
    /// the first chunk: another algorithm fails to open every chunk).
    pub fn with_algorithm(vault: &'v Vault, key: KeyId, alg: Algorithm) -> io::Result<Self> {
        if !is_stream_algorithm(alg) {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "key {key} is {alg}: a stream needs an AEAD key \
                     (aes128-gcm, aes256-gcm, chacha20-poly1305)"
                ),
            ));
        }
        Ok(VaultCipher { vault, key, alg })
    }
}

/// A chunk's operation failed for another reason than authentication (the
/// vault refused it: no such key, no capability, a revoked key, a used-up
/// quota, ...). It is the inner error of the [`io::Error`] the encryptor or
/// decryptor returns, so that a caller can act on the vault's error:
///
/// ```
/// # use keyvault::stream::ChunkError;
/// fn vault_error(e: &std::io::Error) -> Option<keyvault::Error> {
///     e.get_ref()?.downcast_ref::<ChunkError>()?.vault_error()
/// }
/// ```
#[derive(Debug)]
pub struct ChunkError {
    what: &'static str,
    index: u64,
    error: io::Error,
}

impl ChunkError {
    fn wrap(what: &'static str, index: u64, error: io::Error) -> io::Error {
        io::Error::new(error.kind(), ChunkError { what, index, error })
    }

    /// The chunk's index in the stream.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The vault's error, when the vault refused the chunk's operation.
    pub fn vault_error(&self) -> Option<crate::Error> {
        self.error
            .get_ref()?
            .downcast_ref::<crate::Error>()
            .copied()
    }
}

impl std::fmt::Display for ChunkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.what, self.index, self.error)
    }
}

impl std::error::Error for ChunkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// A vault error as an I/O error: a tag that does not verify (`EBADMSG`)
/// is `InvalidData`, anything else has the errno's kind; the message is the
/// vault error's (which operation, which errno, what it means).
fn io_error(e: crate::Error) -> io::Error {
    let kind = if e.errno() == libc::EBADMSG {
        ErrorKind::InvalidData
    } else {
        io::Error::from_raw_os_error(e.errno()).kind()
    };
    io::Error::new(kind, e)
}

impl ChunkCipher for VaultCipher<'_> {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }

    fn seal(&self, aad: &[u8], buf: &mut [u8]) -> io::Result<(Nonce, Tag)> {
        let sealed = self
            .vault
            .aead_encrypt_in_place(self.key, buf, aad, None)
            .map_err(io_error)?;
        Ok((sealed.nonce, sealed.tag))
    }

    fn open(&self, aad: &[u8], nonce: &Nonce, buf: &mut [u8], tag: &Tag) -> io::Result<()> {
        self.vault
            .aead_decrypt_in_place(self.key, buf, aad, nonce, tag)
            .map_err(io_error)
    }
}

/// A stream's header: what the writer chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamHeader {
    /// The algorithm of the key that sealed the stream.
    pub algorithm: Algorithm,
    /// Plaintext bytes per chunk.
    pub chunk_size: u32,
    /// Random, different for every stream.
    pub stream_id: [u8; STREAM_ID_LEN],
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, msg.into())
}

fn check_chunk_size(c: u32) -> io::Result<()> {
    if (1..=MAX_CHUNK_SIZE).contains(&c) {
        Ok(())
    } else {
        Err(io::Error::new(
            ErrorKind::InvalidInput,
            format!("a chunk size is 1 to {MAX_CHUNK_SIZE} bytes (16 MiB), not {c}"),
        ))
    }
}

impl StreamHeader {
    /// The header's 32 bytes.
    ///
    /// ```
    /// use keyvault::stream::StreamHeader;
    /// use keyvault::Algorithm;
    ///
    /// let h = StreamHeader {
    ///     algorithm: Algorithm::Aes256Gcm,
    ///     chunk_size: 65536,
    ///     stream_id: [9; 16],
    /// };
    /// let bytes = h.to_bytes();
    /// assert_eq!(&bytes[..12], b"KVS1\x02\x00\x00\x00\x00\x01\x00\x00");
    /// assert_eq!(StreamHeader::parse(&bytes).unwrap(), h);
    /// ```
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[..4].copy_from_slice(MAGIC);
        // Every KV_ALG_* value fits in a byte (the AEAD ones are 1-3).
        h[4] = self.algorithm.to_raw() as u8;
        h[8..12].copy_from_slice(&self.chunk_size.to_be_bytes());
        h[12..28].copy_from_slice(&self.stream_id);
        h
    }

    /// Parses and checks a header: errors of kind `InvalidData` say what is
    /// wrong (not a stream, another version, an algorithm that is not an
    /// AEAD one, flags or reserved bytes set, a chunk size out of range).
    pub fn parse(h: &[u8; HEADER_LEN]) -> io::Result<Self> {
        if h[..3] != MAGIC[..3] {
            return Err(invalid(
                "not a KVS1 stream (it does not start with \"KVS1\"): unknown format",
            ));
        }
        if h[3] != MAGIC[3] {
            return Err(invalid(format!(
                "stream version '{}' is unknown (this reads KVS1)",
                char::from(h[3]).escape_default()
            )));
        }
        let algorithm = Algorithm::from_raw(u32::from(h[4]))
            .filter(|&a| is_stream_algorithm(a))
            .ok_or_else(|| {
                invalid(format!(
                    "the stream names algorithm {}, which is not an AEAD one: damaged or unknown format",
                    h[4]
                ))
            })?;
        if h[5] != 0 {
            return Err(invalid(format!(
                "the stream has flags {:#04x}, unknown to this version",
                h[5]
            )));
        }
        if h[6..8] != [0, 0] || h[28..32] != [0; 4] {
            return Err(invalid(
                "the stream's reserved header bytes are not zero: damaged or a newer format",
            ));
        }
        let chunk_size = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
        check_chunk_size(chunk_size).map_err(|e| invalid(format!("the stream's header: {e}")))?;
        let mut stream_id = [0u8; STREAM_ID_LEN];
        stream_id.copy_from_slice(&h[12..28]);
        Ok(StreamHeader {
            algorithm,
            chunk_size,
            stream_id,
        })
    }
}

impl fmt::Display for StreamHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "KVS1 stream, {}, {}-byte chunks",
            self.algorithm, self.chunk_size
        )
    }
}

/// What binds a chunk to its stream: the header and the caller's AAD.
struct Binding {
    header: StreamHeader,
    header_bytes: [u8; HEADER_LEN],
    aad: Vec<u8>,
    /// The last chunk AAD made (reused from chunk to chunk).
    scratch: Vec<u8>,
}

impl Binding {
    fn new(header: StreamHeader, aad: &[u8]) -> Self {
        Binding {
            header,
            header_bytes: header.to_bytes(),
            aad: aad.to_vec(),
            scratch: Vec::with_capacity(HEADER_LEN + 9 + aad.len()),
        }
    }

    /// The AAD of chunk `index`: header || index || last || the caller's AAD.
    fn chunk_aad(&mut self, index: u64, last: bool) -> &[u8] {
        let out = &mut self.scratch;
        out.clear();
        out.extend_from_slice(&self.header_bytes);
        out.extend_from_slice(&index.to_be_bytes());
        out.push(u8::from(last));
        out.extend_from_slice(&self.aad);
        out
    }
}

fn random_stream_id() -> io::Result<[u8; STREAM_ID_LEN]> {
    let mut id = [0u8; STREAM_ID_LEN];
    let mut done = 0;
    while done < id.len() {
        let rest = &mut id[done..];
        // SAFETY: `rest` is valid for writes of `rest.len()` bytes, which is
        // all getrandom(2) writes.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != ErrorKind::Interrupted {
                return Err(e);
            }
            continue;
        }
        done += n as usize;
    }
    Ok(id)
}

/// Writes a KVS1 stream: wraps a [`Write`], and seals what is written to it
/// in chunks. [`finish`](Self::finish) must be called to seal the last
/// chunk: a `StreamEncryptor` dropped without it leaves a stream that
/// lacks its last chunk, which [`StreamDecryptor`] refuses as truncated.
///
/// It holds at most one chunk (chunk size + 28 bytes), whatever is
/// written. A full chunk is sealed only when more data comes after it (only
/// then is it known not to be the last), so [`flush`](Write::flush)
/// flushes the chunks already sealed, not the pending data.
///
/// After an error (of the cipher or of the writer) every call fails: the
/// stream is incomplete and must be discarded.
///
/// ```no_run
/// use keyvault::stream::{StreamEncryptor, VaultCipher};
/// use keyvault::{Algorithm, Vault};
///
/// # fn main() -> std::io::Result<()> {
/// let vault = Vault::open()?;
/// let key = vault.generate(Algorithm::Aes256Gcm)?;
/// let out = std::fs::File::create("/tmp/big.kvs")?;
/// let mut enc = StreamEncryptor::with_chunk_size(VaultCipher::new(&vault, key)?, b"", 1 << 20, out)?;
/// std::io::copy(&mut std::fs::File::open("/var/log/syslog")?, &mut enc)?;
/// enc.finish()?.sync_all()?;
/// # Ok(())
/// # }
/// ```
pub struct StreamEncryptor<W: Write, C: ChunkCipher> {
    cipher: C,
    writer: W,
    binding: Binding,
    /// nonce (12) | plaintext, then ciphertext (up to c) | tag (16).
    buf: Zeroizing<Vec<u8>>,
    /// Plaintext bytes in `buf` after the nonce.
    pending: usize,
    chunk_size: usize,
    index: u64,
    failed: bool,
}

impl<W: Write, C: ChunkCipher> StreamEncryptor<W, C> {
    /// A stream with 64 KiB chunks sealed by `cipher`, bound to `aad` (which
    /// the reader must give again), written to `writer`; the header is
    /// written now.
    pub fn new(cipher: C, aad: &[u8], writer: W) -> io::Result<Self> {
        Self::with_chunk_size(cipher, aad, DEFAULT_CHUNK_SIZE, writer)
    }

    /// As [`new`](Self::new), with chunks of `chunk_size` bytes of plaintext
    /// (1 to 16 MiB; with a [`VaultCipher`], at most the module's
    /// `max_data_bytes`).
    pub fn with_chunk_size(cipher: C, aad: &[u8], chunk_size: u32, writer: W) -> io::Result<Self> {
        check_chunk_size(chunk_size)?;
        let algorithm = cipher.algorithm();
        if !is_stream_algorithm(algorithm) {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                format!("a stream needs an AEAD algorithm, not {algorithm}"),
            ));
        }
        let header = StreamHeader {
            algorithm,
            chunk_size,
            stream_id: random_stream_id()?,
        };
        let c = chunk_size as usize;
        let mut enc = StreamEncryptor {
            cipher,
            writer,
            binding: Binding::new(header, aad),
            buf: Zeroizing::new(vec![0u8; c + CHUNK_OVERHEAD]),
            pending: 0,
            chunk_size: c,
            index: 0,
            failed: false,
        };
        let header = enc.binding.header_bytes;
        enc.guard(|e| e.writer.write_all(&header))?;
        Ok(enc)
    }

    /// The header written at the start of the stream.
    pub fn header(&self) -> &StreamHeader {
        &self.binding.header
    }

    /// Runs `f`, and poisons the stream if it fails.
    fn guard<T>(&mut self, f: impl FnOnce(&mut Self) -> io::Result<T>) -> io::Result<T> {
        if self.failed {
            return Err(io::Error::other(
                "an earlier error left this stream incomplete: discard it",
            ));
        }
        let r = f(self);
        self.failed = r.is_err();
        r
    }

    /// Seals the pending plaintext as chunk `index` and writes it.
    fn seal_chunk(&mut self, last: bool) -> io::Result<()> {
        let n = self.pending;
        let aad = self.binding.chunk_aad(self.index, last);
        let (nonce, tag) = self
            .cipher
            .seal(aad, &mut self.buf[NONCE_LEN..NONCE_LEN + n])
            .map_err(|e| ChunkError::wrap("sealing chunk", self.index, e))?;
        self.buf[..NONCE_LEN].copy_from_slice(&nonce);
        self.buf[NONCE_LEN + n..NONCE_LEN + n + TAG_LEN].copy_from_slice(&tag);
        self.writer.write_all(&self.buf[..n + CHUNK_OVERHEAD])?;
        self.pending = 0;
        self.index = self
            .index
            .checked_add(1)
            .ok_or_else(|| io::Error::other("a stream has at most 2^64 chunks"))?;
        Ok(())
    }

    /// Seals the last chunk (the data written since the last full chunk;
    /// empty only when nothing at all was written), flushes the writer and
    /// returns it.
    pub fn finish(mut self) -> io::Result<W> {
        self.guard(|e| {
            e.seal_chunk(true)?;
            e.writer.flush()
        })?;
        Ok(self.writer)
    }
}

impl<W: Write, C: ChunkCipher> Write for StreamEncryptor<W, C> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.guard(|e| {
            let mut rest = data;
            while !rest.is_empty() {
                if e.pending == e.chunk_size {
                    // More data follows this full chunk: it is not the last.
                    e.seal_chunk(false)?;
                }
                let take = rest.len().min(e.chunk_size - e.pending);
                let at = NONCE_LEN + e.pending;
                e.buf[at..at + take].copy_from_slice(&rest[..take]);
                e.pending += take;
                rest = &rest[take..];
            }
            Ok(data.len())
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        self.guard(|e| e.writer.flush())
    }
}

impl<W: Write, C: ChunkCipher> fmt::Debug for StreamEncryptor<W, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamEncryptor")
            .field("chunk_size", &self.chunk_size)
            .field("chunks_sealed", &self.index)
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

/// Reads as much of `dst` as `r` has: fewer bytes only at the end of the data.
fn fill(r: &mut impl Read, dst: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < dst.len() {
        match r.read(&mut dst[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[derive(Debug)]
enum ReadState {
    /// More chunks to come.
    Chunks,
    /// The last chunk authenticated, and nothing followed it.
    Done,
    /// A failure, repeated by every later read.
    Failed(ErrorKind, String),
}

/// Reads a KVS1 stream: wraps a [`Read`] of the stream and implements
/// [`Read`] of its plaintext, yielding a chunk only after its tag verified.
///
/// A read fails (kind [`ErrorKind::InvalidData`]) when a chunk does not
/// authenticate, the stream ends before its last chunk, or data follows
/// it; every later read fails the same way. The plaintext already read
/// came from chunks that authenticated, but the stream as a whole did not:
/// discard it all. The end of the plaintext (a read of 0) is only reached
/// after the last chunk authenticated and nothing followed it.
///
/// It holds one chunk (chunk size + 28 bytes, at most 16 MiB + 28, from
/// the header) and one byte of look-ahead, whatever the length of the
/// stream.
///
/// ```no_run
/// use keyvault::stream::{StreamDecryptor, VaultCipher};
/// use keyvault::{KeyId, Vault};
///
/// # fn main() -> std::io::Result<()> {
/// # let vault = Vault::open()?;
/// # let key = KeyId(1);
/// let input = std::fs::File::open("/tmp/big.kvs")?;
/// let mut dec = StreamDecryptor::new(VaultCipher::new(&vault, key)?, b"", input)?;
/// println!("{}", dec.header());
/// match std::io::copy(&mut dec, &mut std::io::sink()) {
///     Ok(n) => println!("{n} bytes, all authentic"),
///     Err(e) => eprintln!("{e}: discard what was read"),
/// }
/// # Ok(())
/// # }
/// ```
pub struct StreamDecryptor<R: Read, C: ChunkCipher> {
    cipher: C,
    reader: R,
    binding: Binding,
    /// One chunk: nonce | ciphertext, then plaintext | tag.
    buf: Zeroizing<Vec<u8>>,
    /// The plaintext still to be returned: `buf[pos..end]`.
    pos: usize,
    end: usize,
    /// The byte read after a full chunk to learn it was not the last.
    ahead: Option<u8>,
    index: u64,
    state: ReadState,
}

impl<R: Read, C: ChunkCipher> StreamDecryptor<R, C> {
    /// Reads and checks the header of the stream in `reader`, to be opened
    /// by `cipher` with the caller's `aad`. Fails (`InvalidData`) when the
    /// header is not a KVS1 one, is cut short, or names another algorithm
    /// than `cipher`'s.
    pub fn new(cipher: C, aad: &[u8], mut reader: R) -> io::Result<Self> {
        let mut header_bytes = [0u8; HEADER_LEN];
        let n = fill(&mut reader, &mut header_bytes)?;
        let start = n.min(MAGIC.len());
        if n < HEADER_LEN && header_bytes[..start] == MAGIC[..start] {
            return Err(invalid(format!(
                "the stream ends inside its {HEADER_LEN}-byte header ({n} bytes): truncated"
            )));
        }
        // A short header that does not start with the magic fails here.
        let header = StreamHeader::parse(&header_bytes)?;
        if header.algorithm != cipher.algorithm() {
            return Err(invalid(format!(
                "the stream was sealed with {} {} key, not {}",
                if header.algorithm.name().starts_with('a') {
                    "an"
                } else {
                    "a"
                },
                header.algorithm,
                cipher.algorithm()
            )));
        }
        Ok(StreamDecryptor {
            cipher,
            reader,
            binding: Binding::new(header, aad),
            buf: Zeroizing::new(vec![0u8; header.chunk_size as usize + CHUNK_OVERHEAD]),
            pos: 0,
            end: 0,
            ahead: None,
            index: 0,
            state: ReadState::Chunks,
        })
    }

    /// The stream's header.
    pub fn header(&self) -> &StreamHeader {
        &self.binding.header
    }

    /// Tries to open the chunk in `buf[..len]` as chunk `self.index`, the
    /// last one or not.
    fn open_as(&mut self, len: usize, last: bool) -> io::Result<()> {
        let aad = self.binding.chunk_aad(self.index, last);
        let (nonce, rest) = self.buf[..len].split_at_mut(NONCE_LEN);
        let (body, tag) = rest.split_at_mut(len - CHUNK_OVERHEAD);
        let nonce: Nonce = (&*nonce).try_into().expect("NONCE_LEN bytes");
        let tag: Tag = (&*tag).try_into().expect("TAG_LEN bytes");
        self.cipher.open(aad, &nonce, body, &tag)
    }

    /// Reads, authenticates and decrypts the next chunk into `buf`.
    fn next_chunk(&mut self) -> io::Result<()> {
        let i = self.index;
        let full = self.buf.len();
        let mut len = 0;
        if let Some(b) = self.ahead.take() {
            self.buf[0] = b;
            len = 1;
        }
        len += fill(&mut self.reader, &mut self.buf[len..])?;
        // A full chunk is the last only when nothing follows it.
        let last = len < full || {
            let mut one = [0u8; 1];
            let more = fill(&mut self.reader, &mut one)? == 1;
            self.ahead = more.then_some(one[0]);
            !more
        };
        if len == 0 && i == 0 {
            return Err(invalid(
                "the stream ends after its header, before its last chunk: truncated",
            ));
        }
        if len < CHUNK_OVERHEAD {
            return Err(invalid(format!(
                "chunk {i} is {len} bytes, less than its nonce and tag: \
                 the stream ends before its last chunk: truncated"
            )));
        }
        if len == CHUNK_OVERHEAD && i > 0 {
            return Err(invalid(format!(
                "chunk {i} is empty, which only the single chunk of an empty stream may be: \
                 truncated, forged or damaged"
            )));
        }
        match self.open_as(len, last) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::InvalidData => {
                // Tell truncation and appended data from other damage: a
                // full chunk that opens with the other last flag (the
                // kernel left `buf` as it was) is in the right place.
                let whole = len == full;
                let msg = if whole && !last && self.open_as(len, true).is_ok() {
                    format!("data after the last chunk (chunk {i}): bytes were appended")
                } else if whole && last && self.open_as(len, false).is_ok() {
                    format!("the stream ends before its last chunk (after chunk {i}): truncated")
                } else if last {
                    format!(
                        "chunk {i} does not authenticate: altered, cut short, reordered \
                         or from another stream (or the AAD is not the one it was sealed with)"
                    )
                } else {
                    format!(
                        "chunk {i} does not authenticate: altered, reordered or from another \
                         stream (or the AAD is not the one it was sealed with)"
                    )
                };
                self.buf.fill(0);
                return Err(invalid(msg));
            }
            Err(e) => {
                self.buf.fill(0);
                return Err(ChunkError::wrap("chunk", i, e));
            }
        }
        self.pos = NONCE_LEN;
        self.end = len - TAG_LEN;
        self.index += 1;
        if last {
            self.state = ReadState::Done;
        }
        Ok(())
    }
}

impl<R: Read, C: ChunkCipher> Read for StreamDecryptor<R, C> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos < self.end {
                let n = out.len().min(self.end - self.pos);
                out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            match &self.state {
                ReadState::Done => return Ok(0),
                ReadState::Failed(kind, msg) => return Err(io::Error::new(*kind, msg.clone())),
                ReadState::Chunks if out.is_empty() => return Ok(0),
                ReadState::Chunks => {
                    if let Err(e) = self.next_chunk() {
                        self.state = ReadState::Failed(e.kind(), e.to_string());
                        return Err(e);
                    }
                }
            }
        }
    }
}

impl<R: Read, C: ChunkCipher> fmt::Debug for StreamDecryptor<R, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamDecryptor")
            .field("header", &self.binding.header)
            .field("chunks_opened", &self.index)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
