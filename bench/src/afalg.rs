//! Contender 2, AF_ALG: the kernel's crypto API from userspace through
//! sockets. A "tfm" socket is bound to an algorithm and keyed (from a
//! kernel keyring `logon` key with ALG_SET_KEY_BY_KEY_SERIAL when that
//! works, else with the raw bytes); each accepted "op" socket then runs
//! requests: sendmsg (data + op/IV/AAD-length cmsgs), then read.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub const SOL_ALG: libc::c_int = 279;
const ALG_SET_KEY: libc::c_int = 1;
const ALG_SET_IV: libc::c_int = 2;
const ALG_SET_OP: libc::c_int = 3;
const ALG_SET_AEAD_ASSOCLEN: libc::c_int = 4;
const ALG_SET_AEAD_AUTHSIZE: libc::c_int = 5;
const ALG_SET_KEY_BY_KEY_SERIAL: libc::c_int = 7;
const ALG_OP_DECRYPT: u32 = 0;
const ALG_OP_ENCRYPT: u32 = 1;
const KEY_SPEC_PROCESS_KEYRING: libc::c_long = -2;
const SO_SNDBUFFORCE: libc::c_int = 32;
const SO_RCVBUFFORCE: libc::c_int = 33;

/// The socket buffers an op socket asks for: the whole 1 MiB request and
/// its answer must fit, or the kernel would split the AEAD operation.
const SOCKBUF: libc::c_int = 4 << 20;

/// `ENOENT (No such file or directory)`-style text for an errno.
pub fn errno_text(errno: i32) -> String {
    let name = match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EINVAL => "EINVAL",
        libc::ENOTTY => "ENOTTY",
        libc::ENOSPC => "ENOSPC",
        libc::ENOSYS => "ENOSYS",
        libc::EMSGSIZE => "EMSGSIZE",
        libc::ENOPROTOOPT => "ENOPROTOOPT",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EBADMSG => "EBADMSG",
        libc::EDQUOT => "EDQUOT",
        libc::ENOKEY => "ENOKEY",
        libc::EKEYREVOKED => "EKEYREVOKED",
        libc::EKEYEXPIRED => "EKEYEXPIRED",
        libc::EKEYREJECTED => "EKEYREJECTED",
        _ => "",
    };
    let text = io::Error::from_raw_os_error(errno).to_string();
    let text = text.split(" (os error").next().unwrap_or("").to_string();
    if name.is_empty() {
        format!("errno {errno} ({text})")
    } else {
        format!("{name} ({text})")
    }
}

fn last_err(what: &str) -> String {
    let e = io::Error::last_os_error().raw_os_error().unwrap_or(0);
    format!("{what}: {}", errno_text(e))
}

/// `add_key("logon", desc, payload, KEY_SPEC_PROCESS_KEYRING)`: the key's
/// serial. A `logon` key can never be read back by userspace; AF_ALG can
/// use it.
pub fn add_logon_key(desc: &str, payload: &[u8]) -> Result<i32, String> {
    let ty = c"logon";
    let desc = CString::new(desc).map_err(|e| e.to_string())?;
    // SAFETY: valid C strings and buffer; the kernel copies them.
    let r = unsafe {
        libc::syscall(
            libc::SYS_add_key,
            ty.as_ptr(),
            desc.as_ptr(),
            payload.as_ptr(),
            payload.len(),
            KEY_SPEC_PROCESS_KEYRING,
        )
    };
    if r < 0 {
        Err(last_err("add_key(logon)"))
    } else {
        Ok(r as i32)
    }
}

/// How a tfm got its key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyMethod {
    /// None needed (plain hash).
    Unkeyed,
    /// ALG_SET_KEY_BY_KEY_SERIAL from this keyring key.
    KeySerial(i32),
    /// ALG_SET_KEY with the raw bytes; why the keyring way did not work.
    Plain(String),
}

impl KeyMethod {
    pub fn describe(&self) -> String {
        match self {
            KeyMethod::Unkeyed => "no key".into(),
            KeyMethod::KeySerial(s) => {
                format!("ALG_SET_KEY_BY_KEY_SERIAL from logon key {s}")
            }
            KeyMethod::Plain(why) => format!("plain ALG_SET_KEY (keyring way failed: {why})"),
        }
    }
}

/// A bound (and keyed) algorithm socket.
pub struct Tfm {
    fd: OwnedFd,
    pub key_method: KeyMethod,
    aead: bool,
}

/// The key to give a tfm: a keyring serial to try first, and the raw bytes
/// to fall back on.
pub struct KeySource<'a> {
    pub serial: Result<i32, String>,
    pub bytes: &'a [u8],
}

