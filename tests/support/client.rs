//! Plain blocking clients with read and write timeouts, so no test can
//! hang on a socket, and the checks built on them: an exact echo, the end
//! of stream, silence, and writing until the server stops reading.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::data::pattern;
use super::wait::{join_within, PATIENCE};

/// A blocking client with read and write timeouts, so no test can hang.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Reads exactly `len` bytes.
pub fn read_exactly(stream: &mut TcpStream, len: usize) -> Vec<u8> {
    let mut buf = vec![0; len];
    stream
        .read_exact(&mut buf)
        .unwrap_or_else(|e| panic!("reading {len} echoed bytes: {e}"));
    buf
}

/// Asserts the server closed its side: the next read returns 0 bytes.
pub fn assert_eof(stream: &mut TcpStream) {
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => {}
        Ok(_) => panic!("expected end of stream, got a byte: {:?}", byte[0]),
        Err(e) => panic!("expected end of stream, got an error: {e}"),
    }
}

/// Sends `message` and checks that exactly it comes back.
pub fn echo_once(stream: &mut TcpStream, message: &[u8]) {
    stream.write_all(message).expect("send");
    assert_same_bytes(&read_exactly(stream, message.len()), message);
}

/// Sends `data` from a second thread while this one reads the echo, then
/// half-closes and checks that exactly `data` came back, followed by EOF.
pub fn echo_all(addr: SocketAddr, data: &[u8]) {
    let mut stream = connect(addr);
    let sender = send_then_half_close(&stream, data.to_vec());
    let echoed = read_exactly(&mut stream, data.len());
    sender.finish();
    assert_same_bytes(&echoed, data);
    assert_eof(&mut stream);
}

/// A thread sending on a clone of a client's stream, so the client can
/// read its echo meanwhile (with both on one thread, a transfer larger than
/// the queues between them would deadlock).
pub struct Sender(JoinHandle<()>);

impl Sender {
    /// Waits, within [`PATIENCE`], for everything to be sent and the
    /// half-close; a send that failed fails the test here.
    pub fn finish(self) {
        join_within("the sending thread", self.0, PATIENCE);
    }
}

/// Sends `data` on a clone of `stream` from a new thread, then half-closes
/// it (the client's end of stream).
pub fn send_then_half_close(stream: &TcpStream, data: Vec<u8>) -> Sender {
    let mut writer = stream.try_clone().expect("clone the client's socket");
    Sender(thread::spawn(move || {
        writer.write_all(&data).expect("send");
        writer.shutdown(Shutdown::Write).expect("half-close");
    }))
}

/// How far apart [`send_paced`] writes its pieces: a stream still being
/// sent, far inside the drain's 100 ms of silence.
pub const PACE: Duration = Duration::from_millis(5);

/// Writes `pieces` one after another on a clone of `stream` from a new
/// thread, [`PACE`] apart, then half-closes it if `half_close`. Also answers
/// a receiver told once a quarter of the pieces are out: the moment to stop
/// a server mid-stream.
pub fn send_paced(
    stream: &TcpStream,
    pieces: Vec<Vec<u8>>,
    half_close: bool,
) -> (Sender, mpsc::Receiver<()>) {
    let mut writer = stream.try_clone().expect("clone the client's socket");
    let (quarter_out, a_quarter_sent) = mpsc::channel();
    let sender = Sender(thread::spawn(move || {
        for (i, piece) in pieces.iter().enumerate() {
            writer.write_all(piece).expect("send");
            if i == pieces.len() / 4 {
                let _ = quarter_out.send(());
            }
            thread::sleep(PACE);
        }
        if half_close {
            writer.shutdown(Shutdown::Write).expect("half-close");
        }
    }));
    (sender, a_quarter_sent)
}

/// Compares two byte strings and reports the first difference, not a
/// megabyte-long dump.
pub fn assert_same_bytes(got: &[u8], expected: &[u8]) {
    if let Some(at) = got.iter().zip(expected).position(|(a, b)| a != b) {
        panic!(
            "echo differs at byte {at}: got {:#04x}, expected {:#04x}",
            got[at], expected[at]
        );
    }
    assert_eq!(got.len(), expected.len(), "echo has the wrong length");
}

/// Asserts that `echoed`, read up to the server's goodbye (`goodbye`: how
/// it ended, for the message), is all of `sent`: first that the goodbye
/// did not come mid-stream, then that every byte matches.
pub fn assert_whole_echo_before(goodbye: &str, echoed: &[u8], sent: &[u8]) {
    assert_eq!(
        echoed.len(),
        sent.len(),
        "{goodbye} after {} of {} bytes: the goodbye came mid-stream",
        echoed.len(),
        sent.len()
    );
    assert_same_bytes(echoed, sent);
}

/// Asserts that for `quiet` nothing arrives on `stream`: no byte, no end of
/// stream, no error. (A time window, so only ever an extra check beside a
/// counter that proves the point.)
pub fn assert_silent_for(stream: &mut TcpStream, quiet: Duration) {
    stream.set_read_timeout(Some(quiet)).unwrap();
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) => {}
        Ok(0) => panic!("the server closed the connection during {quiet:?} of silence"),
        Ok(n) => panic!("unexpected bytes from the server: {:?}", &buf[..n]),
        Err(e) => panic!("the connection failed during {quiet:?} of silence: {e}"),
    }
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
}

/// `count` clients, made by `open`, that each write until blocked, all at
/// once (seeds `seed`, `seed + 1`, ...); each with what it sent.
pub fn clients_writing_until_blocked(
    count: usize,
    seed: u64,
    open: impl Fn() -> TcpStream + Send + Sync + 'static,
) -> Vec<(TcpStream, Vec<u8>)> {
    let open = std::sync::Arc::new(open);
    let writers: Vec<_> = (0..count)
        .map(|i| {
            let open = std::sync::Arc::clone(&open);
            thread::spawn(move || {
                let mut client = open();
                let sent = write_until_blocked(&mut client, seed + i as u64);
                (client, sent)
            })
        })
        .collect();
    writers
        .into_iter()
        .map(|writer| join_within("a client writing until blocked", writer, PATIENCE))
        .collect()
}

/// Writes until the kernel will not take more without the peer reading
/// (the socket's send and the server's receive queues are full, and so is
/// everything between), and returns what was written.
pub fn write_until_blocked(stream: &mut TcpStream, seed: u64) -> Vec<u8> {
    stream.set_nonblocking(true).unwrap();
    let chunk = pattern(64 * 1024, seed);
    let mut sent = Vec::new();
    write_until_quiet("writes", || {
        let n = stream.write(&chunk)?;
        sent.extend_from_slice(&chunk[..n]);
        Ok(())
    });
    stream.set_nonblocking(false).unwrap();
    sent
}

/// Calls `write` (one attempt on a non-blocking socket: `Ok` when it got
/// something out, `WouldBlock` when it did not) until nothing has gone out
/// for 200 ms in a row, which is what blocked means here; `what` names the
/// writes if they never block within [`PATIENCE`] or fail.
pub fn write_until_quiet(what: &str, mut write: impl FnMut() -> io::Result<()>) {
    let mut quiet_since = Instant::now();
    let deadline = Instant::now() + PATIENCE;
    while quiet_since.elapsed() < Duration::from_millis(200) {
        assert!(Instant::now() < deadline, "{what} never blocked");
        match write() {
            Ok(()) => quiet_since = Instant::now(),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(5))
            }
            Err(e) => panic!("{what}: {e}"),
        }
    }
}
