//! The reactor's side of the fault listeners: binding them, bringing
//! their sockets in line with the fault table, and starting a connection
//! with what it drew.
//!
//! The table ([`FaultTable`]) is changed in place (by the command line
//! before the first turn, by the admin API while the server runs), and
//! [`Reactor::sync_faults`] then makes the sockets say what it says:
//!
//! - **Disabled** (toxiproxy's `down`): the listener's socket is closed,
//!   so a connect is refused (an RST to the SYN) as it is by a stopped
//!   toxiproxy proxy, rather than accepted and closed: a client, a load
//!   balancer's check, sees exactly "nothing listens here". The
//!   connections open through it are closed too. Enabling it binds the
//!   same address again (its port, even if 0 was asked for at start).
//! - **Stops accepting** (`stop_accepting`): the socket stays, but its
//!   backlog is set to 0 (`listen(2)` again on a listening socket only
//!   changes its backlog) and nothing is accepted: the kernel completes
//!   one handshake and queues it, and every later SYN is dropped, so
//!   clients see connect timeouts. When the toxic goes, the backlog is
//!   restored and the queue accepted.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::Instant;

use log::{debug, info, warn};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::entry::{Entry, Listener};
use super::Reactor;
use crate::faults::counts;
use crate::faults::stage::FaultedConnection;
use crate::faults::udp::FaultyUdp;
use crate::faults::FaultTable;
use crate::receipt::Receipt;
use crate::serve::{CloseReason, ListenerKind, Next, Ready};
use crate::socket;
use crate::stats::FaultApplied;

/// How a connection is served when its wake-up falls due: as if readable
/// (a faulted connection tries everything anyway; a key reused by a plain
/// connection since is served for nothing, its read saying `WouldBlock`).
const WAKE: Ready = Ready {
    readable: true,
    writable: false,
    read_closed: false,
};

impl Reactor {
    /// Opens every fault listener of the table, at start-up; a failure
    /// names the address.
    pub(super) fn listen_faults(
        &mut self,
        registry: &Registry,
    ) -> Result<(), (SocketAddr, io::Error)> {
        self.sync_faults(registry)
    }

    /// Changes the fault table with `change` (an operation of the admin
    /// API), then brings the sockets in line with it.
    #[allow(dead_code)] // The admin API's entry point.
    pub(super) fn change_faults<R>(
        &mut self,
        registry: &Registry,
        change: impl FnOnce(&mut FaultTable) -> R,
    ) -> Option<R> {
        let state = self.features.faults.as_mut()?;
        let answer = change(&mut state.table);
        state.fit_rows(&mut self.cx);
        if let Err((addr, e)) = self.sync_faults(registry) {
            warn!("fault listener {addr}: cannot listen again: {e}");
        }
        Some(answer)
    }

    /// Makes each fault listener's socket what the table says: open or
    /// closed, accepting or holding its accepts.
    pub(super) fn sync_faults(
        &mut self,
        registry: &Registry,
    ) -> Result<(), (SocketAddr, io::Error)> {
        let Some(state) = &self.features.faults else {
            return Ok(());
        };
        if state.synced == state.table.generation() {
            return Ok(());
        }
        if let Some(state) = &mut self.features.faults {
            state.fit_rows(&mut self.cx);
        }
        let listeners = self
            .features
            .faults
            .as_ref()
            .map_or(0, |s| s.table.list().len());
        for index in 0..listeners {
            self.sync_listener(registry, index)?;
        }
        if let Some(state) = &mut self.features.faults {
            state.synced = state.table.generation();
        }
        Ok(())
    }

