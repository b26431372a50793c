//! The reactor's side of the fault API (`--admin`): a request is served
//! with the reactor's own fault table, and what it changed is then made
//! true of the sockets.
//!
//! The fault listeners' state (`faults::state`) keeps one row per
//! listener by its place in the table (its sockets' keys, whether it
//! holds its accepts), and so do its counters (`faults::counts`, in the
//! context); that place is carried by its listening socket's
//! [`ListenerKind::Faulty`], by its UDP socket (`--udp`) and by each
//! connection that drew faults through it. The API can remove a listener (`DELETE`, or
//! `/populate` making one again at another address), which moves every
//! listener after it up one place. So after a change, in this order:
//!
//! 1. a listener gone, or bound again by the request, has its old socket
//!    closed, with the connections that came through it (toxiproxy closes
//!    a proxy's connections when it stops or moves it);
//! 2. the rows follow the listeners to their new places, by name, and so
//!    do the places the sockets and connections carry;
//! 3. the sockets the request bound are registered in their rows (with
//!    `--udp`, each with its UDP socket on the same port);
//! 4. the fault engine's `sync_faults` does the rest (a listener disabled
//!    is closed, `stop_accepting` holds accepts), as for the command line.

use log::{info, warn};
use mio::Registry;

use super::entry::Entry;
use super::Reactor;
use crate::faults::admin::{AdminConn, TableChange};
use crate::faults::counts::FaultRow;
use crate::serve::{ListenerKind, Next, Ready, Role, Stage};

impl Reactor {
    /// Serves the request on `key` to the fault API with the fault table.
    pub(super) fn serve_admin(&mut self, registry: &Registry, key: usize) {
        self.cx.key = key;
        let (next, change) = match (self.entries.get_mut(key), self.features.faults.as_mut()) {
            (Some(Entry::Admin(conn)), Some(faults)) => {
                conn.prepare(&mut self.cx.scratch[..], faults)
            }
            (Some(Entry::Admin(conn)), None) => (Some(conn.serve(Ready::ALL, &mut self.cx)), None),
            _ => return,
        };
        if let Some(change) = change {
            self.follow_table(registry, change);
        }
        let next = match (next, self.entries.get_mut(key)) {
            (Some(next), _) => next,
            (None, Some(Entry::Admin(conn))) => conn.send(),
            (None, _) => return,
        };
        self.after(registry, key, next, Role::Request);
    }

    /// Serves a request to the fault API as it is accepted, before it has
    /// a slot.
    pub(super) fn answer_admin(&mut self, registry: &Registry, conn: &mut AdminConn) -> Next {
        let Some(faults) = self.features.faults.as_mut() else {
            return conn.serve(Ready::ALL, &mut self.cx);
        };
        let (next, change) = conn.prepare(&mut self.cx.scratch[..], faults);
        if let Some(change) = change {
            self.follow_table(registry, change);
        }
        next.unwrap_or_else(|| conn.send())
    }

    /// Makes the fault listeners' sockets, rows and connections follow a
    /// change the API made to the table (see the module's doc).
    #[cold]
    fn follow_table(&mut self, registry: &Registry, change: TableChange) {
        let TableChange { before, opened } = change;
        // 1. Close what is gone or bound again, at its old place.
        for (index, (name, addr)) in before.iter().enumerate() {
            let Some(state) = &self.features.faults else {
                return;
            };
            let gone = state.table.index_of(name).is_err();
            let rebound = opened.iter().any(|(bound, _)| bound == name);
            if let Some(key) = state.keys.get(index).copied().flatten() {
                if gone || rebound {
                    self.close_fault_listener(registry, key, index, *addr);
                    info!("fault listener {name} on {addr} closed");
                }
            }
        }
        // 2. Each row to its listener's new place.
        let Some(state) = &mut self.features.faults else {
            return;
        };
        let places: Vec<Option<u8>> = (before.iter())
            .map(|(name, _)| state.table.index_of(name).ok().map(|i| i as u8))
            .collect();
        let listeners = state.table.list().len();
        let mut keys = vec![None; listeners];
        let mut udp_keys = vec![None; listeners];
        let mut holding = vec![false; listeners];
        let mut rows: Vec<FaultRow> = (state.table.list().iter())
            .map(|listener| FaultRow {
                listener: listener.name.clone(),
                ..FaultRow::default()
            })
            .collect();
        let mut old_rows = std::mem::take(&mut self.cx.fault_rows).into_iter();
        for (old, new) in places.iter().enumerate() {
            let row = old_rows.next();
            if let Some(new) = new.map(usize::from) {
                keys[new] = state.keys.get(old).copied().flatten();
                udp_keys[new] = state.udp_keys.get(old).copied().flatten();
                holding[new] = state.holding.get(old).copied().unwrap_or(false);
                if let Some(row) = row {
                    rows[new] = row;
                }
            }
        }
        (state.keys, state.udp_keys, state.holding) = (keys, udp_keys, holding);
        self.cx.fault_rows = rows;
        let moved = |old: u8| places.get(usize::from(old)).copied().flatten();
        for (_, entry) in self.entries.iter_mut() {
            match entry {
                Entry::Listener(listener) => {
                    if let ListenerKind::Faulty(old) = listener.kind {
                        listener.kind = ListenerKind::Faulty(moved(old).unwrap_or(old));
                    }
                }
                Entry::Faulted(conn) => {
                    let old = conn.listener();
                    conn.set_listener(moved(old).unwrap_or(old));
                }
                Entry::FaultyUdp(udp) => {
                    let old = udp.listener();
                    let new = u8::try_from(old).ok().and_then(moved);
                    udp.set_listener(new.map_or(old, usize::from));
                }
                _ => {}
            }
        }
        // 3. The sockets the request bound, in their rows.
        for (name, socket) in opened {
            let index =
                (self.features.faults.as_ref()).and_then(|state| state.table.index_of(&name).ok());
            let Some(index) = index else {
                continue; // bound, then taken out again by the same request
            };
            let local = match self.add_listener(registry, socket, ListenerKind::Faulty(index as u8))
            {
                Ok(local) => local,
                Err(e) => {
                    warn!("fault listener {name}: cannot register it: {e}");
                    continue;
                }
            };
            let key = self.listeners.last().copied();
            let Some(state) = &mut self.features.faults else {
                return;
            };
            state.keys[index] = key;
            state.holding[index] = false;
            info!("fault listener {name}: listening on {local}");
            // With `--udp`, its UDP socket on the same port.
            if let Err(e) = self.open_fault_udp(registry, index, local) {
                warn!("fault listener {name}: cannot listen on {local} (udp): {e}");
            }
        }
        // 4. The rest as the engine does it for the command line.
        if let Err((addr, e)) = self.sync_faults(registry) {
            warn!("fault listener {addr}: cannot listen: {e}");
        }
    }
}
