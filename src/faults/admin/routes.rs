//! Toxiproxy's routes over the fault table: which path and method does
//! what, and the status each answers with.
//!
//! Every route is a pure function of the request, the table and the
//! listeners' sockets ([`ListenerSockets`]), so the whole API is tested
//! without a socket. A refused request is refused before anything
//! changes: the body is read and checked whole first, then the table is
//! changed by one of its operations, each all or nothing. Binding a
//! listener comes before the change it serves, so a port that cannot be
//! bound also leaves the table as it was.

use std::io;
use std::net::SocketAddr;

use log::info;
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::json::{self, ProxyInput};
use super::json_response;
use crate::faults::{FaultError, FaultListener, FaultTable, MAX_FAULT_LISTENERS};
use crate::http::{HttpRequest, Response};

/// What `GET /version` answers.
pub const VERSION: &str = concat!("echo-reactor ", env!("CARGO_PKG_VERSION"));

/// The listeners' sockets, as the API needs them: a proxy created,
/// enabled or moved has its listener bound before the answer, so the
/// answer can say its port (for port 0) and a port that cannot be bound
/// is refused with nothing changed. Closing needs no call: what the table
/// no longer lists, or lists as disabled, the reactor closes.
pub trait ListenerSockets {
    /// Binds the listener of the proxy `name` at `listen`, and says the
    /// address it got.
    fn open(&mut self, name: &str, listen: SocketAddr) -> io::Result<SocketAddr>;
}

/// The answer to `request`, after any change it makes to `table` and
/// `sockets`.
pub fn route(
    request: &HttpRequest,
    table: &mut FaultTable,
    sockets: &mut dyn ListenerSockets,
) -> Response {
    let response = answer(request, table, sockets).unwrap_or_else(|error| error.response());
    if request.method != "GET" {
        info!(
            "fault api: {} {}: {}",
            request.method, request.path, response.status
        );
    }
    response
}

fn answer(
    request: &HttpRequest,
    table: &mut FaultTable,
    sockets: &mut dyn ListenerSockets,
) -> Result<Response, ApiError> {
    let path = request.path.split('?').next().unwrap_or_default();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let body = request.body;
    let update = matches!(request.method, "POST" | "PATCH");
    match (request.method, segments.as_slice()) {
        ("GET", ["version"]) => Ok(ok(json!({ "version": VERSION }))),
        ("GET", ["proxies"]) => Ok(ok(all_proxies(table))),
        ("POST", ["proxies"]) => create(table, sockets, json::object(body)?),
        ("POST", ["populate"]) => populate(table, sockets, json::objects(body)?),
        ("POST", ["reset"]) => reset(table, sockets),
        ("GET", ["proxies", name]) => Ok(ok(json::proxy(table.get(name)?))),
        (_, ["proxies", name]) if update => update_proxy(table, sockets, name, body),
        ("DELETE", ["proxies", name]) => {
            table.remove(name)?;
            Ok(no_content())
        }
        ("GET", ["proxies", name, "toxics"]) => Ok(ok(json::toxics(&table.get(name)?.toxics))),
        ("POST", ["proxies", name, "toxics"]) => {
            table.get(name)?;
            let toxic = json::new_toxic(&json::object(body)?)?;
            Ok(ok(json::toxic(table.add_toxic(name, toxic)?)))
        }
        ("GET", ["proxies", name, "toxics", toxic]) => {
            Ok(ok(json::toxic(table.get(name)?.toxic(toxic)?)))
        }
        (_, ["proxies", name, "toxics", toxic]) if update => {
            table.get(name)?.toxic(toxic)?;
            let changes = json::toxic_update(&json::object(body)?)?;
            Ok(ok(json::toxic(table.update_toxic(name, toxic, &changes)?)))
        }
        ("DELETE", ["proxies", name, "toxics", toxic]) => {
            table.remove_toxic(name, toxic)?;
            Ok(no_content())
        }
        (
            _,
            ["version" | "proxies" | "populate" | "reset"]
            | ["proxies", _]
            | ["proxies", _, "toxics"]
            | ["proxies", _, "toxics", _],
        ) => Err(ApiError::no_route(405)),
        _ => Err(ApiError::no_route(404)),
    }
}

/// `GET /proxies`: an object of every proxy by name.
fn all_proxies(table: &FaultTable) -> Value {
    let proxies: Map<String, Value> = table
        .list()
        .iter()
        .map(|listener| (listener.name.clone(), json::proxy(listener)))
        .collect();
    Value::Object(proxies)
}

/// `POST /proxies`: a new listener, bound at once when enabled; 201.
fn create(
    table: &mut FaultTable,
    sockets: &mut dyn ListenerSockets,
    body: Map<String, Value>,
) -> Result<Response, ApiError> {
    let (listener, enabled) = ProxyInput::read(&body)?.create()?;
    let created = add(table, sockets, listener, enabled)?;
    Ok(json_response(201, json::proxy(created).to_string()))
}

