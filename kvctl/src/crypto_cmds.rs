//! Using keys: `encrypt`, `decrypt`, `mac`, `verify-mac`, and `hash`.

use crate::envelope::{self, Envelope, Kind, Params};
use crate::fail::Fail;
use crate::inout::{self, Encoding, IoArgs};
use crate::streaming::{self, Input, Output, ProgressArgs};
use crate::Session;
use keyvault::stream::{self as kvs, StreamDecryptor, StreamEncryptor, VaultCipher};
use keyvault::uapi::{KV_MAX_DIGEST_SIZE, KV_MIN_MAC_VERIFY_SIZE};
use keyvault::ErrorKind;
use keyvault::{Algorithm, HashAlg, Iv, KeyId, Nonce};
use serde_json::json;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Parses exactly N bytes of hex.
fn hex_array<const N: usize>(s: &str) -> Result<[u8; N], String> {
    let v = hex::decode(s.trim()).map_err(|e| format!("bad hex: {e}"))?;
    <[u8; N]>::try_from(v.as_slice())
        .map_err(|_| format!("must be {N} bytes ({} hex digits), not {}", 2 * N, v.len()))
}

/// Associated data for AEAD keys.
#[derive(clap::Args, Clone, Debug, Default, PartialEq, Eq)]
pub struct AadArgs {
    /// Additional authenticated data, as a string (AEAD keys only; decrypt needs the same).
    #[arg(long, value_name = "STR", conflicts_with = "aad_file")]
    pub aad: Option<String>,
    /// Read the additional authenticated data from FILE.
    #[arg(long, value_name = "FILE")]
    pub aad_file: Option<PathBuf>,
}

impl AadArgs {
    fn given(&self) -> bool {
        self.aad.is_some() || self.aad_file.is_some()
    }
}

#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
pub struct EncryptArgs {
    /// The key: AEAD (AES-GCM, ChaCha20-Poly1305) or AES-CBC; its algorithm decides the cipher.
    pub id: KeyId,
    #[command(flatten)]
    pub aad: AadArgs,
    /// AEAD nonce, 24 hex digits; it must never repeat for the key. It makes
    /// a one-shot KVE1 envelope, up to the module's per-operation limit
    /// (default: a KVS1 stream of any size, one kernel nonce per chunk).
    #[arg(long, value_name = "HEX", value_parser = hex_array::<12>,
          conflicts_with_all = ["cbc_iv", "no_padding", "chunk_size"])]
    pub nonce: Option<Nonce>,
    /// Plaintext bytes per chunk of a KVS1 stream (AEAD keys), e.g. 64K or
    /// 1M: 1 byte to 16 MiB and at most the module's max_data_bytes (each
    /// chunk is one kernel operation) [default: 64K].
    #[arg(long, value_name = "SIZE", value_parser = streaming::parse_size)]
    pub chunk_size: Option<u32>,
    /// AES-CBC IV, 32 hex digits (default: a random one from the kernel).
    #[arg(long, value_name = "HEX", value_parser = hex_array::<16>)]
    pub cbc_iv: Option<Iv>,
    /// AES-CBC without PKCS#7 padding: the input must be whole 16-byte blocks.
    #[arg(long)]
    pub no_padding: bool,
    /// How to write the envelope (raw: binary).
    #[arg(long, value_enum, default_value_t = Encoding::Raw)]
    pub format: Encoding,
    #[command(flatten)]
    pub io: IoArgs,
    #[command(flatten)]
    pub progress: ProgressArgs,
}

#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
pub struct DecryptArgs {
    /// The key; of the same algorithm as the one that encrypted.
    pub id: KeyId,
    #[command(flatten)]
    pub aad: AadArgs,
    /// How the envelope is written (default: detected).
    #[arg(long, value_enum)]
    pub format: Option<Encoding>,
    #[command(flatten)]
    pub io: IoArgs,
    #[command(flatten)]
    pub progress: ProgressArgs,
}

/// `mac --prehash`: what it is, for --help.
const PREHASH_HELP: &str = "MAC a digest of the input instead of the input, for inputs above the module's per-operation limit: HMAC(key, \"kvctl-prehash-v1:\" || ALG || \":\" || ALG(input)), ALG = sha256 or sha512, the digest computed by kvctl. This is NOT plain HMAC of the input: check it with `verify-mac --prehash ALG`.";

#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
pub struct MacArgs {
    /// The HMAC key.
    pub id: KeyId,
    #[arg(long, value_name = "ALG", help = PREHASH_HELP)]
    pub prehash: Option<HashAlg>,
    /// How to write the MAC.
    #[arg(long, value_enum, default_value_t = Encoding::Hex)]
    pub format: Encoding,
    #[command(flatten)]
    pub io: IoArgs,
}

#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
pub struct VerifyMacArgs {
    /// The HMAC key.
    pub id: KeyId,
    /// The MAC to check (all of it, or its first 16 bytes or more).
    #[arg(
        long,
        value_name = "MAC",
        conflicts_with = "mac_file",
        required_unless_present = "mac_file"
    )]
    pub mac: Option<String>,
    /// Read the MAC from FILE (e.g. the output of `kvctl mac --out FILE`).
    #[arg(long, value_name = "FILE")]
    pub mac_file: Option<PathBuf>,
    /// The MAC was made with `mac --prehash ALG` (see `kvctl mac --help`).
    #[arg(long, value_name = "ALG")]
    pub prehash: Option<HashAlg>,
    /// How the MAC is written.
    #[arg(long, value_enum, default_value_t = Encoding::Hex)]
    pub format: Encoding,
    /// Read the data from FILE (`-` or none: stdin).
    #[arg(long = "in", value_name = "FILE")]
    pub input: Option<PathBuf>,
}

