//! The API as toxiproxy's clients drive it, over a table and sockets that
//! only record what they are asked.

use std::io;
use std::net::SocketAddr;

use serde_json::{json, Value};

use super::*;

/// Sockets that bind nothing: port 0 gets port 40000 + the count so far,
/// and port 1 cannot be bound.
#[derive(Default)]
struct Recorded {
    opened: Vec<(String, SocketAddr)>,
}

impl ListenerSockets for Recorded {
    fn open(&mut self, name: &str, mut listen: SocketAddr) -> io::Result<SocketAddr> {
        if listen.port() == 1 {
            return Err(io::Error::from(io::ErrorKind::AddrInUse));
        }
        if listen.port() == 0 {
            listen.set_port(40000 + self.opened.len() as u16);
        }
        self.opened.push((name.to_string(), listen));
        Ok(listen)
    }
}

struct Api {
    table: FaultTable,
    sockets: Recorded,
}

impl Api {
    fn new() -> Api {
        Api {
            table: FaultTable::default(),
            sockets: Recorded::default(),
        }
    }

    /// The status and the body's JSON (`null` for none).
    fn call(&mut self, method: &str, path: &str, body: &str) -> (u16, Value) {
        let request = HttpRequest {
            method,
            path,
            body: body.as_bytes(),
        };
        let response = route(&request, &mut self.table, &mut self.sockets);
        let value = if response.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&response.body).expect("the body is JSON")
        };
        (response.status, value)
    }

    /// Calls and checks that the request was refused with `status` and
    /// toxiproxy's error shape, the table unchanged.
    fn refused(&mut self, method: &str, path: &str, body: &str, status: u16) -> String {
        let before = self.table.clone();
        let opened = self.sockets.opened.len();
        let (got, value) = self.call(method, path, body);
        assert_eq!(got, status, "{method} {path} {body}: {value}");
        assert_eq!(value["status"], json!(status), "{value}");
        assert_eq!(value.as_object().unwrap().len(), 2, "{value}");
        assert_eq!(self.table.list(), before.list(), "{method} {path} {body}");
        assert_eq!(self.sockets.opened.len(), opened);
        value["error"].as_str().unwrap().to_string()
    }
}

#[test]
fn proxies_are_created_listed_shown_and_deleted_as_toxiproxy_does() {
    let mut api = Api::new();
    let (status, created) = api.call(
        "POST",
        "/proxies",
        r#"{"name": "slow", "listen": "127.0.0.1:0", "upstream": "ignored:1"}"#,
    );
    assert_eq!(status, 201);
    assert_eq!(
        created,
        json!({"name": "slow", "listen": "127.0.0.1:40000", "upstream": "127.0.0.1:40000",
               "enabled": true, "toxics": []})
    );
    assert_eq!(
        api.call("GET", "/proxies", ""),
        (200, json!({ "slow": created }))
    );
    assert_eq!(api.call("GET", "/proxies/slow", ""), (200, created));
    let (status, version) = api.call("GET", "/version", "");
    assert_eq!((status, version["version"].as_str()), (200, Some(VERSION)));
    assert_eq!(api.call("DELETE", "/proxies/slow", ""), (204, Value::Null));
    assert_eq!(api.call("GET", "/proxies", ""), (200, json!({})));
}

