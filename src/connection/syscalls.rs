//! The echo path's two system calls, called directly: `recv` and `send`,
//! answering what the kernel answered, so the hot path tests one number.

use std::io;
use std::os::fd::AsRawFd;

use mio::net::TcpStream;

/// `recv` into `buf`, answering what the kernel answered: the number of
/// bytes, 0 at the end of stream, or -1 with the error in `errno`. The echo
/// path tests that with one comparison; std's `read` would first build an
/// `io::Result` for the echo path to take apart again.
#[inline(always)]
pub(super) fn recv(stream: &TcpStream, buf: &mut [u8]) -> isize {
    // SAFETY: `buf` is a live, writable buffer of `buf.len()` bytes for the
    // whole call, and the descriptor is the stream's own, open while it is.
    unsafe { libc::recv(stream.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) }
}

/// `send` of `buf`, with the flags std's `write` uses (no `SIGPIPE` from a
/// client that has gone), answering what the kernel answered: the number
/// of bytes taken, or -1 with the error in `errno`.
#[inline(always)]
pub(super) fn send(stream: &TcpStream, buf: &[u8]) -> isize {
    // SAFETY: `buf` is a live buffer of `buf.len()` bytes for the whole
    // call, and the descriptor is the stream's own, open while it is.
    unsafe {
        libc::send(
            stream.as_raw_fd(),
            buf.as_ptr().cast(),
            buf.len(),
            SEND_FLAGS,
        )
    }
}

/// What std's `write` passes to `send`: no `SIGPIPE` where the flag exists
/// (std's list of systems). Elsewhere (Apple's systems) there is no such
/// flag, and the socket carries `SO_NOSIGPIPE` instead, set by mio.
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "dragonfly",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "solaris",
    target_os = "illumos"
))]
const SEND_FLAGS: libc::c_int = libc::MSG_NOSIGNAL;
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "dragonfly",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "solaris",
    target_os = "illumos"
)))]
const SEND_FLAGS: libc::c_int = 0;

/// What [`recv`] or [`send`] answered, as std would have: the error is read
/// from `errno`, so call this before anything else can make a system call.
pub(super) fn io_result(answer: isize) -> io::Result<usize> {
    if answer < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(answer as usize)
    }
}
