//! A polling thread's sockets: the [`Group`] of them the run hands it,
//! connected, and the [`Sockets`] they become in its poll: all plain TCP
//! connections, all TLS, all WebSocket, or all UDP sockets, never a mix, so that each
//! kind keeps its own direct calls (`tcp.rs`) and the thread's loop
//! (`worker.rs`) asks them all the same things through one `match`.

use std::io;
use std::net::{TcpStream as StdTcpStream, UdpSocket as StdUdpSocket};
use std::time::Duration;

use mio::net::{TcpStream, UdpSocket};
use mio::{Interest, Registry, Token};

use crate::channel::{Channel, Step, Turn};
use crate::counters::Tally;
use crate::model::Load;
use crate::tcp::{Conn, Transport};
use crate::tls::TlsClient;
use crate::tls_session::TlsSession;
use crate::udp::Dgram;
use crate::udp_sockets::UdpSockets;
use crate::ws_session::WsSession;

/// The sockets handed to a thread, connected to the target, each with its
/// number in the run.
pub enum Group {
    /// TCP connections, over TLS made by `tls` if given, speaking
    /// WebSocket with `websocket`.
    Tcp {
        streams: Vec<(usize, StdTcpStream)>,
        tls: Option<TlsClient>,
        websocket: bool,
    },
    /// With what the thread's UDP sockets share: their datagrams' size,
    /// and the time after which one with no echo is lost.
    Udp {
        sockets: Vec<(usize, StdUdpSocket)>,
        size: usize,
        timeout: Duration,
    },
}

impl Group {
    /// How many sockets the thread gets.
    pub fn len(&self) -> usize {
        match self {
            Group::Tcp { streams, .. } => streams.len(),
            Group::Udp { sockets, .. } => sockets.len(),
        }
    }
}

/// A thread's connections: all plain TCP, all TLS, all WebSocket (over
/// TCP or TLS), or all UDP.
pub enum Sockets {
    Tcp(Vec<Conn<TcpStream>>),
    Tls(Vec<Conn<TlsSession>>),
    Ws(Vec<Conn<WsSession<TcpStream>>>),
    Wss(Vec<Conn<WsSession<TlsSession>>>),
    Udp(UdpSockets),
}

impl Sockets {
    /// `group`'s sockets, each registered in `registry` under its index in
    /// the thread, with room for `ring` timestamps in flight, sending the
    /// messages of `load` (bulk: its whole stream, queued at once).
    pub fn new(group: Group, registry: &Registry, load: &Load, ring: usize) -> io::Result<Sockets> {
        Ok(match group {
            Group::Udp {
                sockets,
                size,
                timeout,
            } => {
                let mut dgrams = Vec::with_capacity(sockets.len());
                for (token, (id, socket)) in sockets.into_iter().enumerate() {
                    let mut dgram = Dgram::new(UdpSocket::from_std(socket), id, ring);
                    // WRITABLE only while a send waits (see `Dgram::send_queued`).
                    registry.register(dgram.socket(), Token(token), Interest::READABLE)?;
                    dgrams.push(dgram);
                }
                Sockets::Udp(UdpSockets::new(dgrams, size, timeout))
            }
            Group::Tcp {
                streams,
                tls,
                websocket,
            } => match (tls, websocket) {
                (None, false) => Sockets::Tcp(tcp_conns(streams, registry, load, ring, Ok)?),
                (Some(client), false) => {
                    let tls = |socket| TlsSession::new(&client, socket);
                    Sockets::Tls(tcp_conns(streams, registry, load, ring, tls)?)
                }
                (None, true) => {
                    let ws = |socket| Ok(WsSession::new(socket));
                    Sockets::Ws(tcp_conns(streams, registry, load, ring, ws)?)
                }
                (Some(client), true) => {
                    let wss = |socket| Ok(WsSession::new(TlsSession::new(&client, socket)?));
                    Sockets::Wss(tcp_conns(streams, registry, load, ring, wss)?)
                }
            },
        })
    }

    pub fn len(&self) -> usize {
        match self {
            Sockets::Tcp(conns) => conns.len(),
            Sockets::Tls(conns) => conns.len(),
            Sockets::Ws(conns) => conns.len(),
            Sockets::Wss(conns) => conns.len(),
            Sockets::Udp(udp) => udp.len(),
        }
    }

    pub fn channel(&mut self, i: usize) -> &mut dyn Channel {
        match self {
            Sockets::Tcp(conns) => &mut conns[i],
            Sockets::Tls(conns) => &mut conns[i],
            Sockets::Ws(conns) => &mut conns[i],
            Sockets::Wss(conns) => &mut conns[i],
            Sockets::Udp(udp) => udp.socket(i),
        }
    }

    pub fn waiting_for_echoes(&self) -> bool {
        match self {
            Sockets::Tcp(conns) => conns.iter().any(Conn::waiting_for_echoes),
            Sockets::Tls(conns) => conns.iter().any(Conn::waiting_for_echoes),
            Sockets::Ws(conns) => conns.iter().any(Conn::waiting_for_echoes),
            Sockets::Wss(conns) => conns.iter().any(Conn::waiting_for_echoes),
            Sockets::Udp(udp) => udp.waiting_for_echoes(),
        }
    }

