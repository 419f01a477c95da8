//! The KVS1 format and its attacks, with software AEADs (aes-gcm,
//! chacha20poly1305) in place of the kernel.

use super::*;
use aes_gcm::aead::consts::{U12, U16};
use aes_gcm::aead::{AeadCore, AeadInOut, KeyInit};
use std::cell::Cell;

/// A software AEAD with counter nonces (unique per instance, as the
/// kernel's are per key).
struct Soft<A> {
    aead: A,
    alg: Algorithm,
    next: Cell<u64>,
}

fn gcm(k: u8) -> Soft<aes_gcm::Aes256Gcm> {
    Soft {
        aead: aes_gcm::Aes256Gcm::new_from_slice(&[k; 32]).unwrap(),
        alg: Algorithm::Aes256Gcm,
        next: Cell::new(0),
    }
}

fn chacha(k: u8) -> Soft<chacha20poly1305::ChaCha20Poly1305> {
    Soft {
        aead: chacha20poly1305::ChaCha20Poly1305::new_from_slice(&[k; 32]).unwrap(),
        alg: Algorithm::ChaCha20Poly1305,
        next: Cell::new(0),
    }
}

impl<A: AeadInOut + AeadCore<NonceSize = U12, TagSize = U16>> ChunkCipher for Soft<A> {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
    fn seal(&self, aad: &[u8], buf: &mut [u8]) -> io::Result<(Nonce, Tag)> {
        let n = self.next.get();
        self.next.set(n + 1);
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&n.to_be_bytes());
        let tag = self
            .aead
            .encrypt_inout_detached(&nonce.into(), aad, buf.into())
            .map_err(|_| io::Error::other("seal"))?;
        Ok((nonce, tag.into()))
    }
    fn open(&self, aad: &[u8], nonce: &Nonce, buf: &mut [u8], tag: &Tag) -> io::Result<()> {
        self.aead
            .decrypt_inout_detached(nonce.into(), aad, buf.into(), tag.into())
            .map_err(|_| invalid("tag"))
    }
}