#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
pub struct HashArgs {
    /// sha256 or sha512.
    #[arg(long, default_value = "sha256")]
    pub alg: HashAlg,
    /// How to write the digest.
    #[arg(long, value_enum, default_value_t = Encoding::Hex)]
    pub format: Encoding,
    #[command(flatten)]
    pub io: IoArgs,
}

/// How key `id` encrypts, from its algorithm.
fn cipher_kind(id: KeyId, alg: Algorithm) -> Result<Kind, String> {
    Kind::of(alg).ok_or_else(|| {
        let hint = match alg {
            Algorithm::HmacSha256 | Algorithm::HmacSha512 => "; for an HMAC key use `kvctl mac`",
            _ => "",
        };
        format!("key {id} is {alg}, which cannot encrypt (that needs an AEAD or AES-CBC key){hint}")
    })
}

/// The options of `encrypt` that only one kind of key takes.
fn check_encrypt_options(a: &EncryptArgs, alg: Algorithm, kind: Kind) -> Result<(), String> {
    let id = a.id;
    match kind {
        Kind::Aead if a.cbc_iv.is_some() || a.no_padding => Err(format!(
            "--cbc-iv and --no-padding are for AES-CBC keys; key {id} is {alg} (it takes --nonce)"
        )),
        Kind::Cbc if a.nonce.is_some() => Err(format!(
            "--nonce is for AEAD keys; key {id} is {alg} (it takes --cbc-iv)"
        )),
        Kind::Cbc if a.aad.given() => Err(no_aad(id, alg)),
        Kind::Cbc if a.chunk_size.is_some() => Err(format!(
            "--chunk-size is for AEAD keys, whose output is a stream; key {id} is {alg}"
        )),
        _ => Ok(()),
    }
}

fn no_aad(id: KeyId, alg: Algorithm) -> String {
    format!("AES-CBC authenticates nothing, so takes no --aad/--aad-file; key {id} is {alg}")
}

/// The module's default `max_data_bytes`, assumed by `hash` when LIMITS
/// does not say (a smaller real limit makes the kernel refuse, and kvctl
/// then hashes in userspace; a larger one only means userspace hashes more).
const DEFAULT_MAX_DATA: usize = 1 << 20;

/// Seals all of `input` as a KVS1 stream into `w`; returns `w`.
fn seal_stream<W: Write>(
    cipher: VaultCipher<'_>,
    aad: &[u8],
    chunk: u32,
    input: &mut Input,
    w: W,
) -> io::Result<W> {
    let mut enc = StreamEncryptor::with_chunk_size(cipher, aad, chunk, w)?;
    io::copy(&mut input.reader, &mut enc)?;
    enc.finish()
}

/// A failure of `kind` (the crate's error kinds, not the cipher kinds).
fn fail_of(kind: ErrorKind, message: String) -> Fail {
    Fail::new(crate::fail::Kind::Vault(kind), message)
}

/// An error while streaming: the limit (with what to do), a chunk that does
/// not authenticate or a stream cut short (the "no" answer, exit status 1),
/// or what the library or the I/O said.
fn stream_error(e: io::Error, limit: Option<usize>) -> Fail {
    let lib = e.get_ref().and_then(|i| {
        i.downcast_ref::<keyvault::Error>()
            .copied()
            .or_else(|| i.downcast_ref::<kvs::ChunkError>()?.vault_error())
    });
    let too_large = lib.is_some_and(|k| k.kind() == ErrorKind::TooLarge)
        || e.raw_os_error() == Some(libc::EMSGSIZE);
    if too_large {
        return fail_of(
            ErrorKind::TooLarge,
            format!(
                "{e} ({}): give a smaller --chunk-size",
                streaming::limit_text(limit)
            ),
        );
    }
    match lib {
        // The vault's error, for Session::explain to make precise.
        Some(k) if k.kind() != ErrorKind::VerificationFailed => Fail::from(k).context("the stream"),
        _ if e.kind() == io::ErrorKind::InvalidData => {
            fail_of(ErrorKind::VerificationFailed, e.to_string())
        }
        _ => Fail::io("the stream", &e),
    }
}

/// First bytes of `r`, up to `head`'s length (fewer only at its end).
fn read_head(r: &mut dyn Read, head: &mut [u8]) -> Result<usize, Fail> {
    streaming::fill(r, head).map_err(|e| Fail::io("the input", &e))
}

/// The input of a one-shot encryption is above the module's limit.
fn too_large_for_one_op(name: &str, limit: Option<usize>, kind: Kind) -> Fail {
    let what = match kind {
        Kind::Cbc => {
            "AES-CBC is one kernel operation (it cannot authenticate chunks, so kvctl does not \
             split it): encrypt with an AEAD key (aes256-gcm, chacha20-poly1305), whose KVS1 \
             stream takes any size"
        }
        Kind::Aead => {
            "a caller's --nonce makes a one-shot envelope: leave --nonce out and kvctl writes a \
             KVS1 stream of any size (the kernel makes a nonce per chunk)"
        }
    };
    fail_of(
        ErrorKind::TooLarge,
        format!(
            "{name} is larger than the module's per-operation limit ({}): {what}",
            streaming::limit_text(limit)
        ),
    )
}

