//! If the fuzzer itself crashes (SIGSEGV, SIGBUS), say where before dying:
//! the faulting address, the instruction pointer and the process's memory
//! map, so the address can be resolved (`addr2line -e kv-fuzz`) and a write
//! by the kernel into memory the fuzzer did not offer be told apart from a
//! bug of the fuzzer. Only async-signal-safe calls in the handler.

/// Installs the handler for SIGSEGV and SIGBUS (once; reset after it runs,
/// so the fault then kills the process as usual).
pub fn install() {
    for sig in [libc::SIGSEGV, libc::SIGBUS] {
        // SAFETY: a zeroed sigaction with a valid handler and flags; the
        // handler only makes async-signal-safe calls.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESETHAND;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Writes `bytes` to stderr.
fn say(bytes: &[u8]) {
    // SAFETY: write(2) from a valid buffer.
    unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
}

/// Writes `v` in hex to stderr, without allocating.
fn say_hex(v: u64) {
    let mut buf = [0u8; 18];
    buf[0] = b'0';
    buf[1] = b'x';
    for (i, b) in buf[2..].iter_mut().enumerate() {
        *b = b"0123456789abcdef"[(v >> (60 - 4 * i) & 0xf) as usize];
    }
    say(&buf);
}

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    say(if sig == libc::SIGBUS {
        b"\nkv-fuzz: SIGBUS"
    } else {
        b"\nkv-fuzz: SIGSEGV"
    });
    say(b" at address ");
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    say_hex(unsafe { (*info).si_addr() } as u64);
    #[cfg(target_arch = "x86_64")]
    {
        say(b", rip ");
        // SAFETY: on x86-64 Linux the third argument is a ucontext_t.
        let rip =
            unsafe { (*ctx.cast::<libc::ucontext_t>()).uc_mcontext.gregs[libc::REG_RIP as usize] };
        say_hex(rip as u64);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ctx;
    say(b", thread ");
    // SAFETY: gettid(2) has no preconditions.
    say_hex(unsafe { libc::syscall(libc::SYS_gettid) } as u64);
    say(b"\n/proc/self/maps:\n");
    // SAFETY: open/read/close with a stack buffer are async-signal-safe.
    unsafe {
        let fd = libc::open(c"/proc/self/maps".as_ptr(), libc::O_RDONLY);
        if fd >= 0 {
            let mut buf = [0u8; 4096];
            loop {
                let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
                if n <= 0 {
                    break;
                }
                say(&buf[..n as usize]);
            }
            libc::close(fd);
        }
    }
}