    fn sync_listener(
        &mut self,
        registry: &Registry,
        index: usize,
    ) -> Result<(), (SocketAddr, io::Error)> {
        let Some(state) = &self.features.faults else {
            return Ok(());
        };
        let Some(listener) = state.table.at(index) else {
            return Ok(());
        };
        let (addr, enabled, hold) = (
            listener.listen,
            listener.enabled,
            listener.stops_accepting(),
        );
        let (key, backlog, reuse_port) = (state.keys[index], state.backlog, state.reuse_port);
        let name = listener.name.clone();
        let key = match (key, enabled) {
            (None, true) => {
                let socket =
                    socket::tcp_listener(addr, backlog, reuse_port).map_err(|e| (addr, e))?;
                let local = self
                    .add_listener(registry, socket, ListenerKind::Faulty(index as u8))
                    .map_err(|e| (addr, e))?;
                let key = self.listeners.last().copied();
                if let Some(state) = &mut self.features.faults {
                    state.table.set_address(index, local);
                    state.keys[index] = key;
                    state.holding[index] = false;
                }
                info!("fault listener {name}: listening on {local}");
                self.open_fault_udp(registry, index, local)
                    .map_err(|e| (local, e))?;
                key
            }
            (Some(key), false) => {
                self.close_fault_listener(registry, key, index, addr);
                info!("fault listener {name} on {addr} disabled: connections refused");
                None
            }
            (key, _) => key,
        };
        if let Some(key) = key {
            self.hold_accepts(registry, key, index, hold);
        }
        self.update_fault_udp(index);
        Ok(())
    }

    /// With `--udp`, opens fault listener `index`'s UDP socket on the port
    /// its TCP listener got (`local`).
    pub(super) fn open_fault_udp(
        &mut self,
        registry: &Registry,
        index: usize,
        local: SocketAddr,
    ) -> io::Result<()> {
        let Some(state) = &mut self.features.faults else {
            return Ok(());
        };
        let Some(listener) = state.table.at(index).filter(|_| state.udp) else {
            return Ok(());
        };
        let (toxics, name) = (listener.toxics.clone(), listener.name.clone());
        let mut socket = socket::udp_socket(local, state.reuse_port)?;
        let key = self.entries.vacant_key();
        registry.register(&mut socket, Token(key), Interest::READABLE)?;
        let udp = FaultyUdp::new(socket, index, &toxics, state.seed());
        state.udp_keys[index] = Some(key);
        self.entries.insert(Entry::FaultyUdp(Box::new(udp)));
        self.udp_sockets.push(key);
        self.cx.udp_ports.push(local.port());
        info!("fault listener {name}: listening on {local} (udp)");
        Ok(())
    }

    /// Gives fault listener `index`'s UDP socket, if any, its toxics as
    /// the table has them now.
    fn update_fault_udp(&mut self, index: usize) {
        let Some(state) = &self.features.faults else {
            return;
        };
        let (Some(key), Some(listener)) = (state.udp_keys[index], state.table.at(index)) else {
            return;
        };
        if let Some(Entry::FaultyUdp(udp)) = self.entries.get_mut(key) {
            udp.set_toxics(&listener.toxics);
        }
    }

    /// Closes the socket of fault listener `index` (on `key`, at `addr`),
    /// and every connection that came through it.
    pub(super) fn close_fault_listener(
        &mut self,
        registry: &Registry,
        key: usize,
        index: usize,
        addr: SocketAddr,
    ) {
        self.listeners.retain(|&k| k != key);
        let udp_key = self
            .features
            .faults
            .as_mut()
            .and_then(|state| state.udp_keys[index].take());
        if let Some(udp_key) = udp_key {
            self.udp_sockets.retain(|&k| k != udp_key);
            self.cx.udp_ports.retain(|&port| port != addr.port());
            if let Some(mut entry) = self.entries.try_remove(udp_key) {
                if let Some(stage) = entry.stage() {
                    self.cx.budget.release(stage.memory());
                    let _ = registry.deregister(stage.source());
                }
            }
        }
        // Closing the socket refuses later connects.
        if let Some(Entry::Listener(mut listener)) = self.entries.try_remove(key) {
            if let Err(e) = registry.deregister(&mut listener.socket) {
                debug!("fault listener {addr}: deregister failed: {e}");
            }
        }
        if let Some(state) = &mut self.features.faults {
            state.keys[index] = None;
            state.holding[index] = false;
        }
        let through_it: Vec<usize> = self
            .entries
            .iter()
            .filter(|(_, entry)| came_through(entry, index, addr))
            .map(|(key, _)| key)
            .collect();
        for conn in through_it {
            counts::count(&mut self.cx, index, FaultApplied::Down);
            self.close(registry, conn, CloseReason::Fault(FaultApplied::Down));
        }
    }

