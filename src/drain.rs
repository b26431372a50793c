//! When the graceful drain may say goodbye to a connection.
//!
//! A drain tells a client that the server is done with a FIN (over TLS,
//! `close_notify` first). Bytes the client sends after it are read and
//! dropped, since nothing can be sent back any more, so the goodbye must
//! wait until the client has stopped sending. The server cannot see into
//! the client's send queue, and a receive queue that is empty for a moment
//! says nothing: a client held back by our closed window has its next
//! bytes waiting in its own kernel, and they arrive a round trip after the
//! read that reopened the window. What the server can see is how long ago
//! the client's last data arrived, which the kernel keeps for every socket
//! (`TCP_INFO`'s `tcpi_last_data_recv`).
//!
//! So a connection with nothing in flight gets its goodbye only once its
//! client has been silent for [`SILENCE`], and for four of its round trips
//! if those are longer. Any other is served on and asked again at the
//! next sweep, every [`SWEEP_EVERY`], until its client is silent, closes,
//! or the drain's deadline closes it.
//!
//! What remains is the race every server has with an idle keep-alive
//! connection: a client that sends just as the goodbye leaves. Its bytes
//! are read and dropped, and it reads the end of the stream where their
//! echo would have been, so it knows exactly which bytes came back.

use std::os::fd::RawFd;
use std::time::Duration;

use crate::tcp_info::TcpInfo;

/// How long a client must have sent nothing before the drain's goodbye:
/// a thousand loopback round trips, a few on a distant path.
pub const SILENCE: Duration = Duration::from_millis(100);

/// How often the drain asks again of the connections it has not said
/// goodbye to.
pub const SWEEP_EVERY: Duration = Duration::from_millis(50);

/// The client of TCP socket `fd` has sent nothing for long enough that no
/// byte of its can still be on its way. Where the kernel cannot say (not
/// a TCP socket), it is taken as silent: the goodbye goes out, as it
/// would for a client that sent nothing.
pub fn client_is_silent(fd: RawFd) -> bool {
    TcpInfo::read(fd).is_none_or(|info| silent_enough(info.since_last_data_ms(), info.rtt_us()))
}

/// `since_ms` without data is long enough, on a path of `rtt_us`.
fn silent_enough(since_ms: u32, rtt_us: u32) -> bool {
    let floor_ms = SILENCE.as_millis() as u32;
    since_ms >= floor_ms.max(rtt_us.saturating_mul(4) / 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_is_a_floor_or_four_round_trips_whichever_is_longer() {
        // Loopback: the floor decides.
        assert!(!silent_enough(99, 30));
        assert!(silent_enough(100, 30));
        // A 200 ms path: 800 ms of silence.
        assert!(!silent_enough(500, 200_000));
        assert!(silent_enough(800, 200_000));
    }

    #[test]
    fn a_client_is_silent_only_once_its_last_data_is_old_enough() {
        use std::io::Write;
        use std::net::{TcpListener, TcpStream};
        use std::os::fd::AsRawFd;
        use std::time::Instant;

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let sent_at = Instant::now();
        client.write_all(b"hi").unwrap();
        assert!(
            !client_is_silent(server.as_raw_fd()),
            "silent just after sending"
        );
        let give_up = sent_at + Duration::from_secs(10);
        while !client_is_silent(server.as_raw_fd()) {
            assert!(Instant::now() < give_up, "never silent");
            std::thread::sleep(Duration::from_millis(5));
        }
        // The kernel's clock ticks up to 10 ms apart.
        let waited = sent_at.elapsed();
        assert!(
            waited + Duration::from_millis(10) >= SILENCE,
            "silent after {waited:?}"
        );
    }
}
