//! The fault listeners (toxiproxy's proxies) and the table of them, with
//! the operations toxiproxy's API makes, each all or nothing.

use std::net::SocketAddr;

use super::error::FaultError;
use super::toxic::{Toxic, Toxicity};

/// A listener with faults, toxiproxy's "proxy": its name, the address it
/// listens on, whether it is enabled (toxiproxy's `down` when not), and
/// its toxics in the order they were added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultListener {
    /// Unique among the listeners.
    pub name: String,
    /// Where it listens; with port 0, the port it got once bound.
    pub listen: SocketAddr,
    /// Accepting and serving; when not, connections are refused and
    /// those open are closed.
    pub enabled: bool,
    /// Its toxics.
    pub toxics: Vec<Toxic>,
}

impl FaultListener {
    /// An enabled listener with no toxic: until one is added, a plain
    /// echo listener.
    pub fn new(name: impl Into<String>, listen: SocketAddr) -> FaultListener {
        FaultListener {
            name: name.into(),
            listen,
            enabled: true,
            toxics: Vec::new(),
        }
    }

    /// Its toxic named `name`.
    pub fn toxic(&self, name: &str) -> Result<&Toxic, FaultError> {
        self.toxics
            .iter()
            .find(|toxic| toxic.name == name)
            .ok_or_else(|| self.toxic_not_found(name))
    }

    /// It stops accepting (a `stop_accepting` toxic is on it).
    pub fn stops_accepting(&self) -> bool {
        self.toxics
            .iter()
            .any(|toxic| toxic.kind.is_listener_wide())
    }

    fn toxic_not_found(&self, name: &str) -> FaultError {
        FaultError::ToxicNotFound {
            listener: self.name.clone(),
            toxic: name.to_string(),
        }
    }
}

/// What may change in a toxic once added (toxiproxy's update): some
/// attributes, in toxiproxy's units, and the toxicity. Its type and
/// stream stay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToxicUpdate {
    /// Attributes to set, by toxiproxy's names and in its units.
    pub attributes: Vec<(String, u64)>,
    /// A new toxicity, if any.
    pub toxicity: Option<Toxicity>,
}

/// Most listeners with faults one server keeps: their counters are a
/// table of this many rows, so `/metrics` stays bounded.
pub const MAX_FAULT_LISTENERS: usize = 32;

/// Most toxics on one listener.
pub const MAX_TOXICS: usize = 32;

/// Every listener with faults, and the operations toxiproxy's API makes
/// on them. Lives in the reactor, which serves the API too, so it is
/// changed in place, with no thread and no lock; the reactor then brings
/// its sockets in line ([`FaultTable::generation`] says when to look).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultTable {
    listeners: Vec<FaultListener>,
    /// Counts changes, so that whoever acts on the table sees it changed.
    generation: u64,
}

impl FaultTable {
    /// A table of `listeners`; their names must be unique.
    pub fn new(listeners: Vec<FaultListener>) -> Result<FaultTable, FaultError> {
        let mut table = FaultTable::default();
        for listener in listeners {
            table.insert(listener)?;
        }
        Ok(table)
    }

    /// Every listener, in the order they were created.
    pub fn list(&self) -> &[FaultListener] {
        &self.listeners
    }

    /// The listener named `name`.
    pub fn get(&self, name: &str) -> Result<&FaultListener, FaultError> {
        self.index_of(name).map(|i| &self.listeners[i])
    }

    /// The listener at `index` (its place in [`FaultTable::list`]).
    pub fn at(&self, index: usize) -> Option<&FaultListener> {
        self.listeners.get(index)
    }

    /// Where the listener named `name` is in [`FaultTable::list`].
    pub fn index_of(&self, name: &str) -> Result<usize, FaultError> {
        self.listeners
            .iter()
            .position(|listener| listener.name == name)
            .ok_or_else(|| FaultError::ListenerNotFound(name.to_string()))
    }

    /// Adds a listener (toxiproxy's create); its toxics are checked as
    /// [`FaultTable::add_toxic`] checks each.
    pub fn insert(&mut self, listener: FaultListener) -> Result<&FaultListener, FaultError> {
        if self.index_of(&listener.name).is_ok() {
            return Err(FaultError::ListenerExists(listener.name));
        }
        if self.listeners.len() >= MAX_FAULT_LISTENERS {
            return Err(FaultError::TooMany {
                what: "listeners",
                max: MAX_FAULT_LISTENERS,
            });
        }
        let toxics = listener.toxics.clone();
        self.listeners.push(FaultListener {
            toxics: Vec::new(),
            ..listener
        });
        let name = self.listeners.last().map(|l| l.name.clone());
        let name = name.unwrap_or_default();
        for toxic in toxics {
            if let Err(e) = self.add_toxic(&name, toxic) {
                self.listeners.pop();
                return Err(e);
            }
        }
        self.changed();
        Ok(self.listeners.last().expect("just pushed"))
    }

    /// Sets where the listener at `index` listens (its port once bound).
    pub fn set_address(&mut self, index: usize, listen: SocketAddr) {
        if let Some(listener) = self.listeners.get_mut(index) {
            listener.listen = listen;
        }
    }

    /// Enables or disables the listener named `name` (toxiproxy's update
    /// of `enabled`).
    pub fn set_enabled(&mut self, name: &str, enabled: bool) -> Result<&FaultListener, FaultError> {
        let i = self.index_of(name)?;
        self.listeners[i].enabled = enabled;
        self.changed();
        Ok(&self.listeners[i])
    }

