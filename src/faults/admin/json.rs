//! The JSON toxiproxy's API reads and writes, to and from the model.
//!
//! Out: a proxy is `{"name", "listen", "upstream", "enabled", "toxics"}`,
//! a toxic `{"attributes", "name", "type", "stream", "toxicity"}`, with
//! the attributes in toxiproxy's units ([`ToxicKind::attributes`]). In:
//! the same shapes, each field optional where toxiproxy's is, with its
//! defaults (a toxic is `downstream`, of toxicity 1, named
//! `TYPE_STREAM`). Fields toxiproxy's clients send back that cannot change
//! (a toxic's `type` in an update, a proxy's `name`) are read past, as
//! toxiproxy reads past them.
//!
//! A listener of this server is its own backend, so a proxy's `upstream`
//! is taken when given (toxiproxy's clients always send one) and ignored,
//! and it reads back as the listener's own address.

use std::net::{Ipv4Addr, SocketAddr};

use serde_json::{json, Map, Value};

use super::error::ApiError;
use crate::faults::{FaultError, FaultListener, Stream, Toxic, ToxicKind, ToxicUpdate, Toxicity};

/// A proxy as toxiproxy shows it, its toxics in the order they were added.
pub fn proxy(listener: &FaultListener) -> Value {
    let listen = listener.listen.to_string();
    json!({
        "name": listener.name,
        "listen": listen,
        "upstream": listen,
        "enabled": listener.enabled,
        "toxics": toxics(&listener.toxics),
    })
}

/// A list of toxics as toxiproxy shows it: an array.
pub fn toxics(toxics: &[Toxic]) -> Value {
    Value::Array(toxics.iter().map(toxic).collect())
}

/// A toxic as toxiproxy shows it.
pub fn toxic(toxic: &Toxic) -> Value {
    let attributes: Map<String, Value> = toxic
        .kind
        .attributes()
        .into_iter()
        .map(|(name, value)| (name.to_string(), json!(value)))
        .collect();
    json!({
        "attributes": attributes,
        "name": toxic.name,
        "type": toxic.kind.type_name(),
        "stream": toxic.stream.name(),
        "toxicity": toxic.toxicity.share(),
    })
}

/// A body that must be a JSON object.
pub fn object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_body("not a JSON object")),
        Err(e) => Err(ApiError::bad_body(e)),
    }
}

/// A body that must be a JSON array of objects (`/populate`).
pub fn objects(body: &[u8]) -> Result<Vec<Map<String, Value>>, ApiError> {
    match serde_json::from_slice(body) {
        Ok(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::Object(map) => Ok(map),
                _ => Err(ApiError::bad_body("not an array of JSON objects")),
            })
            .collect(),
        Ok(_) => Err(ApiError::bad_body("not a JSON array")),
        Err(e) => Err(ApiError::bad_body(e)),
    }
}

/// What a request says of a proxy: every field optional, as in an update.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyInput {
    /// `name`.
    pub name: Option<String>,
    /// `listen`, parsed.
    pub listen: Option<SocketAddr>,
    /// `enabled`.
    pub enabled: Option<bool>,
}

impl ProxyInput {
    /// Reads a proxy's fields; `upstream` is checked to be a string and
    /// otherwise ignored (see the module's doc).
    pub fn read(map: &Map<String, Value>) -> Result<ProxyInput, ApiError> {
        string(map, "upstream")?;
        Ok(ProxyInput {
            name: string(map, "name")?.map(str::to_string),
            listen: string(map, "listen")?.map(listen_address).transpose()?,
            enabled: match map.get("enabled") {
                None | Some(Value::Null) => None,
                Some(Value::Bool(enabled)) => Some(*enabled),
                Some(_) => return Err(ApiError::bad_body("enabled must be true or false")),
            },
        })
    }

    /// The listener a create makes: a name is required; with no `listen`,
    /// loopback and a port the system picks, as toxiproxy's clients default.
    pub fn create(self) -> Result<(FaultListener, bool), ApiError> {
        let name = self.name.filter(|name| !name.is_empty());
        let name = name.ok_or_else(|| ApiError::missing("name"))?;
        let listen = self
            .listen
            .unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
        Ok((
            FaultListener::new(name, listen),
            self.enabled.unwrap_or(true),
        ))
    }
}

/// Toxiproxy's `listen`: `HOST:PORT` with an IP address or `localhost`,
/// or `:PORT` for every interface.
pub fn listen_address(text: &str) -> Result<SocketAddr, ApiError> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| ApiError::bad_body(format!("listen '{text}' is not HOST:PORT")))?;
    let port: u16 = port
        .parse()
        .map_err(|_| ApiError::bad_body(format!("listen '{text}' has no valid port")))?;
    match host {
        "" => Ok(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))),
        "localhost" => Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port))),
        _ => Err(ApiError::bad_body(format!(
            "listen '{text}' is not an IP address and port (names are not resolved)"
        ))),
    }
}

/// A new toxic from its JSON, with toxiproxy's defaults.
pub fn new_toxic(map: &Map<String, Value>) -> Result<Toxic, ApiError> {
    let stream = match string(map, "stream")? {
        Some(name) => Stream::from_name(name)?,
        None => Stream::default(),
    };
    let type_name = string(map, "type")?.unwrap_or("");
    let mut kind = ToxicKind::zero(type_name)?;
    let name = match string(map, "name")? {
        Some(name) if !name.is_empty() => name.to_string(),
        _ => format!("{type_name}_{}", stream.name()),
    };
    for (key, value) in attributes(map)? {
        kind.set_attribute(&key, value)?;
    }
    Ok(Toxic {
        name,
        kind,
        stream,
        toxicity: toxicity(map)?.unwrap_or_default(),
    })
}