    /// Sets whether fault listener `index` (on `key`) holds its accepts;
    /// accepts what queued once it no longer does.
    fn hold_accepts(&mut self, registry: &Registry, key: usize, index: usize, hold: bool) {
        let Some(state) = &mut self.features.faults else {
            return;
        };
        if state.holding[index] == hold {
            return;
        }
        state.holding[index] = hold;
        let backlog = if hold { 0 } else { state.backlog };
        if hold {
            counts::count(&mut self.cx, index, FaultApplied::StopAccepting);
        }
        if let Some(Entry::Listener(Listener { socket, .. })) = self.entries.get(key) {
            let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
            // SAFETY: `listen` on the listener's own open descriptor, which
            // only changes the length of its accept queue.
            if unsafe { libc::listen(socket.as_raw_fd(), backlog) } != 0 {
                warn!(
                    "fault listener: cannot set its backlog: {}",
                    io::Error::last_os_error()
                );
            }
        }
        if !hold && self.acceptor.is_open() {
            self.accept_from(registry, key);
        }
    }

    /// Fault listener `index` holds its accepts (`stop_accepting`).
    pub(super) fn holds_accepts(&self, index: u8) -> bool {
        self.features
            .faults
            .as_ref()
            .is_some_and(|state| state.holding.get(usize::from(index)) == Some(&true))
    }

    /// Draws the faults of a connection from fault listener `index`: the
    /// connection with its faults, or its stream back if it drew none.
    pub(super) fn draw_faults(
        &mut self,
        key: usize,
        index: u8,
        stream: TcpStream,
    ) -> Result<(Box<FaultedConnection>, Vec<String>), TcpStream> {
        let Some(state) = &mut self.features.faults else {
            return Err(stream);
        };
        let Some((drawn, seed)) = state.draw(usize::from(index), &mut self.cx) else {
            debug!("token {key}: drew no fault");
            return Err(stream);
        };
        debug!("token {key}: drew faults {}", drawn.names.join(", "));
        let now = Instant::now();
        let conn = FaultedConnection::new(stream, drawn.plan, index, seed, now);
        Ok((Box::new(conn), drawn.names))
    }

    /// A connection that drew faults takes its slot and begins; `early`
    /// bytes at the start of the scratch buffer arrived before it.
    pub(super) fn start_faulted(
        &mut self,
        registry: &Registry,
        key: usize,
        conn: Box<FaultedConnection>,
        early: usize,
        receipt: Option<Receipt>,
    ) {
        self.insert(Entry::Faulted(conn), receipt);
        let next = self.work_on(key, |entry, cx| match entry {
            Entry::Faulted(conn) => conn.begin(early, cx),
            _ => Next::Wait,
        });
        if let Some(next) = next {
            self.after_serving(registry, key, next);
        }
    }

    /// Serves the connections whose wake-up is due at `now`. They are
    /// taken out first, so one that asks again for `now` waits for the
    /// next turn.
    pub(super) fn wake_due(&mut self, registry: &Registry, now: Instant) {
        let mut due = Vec::new();
        self.timers.take_due_wakes(now, &mut due);
        for key in due {
            self.serve(registry, key, WAKE);
        }
    }
}

impl Reactor {
    /// The name of the fault listener a connection came `via`, if it came
    /// through one.
    pub(super) fn fault_listener_name(&self, via: ListenerKind) -> Option<String> {
        let ListenerKind::Faulty(index) = via else {
            return None;
        };
        let state = self.features.faults.as_ref()?;
        let listener = state.table.at(usize::from(index))?;
        Some(listener.name.clone())
    }
}