    /// Adds `toxic` to the listener named `listener`.
    pub fn add_toxic(&mut self, listener: &str, toxic: Toxic) -> Result<&Toxic, FaultError> {
        let i = self.index_of(listener)?;
        let toxics = &mut self.listeners[i].toxics;
        if toxics.iter().any(|t| t.name == toxic.name) {
            return Err(FaultError::ToxicExists {
                listener: listener.to_string(),
                toxic: toxic.name,
            });
        }
        if toxics.len() >= MAX_TOXICS {
            return Err(FaultError::TooMany {
                what: "toxics on one listener",
                max: MAX_TOXICS,
            });
        }
        toxics.push(toxic);
        self.changed();
        Ok(self.listeners[i].toxics.last().expect("just pushed"))
    }

    /// Changes the toxic `toxic` of the listener `listener`: all of
    /// `update` or, if any part is bad, nothing.
    pub fn update_toxic(
        &mut self,
        listener: &str,
        toxic: &str,
        update: &ToxicUpdate,
    ) -> Result<&Toxic, FaultError> {
        let i = self.index_of(listener)?;
        let position = self.position_of_toxic(i, toxic)?;
        let mut changed = self.listeners[i].toxics[position].clone();
        for (key, value) in &update.attributes {
            changed.kind.set_attribute(key, *value)?;
        }
        if let Some(toxicity) = update.toxicity {
            changed.toxicity = toxicity;
        }
        self.listeners[i].toxics[position] = changed;
        self.changed();
        Ok(&self.listeners[i].toxics[position])
    }

    /// Removes the toxic `toxic` of the listener `listener`.
    pub fn remove_toxic(&mut self, listener: &str, toxic: &str) -> Result<Toxic, FaultError> {
        let i = self.index_of(listener)?;
        let position = self.position_of_toxic(i, toxic)?;
        self.changed();
        Ok(self.listeners[i].toxics.remove(position))
    }

    /// Removes the listener named `name` (toxiproxy's delete); every
    /// listener after it moves up one place, which the reactor follows
    /// (`server/fault_api.rs`).
    pub fn remove(&mut self, name: &str) -> Result<FaultListener, FaultError> {
        let i = self.index_of(name)?;
        self.changed();
        Ok(self.listeners.remove(i))
    }

    /// Toxiproxy's reset: every listener enabled, every toxic removed.
    pub fn reset(&mut self) {
        for listener in &mut self.listeners {
            listener.enabled = true;
            listener.toxics.clear();
        }
        self.changed();
    }

    /// Grows by one at every change: the reactor compares it with the
    /// generation it last acted on.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    fn position_of_toxic(&self, i: usize, toxic: &str) -> Result<usize, FaultError> {
        let listener = &self.listeners[i];
        listener
            .toxics
            .iter()
            .position(|t| t.name == toxic)
            .ok_or_else(|| listener.toxic_not_found(toxic))
    }

    fn changed(&mut self) {
        self.generation += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::model::{Stream, ToxicKind};

    fn latency(ms: u64) -> Toxic {
        let mut kind = ToxicKind::zero("latency").unwrap();
        kind.set_attribute("latency", ms).unwrap();
        Toxic::new(kind, Stream::Downstream)
    }

    fn table() -> FaultTable {
        FaultTable::new(vec![FaultListener::new(
            "slow",
            "127.0.0.1:0".parse().unwrap(),
        )])
        .unwrap()
    }

    #[test]
    fn the_table_answers_as_toxiproxy_does() {
        let mut table = table();
        let before = table.generation();
        assert_eq!(
            table.add_toxic("slow", latency(100)).unwrap().name,
            "latency_downstream"
        );
        assert!(table.generation() > before);
        assert_eq!(
            table.add_toxic("slow", latency(5)).unwrap_err().status(),
            409
        );
        assert_eq!(
            table.add_toxic("fast", latency(5)).unwrap_err().status(),
            404
        );
        let update = ToxicUpdate {
            attributes: vec![("jitter".into(), 10)],
            toxicity: Some(Toxicity::new(0.5).unwrap()),
        };
        let updated = table
            .update_toxic("slow", "latency_downstream", &update)
            .unwrap();
        assert_eq!(
            updated.kind.attributes(),
            [("latency", 100), ("jitter", 10)]
        );
        assert_eq!(updated.toxicity.share(), 0.5);
        let bad = ToxicUpdate {
            attributes: vec![("latency".into(), 1), ("rate".into(), 1)],
            toxicity: None,
        };
        assert_eq!(
            table
                .update_toxic("slow", "latency_downstream", &bad)
                .unwrap_err()
                .status(),
            400
        );
        assert_eq!(
            table
                .get("slow")
                .unwrap()
                .toxic("latency_downstream")
                .unwrap()
                .kind
                .attributes()[0],
            ("latency", 100),
            "a bad update changes nothing"
        );
        assert_eq!(
            table
                .update_toxic("slow", "x", &update)
                .unwrap_err()
                .status(),
            404
        );
        table.set_enabled("slow", false).unwrap();
        assert_eq!(
            table
                .insert(FaultListener::new("slow", "127.0.0.1:0".parse().unwrap()))
                .unwrap_err()
                .status(),
            409
        );
        table.reset();
        let slow = table.get("slow").unwrap();
        assert!(slow.enabled && slow.toxics.is_empty());
        assert_eq!(
            table
                .remove_toxic("slow", "latency_downstream")
                .unwrap_err()
                .status(),
            404
        );
    }
}