#[test]
fn toxics_are_added_listed_updated_and_removed_in_toxiproxys_shapes() {
    let mut api = Api::new();
    api.call("POST", "/proxies", r#"{"name": "p", "upstream": "x:1"}"#);
    let (status, toxic) = api.call(
        "POST",
        "/proxies/p/toxics",
        r#"{"type": "latency", "attributes": {"latency": 100, "jitter": 10}}"#,
    );
    assert_eq!(status, 200);
    assert_eq!(
        toxic,
        json!({"attributes": {"latency": 100, "jitter": 10}, "name": "latency_downstream",
               "type": "latency", "stream": "downstream", "toxicity": 1.0})
    );
    assert_eq!(
        api.call("GET", "/proxies/p/toxics", ""),
        (200, json!([toxic]))
    );
    assert_eq!(
        api.call("GET", "/proxies/p/toxics/latency_downstream", ""),
        (200, toxic.clone())
    );
    assert_eq!(
        api.call("GET", "/proxies/p", "").1["toxics"],
        json!([toxic])
    );
    // An update as the Node client sends it: the whole toxic back.
    let (status, updated) = api.call(
        "POST",
        "/proxies/p/toxics/latency_downstream",
        r#"{"attributes": {"latency": 250}, "name": "latency_downstream", "type": "latency",
            "stream": "downstream", "toxicity": 0.5}"#,
    );
    assert_eq!(status, 200);
    assert_eq!(updated["attributes"], json!({"latency": 250, "jitter": 10}));
    assert_eq!(updated["toxicity"], json!(0.5));
    let (status, _) = api.call("PATCH", "/proxies/p/toxics/latency_downstream", r#"{}"#);
    assert_eq!(status, 200, "PATCH as toxiproxy 2.x's clients send it");
    assert_eq!(
        api.call("DELETE", "/proxies/p/toxics/latency_downstream", ""),
        (204, Value::Null)
    );
    assert_eq!(api.call("GET", "/proxies/p/toxics", ""), (200, json!([])));
}

#[test]
fn disabling_closes_the_listener_and_enabling_or_reset_opens_it_again() {
    let mut api = Api::new();
    api.call(
        "POST",
        "/proxies",
        r#"{"name": "p", "listen": "127.0.0.1:7000"}"#,
    );
    api.call("POST", "/proxies/p/toxics", r#"{"type": "timeout"}"#);
    let (status, proxy) = api.call("POST", "/proxies/p", r#"{"enabled": false}"#);
    assert_eq!((status, &proxy["enabled"]), (200, &json!(false)));
    assert_eq!(api.sockets.opened.len(), 1, "disabling binds nothing");
    let (_, proxy) = api.call("POST", "/proxies/p", r#"{"enabled": true}"#);
    assert_eq!(proxy["enabled"], json!(true));
    assert_eq!(api.sockets.opened.len(), 2);
    api.call("POST", "/proxies/p", r#"{"enabled": false}"#);
    assert_eq!(api.call("POST", "/reset", ""), (204, Value::Null));
    let (_, proxy) = api.call("GET", "/proxies/p", "");
    assert_eq!(proxy["enabled"], json!(true));
    assert_eq!(proxy["toxics"], json!([]));
    assert_eq!(api.sockets.opened.len(), 3);
    // Moving it binds the new address.
    let (_, proxy) = api.call("POST", "/proxies/p", r#"{"listen": "127.0.0.1:7001"}"#);
    assert_eq!(proxy["listen"], json!("127.0.0.1:7001"));
    assert_eq!(api.sockets.opened.last().unwrap().1.port(), 7001);
    // A disabled one moves without binding.
    api.call("POST", "/proxies/p", r#"{"enabled": false}"#);
    let (_, proxy) = api.call("POST", "/proxies/p", r#"{"listen": "127.0.0.1:7002"}"#);
    assert_eq!(
        (&proxy["listen"], &proxy["enabled"]),
        (&json!("127.0.0.1:7002"), &json!(false))
    );
    assert_eq!(api.sockets.opened.len(), 4);
}

#[test]
fn populate_creates_keeps_and_replaces() {
    let mut api = Api::new();
    api.call(
        "POST",
        "/proxies",
        r#"{"name": "kept", "listen": "127.0.0.1:7000"}"#,
    );
    api.call(
        "POST",
        "/proxies",
        r#"{"name": "moved", "listen": "127.0.0.1:7001"}"#,
    );
    let (status, answer) = api.call(
        "POST",
        "/populate",
        r#"[{"name": "kept", "listen": "127.0.0.1:7000", "upstream": "x:1"},
            {"name": "moved", "listen": "127.0.0.1:7002", "upstream": "x:1"},
            {"name": "new", "listen": "127.0.0.1:7003", "upstream": "x:1", "enabled": false}]"#,
    );
    assert_eq!(status, 201);
    let listens: Vec<&str> = answer["proxies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|proxy| proxy["listen"].as_str().unwrap())
        .collect();
    assert_eq!(
        listens,
        ["127.0.0.1:7000", "127.0.0.1:7002", "127.0.0.1:7003"]
    );
    assert_eq!(
        api.sockets.opened.len(),
        3,
        "kept stays open, new is disabled"
    );
    assert_eq!(api.sockets.opened[2].0, "moved");
    let names: Vec<&str> = api.table.list().iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["kept", "moved", "new"], "moved was made again");
    assert!(!api.table.get("new").unwrap().enabled);
}

#[test]
fn bad_requests_get_toxiproxys_error_and_change_nothing() {
    let mut api = Api::new();
    api.call(
        "POST",
        "/proxies",
        r#"{"name": "p", "listen": "127.0.0.1:7000"}"#,
    );
    api.call("POST", "/proxies/p/toxics", r#"{"type": "latency"}"#);
    let error = api.refused("POST", "/proxies/p/toxics", r#"{"type": "latency""#, 400);
    assert!(error.starts_with("bad request body: "), "{error}");
    let error = api.refused("POST", "/proxies/p/toxics", r#"{"type": "lag"}"#, 400);
    assert!(error.starts_with("invalid toxic type"), "{error}");
    let error = api.refused("POST", "/proxies/p/toxics", r#"{"type": "latency"}"#, 409);
    assert_eq!(error, "toxic already exists");
    let error = api.refused("POST", "/proxies/q/toxics", r#"{"type": "latency"}"#, 404);
    assert_eq!(error, "proxy not found");
    let error = api.refused("POST", "/proxies", r#"{"name": "p"}"#, 409);
    assert_eq!(error, "proxy already exists");
    let error = api.refused("POST", "/proxies", r#"{"upstream": "x:1"}"#, 400);
    assert_eq!(error, "missing required field: name");
    api.refused(
        "POST",
        "/proxies/p/toxics",
        r#"{"type": "latency", "stream": "up"}"#,
        400,
    );
    api.refused(
        "POST",
        "/proxies/p/toxics/latency_downstream",
        r#"{"toxicity": 7}"#,
        400,
    );
    api.refused(
        "POST",
        "/proxies/p/toxics/latency_downstream",
        r#"{"attributes": {"latency": 5, "rate": 1}}"#,
        400,
    );
    api.refused("POST", "/proxies/p/toxics/nope", r#"{}"#, 404);
    api.refused("DELETE", "/proxies/p/toxics/nope", "", 404);
    api.refused("GET", "/proxies/nope", "", 404);
    api.refused("POST", "/proxies/p", r#"{"enabled": "yes"}"#, 400);
    api.refused("POST", "/proxies/p", r#"{"listen": "nowhere"}"#, 400);
    api.refused(
        "POST",
        "/populate",
        r#"[{"name": "a"}, {"name": "a"}]"#,
        409,
    );
    api.refused(
        "POST",
        "/populate",
        r#"[{"name": "a"}, {"listen": ":1"}]"#,
        400,
    );
    api.refused("POST", "/populate", r#"{"name": "a"}"#, 400);
    api.refused("PUT", "/proxies", "", 405);
    api.refused("GET", "/toxics", "", 404);
    // A port that cannot be bound: toxiproxy's 500, and no proxy made.
    let error = api.refused(
        "POST",
        "/proxies",
        r#"{"name": "q", "listen": "127.0.0.1:1"}"#,
        500,
    );
    assert!(error.starts_with("cannot listen on 127.0.0.1:1"), "{error}");
    api.refused("POST", "/proxies/p", r#"{"listen": "127.0.0.1:1"}"#, 500);
}
