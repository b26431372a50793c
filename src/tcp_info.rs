//! `TCP_INFO`: how the path looked to the kernel's TCP. Read once just
//! before a connection with a receipt closes (its receipt shows it), and
//! by the graceful drain, which asks how long a client has been silent
//! before it says goodbye (`drain`) (Linux).
//!
//! The layout is the kernel's `struct tcp_info` (`linux/tcp.h`) as far as
//! `tcpi_delivery_rate` (Linux 4.9); the `libc` crate's glibc definition
//! stops before the byte counters, so the struct is declared here. An
//! older kernel fills less of it and says how much: only the fields it
//! filled are reported.

use std::mem::{offset_of, size_of};
use std::os::fd::RawFd;

use serde_json::{json, Map, Value};

/// The kernel's `struct tcp_info`, up to `tcpi_delivery_rate`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct Raw {
    state: u8,
    ca_state: u8,
    retransmits: u8,
    probes: u8,
    backoff: u8,
    options: u8,
    wscale: u8,
    app_limited: u8,
    rto: u32,
    ato: u32,
    snd_mss: u32,
    rcv_mss: u32,
    unacked: u32,
    sacked: u32,
    lost: u32,
    retrans: u32,
    fackets: u32,
    last_data_sent: u32,
    last_ack_sent: u32,
    last_data_recv: u32,
    last_ack_recv: u32,
    pmtu: u32,
    rcv_ssthresh: u32,
    rtt: u32,
    rttvar: u32,
    snd_ssthresh: u32,
    snd_cwnd: u32,
    advmss: u32,
    reordering: u32,
    rcv_rtt: u32,
    rcv_space: u32,
    total_retrans: u32,
    pacing_rate: u64,
    max_pacing_rate: u64,
    bytes_acked: u64,
    bytes_received: u64,
    segs_out: u32,
    segs_in: u32,
    notsent_bytes: u32,
    min_rtt: u32,
    data_segs_in: u32,
    data_segs_out: u32,
    delivery_rate: u64,
}

/// What the kernel said of one connection, and how much of it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TcpInfo {
    raw: Raw,
    /// Bytes of `raw` the kernel filled.
    filled: usize,
}

impl TcpInfo {
    /// Reads `TCP_INFO` of the socket `fd`; `None` where it cannot be read.
    pub(crate) fn read(fd: RawFd) -> Option<TcpInfo> {
        let mut raw = Raw::default();
        let mut len = size_of::<Raw>() as libc::socklen_t;
        // SAFETY: `raw` is a plain struct of integers, valid for any bytes,
        // and `len` says how many bytes of it the kernel may write; both
        // live for the whole call.
        let result = unsafe {
            libc::getsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                (&mut raw as *mut Raw).cast(),
                &mut len,
            )
        };
        (result == 0).then_some(TcpInfo {
            raw,
            filled: len as usize,
        })
    }

    /// Smoothed round-trip time, µs.
    pub(crate) fn rtt_us(&self) -> u32 {
        self.raw.rtt
    }

    /// Milliseconds since the peer's last data arrived (since the
    /// handshake, if it has sent none), in the kernel's clock ticks.
    pub(crate) fn since_last_data_ms(&self) -> u32 {
        self.raw.last_data_recv
    }

    /// The fields as the receipt shows them, each only if the kernel filled
    /// it.
    pub(crate) fn to_json(self) -> Value {
        let raw = &self.raw;
        let mut out = Map::new();
        let mut field = |name: &str, end: usize, value: Value| {
            if end <= self.filled {
                out.insert(name.into(), value);
            }
        };
        let end_u32 = |offset: usize| offset + 4;
        let end_u64 = |offset: usize| offset + 8;
        field("rtt_us", end_u32(offset_of!(Raw, rtt)), json!(raw.rtt));
        field(
            "rttvar_us",
            end_u32(offset_of!(Raw, rttvar)),
            json!(raw.rttvar),
        );
        field(
            "retransmits",
            offset_of!(Raw, retransmits) + 1,
            json!(raw.retransmits),
        );
        field(
            "total_retrans",
            end_u32(offset_of!(Raw, total_retrans)),
            json!(raw.total_retrans),
        );
        field(
            "snd_cwnd",
            end_u32(offset_of!(Raw, snd_cwnd)),
            json!(raw.snd_cwnd),
        );
        field(
            "snd_mss",
            end_u32(offset_of!(Raw, snd_mss)),
            json!(raw.snd_mss),
        );
        field(
            "bytes_acked",
            end_u64(offset_of!(Raw, bytes_acked)),
            json!(raw.bytes_acked),
        );
        field(
            "bytes_received",
            end_u64(offset_of!(Raw, bytes_received)),
            json!(raw.bytes_received),
        );
        field(
            "min_rtt_us",
            end_u32(offset_of!(Raw, min_rtt)),
            json!(raw.min_rtt),
        );
        field(
            "delivery_rate",
            end_u64(offset_of!(Raw, delivery_rate)),
            json!(raw.delivery_rate),
        );
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    use super::*;

    #[test]
    fn the_layout_is_the_kernels() {
        assert_eq!(offset_of!(Raw, rto), 8);
        assert_eq!(offset_of!(Raw, rtt), 68);
        assert_eq!(offset_of!(Raw, total_retrans), 100);
        assert_eq!(offset_of!(Raw, bytes_acked), 120);
        assert_eq!(offset_of!(Raw, delivery_rate), 160);
        assert_eq!(size_of::<Raw>(), 168);
    }

    #[test]
    fn a_loopback_connection_reports_its_bytes() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        client.write_all(b"hello").unwrap();
        let mut got = [0; 5];
        server.read_exact(&mut got).unwrap();
        server.write_all(b"hello").unwrap();
        client.read_exact(&mut got).unwrap();
        let info = TcpInfo::read(server.as_raw_fd()).expect("TCP_INFO");
        let json = info.to_json();
        assert_eq!(json["bytes_received"], 5);
        assert!(info.rtt_us() > 0);
    }
}