/// Whether the connection in `entry` came through fault listener `index`,
/// on `addr`.
fn came_through(entry: &Entry, index: usize, addr: SocketAddr) -> bool {
    match entry {
        Entry::Faulted(conn) => usize::from(conn.listener()) == index,
        // A plain connection does not know its listener: its local address
        // says (one `getsockname` each, only here).
        Entry::Connection(conn) => conn.stream().local_addr().is_ok_and(|a| a == addr),
        Entry::Recorded(recorded) => came_through(&recorded.inner, index, addr),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::io::{self, Read};
    use std::net::TcpStream;
    use std::thread::sleep;
    use std::time::Duration;

    use super::super::Server;
    use super::*;
    use crate::config::Config;
    use crate::faults::{FaultListener, Stream, Toxic, ToxicKind};
    use crate::stats::Reason;

    fn server_with_fault_listener() -> (Server, SocketAddr) {
        let mut config = Config::listening_on("127.0.0.1:0".parse().unwrap());
        config.faults = FaultTable::new(vec![FaultListener::new(
            "flaky",
            "127.0.0.1:0".parse().unwrap(),
        )])
        .unwrap();
        let server = Server::bind(config).unwrap();
        let addr = server.fault_table().unwrap().list()[0].listen;
        assert_ne!(addr.port(), 0, "the table holds the port it got");
        (server, addr)
    }

    /// Accepts what the fault listener has queued, as its event would.
    fn accept(server: &mut Server) {
        let key = server.reactor.features.faults.as_ref().unwrap().keys[0].unwrap();
        let registry = server.poll.registry();
        server
            .reactor
            .on_listener(registry, key, ListenerKind::Faulty(0));
    }

    #[test]
    fn a_disabled_listener_refuses_connects_closes_its_connections_and_comes_back() {
        let (mut server, addr) = server_with_fault_listener();
        let mut client = TcpStream::connect(addr).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        for _ in 0..100 {
            accept(&mut server);
            if server.reactor.cx.stats.accepted == 1 {
                break;
            }
            sleep(Duration::from_millis(5));
        }
        assert_eq!(server.reactor.cx.stats.accepted, 1);
        let registry = server.poll.registry();
        server.reactor.change_faults(registry, |table| {
            table.set_enabled("flaky", false).map(|_| ())
        });
        let refused = TcpStream::connect(addr).unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
        assert_eq!(
            client.read(&mut [0; 8]).unwrap(),
            0,
            "closed with its listener"
        );
        assert_eq!(server.reactor.cx.stats.closed_by_fault, 1);
        assert_eq!(
            server.reactor.cx.fault_rows[0].applied[FaultApplied::Down.index()],
            1,
            "one down"
        );
        let registry = server.poll.registry();
        server.reactor.change_faults(registry, |table| {
            table.set_enabled("flaky", true).map(|_| ())
        });
        TcpStream::connect(addr).expect("enabled again, on the same port");
    }

    #[test]
    fn stop_accepting_holds_the_queue_until_the_toxic_goes() {
        let (mut server, addr) = server_with_fault_listener();
        let registry = server.poll.registry();
        server.reactor.change_faults(registry, |table| {
            let toxic = Toxic::new(ToxicKind::StopAccepting, Stream::Downstream);
            table.add_toxic("flaky", toxic).map(|_| ())
        });
        let _queued = TcpStream::connect(addr).unwrap();
        accept(&mut server);
        assert_eq!(server.reactor.cx.stats.accepted, 0, "nothing accepted");
        let registry = server.poll.registry();
        server.reactor.change_faults(registry, |table| {
            table
                .remove_toxic("flaky", "stop_accepting_downstream")
                .map(|_| ())
        });
        assert_eq!(
            server.reactor.cx.stats.accepted, 1,
            "the queue accepted at once"
        );
    }
}
