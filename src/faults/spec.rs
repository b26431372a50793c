//! Faults as written on the command line.
//!
//! ```text
//! --fault-listen NAME=ADDR                       a listener with faults
//! --toxic LISTENER:TYPE[:STREAM][,KEY=VALUE...]  a toxic on it
//! ```
//!
//! `TYPE`, `STREAM` and the keys are toxiproxy's (see [`super::model`]),
//! plus `name` (default `TYPE_STREAM`) and `toxicity` (0 to 1, default 1).
//! A duration takes a unit, `us`, `ms` or `s` (`latency=100ms`,
//! `delay=2s`, fractions allowed): toxiproxy's own units differ from one
//! attribute to the next (the slicer's delay is in µs, the rest in ms), so
//! a bare number would be a guess. A size takes the suffixes of every size
//! on this command line (`bytes=64K`, see [`crate::units`]); the
//! bandwidth's `rate` is in KB/s, as in toxiproxy. For example:
//!
//! ```text
//! --fault-listen slow=127.0.0.1:7001 --toxic slow:latency,latency=100ms,jitter=10ms
//! --fault-listen cut=127.0.0.1:7002 --toxic cut:limit_data:upstream,bytes=1K,toxicity=0.5
//! ```
//!
//! Each error names the part of the spec it refuses, in one line.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use super::model::{FaultError, FaultListener, FaultTable, Stream, Toxic, ToxicKind, Toxicity};
use crate::units;

/// One `--fault-listen NAME=ADDR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSpec {
    /// The listener's name.
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
}

/// One `--toxic LISTENER:TYPE[:STREAM][,KEY=VALUE...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToxicSpec {
    /// The listener it goes on, by name.
    pub listener: String,
    /// The toxic.
    pub toxic: Toxic,
}

/// A spec that cannot be read: the part refused, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// The part of the spec refused, as written.
    pub part: String,
    /// Why.
    pub why: String,
}

impl SpecError {
    fn new(part: &str, why: impl fmt::Display) -> SpecError {
        SpecError {
            part: part.to_string(),
            why: why.to_string(),
        }
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}': {}", self.part, self.why)
    }
}

impl std::error::Error for SpecError {}

/// Parses `NAME=ADDR`.
pub fn parse_listener(text: &str) -> Result<ListenerSpec, SpecError> {
    let (name, addr) = text
        .split_once('=')
        .ok_or_else(|| SpecError::new(text, "expected NAME=ADDR"))?;
    let name = parse_name(name)?;
    let addr = addr
        .parse()
        .map_err(|_| SpecError::new(addr, "not an address like 127.0.0.1:7001"))?;
    Ok(ListenerSpec { name, addr })
}

/// Parses `LISTENER:TYPE[:STREAM][,KEY=VALUE...]`.
pub fn parse_toxic(text: &str) -> Result<ToxicSpec, SpecError> {
    let mut items = text.split(',');
    let head = items.next().unwrap_or_default();
    let mut fields = head.split(':');
    let listener = parse_name(fields.next().unwrap_or_default())?;
    let type_name = fields
        .next()
        .ok_or_else(|| SpecError::new(head, "expected LISTENER:TYPE[:STREAM]"))?;
    let mut kind = ToxicKind::zero(type_name).map_err(|e| SpecError::new(type_name, e))?;
    let stream = match fields.next() {
        Some(stream) => Stream::from_name(stream).map_err(|e| SpecError::new(stream, e))?,
        None => Stream::default(),
    };
    if let Some(extra) = fields.next() {
        return Err(SpecError::new(extra, "expected LISTENER:TYPE[:STREAM]"));
    }
    let mut name = None;
    let mut toxicity = Toxicity::ALWAYS;
    for item in items {
        let (key, value) = item
            .split_once('=')
            .ok_or_else(|| SpecError::new(item, "expected KEY=VALUE"))?;
        match key {
            "name" => name = Some(parse_name(value)?),
            "toxicity" => {
                toxicity = value
                    .parse::<f64>()
                    .map_err(|_| FaultError::BadToxicity(value.to_string()))
                    .and_then(Toxicity::new)
                    .map_err(|e| SpecError::new(item, e))?
            }
            key => {
                let number =
                    attribute_value(&kind, key, value).map_err(|why| SpecError::new(item, why))?;
                kind.set_attribute(key, number)
                    .map_err(|e| SpecError::new(item, e))?;
            }
        }
    }
    let mut toxic = Toxic::new(kind, stream);
    toxic.toxicity = toxicity;
    if let Some(name) = name {
        toxic.name = name;
    }
    Ok(ToxicSpec { listener, toxic })
}

/// The listeners with their toxics, every name checked: the table the
/// server starts from. A toxic's spec is quoted in its error as written,
/// so the caller passes the texts.
pub fn table(listeners: &[ListenerSpec], toxics: &[ToxicSpec]) -> Result<FaultTable, SpecError> {
    let mut table = FaultTable::default();
    for spec in listeners {
        table
            .insert(FaultListener::new(spec.name.clone(), spec.addr))
            .map_err(|e| SpecError::new(&format!("{}={}", spec.name, spec.addr), e))?;
    }
    for spec in toxics {
        table
            .add_toxic(&spec.listener, spec.toxic.clone())
            .map_err(|e| SpecError::new(&format!("{}:{}", spec.listener, spec.toxic.name), e))?;
    }
    Ok(table)
}

