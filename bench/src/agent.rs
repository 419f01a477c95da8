//! Contender 3, a key agent (the ssh-agent model): a separate process
//! (forked) holds the keys and answers requests over a Unix stream socket.
//! Minimal and honest: a request is `u32 length (LE) | u8 op | arguments`,
//! the answer `u32 length | u8 status | result`; both sides reuse their
//! buffers and read as much as is there in one call, so a small request
//! costs one write and one read on each side. The agent computes with the
//! same userspace code as the in-process contender.

use crate::userspace::{AeadAlg, InProc, Keys};
use aes_gcm::Aes256Gcm;
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;

pub const OP_SEAL_AES: u8 = 1;
pub const OP_OPEN_AES: u8 = 2;
pub const OP_SEAL_CHACHA: u8 = 3;
pub const OP_HMAC: u8 = 4;
pub const OP_SHA256: u8 = 5;
pub const OP_SIGN: u8 = 6;
pub const OP_VERIFY: u8 = 7;
pub const OP_EXCHANGE: u8 = 8;
pub const OP_DESTROY: u8 = 9;

/// The largest frame either side accepts.
const MAX_FRAME: usize = 16 << 20;

/// A reusable frame reader: `u32 length | body`.
#[derive(Default)]
pub struct FrameBuf {
    data: Vec<u8>,
}

impl FrameBuf {
    /// Reads one frame; `None` at end of stream. The peer never sends a
    /// second frame before it has the answer to the first, so reading
    /// greedily never swallows the next one.
    pub fn read_frame(&mut self, s: &mut impl Read) -> io::Result<Option<&[u8]>> {
        let mut filled = 0usize;
        loop {
            let need = if filled >= 4 {
                let n = u32::from_le_bytes(self.data[..4].try_into().unwrap()) as usize;
                if n > MAX_FRAME {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "frame too big"));
                }
                4 + n
            } else {
                4
            };
            if filled >= 4 && filled >= need {
                return Ok(Some(&self.data[4..need]));
            }
            let end = if filled >= 4 {
                need
            } else {
                self.data.len().max(64 << 10)
            };
            if self.data.len() < end {
                self.data.resize(end, 0);
            }
            let n = match s.read(&mut self.data[filled..end]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                if filled == 0 {
                    return Ok(None);
                }
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            filled += n;
        }
    }
}

/// The client side, owned by the benchmark.
pub struct Agent {
    sock: UnixStream,
    pid: libc::pid_t,
    wbuf: Vec<u8>,
    rbuf: FrameBuf,
}

impl Agent {
    /// Forks the agent process (on the CPUs of `affinity`, or where this
    /// process may run). Call before any thread is started.
    pub fn spawn(keys: &Keys, affinity: Option<&libc::cpu_set_t>) -> io::Result<Agent> {
        let (ours, theirs) = UnixStream::pair()?;
        // SAFETY: the program is still single-threaded here; the child only
        // runs `serve` and leaves with `_exit`.
        match unsafe { libc::fork() } {
            -1 => Err(io::Error::last_os_error()),
            0 => {
                drop(ours);
                if let Some(set) = affinity {
                    // SAFETY: a valid cpu_set_t of the size given.
                    unsafe {
                        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set)
                    };
                }
                let code = match serve(theirs, keys) {
                    Ok(()) => 0,
                    Err(_) => 1,
                };
                // SAFETY: ends the child without running the parent's destructors.
                unsafe { libc::_exit(code) }
            }
            pid => Ok(Agent {
                sock: ours,
                pid,
                wbuf: Vec::new(),
                rbuf: FrameBuf::default(),
            }),
        }
    }

    /// A client on an already connected stream (tests).
    #[cfg(test)]
    pub fn on(sock: UnixStream) -> Agent {
        Agent {
            sock,
            pid: 0,
            wbuf: Vec::new(),
            rbuf: FrameBuf::default(),
        }
    }

    /// One request, one answer: the result bytes (or an error).
    pub fn call(&mut self, op: u8, args: &[&[u8]]) -> Result<&[u8], String> {
        let len: usize = 1 + args.iter().map(|a| a.len()).sum::<usize>();
        self.wbuf.clear();
        self.wbuf.extend_from_slice(&(len as u32).to_le_bytes());
        self.wbuf.push(op);
        for a in args {
            self.wbuf.extend_from_slice(a);
        }
        self.sock
            .write_all(&self.wbuf)
            .map_err(|e| format!("agent write: {e}"))?;
        let body = self
            .rbuf
            .read_frame(&mut self.sock)
            .map_err(|e| format!("agent read: {e}"))?
            .ok_or("agent closed the socket")?;
        match body.split_first() {
            Some((0, rest)) => Ok(rest),
            Some((s, _)) => Err(format!("agent refused (status {s})")),
            None => Err("empty answer".into()),
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.sock.shutdown(std::net::Shutdown::Both);
        if self.pid > 0 {
            // SAFETY: reaps our own child.
            unsafe { libc::waitpid(self.pid, std::ptr::null_mut(), 0) };
        }
    }
}