fn plaintext(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// Seals `data`, written in pieces of `piece` bytes.
fn seal(c: impl ChunkCipher, aad: &[u8], chunk: u32, data: &[u8], piece: usize) -> Vec<u8> {
    let mut enc = StreamEncryptor::with_chunk_size(c, aad, chunk, Vec::new()).unwrap();
    for p in data.chunks(piece.max(1)) {
        enc.write_all(p).unwrap();
    }
    enc.finish().unwrap()
}

/// Reads the stream with small reads; returns the plaintext returned
/// before the end or the first error, and that error.
fn open(c: impl ChunkCipher, aad: &[u8], bytes: &[u8]) -> (Vec<u8>, io::Result<()>) {
    let mut dec = match StreamDecryptor::new(c, aad, bytes) {
        Ok(d) => d,
        Err(e) => return (Vec::new(), Err(e)),
    };
    let mut got = Vec::new();
    let mut piece = [0u8; 100];
    loop {
        match dec.read(&mut piece) {
            Ok(0) => return (got, Ok(())),
            Ok(n) => got.extend_from_slice(&piece[..n]),
            Err(e) => {
                // Every later read fails too.
                let again = dec.read(&mut piece).unwrap_err();
                assert_eq!((again.kind(), again.to_string()), (e.kind(), e.to_string()));
                return (got, Err(e));
            }
        }
    }
}

/// Offsets of the chunks of a stream with chunk size `c` over `n` bytes.
fn chunk_ranges(c: usize, n: usize) -> Vec<std::ops::Range<usize>> {
    let chunks = n.div_ceil(c).max(1);
    (0..chunks)
        .map(|i| {
            let start = HEADER_LEN + i * (c + CHUNK_OVERHEAD);
            let len = (n - i * c).min(c);
            start..start + len + CHUNK_OVERHEAD
        })
        .collect()
}

/// `bytes` must fail with InvalidData mentioning `pattern`, having returned
/// only plaintext of chunks before `chunk` (a prefix of `pt`).
fn refused(bytes: &[u8], pattern: &str, chunk: usize, c: usize, pt: &[u8], aad: &[u8]) {
    let (got, r) = open(gcm(1), aad, bytes);
    let e = r.expect_err(pattern);
    assert_eq!(e.kind(), ErrorKind::InvalidData, "{e}");
    assert!(e.to_string().contains(pattern), "{e} (wanted {pattern})");
    assert!(got.len() <= chunk * c, "{} bytes returned: {e}", got.len());
    assert_eq!(got, pt[..got.len()], "only authentic plaintext");
}

#[test]
fn every_size_around_the_chunk_size_round_trips() {
    for c in [1usize, 2, 16, 1000, 4096] {
        for n in [0, 1, c - 1, c, c + 1, 3 * c, 3 * c + 5] {
            let pt = plaintext(n);
            for piece in [1, 7, n.max(1)] {
                let aad = b"aad";
                let s = seal(gcm(1), aad, c as u32, &pt, piece);
                let chunks = n.div_ceil(c).max(1);
                assert_eq!(
                    s.len(),
                    HEADER_LEN + chunks * CHUNK_OVERHEAD + n,
                    "c={c} n={n}"
                );
                assert_eq!(chunk_ranges(c, n).last().unwrap().end, s.len());
                let (got, r) = open(gcm(1), aad, &s);
                r.unwrap();
                assert_eq!(got, pt, "c={c} n={n} piece={piece}");

                let s = seal(chacha(2), b"", c as u32, &pt, piece);
                let (got, r) = open(chacha(2), b"", &s);
                r.unwrap();
                assert_eq!(got, pt);
            }
        }
    }
}

#[test]
fn the_header_is_the_documented_one() {
    let s = seal(chacha(1), b"", 1000, b"hello", 5);
    assert_eq!(&s[..4], b"KVS1");
    assert_eq!(s[4], Algorithm::ChaCha20Poly1305.to_raw() as u8);
    assert_eq!(&s[5..8], &[0, 0, 0]);
    assert_eq!(&s[8..12], &1000u32.to_be_bytes());
    assert_eq!(&s[28..32], &[0; 4]);
    // A fresh random stream id each time.
    let t = seal(chacha(1), b"", 1000, b"hello", 5);
    assert_ne!(s[12..28], t[12..28]);
    assert_ne!(s[12..28], [0; 16]);
    let enc = StreamEncryptor::new(gcm(1), b"", Vec::new()).unwrap();
    assert_eq!(enc.header().chunk_size, DEFAULT_CHUNK_SIZE);
    assert_eq!(enc.header().algorithm, Algorithm::Aes256Gcm);
}

#[test]
fn the_chunk_aad_binds_header_index_last_flag_and_caller_aad() {
    // Open chunk 0 of a one-chunk stream by hand, with the documented AAD.
    let s = seal(gcm(1), b"user", 16, b"abc", 3);
    let mut aad = s[..HEADER_LEN].to_vec();
    aad.extend_from_slice(&0u64.to_be_bytes());
    aad.push(1);
    aad.extend_from_slice(b"user");
    let mut body = s[HEADER_LEN + 12..HEADER_LEN + 15].to_vec();
    let nonce: Nonce = s[HEADER_LEN..HEADER_LEN + 12].try_into().unwrap();
    let tag: Tag = s[HEADER_LEN + 15..].try_into().unwrap();
    gcm(1).open(&aad, &nonce, &mut body, &tag).unwrap();
    assert_eq!(body, b"abc");
}

#[test]
fn an_exact_multiple_of_the_chunk_size_has_no_empty_last_chunk() {
    let s = seal(gcm(1), b"", 10, &plaintext(30), 30);
    assert_eq!(s.len(), HEADER_LEN + 3 * (10 + CHUNK_OVERHEAD));
    let s = seal(gcm(1), b"", 10, b"", 1);
    assert_eq!(s.len(), HEADER_LEN + CHUNK_OVERHEAD, "one empty chunk");
}

const C: usize = 64;

fn sample() -> (Vec<u8>, Vec<u8>) {
    let pt = plaintext(3 * C + 5);
    (seal(gcm(1), b"aad", C as u32, &pt, 13), pt)
}

#[test]
fn truncation_anywhere_fails_and_never_yields_the_cut_chunk() {
    let (s, pt) = sample();
    let ranges = chunk_ranges(C, pt.len());
    for cut in 0..s.len() {
        let (got, r) = open(gcm(1), b"aad", &s[..cut]);
        let e = r.expect_err("a truncated stream");
        assert_eq!(e.kind(), ErrorKind::InvalidData, "cut {cut}: {e}");
        let m = e.to_string();
        assert!(
            m.contains("truncated") || m.contains("cut short"),
            "cut {cut}: {m}"
        );
        let whole = ranges.iter().filter(|r| r.end <= cut).count();
        let at_boundary = ranges.iter().any(|r| r.end == cut);
        let authentic = if at_boundary { whole - 1 } else { whole };
        assert!(got.len() <= authentic * C, "cut {cut}: {} bytes", got.len());
        assert_eq!(got, pt[..got.len()]);
    }
    // At a chunk boundary, the message says it plainly.
    for r in &ranges[..ranges.len() - 1] {
        let (_, e) = open(gcm(1), b"aad", &s[..r.end]);
        let e = e.unwrap_err().to_string();
        assert!(e.contains("the stream ends before its last chunk"), "{e}");
    }
    let (_, e) = open(gcm(1), b"aad", &s[..HEADER_LEN]);
    assert!(e.unwrap_err().to_string().contains("before its last chunk"));
}

#[test]
fn dropped_swapped_and_duplicated_chunks_fail() {
    let (s, pt) = sample();
    let r = chunk_ranges(C, pt.len());
    let cat = |parts: &[&std::ops::Range<usize>]| {
        let mut v = s[..HEADER_LEN].to_vec();
        for p in parts {
            v.extend_from_slice(&s[(*p).clone()]);
        }
        v
    };
    let chunk = |i| format!("chunk {i} does not authenticate");
    refused(&cat(&[&r[0], &r[2], &r[3]]), &chunk(1), 1, C, &pt, b"aad");
    refused(
        &cat(&[&r[1], &r[0], &r[2], &r[3]]),
        &chunk(0),
        0,
        C,
        &pt,
        b"aad",
    );
    refused(
        &cat(&[&r[0], &r[2], &r[1], &r[3]]),
        &chunk(1),
        1,
        C,
        &pt,
        b"aad",
    );
    refused(
        &cat(&[&r[0], &r[1], &r[1], &r[2], &r[3]]),
        &chunk(2),
        2,
        C,
        &pt,
        b"aad",
    );
    // The last chunk moved up is refused by its index too.
    refused(&cat(&[&r[0], &r[3]]), &chunk(1), 1, C, &pt, b"aad");
}

#[test]
fn chunks_of_another_stream_under_the_same_key_fail() {
    let (a, pt) = sample();
    let b = seal(gcm(1), b"aad", C as u32, &pt, 64);
    let r = chunk_ranges(C, pt.len());
    // b's chunk 1 in a: same key, same index, same AAD, another header.
    let mut spliced = a.clone();
    spliced[r[1].clone()].copy_from_slice(&b[r[1].clone()]);
    refused(&spliced, "chunk 1 does not authenticate", 1, C, &pt, b"aad");
    // b's header on a's chunks.
    let mut spliced = a.clone();
    spliced[..HEADER_LEN].copy_from_slice(&b[..HEADER_LEN]);
    refused(&spliced, "chunk 0 does not authenticate", 0, C, &pt, b"aad");
}

#[test]
fn any_altered_byte_fails_at_its_chunk() {
    let (s, pt) = sample();
    let ranges = chunk_ranges(C, pt.len());
    for at in 0..s.len() {
        let mut bad = s.clone();
        bad[at] ^= 0x01;
        let chunk = ranges.iter().position(|r| r.contains(&at)).unwrap_or(0);
        let (got, r) = open(gcm(1), b"aad", &bad);
        let e = r.expect_err("an altered byte");
        assert_eq!(e.kind(), ErrorKind::InvalidData, "byte {at}: {e}");
        assert!(
            got.len() <= chunk * C,
            "byte {at}: {} bytes returned",
            got.len()
        );
        assert_eq!(got, pt[..got.len()]);
    }
}

#[test]
fn header_changes_are_refused_with_what_is_wrong() {
    let (s, pt) = sample();
    let with = |i: usize, b: u8| {
        let mut v = s.clone();
        v[i] = b;
        let (got, r) = open(gcm(1), b"aad", &v);
        assert!(got.is_empty());
        r.unwrap_err().to_string()
    };
    assert!(with(0, b'X').contains("unknown format"));
    assert!(with(3, b'2').contains("version '2' is unknown"));
    assert!(with(4, 4).contains("not an AEAD one")); // aes128-cbc
    assert!(with(4, 0).contains("not an AEAD one"));
    assert!(with(4, 1).contains("sealed with an aes128-gcm key, not aes256-gcm"));
    assert!(with(5, 1).contains("flags"));
    assert!(with(6, 1).contains("reserved"));
    assert!(with(31, 1).contains("reserved"));
    assert!(with(11, 65).contains("chunk 0 does not authenticate"));
    assert!(with(20, 0xee).contains("chunk 0 does not authenticate"));
    let mut zero = s.clone();
    zero[8..12].copy_from_slice(&[0; 4]);
    assert!(open(gcm(1), b"aad", &zero)
        .1
        .unwrap_err()
        .to_string()
        .contains("chunk size"));
    zero[8..12].copy_from_slice(&(MAX_CHUNK_SIZE + 1).to_be_bytes());
    assert!(open(gcm(1), b"aad", &zero)
        .1
        .unwrap_err()
        .to_string()
        .contains("chunk size"));
    // A KVE1 envelope or plain text is not a stream.
    assert!(open(gcm(1), b"", b"KVE1\x02\x00rest")
        .1
        .unwrap_err()
        .to_string()
        .contains("unknown format"));
    assert!(open(gcm(1), b"", b"hi")
        .1
        .unwrap_err()
        .to_string()
        .contains("unknown format"));
    for n in [0, 3, 4, 31] {
        let e = open(gcm(1), b"aad", &s[..n]).1.unwrap_err().to_string();
        assert!(
            e.contains("inside its 32-byte header") && e.contains("truncated"),
            "{e}"
        );
    }
    let _ = pt;
}

#[test]
fn another_algorithm_is_named_before_any_chunk() {
    let (s, _) = sample();
    let e = StreamDecryptor::new(chacha(1), b"aad", &s[..]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    assert_eq!(
        e.to_string(),
        "the stream was sealed with an aes256-gcm key, not chacha20-poly1305"
    );
}

#[test]
fn appended_data_and_forged_empty_chunks_fail() {
    let (s, pt) = sample();
    for extra in [&[0u8][..], &[0; CHUNK_OVERHEAD], &[7; C + CHUNK_OVERHEAD]] {
        let mut v = s.clone();
        v.extend_from_slice(extra);
        refused(&v, "", 3, C, &pt, b"aad");
    }
    // After a full last chunk, the message says what happened.
    let pt2 = plaintext(2 * C);
    let s2 = seal(gcm(1), b"", C as u32, &pt2, 1);
    for extra in [&[0u8][..], &[0; CHUNK_OVERHEAD], &s2[HEADER_LEN..]] {
        let mut v = s2.clone();
        v.extend_from_slice(extra);
        let (got, e) = open(gcm(1), b"", &v);
        let e = e.unwrap_err();
        assert!(e.to_string().contains("data after the last chunk"), "{e}");
        assert!(got.len() <= C);
    }
    // A stream cut at a boundary, with a forged empty last chunk.
    let mut v = s2[..HEADER_LEN + C + CHUNK_OVERHEAD].to_vec();
    v.extend_from_slice(&[0; CHUNK_OVERHEAD]);
    let (got, e) = open(gcm(1), b"", &v);
    assert!(e.unwrap_err().to_string().contains("chunk 1 is empty"));
    assert_eq!(got, pt2[..C]);
}

#[test]
fn another_aad_fails_at_chunk_0() {
    let (s, pt) = sample();
    refused(&s, "chunk 0 does not authenticate", 0, C, &pt, b"aae");
    refused(&s, "chunk 0 does not authenticate", 0, C, &pt, b"");
}

#[test]
fn memory_is_one_chunk_whatever_the_length() {
    struct Count(usize);
    impl Write for Count {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let c = 1024;
    let mut enc = StreamEncryptor::with_chunk_size(gcm(3), b"", c, Count(0)).unwrap();
    let block = vec![5u8; 100_000];
    for _ in 0..40 {
        enc.write_all(&block).unwrap();
        assert_eq!(enc.buf.capacity(), c as usize + CHUNK_OVERHEAD);
    }
    let n = 4_000_000usize;
    assert_eq!(
        enc.finish().unwrap().0,
        HEADER_LEN + n.div_ceil(c as usize) * CHUNK_OVERHEAD + n
    );

    let s = seal(gcm(3), b"", c, &vec![5u8; n], 65536);
    let mut dec = StreamDecryptor::new(gcm(3), b"", &s[..]).unwrap();
    let mut piece = vec![0u8; 100_000];
    let mut total = 0;
    loop {
        let k = dec.read(&mut piece).unwrap();
        if k == 0 {
            break;
        }
        assert!(k <= c as usize, "a read returns at most one chunk");
        total += k;
        assert_eq!(dec.buf.capacity(), c as usize + CHUNK_OVERHEAD);
    }
    assert_eq!(total, n);
}

#[test]
fn bad_chunk_sizes_and_algorithms_are_refused_by_the_writer() {
    for c in [0, MAX_CHUNK_SIZE + 1] {
        let e = StreamEncryptor::with_chunk_size(gcm(1), b"", c, Vec::new()).unwrap_err();
        assert!(e.to_string().contains("chunk size is 1 to"), "{e}");
    }
    assert!(StreamEncryptor::with_chunk_size(gcm(1), b"", MAX_CHUNK_SIZE, Vec::new()).is_ok());
    let mut cbc = gcm(1);
    cbc.alg = Algorithm::Aes128Cbc;
    assert!(StreamEncryptor::new(cbc, b"", Vec::new()).is_err());
}

#[test]
fn a_failed_seal_poisons_the_encryptor() {
    struct Fails;
    impl ChunkCipher for Fails {
        fn algorithm(&self) -> Algorithm {
            Algorithm::Aes128Gcm
        }
        fn seal(&self, _: &[u8], _: &mut [u8]) -> io::Result<(Nonce, Tag)> {
            Err(io::Error::from_raw_os_error(libc::EMSGSIZE))
        }
        fn open(&self, _: &[u8], _: &Nonce, _: &mut [u8], _: &Tag) -> io::Result<()> {
            Err(io::Error::from_raw_os_error(libc::EPERM))
        }
    }
    let mut enc = StreamEncryptor::with_chunk_size(Fails, b"", 4, Vec::new()).unwrap();
    enc.write_all(b"1234").unwrap(); // one full chunk, held back until more comes
    let e = enc.write_all(b"5").unwrap_err();
    assert!(e.to_string().contains("sealing chunk 0"), "{e}");
    let e = enc.write_all(b"6").unwrap_err();
    assert!(e.to_string().contains("incomplete"), "{e}");
    assert!(enc.finish().is_err());

    // A cipher failure that is not a bad tag is not called tampering.
    let s = seal(gcm(1), b"", 4, b"abc", 3);
    let mut dec = StreamDecryptor::new(
        {
            struct As128;
            impl ChunkCipher for As128 {
                fn algorithm(&self) -> Algorithm {
                    Algorithm::Aes256Gcm
                }
                fn seal(&self, a: &[u8], b: &mut [u8]) -> io::Result<(Nonce, Tag)> {
                    Fails.seal(a, b)
                }
                fn open(&self, a: &[u8], n: &Nonce, b: &mut [u8], t: &Tag) -> io::Result<()> {
                    Fails.open(a, n, b, t)
                }
            }
            As128
        },
        b"",
        &s[..],
    )
    .unwrap();
    let e = dec.read(&mut [0; 8]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert!(e.to_string().starts_with("chunk 0: "), "{e}");
}

#[test]
fn the_kernels_ebadmsg_is_invalid_data_and_other_errnos_keep_their_kind() {
    use nix::errno::Errno;
    let e = io_error(crate::Error::new("aead-decrypt", Errno::EBADMSG));
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    assert!(e.to_string().contains("aead-decrypt"), "{e}");
    let e = io_error(crate::Error::new("aead-decrypt", Errno::EPERM));
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
}

#[test]
fn vault_ciphers_need_an_aead_key_and_report_kernel_errors_as_they_are() {
    let vault = Vault::open_path("/dev/null").unwrap();
    let e = VaultCipher::with_algorithm(&vault, KeyId(1), Algorithm::Aes128Cbc).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("needs an AEAD key"), "{e}");
    let c = VaultCipher::with_algorithm(&vault, KeyId(1), Algorithm::Aes256Gcm).unwrap();
    // /dev/null answers ENOTTY: an error of the vault, not a forgery.
    let e = StreamEncryptor::new(c, b"", Vec::new())
        .unwrap()
        .finish()
        .unwrap_err();
    assert_ne!(e.kind(), ErrorKind::InvalidData);
    assert!(e.to_string().contains("aead-encrypt"), "{e}");
    let e = StreamDecryptor::new(c, b"", &seal(gcm(1), b"", 4, b"x", 1)[..])
        .unwrap()
        .read(&mut [0; 4])
        .unwrap_err();
    assert_ne!(e.kind(), ErrorKind::InvalidData);
    assert!(e.to_string().contains("aead-decrypt"), "{e}");
}