    pub fn serve(&mut self, i: usize, turn: &mut Turn, readable: bool, to_eof: bool) -> Step {
        match self {
            Sockets::Tcp(conns) => conns[i].serve(turn, readable, to_eof),
            Sockets::Tls(conns) => conns[i].serve(turn, readable, to_eof),
            Sockets::Ws(conns) => conns[i].serve(turn, readable, to_eof),
            Sockets::Wss(conns) => conns[i].serve(turn, readable, to_eof),
            Sockets::Udp(udp) => udp.serve(i, turn, readable),
        }
    }

    pub fn flush(&mut self, i: usize, turn: &mut Turn) -> Step {
        let tally = &mut turn.recorder.tally;
        match self {
            Sockets::Tcp(conns) => conns[i].flush(turn.pattern, tally),
            Sockets::Tls(conns) => conns[i].flush(turn.pattern, tally),
            Sockets::Ws(conns) => conns[i].flush(turn.pattern, tally),
            Sockets::Wss(conns) => conns[i].flush(turn.pattern, tally),
            Sockets::Udp(udp) => udp.flush(i, turn),
        }
    }

    /// udp: the next socket that lost a datagram by `now` (see
    /// [`UdpSockets::next_loss`]).
    pub fn next_loss(&mut self, now: u64, tally: &mut Tally) -> Option<usize> {
        match self {
            Sockets::Tcp(_) | Sockets::Tls(_) | Sockets::Ws(_) | Sockets::Wss(_) => None,
            Sockets::Udp(udp) => udp.next_loss(now, tally),
        }
    }

    /// `--response-timeout-ms`: gives up on the TCP connections whose
    /// oldest message has waited `timeout` (ns) at `now`, each a timeout;
    /// returns how many.
    pub fn time_out_silent(&mut self, now: u64, timeout: u64, tally: &mut Tally) -> usize {
        match self {
            Sockets::Tcp(conns) => time_out_silent(conns, now, timeout, tally),
            Sockets::Tls(conns) => time_out_silent(conns, now, timeout, tally),
            Sockets::Ws(conns) => time_out_silent(conns, now, timeout, tally),
            Sockets::Wss(conns) => time_out_silent(conns, now, timeout, tally),
            Sockets::Udp(_) => 0,
        }
    }

    /// The end of the run: counts the connections still waiting for
    /// echoes as lost; returns the first I/O error.
    pub fn finish(self, tally: &mut Tally) -> Option<io::Error> {
        match self {
            Sockets::Tcp(conns) => finish_conns(conns, tally),
            Sockets::Tls(conns) => finish_conns(conns, tally),
            Sockets::Ws(conns) => finish_conns(conns, tally),
            Sockets::Wss(conns) => finish_conns(conns, tally),
            Sockets::Udp(udp) => udp.finish(tally),
        }
    }
}

/// Gives up on those of `conns` whose oldest message has waited `timeout`
/// (ns) at `now`; returns how many.
fn time_out_silent<S: Transport>(
    conns: &mut [Conn<S>],
    now: u64,
    timeout: u64,
    tally: &mut Tally,
) -> usize {
    (conns.iter_mut())
        .map(|conn| conn.time_out_if_silent(now, timeout, tally))
        .filter(|&timed_out| timed_out)
        .count()
}

/// Counts `conns` still waiting for echoes as lost; returns the I/O error
/// that ended one (of those one ended, the first in their order).
fn finish_conns<S: Transport>(mut conns: Vec<Conn<S>>, tally: &mut Tally) -> Option<io::Error> {
    for missing in conns.iter().filter_map(Conn::missing_echo) {
        tally.errors.lost_connections += 1;
        tally.errors.lost_bytes += missing;
    }
    conns.iter_mut().find_map(Conn::take_failure)
}

/// Wraps each of `streams` with `transport` into a connection sending the
/// messages of `load` (bulk: its whole stream, queued at once), with room
/// for `ring` timestamps, registered in `registry` for both directions
/// under its index.
fn tcp_conns<S: Transport>(
    streams: Vec<(usize, StdTcpStream)>,
    registry: &Registry,
    load: &Load,
    ring: usize,
    transport: impl Fn(TcpStream) -> io::Result<S>,
) -> io::Result<Vec<Conn<S>>> {
    let size = load.messages().map_or(0, |messages| messages.size);
    let window = load.wire_window();
    let bulk = match *load {
        Load::Bulk { bytes, .. } => Some(bytes),
        _ => None,
    };
    let mut conns = Vec::with_capacity(streams.len());
    for (token, (id, stream)) in streams.into_iter().enumerate() {
        let mut conn = Conn::new(
            transport(TcpStream::from_std(stream))?,
            id,
            size,
            window,
            ring,
        );
        if let Some(bytes) = bulk {
            conn.queue_stream(bytes);
        }
        let both = Interest::READABLE | Interest::WRITABLE;
        registry.register(conn.socket(), Token(token), both)?;
        conns.push(conn);
    }
    Ok(conns)
}