/// A one-shot encryption's error (the kernel's EMSGSIZE explained).
fn one_op_error(e: keyvault::Error, kind: Kind, limit: Option<usize>) -> Fail {
    if e.kind() == ErrorKind::TooLarge {
        too_large_for_one_op("the input", limit, kind)
    } else {
        e.into()
    }
}

/// The input of `mac`/`verify-mac` is above the module's limit.
fn mac_too_large(name: &str, limit: Option<usize>) -> Fail {
    fail_of(
        ErrorKind::TooLarge,
        format!(
            "{name} is larger than the module's per-operation limit ({}), and an HMAC is one \
             kernel operation (EMSGSIZE): load the module with a larger max_data_bytes (at most \
             64 MiB: modprobe keyvault max_data_bytes=N), or MAC a digest of it with \
             --prehash sha256|sha512 (not plain HMAC; see `kvctl mac --help`)",
            streaming::limit_text(limit)
        ),
    )
}

fn mac_error(e: keyvault::Error, name: &str, limit: Option<usize>) -> Fail {
    if e.kind() == ErrorKind::TooLarge {
        mac_too_large(name, limit)
    } else {
        e.into()
    }
}

impl Session {
    /// The algorithm of key `id`.
    pub(crate) fn key_alg(&self, id: KeyId) -> Result<Algorithm, Fail> {
        let info = self.vault.info(id).map_err(|e| {
            let denied = e.kind() == ErrorKind::PermissionDenied;
            let f = Fail::from(e);
            if denied {
                f.hint("kvctl looks up the key's algorithm: the handle needs getinfo")
            } else {
                f
            }
        })?;
        info.algorithm.ok_or_else(|| {
            Fail::new(
                crate::fail::Kind::Vault(ErrorKind::Unsupported),
                format!(
                    "key {id} has algorithm {}, which this kvctl does not know",
                    info.algorithm_raw
                ),
            )
        })
    }

    /// The AAD (empty when none was given).
    fn read_aad(&self, a: &AadArgs, input: Option<&Path>) -> Result<Zeroizing<Vec<u8>>, Fail> {
        match (&a.aad, a.aad_file.as_deref()) {
            (Some(s), _) => Ok(Zeroizing::new(s.as_bytes().to_vec())),
            (None, Some(f)) if inout::is_stdin(Some(f)) && inout::is_stdin(input) => {
                Err(Fail::usage("the input and --aad-file cannot both be stdin"))
            }
            (None, Some(f)) => self.read(Some(f)),
            (None, None) => Ok(Zeroizing::new(Vec::new())),
        }
    }

    /// Writes `bytes` in `enc` (text on a line of its own, made by `line`),
    /// or with --json the object `json` makes of the text (raw data goes in
    /// JSON as `json_enc`).
    pub(crate) fn emit_bytes(
        &self,
        out: Option<&Path>,
        bytes: &[u8],
        enc: Encoding,
        json_enc: Encoding,
        line: impl FnOnce(&str) -> String,
        json: impl FnOnce(&str, Encoding) -> serde_json::Value,
    ) -> Result<(), Fail> {
        if self.json {
            let enc = if enc == Encoding::Raw { json_enc } else { enc };
            let text = enc.text(bytes).expect("a text encoding");
            return inout::write_output(out, format!("{}\n", json(&text, enc)).as_bytes(), false);
        }
        match enc.text(bytes) {
            None => inout::write_output(out, bytes, false),
            Some(text) => inout::write_output(out, format!("{}\n", line(&text)).as_bytes(), false),
        }
    }

    pub(crate) fn encrypt(&self, a: &EncryptArgs) -> Result<(), Fail> {
        let id = a.id;
        let alg = self.key_alg(id)?;
        let kind = cipher_kind(id, alg)?;
        check_encrypt_options(a, alg, kind)?;
        let input = a.io.input.as_deref();
        let aad = self.read_aad(&a.aad, input)?;
        if kind == Kind::Aead && a.nonce.is_none() {
            return self.encrypt_stream(a, alg, &aad);
        }
        let mut data = self.read_one_op(input, kind)?;
        let envelope = match kind {
            Kind::Aead => {
                let sealed = self
                    .vault
                    .aead_encrypt_in_place(id, &mut data, &aad, a.nonce.as_ref())
                    .map_err(|e| one_op_error(e, kind, streaming::max_data_bytes(&self.vault)))?;
                let params = Params::Aead {
                    nonce: sealed.nonce,
                    tag: sealed.tag,
                };
                Envelope {
                    alg,
                    params,
                    ciphertext: &data,
                }
                .encode()
            }
            Kind::Cbc => {
                let padding = !a.no_padding;
                let (iv, ciphertext) = self
                    .vault
                    .cbc_encrypt(id, &data, a.cbc_iv.as_ref(), padding)
                    .map_err(|e| one_op_error(e, kind, streaming::max_data_bytes(&self.vault)))?;
                Envelope {
                    alg,
                    params: Params::Cbc { iv, padding },
                    ciphertext: &ciphertext,
                }
                .encode()
            }
        };
        self.emit_bytes(
            a.io.out.as_deref(),
            &envelope,
            a.format,
            Encoding::Base64,
            str::to_string,
            |text, enc| json!({ "envelope": text, "encoding": enc.name() }),
        )
    }

    /// All of an input that one kernel operation must take (AES-CBC, or AEAD
    /// with the caller's nonce): refused, with what to do instead, above the
    /// module's limit.
    fn read_one_op(&self, input: Option<&Path>, kind: Kind) -> Result<Zeroizing<Vec<u8>>, Fail> {
        let mut inp = self.open(input)?;
        streaming::read_for_one_op(&mut inp, streaming::max_data_bytes(&self.vault))?.ok_or_else(
            || too_large_for_one_op(&inp.name, streaming::max_data_bytes(&self.vault), kind),
        )
    }