/// A toxic's update from its JSON: its attributes and toxicity; the rest
/// (name, type, stream) cannot change and is read past.
pub fn toxic_update(map: &Map<String, Value>) -> Result<ToxicUpdate, ApiError> {
    Ok(ToxicUpdate {
        attributes: attributes(map)?,
        toxicity: toxicity(map)?,
    })
}

/// The string field `key`, if present.
fn string<'a>(map: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, ApiError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(ApiError::bad_body(format!("{key} must be a string"))),
    }
}

/// `toxicity`, if present: a number from 0 to 1.
fn toxicity(map: &Map<String, Value>) -> Result<Option<Toxicity>, ApiError> {
    match map.get("toxicity") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(Some(Toxicity::new(n.as_f64().unwrap_or(f64::NAN))?)),
        Some(other) => Err(FaultError::BadToxicity(other.to_string()).into()),
    }
}

/// `attributes`, if present: an object of whole numbers, none negative.
fn attributes(map: &Map<String, Value>) -> Result<Vec<(String, u64)>, ApiError> {
    let attributes = match map.get("attributes") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(attributes)) => attributes,
        Some(_) => return Err(ApiError::bad_body("attributes must be an object")),
    };
    attributes
        .iter()
        .map(|(key, value)| match whole_number(value) {
            Some(n) => Ok((key.clone(), n)),
            None => Err(ApiError::bad_body(format!(
                "attribute {key} must be a whole number, not negative (it is {value})"
            ))),
        })
        .collect()
}

/// A JSON number that is a whole number from 0 up (`100` or `100.0`).
fn whole_number(value: &Value) -> Option<u64> {
    let Value::Number(n) = value else {
        return None;
    };
    n.as_u64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && (0.0..=u64::MAX as f64).contains(f))
            .map(|f| f as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(text: &str) -> Map<String, Value> {
        object(text.as_bytes()).unwrap()
    }

    #[test]
    fn a_toxic_takes_toxiproxys_defaults_and_reads_back_in_its_shape() {
        let toxic = new_toxic(&map(
            r#"{"type": "latency", "attributes": {"latency": 100}}"#,
        ))
        .unwrap();
        assert_eq!(toxic.name, "latency_downstream");
        assert_eq!(toxic.toxicity, Toxicity::ALWAYS);
        assert_eq!(
            super::toxic(&toxic),
            json!({
                "attributes": {"latency": 100, "jitter": 0},
                "name": "latency_downstream",
                "type": "latency",
                "stream": "downstream",
                "toxicity": 1.0,
            })
        );
        let named = new_toxic(&map(
            r#"{"type": "bandwidth", "stream": "upstream", "name": "slow", "toxicity": 0.5,
                "attributes": {"rate": 10.0}}"#,
        ))
        .unwrap();
        assert_eq!(named.name, "slow");
        assert_eq!(named.stream, Stream::Upstream);
        assert_eq!(
            named.kind,
            ToxicKind::Bandwidth {
                bytes_per_second: 10_000
            }
        );
    }

    #[test]
    fn bad_toxics_are_refused_with_toxiproxys_status() {
        for (body, status) in [
            (r#"{"type": "lag"}"#, 400),
            (r#"{}"#, 400),
            (r#"{"type": "latency", "stream": "sideways"}"#, 400),
            (r#"{"type": "latency", "toxicity": 2}"#, 400),
            (r#"{"type": "latency", "toxicity": "high"}"#, 400),
            (r#"{"type": "latency", "attributes": {"latency": -1}}"#, 400),
            (
                r#"{"type": "latency", "attributes": {"latency": 1.5}}"#,
                400,
            ),
            (r#"{"type": "latency", "attributes": {"rate": 1}}"#, 400),
            (r#"{"type": "latency", "attributes": [1]}"#, 400),
        ] {
            assert_eq!(new_toxic(&map(body)).unwrap_err().status, status, "{body}");
        }
        assert_eq!(object(b"{\"type\": ").unwrap_err().status, 400);
        assert_eq!(object(b"[]").unwrap_err().status, 400);
    }

    #[test]
    fn a_proxy_shows_its_own_address_as_upstream_and_listen_takes_toxiproxys_forms() {
        let (listener, enabled) = ProxyInput::read(&map(
            r#"{"name": "db", "listen": "localhost:0", "upstream": "db:5432"}"#,
        ))
        .unwrap()
        .create()
        .unwrap();
        assert!(enabled);
        assert_eq!(
            proxy(&listener),
            json!({"name": "db", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:0",
                   "enabled": true, "toxics": []})
        );
        assert_eq!(
            listen_address(":8080").unwrap(),
            "0.0.0.0:8080".parse().unwrap()
        );
        assert_eq!(
            listen_address("[::1]:1").unwrap(),
            "[::1]:1".parse().unwrap()
        );
        assert!(listen_address("example.com:80").is_err());
        assert!(listen_address("127.0.0.1").is_err());
        let unnamed = ProxyInput::read(&map(r#"{"upstream": "x:1"}"#)).unwrap();
        assert_eq!(unnamed.create().unwrap_err().status, 400);
    }
}