/// The agent's loop: answers until the client closes the socket.
pub fn serve(mut sock: UnixStream, keys: &Keys) -> io::Result<()> {
    let crypto = InProc::new(keys);
    let mut frames = FrameBuf::default();
    let mut resp: Vec<u8> = Vec::new();
    let mut derived: HashMap<u64, Aes256Gcm> = HashMap::new();
    let mut next_id = 1u64;
    while let Some(body) = frames.read_frame(&mut sock)? {
        resp.clear();
        resp.extend_from_slice(&[0; 5]);
        let ok = match body.split_first() {
            Some((&op, args)) => handle(&crypto, op, args, &mut resp, &mut derived, &mut next_id),
            None => false,
        };
        if !ok {
            resp.truncate(5);
            resp[4] = 1;
        }
        let len = (resp.len() - 4) as u32;
        resp[..4].copy_from_slice(&len.to_le_bytes());
        sock.write_all(&resp)?;
    }
    Ok(())
}

fn handle(
    c: &InProc,
    op: u8,
    args: &[u8],
    resp: &mut Vec<u8>,
    derived: &mut HashMap<u64, Aes256Gcm>,
    next_id: &mut u64,
) -> bool {
    let seal = |alg: AeadAlg, resp: &mut Vec<u8>| -> bool {
        let Some((nonce, pt)) = args.split_first_chunk::<12>() else {
            return false;
        };
        resp.resize(5 + pt.len(), 0);
        let tag = c.seal(alg, nonce, pt, &mut resp[5..]);
        resp.extend_from_slice(&tag);
        true
    };
    match op {
        OP_SEAL_AES => seal(AeadAlg::Aes256Gcm, resp),
        OP_SEAL_CHACHA => seal(AeadAlg::ChaCha20Poly1305, resp),
        OP_OPEN_AES => {
            let Some((nonce, rest)) = args.split_first_chunk::<12>() else {
                return false;
            };
            let Some((tag, ct)) = rest.split_first_chunk::<16>() else {
                return false;
            };
            resp.resize(5 + ct.len(), 0);
            c.open(AeadAlg::Aes256Gcm, nonce, ct, tag, &mut resp[5..])
        }
        OP_HMAC => {
            resp.extend_from_slice(&c.hmac(args));
            true
        }
        OP_SHA256 => {
            resp.extend_from_slice(&InProc::sha256(args));
            true
        }
        OP_SIGN => {
            resp.extend_from_slice(&c.sign(args));
            true
        }
        OP_VERIFY => {
            let Some((sig, msg)) = args.split_first_chunk::<64>() else {
                return false;
            };
            InProc::verify(&c.ed25519_public(), msg, sig)
        }
        OP_EXCHANGE => {
            let Some(peer) = args.first_chunk::<32>() else {
                return false;
            };
            let Some((_, key)) = c.exchange(peer) else {
                return false;
            };
            let id = *next_id;
            *next_id += 1;
            derived.insert(id, key);
            resp.extend_from_slice(&id.to_le_bytes());
            true
        }
        OP_DESTROY => {
            let Some(id) = args.first_chunk::<8>() else {
                return false;
            };
            derived.remove(&u64::from_le_bytes(*id)).is_some()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agent_computes_what_the_process_computes() {
        let keys = Keys::random();
        let (a, b) = UnixStream::pair().unwrap();
        let k2 = keys.clone();
        let server = std::thread::spawn(move || serve(b, &k2));
        let mut agent = Agent::on(a);
        let local = InProc::new(&keys);
        for len in [0usize, 16, 100_000, 1 << 20] {
            let pt: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut ct = vec![0u8; len];
            let tag = local.seal(AeadAlg::Aes256Gcm, &[3; 12], &pt, &mut ct);
            let got = agent.call(OP_SEAL_AES, &[&[3; 12], &pt]).unwrap().to_vec();
            assert_eq!(got[..len], ct[..]);
            assert_eq!(got[len..], tag[..]);
            let back = agent
                .call(OP_OPEN_AES, &[&[3; 12], &tag, &ct])
                .unwrap()
                .to_vec();
            assert_eq!(back, pt);
            assert_eq!(agent.call(OP_HMAC, &[&pt]).unwrap(), local.hmac(&pt));
            assert_eq!(agent.call(OP_SHA256, &[&pt]).unwrap(), InProc::sha256(&pt));
        }
        assert!(agent
            .call(OP_OPEN_AES, &[&[3; 12], &[0; 16], b"x"])
            .is_err());
        let sig: [u8; 64] = agent.call(OP_SIGN, &[b"m"]).unwrap().try_into().unwrap();
        assert!(InProc::verify(&local.ed25519_public(), b"m", &sig));
        assert!(agent.call(OP_VERIFY, &[&sig, b"m"]).is_ok());
        assert!(agent.call(OP_VERIFY, &[&sig, b"n"]).is_err());
        let peer = InProc::new(&Keys::random()).x25519_public();
        let id = agent.call(OP_EXCHANGE, &[&peer]).unwrap().to_vec();
        assert!(agent.call(OP_DESTROY, &[&id]).is_ok());
        assert!(agent.call(OP_DESTROY, &[&id]).is_err());
        drop(agent);
        server.join().unwrap().unwrap();
    }
}