/// Puts `listener` in the table and, if `enabled`, opens it; a port that
/// cannot be bound takes it out again.
fn add<'t>(
    table: &'t mut FaultTable,
    sockets: &mut dyn ListenerSockets,
    mut listener: FaultListener,
    enabled: bool,
) -> Result<&'t FaultListener, ApiError> {
    listener.enabled = enabled;
    let name = listener.name.clone();
    let listen = listener.listen;
    table.insert(listener)?;
    if enabled {
        match sockets.open(&name, listen) {
            Ok(bound) => {
                let index = table.index_of(&name)?;
                table.set_address(index, bound);
            }
            Err(e) => {
                table.remove(&name)?;
                return Err(ApiError::listen(listen, e));
            }
        }
    }
    Ok(table.get(&name)?)
}

/// `POST /proxies/{name}`: `enabled` and `listen` change; the rest of a
/// proxy's JSON, sent back by some clients, is read past.
fn update_proxy(
    table: &mut FaultTable,
    sockets: &mut dyn ListenerSockets,
    name: &str,
    body: &[u8],
) -> Result<Response, ApiError> {
    let index = table.index_of(name)?;
    let current = table.get(name)?;
    let (was_enabled, was_listening) = (current.enabled, current.listen);
    let input = ProxyInput::read(&json::object(body)?)?;
    let enabled = input.enabled.unwrap_or(was_enabled);
    let listen = input.listen.unwrap_or(was_listening);
    let moved = listen != was_listening;
    if enabled && (moved || !was_enabled) {
        let bound = sockets
            .open(name, listen)
            .map_err(|e| ApiError::listen(listen, e))?;
        table.set_address(index, bound);
    } else if moved {
        table.set_address(index, listen);
    }
    if enabled != was_enabled {
        table.set_enabled(name, enabled)?;
    }
    Ok(ok(json::proxy(table.get(name)?)))
}

/// `POST /populate`: the proxies given are made to exist as given: one
/// with the same name and address is kept (its `enabled` set), one at
/// another address is replaced, a new one created. Every entry is checked
/// before any is made; 201 with `{"proxies": [...]}`.
fn populate(
    table: &mut FaultTable,
    sockets: &mut dyn ListenerSockets,
    items: Vec<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let mut wanted = Vec::with_capacity(items.len());
    for item in &items {
        let input = ProxyInput::read(item)?;
        let explicit_listen = input.listen.is_some();
        let (listener, enabled) = input.create()?;
        if wanted
            .iter()
            .any(|(other, _, _): &(FaultListener, bool, bool)| other.name == listener.name)
        {
            return Err(FaultError::ListenerExists(listener.name).into());
        }
        wanted.push((listener, enabled, explicit_listen));
    }
    let new = wanted
        .iter()
        .filter(|(listener, _, _)| table.get(&listener.name).is_err())
        .count();
    if table.list().len() + new > MAX_FAULT_LISTENERS {
        return Err(FaultError::TooMany {
            what: "listeners",
            max: MAX_FAULT_LISTENERS,
        }
        .into());
    }
    let mut populated = Vec::with_capacity(wanted.len());
    for (listener, enabled, explicit_listen) in wanted {
        let name = listener.name.clone();
        match table.get(&name) {
            Ok(existing) if !explicit_listen || existing.listen == listener.listen => {
                if existing.enabled != enabled {
                    let body = json!({ "enabled": enabled }).to_string();
                    update_proxy(table, sockets, &name, body.as_bytes())?;
                }
            }
            Ok(_) => {
                table.remove(&name)?;
                add(table, sockets, listener, enabled)?;
            }
            Err(_) => {
                add(table, sockets, listener, enabled)?;
            }
        }
        populated.push(json::proxy(table.get(&name)?));
    }
    Ok(json_response(
        201,
        json!({ "proxies": populated }).to_string(),
    ))
}

/// `POST /reset`: every listener enabled (opened again), every toxic
/// removed; 204.
fn reset(table: &mut FaultTable, sockets: &mut dyn ListenerSockets) -> Result<Response, ApiError> {
    let disabled: Vec<(usize, String, SocketAddr)> = (table.list().iter().enumerate())
        .filter(|(_, listener)| !listener.enabled)
        .map(|(index, listener)| (index, listener.name.clone(), listener.listen))
        .collect();
    let mut failures = Vec::new();
    for (index, name, listen) in disabled {
        match sockets.open(&name, listen) {
            Ok(bound) => table.set_address(index, bound),
            // This one stays disabled; the rest are reset all the same.
            Err(e) => failures.push((name, ApiError::listen(listen, e))),
        }
    }
    table.reset();
    let mut first = None;
    for (name, error) in failures {
        table.set_enabled(&name, false)?;
        first.get_or_insert(error);
    }
    first.map_or(Ok(no_content()), Err)
}

fn ok(body: Value) -> Response {
    json_response(200, body.to_string())
}

fn no_content() -> Response {
    json_response(204, String::new())
}

#[cfg(test)]
mod tests;