    /// `encrypt` with an AEAD key: a KVS1 stream, in constant memory.
    fn encrypt_stream(&self, a: &EncryptArgs, alg: Algorithm, aad: &[u8]) -> Result<(), Fail> {
        let chunk = a.chunk_size.unwrap_or(kvs::DEFAULT_CHUNK_SIZE);
        let limit = streaming::max_data_bytes(&self.vault);
        if let Some(l) = limit.filter(|&l| chunk as usize > l) {
            return Err(Fail::usage(format!(
                "--chunk-size {chunk} is above the module's per-operation limit \
                 ({}): each chunk is one kernel operation; give at most {l}",
                streaming::limit_text(Some(l))
            )));
        }
        let cipher = VaultCipher::with_algorithm(&self.vault, a.id, alg)
            .map_err(|e| stream_error(e, None))?;
        let mut input = self.open(a.io.input.as_deref())?;
        let bar = a.progress.attach(&mut input, "encrypting");
        if self.json {
            // JSON carries the envelope as text: all of it, in memory.
            let bytes = seal_stream(cipher, aad, chunk, &mut input, Vec::new())
                .map_err(|e| stream_error(e, limit))?;
            return self.emit_bytes(
                a.io.out.as_deref(),
                &bytes,
                a.format,
                Encoding::Base64,
                str::to_string,
                |text, enc| json!({ "envelope": text, "encoding": enc.name() }),
            );
        }
        let mut out = Output::create(a.io.out.as_deref())?;
        let written = match a.format {
            Encoding::Raw => seal_stream(cipher, aad, chunk, &mut input, &mut out).map(drop),
            Encoding::Hex => seal_stream(
                cipher,
                aad,
                chunk,
                &mut input,
                streaming::HexWriter(&mut out),
            )
            .and_then(|w| w.0.write_all(b"\n")),
            Encoding::Base64 => {
                use base64::engine::general_purpose::STANDARD;
                let w = base64::write::EncoderWriter::new(&mut out, &STANDARD);
                seal_stream(cipher, aad, chunk, &mut input, w)
                    .and_then(|mut w| w.finish())
                    .and_then(|o| o.write_all(b"\n"))
            }
        };
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        match written {
            Ok(()) => out.commit(),
            Err(e) => Err(out.abandon(stream_error(e, limit))),
        }
    }

    pub(crate) fn decrypt(&self, a: &DecryptArgs) -> Result<(), Fail> {
        let input = a.io.input.as_deref();
        let mut inp = self.open(input)?;
        let bar = a.progress.attach(&mut inp, "decrypting");
        // Enough of the start to tell the format: binary or text, KVS1 or KVE1.
        let mut head = [0u8; 64];
        let n = read_head(&mut inp.reader, &mut head)?;
        let enc = match a.format {
            Some(enc) => enc,
            None => envelope::detect_encoding(&head[..n]).ok_or_else(|| {
                format!(
                    "{}: not a kvctl envelope (neither binary, hex nor base64 of a KVS1 or KVE1 one)",
                    inout::display_name(input)
                )
            })?,
        };
        let rest = std::mem::replace(&mut inp.reader, Box::new(io::empty()));
        let mut reader: Box<dyn Read> = Box::new(io::Cursor::new(head[..n].to_vec()).chain(rest));
        if enc != Encoding::Raw {
            reader = Box::new(streaming::TextDecoder::new(reader, enc == Encoding::Hex));
        }
        // The header says what the data is before the key is looked up.
        let mut header = [0u8; kvs::HEADER_LEN];
        let m = read_head(&mut reader, &mut header)?;
        let reader = io::Cursor::new(header[..m].to_vec()).chain(reader);
        let r = if header.starts_with(kvs::MAGIC) {
            self.decrypt_stream(a, &header[..m], reader)
        } else {
            self.decrypt_envelope(a, reader)
        };
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        r
    }

    /// `decrypt` of a KVS1 stream: only authenticated chunks reach the
    /// output, and a file output appears only once all of them did.
    fn decrypt_stream(&self, a: &DecryptArgs, head: &[u8], reader: impl Read) -> Result<(), Fail> {
        let id = a.id;
        let mut header = [0u8; kvs::HEADER_LEN];
        if head.len() < kvs::HEADER_LEN {
            return Err(fail_of(
                ErrorKind::VerificationFailed,
                format!(
                    "{}: the stream ends inside its {}-byte header: truncated",
                    inout::display_name(a.io.input.as_deref()),
                    kvs::HEADER_LEN
                ),
            ));
        }
        header.copy_from_slice(head);
        let made_by = kvs::StreamHeader::parse(&header)
            .map_err(|e| e.to_string())?
            .algorithm;
        let alg = self.key_alg(id)?;
        if alg != made_by {
            return Err(Fail::invalid(format!(
                "key {id} is {alg}, but the data was encrypted with {} {made_by} key",
                if made_by.name().starts_with('a') {
                    "an"
                } else {
                    "a"
                }
            )));
        }
        let aad = self.read_aad(&a.aad, a.io.input.as_deref())?;
        let cipher =
            VaultCipher::with_algorithm(&self.vault, id, alg).map_err(|e| stream_error(e, None))?;
        let mut dec = StreamDecryptor::new(cipher, &aad, reader)
            .map_err(|e| stream_error(e, None).context(format!("key {id}")))?;
        let mut out = Output::create(a.io.out.as_deref())?;
        match io::copy(&mut dec, &mut out) {
            Ok(_) => out.commit(),
            Err(e) => Err(out.abandon(stream_error(e, None))),
        }
    }