/// Names of listeners and toxics: letters, digits, `_`, `-` and `.`, so
/// they sit in a URL path and a Prometheus label as they are.
fn parse_name(text: &str) -> Result<String, SpecError> {
    let fits = |c: char| c.is_ascii_alphanumeric() || "_-.".contains(c);
    if text.is_empty() || !text.chars().all(fits) {
        return Err(SpecError::new(
            text,
            "a name is letters, digits, '_', '-' or '.'",
        ));
    }
    Ok(text.to_string())
}

/// An attribute's value in toxiproxy's unit for it: a duration with its
/// unit, or a count (a size with K/M/G suffixes, or 0).
fn attribute_value(kind: &ToxicKind, key: &str, value: &str) -> Result<u64, String> {
    match kind.duration_unit(key) {
        Some(unit) => {
            let duration = parse_duration(value)?;
            Ok(u64::try_from(duration.as_nanos() / unit.as_nanos()).unwrap_or(u64::MAX))
        }
        None if value.trim() == "0" => Ok(0),
        None if key == "rate" => value
            .trim()
            .parse()
            .map_err(|_| format!("'{value}' is not a number of KB/s")),
        None => units::parse_size(value).map_err(|e| e.to_string()),
    }
}

/// A duration with its unit: `250us`, `100ms`, `1.5s`; `0` alone too.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "" => return Err(format!("'{text}' needs a unit: us, ms or s")),
        _ => return Err(format!("unknown unit '{unit}' (use us, ms or s)")),
    };
    let number: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration"))?;
    Duration::try_from_secs_f64(number * scale).map_err(|_| format!("'{text}' is not a duration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toxic(text: &str) -> Toxic {
        parse_toxic(text).unwrap().toxic
    }

    #[test]
    fn a_listener_is_a_name_and_an_address() {
        assert_eq!(
            parse_listener("slow=127.0.0.1:7001").unwrap(),
            ListenerSpec {
                name: "slow".into(),
                addr: "127.0.0.1:7001".parse().unwrap()
            }
        );
        assert_eq!(parse_listener("slow").unwrap_err().part, "slow");
        assert_eq!(parse_listener("slow=nowhere").unwrap_err().part, "nowhere");
        assert_eq!(parse_listener("s/w=127.0.0.1:1").unwrap_err().part, "s/w");
    }

    #[test]
    fn a_toxic_takes_toxiproxys_names_with_units() {
        let latency = toxic("slow:latency,latency=100ms,jitter=0.01s");
        assert_eq!(latency.name, "latency_downstream");
        assert_eq!(latency.stream, Stream::Downstream);
        assert_eq!(
            latency.kind,
            ToxicKind::Latency {
                latency: Duration::from_millis(100),
                jitter: Duration::from_millis(10)
            }
        );
        let slicer =
            toxic("s:slicer:upstream,average_size=64,size_variation=0,delay=250us,name=bits");
        assert_eq!(slicer.name, "bits");
        assert_eq!(slicer.stream, Stream::Upstream);
        assert_eq!(
            slicer.kind.attributes(),
            [("average_size", 64), ("size_variation", 0), ("delay", 250)]
        );
        assert_eq!(
            toxic("s:limit_data,bytes=1K").kind,
            ToxicKind::LimitData { bytes: 1024 }
        );
        assert_eq!(
            toxic("s:bandwidth:upstream,rate=100").kind,
            ToxicKind::Bandwidth {
                bytes_per_second: 100_000
            }
        );
        assert_eq!(toxic("s:accept_reset,toxicity=0.25").toxicity.share(), 0.25);
        assert_eq!(
            toxic("s:timeout,timeout=0").kind,
            ToxicKind::Timeout { timeout: None }
        );
    }

    #[test]
    fn each_error_names_the_bad_part() {
        for (spec, part) in [
            ("slow", "slow"),
            ("slow:lag", "lag"),
            ("slow:latency:sideways", "sideways"),
            ("slow:latency:upstream:more", "more"),
            ("slow:latency,latency=100", "latency=100"),
            ("slow:latency,latency=1fortnight", "latency=1fortnight"),
            ("slow:latency,rate=1", "rate=1"),
            ("slow:latency,toxicity=2", "toxicity=2"),
            ("slow:latency,oops", "oops"),
            ("slow:limit_data,bytes=many", "bytes=many"),
            (":latency", ""),
        ] {
            let error = parse_toxic(spec).unwrap_err();
            assert_eq!(error.part, part, "{spec}: {error}");
            assert!(!error.to_string().contains('\n'));
        }
    }

    #[test]
    fn the_table_checks_listener_names() {
        let listeners = [parse_listener("slow=127.0.0.1:0").unwrap()];
        let toxics = [parse_toxic("fast:latency,latency=1ms").unwrap()];
        let error = table(&listeners, &toxics).unwrap_err();
        assert_eq!(
            error.to_string(),
            "'fast:latency_downstream': no listener named 'fast'"
        );
        let twice = [listeners[0].clone(), listeners[0].clone()];
        assert!(table(&twice, &[]).is_err());
        let toxics = [parse_toxic("slow:latency,latency=1ms").unwrap()];
        assert_eq!(
            table(&listeners, &toxics).unwrap().list()[0].toxics.len(),
            1
        );
    }
}
