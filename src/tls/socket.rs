//! The socket as a TLS session reads it.

use std::io::{self, Read};

use mio::net::TcpStream;

/// The socket as the session reads it: notes whether the last read came
/// back short, which on a stream socket means its receive queue was
/// emptied (rustls asks for as much as its buffer has room for, in one
/// read per `read_tls`).
pub(super) struct Socket<'a> {
    stream: &'a mut TcpStream,
    pub(super) drained: bool,
}

impl<'a> Socket<'a> {
    pub(super) fn new(stream: &'a mut TcpStream) -> Socket<'a> {
        Socket {
            stream,
            drained: false,
        }
    }
}

impl Read for Socket<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.stream.read(buf)?;
        self.drained = n < buf.len();
        Ok(n)
    }
}