fn setsockopt(fd: RawFd, level: i32, name: i32, val: *const libc::c_void, len: usize) -> bool {
    // SAFETY: `val` points to `len` readable bytes (or is null with a length
    // the option takes as a number, as ALG_SET_AEAD_AUTHSIZE does).
    unsafe { libc::setsockopt(fd, level, name, val, len as libc::socklen_t) == 0 }
}

impl Tfm {
    /// socket(AF_ALG) + bind(`kind`, `name`) (+ key, + AEAD tag size 16).
    pub fn open(kind: &str, name: &str, key: Option<KeySource<'_>>) -> Result<Tfm, String> {
        // SAFETY: plain syscall.
        let fd =
            unsafe { libc::socket(libc::AF_ALG, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(last_err("socket(AF_ALG)"));
        }
        // SAFETY: we own the new fd.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: all-zero is a valid sockaddr_alg.
        let mut sa: libc::sockaddr_alg = unsafe { std::mem::zeroed() };
        sa.salg_family = libc::AF_ALG as libc::sa_family_t;
        sa.salg_type[..kind.len()].copy_from_slice(kind.as_bytes());
        sa.salg_name[..name.len()].copy_from_slice(name.as_bytes());
        // SAFETY: a valid sockaddr_alg of the size given.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_alg).cast(),
                std::mem::size_of::<libc::sockaddr_alg>() as libc::socklen_t,
            )
        };
        if r != 0 {
            return Err(last_err(&format!("bind {kind}/{name}")));
        }
        let key_method = match key {
            None => KeyMethod::Unkeyed,
            Some(k) => {
                let by_serial = match k.serial {
                    Ok(serial) => {
                        if setsockopt(
                            fd.as_raw_fd(),
                            SOL_ALG,
                            ALG_SET_KEY_BY_KEY_SERIAL,
                            (&serial as *const i32).cast(),
                            4,
                        ) {
                            Ok(serial)
                        } else {
                            Err(last_err("ALG_SET_KEY_BY_KEY_SERIAL"))
                        }
                    }
                    Err(e) => Err(e),
                };
                match by_serial {
                    Ok(s) => KeyMethod::KeySerial(s),
                    Err(why) => {
                        if !setsockopt(
                            fd.as_raw_fd(),
                            SOL_ALG,
                            ALG_SET_KEY,
                            k.bytes.as_ptr().cast(),
                            k.bytes.len(),
                        ) {
                            return Err(last_err("ALG_SET_KEY"));
                        }
                        KeyMethod::Plain(why)
                    }
                }
            }
        };
        let aead = kind == "aead";
        if aead
            && !setsockopt(
                fd.as_raw_fd(),
                SOL_ALG,
                ALG_SET_AEAD_AUTHSIZE,
                std::ptr::null(),
                16,
            )
        {
            return Err(last_err("ALG_SET_AEAD_AUTHSIZE"));
        }
        Ok(Tfm {
            fd,
            key_method,
            aead,
        })
    }

    /// A new request socket on this tfm (one per thread).
    pub fn accept(&self) -> Result<AlgOp, String> {
        // SAFETY: plain syscall on our fd.
        let fd = unsafe {
            libc::accept4(
                self.fd.as_raw_fd(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(last_err("accept"));
        }
        // SAFETY: we own the new fd.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        for (force, plain) in [
            (SO_SNDBUFFORCE, libc::SO_SNDBUF),
            (SO_RCVBUFFORCE, libc::SO_RCVBUF),
        ] {
            let v = SOCKBUF;
            let p = (&v as *const libc::c_int).cast();
            if !setsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, force, p, 4) {
                setsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, plain, p, 4);
            }
        }
        Ok(AlgOp::new(fd, self.aead))
    }
}

/// A request socket. For AEAD it keeps a prepared control buffer (op, IV,
/// AAD length) and patches the op and IV per call.
pub struct AlgOp {
    fd: OwnedFd,
    cbuf: Vec<u64>,
    clen: usize,
    op_off: usize,
    iv_off: usize,
}

impl AlgOp {
    fn new(fd: OwnedFd, aead: bool) -> AlgOp {
        let mut op = AlgOp {
            fd,
            cbuf: Vec::new(),
            clen: 0,
            op_off: 0,
            iv_off: 0,
        };
        if aead {
            op.build_cmsgs();
        }
        op
    }