    /// `decrypt` of a one-shot KVE1 envelope (what kvctl wrote before KVS1,
    /// and still writes for AES-CBC and --nonce).
    fn decrypt_envelope(&self, a: &DecryptArgs, reader: impl Read + 'static) -> Result<(), Fail> {
        let id = a.id;
        let name = inout::display_name(a.io.input.as_deref()).to_string();
        let mut inp = Input {
            reader: Box::new(reader),
            size: None,
            name: name.clone(),
        };
        // A KVE1 envelope holds at most one kernel operation (and its header).
        let mut bytes = Zeroizing::new(Vec::new());
        if !streaming::read_at_most(&mut inp, streaming::HARD_MAX_DATA + 64, &mut bytes)? {
            return Err(Fail::invalid(format!(
                "{name}: too large for a KVE1 envelope, and not a KVS1 stream"
            )));
        }
        let env = Envelope::decode(&bytes).map_err(|e| e.to_string())?;
        let alg = self.key_alg(id)?;
        env.check_key(id, alg)?;
        let plaintext = match env.params {
            Params::Aead { nonce, tag } => {
                let aad = self.read_aad(&a.aad, a.io.input.as_deref())?;
                self.vault
                    .aead_decrypt(id, env.ciphertext, &aad, &nonce, &tag)
            }
            Params::Cbc { .. } if a.aad.given() => return Err(no_aad(id, alg).into()),
            Params::Cbc { iv, padding } => self.vault.cbc_decrypt(id, env.ciphertext, &iv, padding),
        }?;
        let mut out = Output::create(a.io.out.as_deref())?;
        match out.write_all(&plaintext) {
            Ok(()) => out.commit(),
            Err(e) => Err(out.abandon(Fail::io("the output", &e))),
        }
    }

    /// The message `mac`/`verify-mac` give the kernel: the input (at most
    /// one kernel operation), or with `--prehash` its digest, framed.
    fn mac_message(
        &self,
        input: Option<&Path>,
        prehash: Option<HashAlg>,
    ) -> Result<Zeroizing<Vec<u8>>, Fail> {
        let mut inp = self.open(input)?;
        if let Some(h) = prehash {
            let digest = streaming::sha2_stream(h, &[], &mut inp)?;
            return Ok(Zeroizing::new(streaming::prehash_message(h, &digest)));
        }
        streaming::read_for_one_op(&mut inp, streaming::max_data_bytes(&self.vault))?
            .ok_or_else(|| mac_too_large(&inp.name, streaming::max_data_bytes(&self.vault)))
    }

    pub(crate) fn mac(&self, a: &MacArgs) -> Result<(), Fail> {
        let input = a.io.input.as_deref();
        let data = self.mac_message(input, a.prehash)?;
        let mac = self.vault.mac(a.id, &data).map_err(|e| {
            mac_error(
                e,
                &inout::display_name(input),
                streaming::max_data_bytes(&self.vault),
            )
        })?;
        self.emit_bytes(
            a.io.out.as_deref(),
            &mac,
            a.format,
            Encoding::Hex,
            str::to_string,
            |text, _| json!({ "mac": text }),
        )
    }

    pub(crate) fn verify_mac(&self, a: &VerifyMacArgs) -> Result<(), Fail> {
        let input = a.input.as_deref();
        let mac = match (&a.mac, a.mac_file.as_deref()) {
            (Some(_), _) if a.format == Encoding::Raw => {
                return Err(Fail::usage(
                    "--format raw needs --mac-file (a MAC argument is hex or base64)",
                ))
            }
            (Some(m), _) => a.format.decode(m.as_bytes()),
            (None, Some(f)) if inout::is_stdin(Some(f)) && inout::is_stdin(input) => {
                return Err(Fail::usage("the input and --mac-file cannot both be stdin"))
            }
            (None, Some(f)) => a.format.decode(&self.read(Some(f))?),
            (None, None) => return Err(Fail::usage("give the MAC with --mac or --mac-file")),
        }
        .map_err(|e| format!("the MAC: {e}"))?;
        let (min, max) = (KV_MIN_MAC_VERIFY_SIZE as usize, KV_MAX_DIGEST_SIZE as usize);
        if !(min..=max).contains(&mac.len()) {
            return Err(Fail::invalid(format!(
                "the MAC is {} byte{}; a MAC to check is {min} to {max} bytes (a prefix of the HMAC)",
                mac.len(),
                if mac.len() == 1 { "" } else { "s" }
            )));
        }
        let data = self.mac_message(input, a.prehash)?;
        let check = self.vault.verify_mac(a.id, &data, &mac);
        if let Err(e) = &check {
            if e.kind() == ErrorKind::TooLarge {
                return Err(mac_too_large(
                    &inout::display_name(input),
                    streaming::max_data_bytes(&self.vault),
                ));
            }
        }
        inout::verdict(self.json, "match", check, || {
            format!(
                "MAC mismatch: {} does not have this MAC under key {}",
                inout::display_name(input),
                a.id
            )
        })
    }