    fn build_cmsgs(&mut self) {
        // SAFETY: the CMSG_* macros walk the buffer we size with CMSG_SPACE;
        // every header and datum written lies inside it.
        unsafe {
            let space = libc::CMSG_SPACE(4) + libc::CMSG_SPACE(4 + 12) + libc::CMSG_SPACE(4);
            self.clen = space as usize;
            self.cbuf = vec![0u64; self.clen.div_ceil(8)];
            let base = self.cbuf.as_mut_ptr() as *mut u8;
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_control = base.cast();
            msg.msg_controllen = self.clen as _;
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = SOL_ALG;
            (*c).cmsg_type = ALG_SET_OP;
            (*c).cmsg_len = libc::CMSG_LEN(4) as _;
            self.op_off = libc::CMSG_DATA(c).offset_from(base) as usize;
            let c = libc::CMSG_NXTHDR(&msg, c);
            (*c).cmsg_level = SOL_ALG;
            (*c).cmsg_type = ALG_SET_IV;
            (*c).cmsg_len = libc::CMSG_LEN(4 + 12) as _;
            let d = libc::CMSG_DATA(c);
            std::ptr::write_unaligned(d as *mut u32, 12); // struct af_alg_iv.ivlen
            self.iv_off = d.offset_from(base) as usize + 4;
            let c = libc::CMSG_NXTHDR(&msg, c);
            (*c).cmsg_level = SOL_ALG;
            (*c).cmsg_type = ALG_SET_AEAD_ASSOCLEN;
            (*c).cmsg_len = libc::CMSG_LEN(4) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(c) as *mut u32, 0);
        }
    }

    fn cbytes(&mut self) -> &mut [u8] {
        // SAFETY: the u64 buffer viewed as its bytes.
        unsafe { std::slice::from_raw_parts_mut(self.cbuf.as_mut_ptr() as *mut u8, self.clen) }
    }

    /// One AEAD request with empty AAD: encrypt `inputs` (the plaintext)
    /// into `out` = ciphertext || tag, or decrypt `inputs` (ciphertext,
    /// tag) into `out` = plaintext. Returns the bytes read.
    pub fn aead(
        &mut self,
        encrypt: bool,
        iv: &[u8; 12],
        inputs: &[&[u8]],
        out: &mut [u8],
    ) -> Result<usize, String> {
        let (op_off, iv_off) = (self.op_off, self.iv_off);
        let op = if encrypt {
            ALG_OP_ENCRYPT
        } else {
            ALG_OP_DECRYPT
        };
        let c = self.cbytes();
        c[op_off..op_off + 4].copy_from_slice(&op.to_ne_bytes());
        c[iv_off..iv_off + 12].copy_from_slice(iv);
        let mut iov = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; 2];
        let n = inputs.len().min(2);
        let mut total = 0;
        for (v, i) in iov.iter_mut().zip(inputs) {
            v.iov_base = i.as_ptr() as *mut _;
            v.iov_len = i.len();
            total += i.len();
        }
        // SAFETY: all-zero is a valid msghdr; the pointers set below are valid.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = iov.as_mut_ptr();
        msg.msg_iovlen = n as _;
        msg.msg_control = self.cbuf.as_mut_ptr().cast();
        msg.msg_controllen = self.clen as _;
        // MSG_DONTWAIT: if the socket buffer could not take the whole
        // request we get a short count instead of blocking forever.
        // SAFETY: a valid msghdr on our fd.
        let sent = unsafe { libc::sendmsg(self.fd.as_raw_fd(), &msg, libc::MSG_DONTWAIT) };
        if sent < 0 {
            return Err(last_err("sendmsg"));
        }
        if sent as usize != total {
            return Err(format!(
                "sendmsg took {sent} of {total} bytes (socket buffer too small)"
            ));
        }
        self.read(out)
    }

    /// One hash request: the whole message, then the digest.
    pub fn digest(&mut self, data: &[u8], out: &mut [u8]) -> Result<usize, String> {
        // SAFETY: a valid buffer on our fd.
        let sent = unsafe { libc::send(self.fd.as_raw_fd(), data.as_ptr().cast(), data.len(), 0) };
        if sent < 0 {
            return Err(last_err("send"));
        }
        if sent as usize != data.len() {
            return Err(format!("send took {sent} of {} bytes", data.len()));
        }
        self.read(out)
    }

    fn read(&mut self, out: &mut [u8]) -> Result<usize, String> {
        // SAFETY: a valid buffer on our fd.
        let r = unsafe { libc::read(self.fd.as_raw_fd(), out.as_mut_ptr().cast(), out.len()) };
        if r < 0 {
            return Err(last_err("read"));
        }
        if r as usize != out.len() {
            return Err(format!("read {r} of {} bytes", out.len()));
        }
        Ok(r as usize)
    }
}

/// `/proc/sys/crypto/af_alg_restrict` (Linux 7.3: 1 = only an allowlist of
/// algorithms, 2 = no AF_ALG at all).
pub const RESTRICT_SYSCTL: &str = "/proc/sys/crypto/af_alg_restrict";

pub fn read_restrict() -> Option<String> {
    std::fs::read_to_string(RESTRICT_SYSCTL)
        .ok()
        .map(|s| s.trim().to_string())
}

pub fn write_restrict(v: &str) -> Result<(), String> {
    std::fs::write(RESTRICT_SYSCTL, v).map_err(|e| format!("{RESTRICT_SYSCTL}: {e}"))
}