    /// `hash`: in the kernel up to its per-operation limit, above it with
    /// the sha2 crate, streamed (the same digest: no key is involved).
    pub(crate) fn hash(&self, a: &HashArgs) -> Result<(), Fail> {
        let input = a.io.input.as_deref();
        let mut inp = self.open(input)?;
        let limit = streaming::max_data_bytes(&self.vault).unwrap_or(DEFAULT_MAX_DATA);
        let mut head = Zeroizing::new(Vec::new());
        let digest = if streaming::read_at_most(&mut inp, limit, &mut head)? {
            match self.vault.hash(a.alg, &head) {
                Err(e) if e.kind() == ErrorKind::TooLarge => {
                    streaming::sha2_stream(a.alg, &head, &mut inp)?
                }
                r => r?,
            }
        } else {
            streaming::sha2_stream(a.alg, &head, &mut inp)?
        };
        let name = inout::display_name(input);
        self.emit_bytes(
            a.io.out.as_deref(),
            &digest,
            a.format,
            Encoding::Hex,
            |text| format!("{text}  {name}"),
            |text, _| json!({ "hash": text, "algorithm": a.alg.name() }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_args as parse, Cli, Cmd};
    use clap::Parser;

    #[test]
    fn hex_arrays_have_an_exact_length() {
        assert_eq!(hex_array::<2>("abcd"), Ok([0xab, 0xcd]));
        assert_eq!(hex_array::<2>(" ABCD\n"), Ok([0xab, 0xcd]));
        assert!(hex_array::<2>("abcdef")
            .unwrap_err()
            .contains("must be 2 bytes"));
        assert!(hex_array::<2>("xyzw").is_err());
    }

    #[test]
    fn encrypt_parses_with_defaults_and_options() {
        let Cmd::Encrypt(a) = parse(&["encrypt", "0x1f"]).unwrap() else {
            panic!()
        };
        assert_eq!(a.id, KeyId(31));
        assert_eq!((a.nonce, a.cbc_iv, a.no_padding), (None, None, false));
        assert_eq!(a.format, Encoding::Raw);
        assert_eq!(a.aad, AadArgs::default());
        assert_eq!(a.io, IoArgs::default());

        let Cmd::Encrypt(a) = parse(&[
            "encrypt",
            "7",
            "--aad",
            "hdr",
            "--nonce",
            "000102030405060708090a0b",
            "--format",
            "base64",
            "--in",
            "p.txt",
            "--out",
            "c.kve",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(a.nonce, Some([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]));
        assert_eq!(a.aad.aad.as_deref(), Some("hdr"));
        assert_eq!(a.format, Encoding::Base64);
        assert_eq!(a.io.input.as_deref(), Some(Path::new("p.txt")));
        assert_eq!(a.io.out.as_deref(), Some(Path::new("c.kve")));

        let Cmd::Encrypt(a) = parse(&[
            "encrypt",
            "7",
            "--cbc-iv",
            "00112233445566778899aabbccddeeff",
            "--no-padding",
            "--format",
            "binary",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(a.cbc_iv.unwrap()[15], 0xff);
        assert!(a.no_padding);
        assert_eq!(a.format, Encoding::Raw);
    }

    #[test]
    fn encrypt_refuses_bad_or_conflicting_options() {
        let bad = |args: &[&str]| match parse(args) {
            Err(e) => e,
            Ok(_) => panic!("{args:?} parsed"),
        };
        assert!(bad(&["encrypt", "1", "--nonce", "0011"]).contains("must be 12 bytes"));
        assert!(bad(&["encrypt", "1", "--cbc-iv", "00"]).contains("must be 16 bytes"));
        bad(&[
            "encrypt",
            "1",
            "--nonce",
            &"00".repeat(12),
            "--cbc-iv",
            &"00".repeat(16),
        ]);
        bad(&["encrypt", "1", "--nonce", &"00".repeat(12), "--no-padding"]);
        bad(&["encrypt", "1", "--aad", "x", "--aad-file", "f"]);
        bad(&["encrypt", "1", "--format", "pem"]);
        bad(&["encrypt", "key"]);
        bad(&["encrypt"]);
    }

    #[test]
    fn streaming_options_parse_and_conflict() {
        let Cmd::Encrypt(a) = parse(&[
            "encrypt",
            "1",
            "--chunk-size",
            "1M",
            "-o",
            "f",
            "--no-progress",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(a.chunk_size, Some(1 << 20));
        assert_eq!(a.io.out.as_deref(), Some(Path::new("f")));
        assert!(a.progress.no_progress && !a.progress.progress);
        assert!(check_encrypt_options(&a, Algorithm::Aes128Cbc, Kind::Cbc)
            .unwrap_err()
            .contains("--chunk-size is for AEAD keys"));
        assert!(check_encrypt_options(&a, Algorithm::Aes128Gcm, Kind::Aead).is_ok());
        assert!(parse(&["encrypt", "1", "--chunk-size", "1G"]).is_err());
        let nonce = "00".repeat(12);
        assert!(parse(&["encrypt", "1", "--nonce", &nonce, "--chunk-size", "4K"]).is_err());
        assert!(parse(&["decrypt", "1", "--progress", "--no-progress"]).is_err());
        let Cmd::Decrypt(a) = parse(&["decrypt", "1", "--progress", "-o", "p"]).unwrap() else {
            panic!()
        };
        assert!(a.progress.progress);
        assert_eq!(a.io.out.as_deref(), Some(Path::new("p")));

        let Cmd::Mac(a) = parse(&["mac", "1", "--prehash", "sha512"]).unwrap() else {
            panic!()
        };
        assert_eq!(a.prehash, Some(HashAlg::Sha512));
        let Cmd::VerifyMac(a) =
            parse(&["verify-mac", "1", "--mac", "ab", "--prehash", "sha256"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(a.prehash, Some(HashAlg::Sha256));
        assert!(parse(&["mac", "1", "--prehash", "md5"]).is_err());
    }

    #[test]
    fn too_large_messages_say_the_limit_and_what_to_do() {
        let e = too_large_for_one_op("f", Some(1 << 20), Kind::Cbc);
        assert!(
            e.contains("max_data_bytes = 1048576") && e.contains("AEAD key"),
            "{e}"
        );
        let e = too_large_for_one_op("f", None, Kind::Aead);
        assert!(
            e.contains("1 MiB") && e.contains("leave --nonce out"),
            "{e}"
        );
        let e = mac_too_large("f", Some(4096));
        assert!(
            e.contains("4096") && e.contains("64 MiB") && e.contains("--prehash"),
            "{e}"
        );
    }

    #[test]
    fn encrypt_options_must_fit_the_key() {
        let Cmd::Encrypt(mut a) = parse(&["encrypt", "3"]).unwrap() else {
            panic!()
        };
        let gcm = Algorithm::Aes256Gcm;
        let cbc = Algorithm::Aes128Cbc;
        assert!(check_encrypt_options(&a, gcm, Kind::Aead).is_ok());
        assert!(check_encrypt_options(&a, cbc, Kind::Cbc).is_ok());
        a.no_padding = true;
        let e = check_encrypt_options(&a, gcm, Kind::Aead).unwrap_err();
        assert!(e.contains("key 3 is aes256-gcm"), "{e}");
        assert!(check_encrypt_options(&a, cbc, Kind::Cbc).is_ok());
        a.no_padding = false;
        a.nonce = Some([0; 12]);
        let e = check_encrypt_options(&a, cbc, Kind::Cbc).unwrap_err();
        assert!(e.contains("--nonce is for AEAD keys"), "{e}");
        a.nonce = None;
        a.aad.aad_file = Some("f".into());
        assert!(check_encrypt_options(&a, cbc, Kind::Cbc)
            .unwrap_err()
            .contains("no --aad"));
        assert!(check_encrypt_options(&a, gcm, Kind::Aead).is_ok());

        let e = cipher_kind(KeyId(4), Algorithm::HmacSha256).unwrap_err();
        assert!(
            e.contains("key 4 is hmac-sha256") && e.contains("kvctl mac"),
            "{e}"
        );
        assert!(cipher_kind(KeyId(4), Algorithm::Ed25519).is_err());
        assert_eq!(
            cipher_kind(KeyId(4), Algorithm::ChaCha20Poly1305),
            Ok(Kind::Aead)
        );
    }

    #[test]
    fn decrypt_mac_verify_and_hash_parse() {
        let Cmd::Decrypt(a) = parse(&["decrypt", "2", "--aad-file", "h", "--out", "p"]).unwrap()
        else {
            panic!()
        };
        assert_eq!((a.id, a.format), (KeyId(2), None));
        assert_eq!(a.aad.aad_file.as_deref(), Some(Path::new("h")));
        let Cmd::Decrypt(a) = parse(&["decrypt", "2", "--format", "hex"]).unwrap() else {
            panic!()
        };
        assert_eq!(a.format, Some(Encoding::Hex));

        let Cmd::Mac(a) = parse(&["mac", "5", "--in", "-"]).unwrap() else {
            panic!()
        };
        assert_eq!((a.id, a.format), (KeyId(5), Encoding::Hex));
        assert_eq!(a.io.input.as_deref(), Some(Path::new("-")));

        let Cmd::VerifyMac(a) = parse(&["verify-mac", "5", "--mac", "abcd"]).unwrap() else {
            panic!()
        };
        assert_eq!(a.mac.as_deref(), Some("abcd"));
        let Cmd::VerifyMac(a) =
            parse(&["verify-mac", "5", "--mac-file", "m", "--format", "raw"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (a.mac_file.as_deref(), a.format),
            (Some(Path::new("m")), Encoding::Raw)
        );
        assert!(parse(&["verify-mac", "5"]).is_err());
        assert!(parse(&["verify-mac", "5", "--mac", "ab", "--mac-file", "m"]).is_err());

        let Cmd::Hash(a) = parse(&["hash"]).unwrap() else {
            panic!()
        };
        assert_eq!((a.alg, a.format), (HashAlg::Sha256, Encoding::Hex));
        let Cmd::Hash(a) = parse(&["hash", "--alg", "SHA512", "--format", "raw"]).unwrap() else {
            panic!()
        };
        assert_eq!((a.alg, a.format), (HashAlg::Sha512, Encoding::Raw));
        assert!(parse(&["hash", "--alg", "md5"])
            .unwrap_err()
            .contains("sha256 or sha512"));

        // --json is global: it may come after the subcommand.
        let cli = Cli::try_parse_from(["kvctl", "mac", "5", "--json"]).unwrap();
        assert!(cli.json);
    }

    #[test]
    fn batch_lines_parse_into_the_new_commands() {
        let line = "encrypt @last --aad 'hdr v1' --in plain.txt --format hex # seal";
        let w = crate::words(&line.replace("@last", "9"));
        let cli = Cli::try_parse_from(std::iter::once("kvctl".to_string()).chain(w)).unwrap();
        let Cmd::Encrypt(a) = cli.cmd else { panic!() };
        assert_eq!(a.aad.aad.as_deref(), Some("hdr v1"));
        assert_eq!((a.id, a.format), (KeyId(9), Encoding::Hex));
    }

    /// A session on /dev/null: every ioctl fails with ENOTTY, so these check
    /// only what happens before and around the kernel.
    fn session(json: bool) -> Session {
        Session::new(
            keyvault::Vault::open_path("/dev/null").expect("open /dev/null"),
            json,
        )
    }

    /// A directory of files for one test, removed when dropped.
    struct TempDir(std::path::PathBuf);

    impl TempDir {
        fn new(test: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("kvctl-{test}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn file(&self, name: &str, data: &[u8]) -> String {
            let p = self.0.join(name);
            std::fs::write(&p, data).unwrap();
            p.to_str().unwrap().to_string()
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn errors_come_from_the_right_step() {
        let s = session(false);
        let tmp = TempDir::new("errors");
        let Cmd::Encrypt(a) = parse(&["encrypt", "1"]).unwrap() else {
            panic!()
        };
        let e = s.encrypt(&a).unwrap_err();
        assert!(e.starts_with("keyvault getinfo:"), "{e}");

        // A bad envelope is reported before the key is looked up.
        let junk = tmp.file("junk", b"hello, world");
        let Cmd::Decrypt(a) = parse(&["decrypt", "1", "--in", &junk]).unwrap() else {
            panic!()
        };
        let e = s.decrypt(&a).unwrap_err();
        assert!(e.contains("not a kvctl envelope"), "{e}");
        let Cmd::Decrypt(a) = parse(&["decrypt", "1", "--in", &junk, "--format", "raw"]).unwrap()
        else {
            panic!()
        };
        assert!(s.decrypt(&a).unwrap_err().contains("KVE1"));

        // A good one gets as far as the key.
        let env = Envelope {
            alg: Algorithm::Aes256Gcm,
            params: Params::Aead {
                nonce: [0; 12],
                tag: [0; 16],
            },
            ciphertext: b"ct",
        }
        .encode();
        let hex_env = tmp.file("env.hex", Encoding::Hex.text(&env).unwrap().as_bytes());
        let Cmd::Decrypt(a) = parse(&["decrypt", "1", "--in", &hex_env]).unwrap() else {
            panic!()
        };
        assert!(s.decrypt(&a).unwrap_err().starts_with("keyvault getinfo:"));

        let Cmd::VerifyMac(a) = parse(&["verify-mac", "1", "--mac", "abcd"]).unwrap() else {
            panic!()
        };
        assert!(s.verify_mac(&a).unwrap_err().contains("2 bytes"));
        let Cmd::VerifyMac(a) = parse(&["verify-mac", "1", "--mac", "abc", "--in", &junk]).unwrap()
        else {
            panic!()
        };
        assert!(s.verify_mac(&a).unwrap_err().contains("bad hex"));
        let Cmd::VerifyMac(a) =
            parse(&["verify-mac", "1", "--mac", "x", "--format", "raw"]).unwrap()
        else {
            panic!()
        };
        assert!(s.verify_mac(&a).unwrap_err().contains("--mac-file"));
        let Cmd::VerifyMac(a) =
            parse(&["verify-mac", "1", "--mac", &"00".repeat(16), "--in", &junk]).unwrap()
        else {
            panic!()
        };
        assert!(s
            .verify_mac(&a)
            .unwrap_err()
            .starts_with("keyvault verify-mac:"));

        let Cmd::Hash(a) = parse(&["hash", "--in", &junk]).unwrap() else {
            panic!()
        };
        assert!(s.hash(&a).unwrap_err().starts_with("keyvault hash:"));
        let Cmd::Mac(a) = parse(&["mac", "1", "--in", "/nonexistent/kvctl"]).unwrap() else {
            panic!()
        };
        assert!(s.mac(&a).unwrap_err().contains("/nonexistent/kvctl"));
    }

    #[test]
    fn stdin_is_not_read_twice() {
        let mut s = session(false);
        let Cmd::Encrypt(a) = parse(&["encrypt", "1", "--aad-file", "-"]).unwrap() else {
            panic!()
        };
        let e = s.read_aad(&a.aad, None).unwrap_err();
        assert!(e.contains("both be stdin"), "{e}");
        // In a batch read from stdin, commands must name their input.
        s.stdin_is_script = true;
        let e = s.read(None::<&Path>).unwrap_err();
        assert!(e.contains("--in FILE"), "{e}");
    }

    #[test]
    fn outputs_are_text_raw_or_json() {
        let tmp = TempDir::new("outputs");
        let out = tmp.file("out", b"");
        let mac = [0xab_u8; 32];
        let write = |json: bool, enc: Encoding| {
            session(json)
                .emit_bytes(
                    Some(Path::new(&out)),
                    &mac,
                    enc,
                    Encoding::Hex,
                    |t| format!("{t}  name"),
                    |t, e| json!({ "mac": t, "encoding": e.name() }),
                )
                .unwrap();
            std::fs::read(&out).unwrap()
        };
        assert_eq!(write(false, Encoding::Raw), mac);
        assert_eq!(
            String::from_utf8(write(false, Encoding::Hex)).unwrap(),
            format!("{}  name\n", "ab".repeat(32))
        );
        let j: serde_json::Value = serde_json::from_slice(&write(true, Encoding::Raw)).unwrap();
        assert_eq!(j["mac"], "ab".repeat(32));
        assert_eq!(j["encoding"], "hex");
        let j: serde_json::Value = serde_json::from_slice(&write(true, Encoding::Base64)).unwrap();
        assert_eq!(j["encoding"], "base64");
    }
}
