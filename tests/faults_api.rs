//! The fault API (`--admin`) driven by toxiproxy's own clients, unchanged:
//! `toxiproxy-python` from PyPI and `toxiproxy-node-client` from npm
//! (installed by `.ci/run`: the Node one into `target/toxiproxy-node`).
//! What they change is checked from a plain client of the listener; bad
//! requests get toxiproxy's status and error body and change nothing.

use crate::support::*;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

use echo_reactor::faults::{FaultListener, FaultTable};
use echo_reactor::{Config, Server};
use serde_json::{json, Value};

/// A server with the fault API on an ephemeral loopback port: the server
/// and the API's address.
fn start_with_api() -> (InProcess, SocketAddr) {
    let mut config = Config::listening_on("127.0.0.1:0".parse().unwrap());
    config.admin = Some("127.0.0.1:0".parse().unwrap());
    let server = Server::bind(config).expect("bind the server");
    let admin = server.admin_addr().expect("the fault API's address");
    (InProcess::run(server), admin)
}

/// Sends one request to the API and returns the status and the body's
/// JSON (`null` for none, a string for a body that is not JSON).
fn call(admin: SocketAddr, method: &str, path: &str, body: &str) -> (u16, Value) {
    let mut stream = connect(admin);
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let body = answer.split_once("\r\n\r\n").unwrap().1;
    // The HTTP layer's own refusals (too large, too slow) are plain text.
    let value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_string()))
    };
    (status, value)
}

/// The toxiproxy client script `script` run by `program`, with the API's
/// host and port as its arguments; panics with its output if it fails.
fn run_client(mut command: Command, admin: SocketAddr) -> String {
    command
        .arg(admin.ip().to_string())
        .arg(admin.port().to_string());
    let out = run_within_patience(&mut command);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{command:?}:\n{stdout}\n{stderr}");
    stdout
}

/// What both clients check, from the client's side: a proxy created at
/// a port the system picks echoes; a toxic is listed with its
/// attributes, updated, removed (the Python one times a latency of 300
/// ms, then 600, then none, on a new connection each); a disabled proxy
/// refuses connections and echoes again once enabled; reset removes
/// every toxic and enables every proxy. Each script prints `ok` at its
/// end.
const PYTHON_CLIENT: &str = r#"
import socket, sys, time
from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import NotFound

server = Toxiproxy()
server.update_api_consumer(sys.argv[1], int(sys.argv[2]))
assert server.running()
assert b"echo-reactor" in server.version(), server.version()

def echo(listen):
    """Seconds from sending a ping on a new connection to its whole echo."""
    host, port = listen.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as client:
        start = time.monotonic()
        client.sendall(b"ping")
        got = b""
        while len(got) < 4:
            chunk = client.recv(4 - len(got))
            assert chunk, "closed before the echo"
            got += chunk
        assert got == b"ping", got
        return time.monotonic() - start

def refused(listen):
    host, port = listen.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except ConnectionRefusedError:
        return
    raise AssertionError("a disabled proxy accepted a connection")

proxy = server.create(upstream="ignored:1", name="slow")
assert proxy.listen.startswith("127.0.0.1:") and not proxy.listen.endswith(":0"), proxy.listen
assert list(server.proxies()) == ["slow"]
echo(proxy.listen)

proxy.add_toxic(type="latency", attributes={"latency": 300})
toxic = proxy.get_toxic("latency_downstream")
assert (toxic.type, toxic.stream, toxic.toxicity) == ("latency", "downstream", 1.0)
assert toxic.attributes == {"latency": 300, "jitter": 0}, toxic.attributes
took = echo(proxy.listen)
assert 0.3 <= took < 3, took
# The client has no update of its own: its API consumer posts it.
APIConsumer.post("/proxies/slow/toxics/latency_downstream",
                 json={"attributes": {"latency": 600}})
toxic = proxy.get_toxic("latency_downstream")
assert toxic.attributes["latency"] == 600 and toxic.toxicity == 1.0, vars(toxic)
took = echo(proxy.listen)
assert 0.6 <= took < 3, took
proxy.destroy_toxic("latency_downstream")
assert proxy.toxics() == {}
took = echo(proxy.listen)
assert took < 0.3, took

with proxy.down():
    assert not server.get_proxy("slow").enabled
    refused(proxy.listen)
assert server.get_proxy("slow").enabled
echo(proxy.listen)

proxy.add_toxic(type="timeout", name="hole", attributes={"timeout": 0})
proxy.disable()
refused(proxy.listen)
assert server.reset()
assert proxy.toxics() == {} and server.get_proxy("slow").enabled
echo(proxy.listen)

try:
    proxy.destroy_toxic("hole")
    raise AssertionError("removing a toxic that is gone succeeded")
except NotFound:
    pass
assert proxy.destroy()
assert server.proxies() == {}
print("ok")
"#;

const NODE_CLIENT: &str = r#"
const net = require("net");
const { Toxiproxy } = require("toxiproxy-node-client");
const assert = require("assert");

function echo(listen) {
  const [host, port] = [listen.slice(0, listen.lastIndexOf(":")), +listen.slice(listen.lastIndexOf(":") + 1)];
  return new Promise((resolve, reject) => {
    const client = net.connect(port, host, () => client.write("ping"));
    let got = "";
    client.setTimeout(5000, () => reject(new Error("no echo")));
    client.on("data", (d) => { got += d; if (got.length >= 4) { client.end(); resolve(got); } });
    client.on("error", reject);
  });
}

function refused(listen) {
  const port = +listen.slice(listen.lastIndexOf(":") + 1);
  return new Promise((resolve, reject) => {
    const client = net.connect(port, "127.0.0.1", () => { client.destroy(); reject(new Error("accepted")); });
    client.on("error", (e) => e.code === "ECONNREFUSED" ? resolve() : reject(e));
  });
}

(async () => {
  const server = new Toxiproxy(`http://${process.argv[1]}:${process.argv[2]}`);
  assert.match(await server.getVersion(), /echo-reactor/);
  const proxy = await server.createProxy({ name: "slow", listen: "127.0.0.1:0", upstream: "ignored:1" });
  assert.notStrictEqual(proxy.listen, "127.0.0.1:0");
  assert.deepStrictEqual(Object.keys(await server.getAll()), ["slow"]);
  assert.strictEqual(await echo(proxy.listen), "ping");

  const toxic = await proxy.addToxic({ type: "latency", name: "lag", stream: "downstream",
                                       toxicity: 1, attributes: { latency: 100, jitter: 5 } });
  assert.deepStrictEqual(toxic.attributes, { latency: 100, jitter: 5 });
  const updated = await toxic.update({ attributes: { latency: 250 }, toxicity: 0.25 });
  assert.deepStrictEqual([updated.attributes.latency, updated.attributes.jitter, updated.toxicity], [250, 5, 0.25]);
  assert.strictEqual((await proxy.getToxic("lag")).attributes.latency, 250);
  await updated.remove();
  await assert.rejects(proxy.getToxic("lag"), /status code 404/);

  const down = await proxy.update({ ...proxy.toJson(), enabled: false });
  assert.strictEqual(down.enabled, false);
  await refused(proxy.listen);
  const up = await down.update({ ...down.toJson(), enabled: true });
  assert.strictEqual(up.enabled, true);
  assert.strictEqual(await echo(up.listen), "ping");

  await proxy.addToxic({ type: "reset_peer", attributes: { timeout: 10 } });
  await server.reset();
  assert.deepStrictEqual((await server.get("slow")).toJson().enabled, true);
  await assert.rejects(proxy.getToxic("reset_peer_downstream"), /status code 404/);

  const populated = await server.populate([{ name: "other", listen: "127.0.0.1:0", upstream: "x:1" }]);
  assert.deepStrictEqual(Object.keys(populated), ["other"]);
  assert.strictEqual(await echo(populated.other.listen), "ping");
  await assert.rejects(server.createProxy({ name: "other", listen: "127.0.0.1:0", upstream: "x:1" }),
                       /status code 409/);
  await proxy.remove();
  assert.deepStrictEqual(Object.keys(await server.getAll()), ["other"]);
  console.log("ok");
})().catch((e) => { console.error(e); process.exit(1); });
"#;

/// Whether Python can import toxiproxy-python's module.
fn python_client_missing() -> Option<String> {
    if !on_path("python3") {
        return Some("python3 not found".into());
    }
    let mut probe = Command::new("python3");
    probe.args(["-c", "import toxiproxy"]);
    let out = run_within_patience(&mut probe);
    (!out.status.success())
        .then(|| "toxiproxy-python is not installed (pip install toxiproxy-python)".into())
}

/// Where `.ci/run` installs toxiproxy-node-client: `toxiproxy-node`
/// under the target directory.
fn node_modules() -> Option<PathBuf> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("target"));
    [target, manifest.join("target")]
        .into_iter()
        .map(|dir| dir.join("toxiproxy-node/node_modules"))
        .find(|dir| dir.join("toxiproxy-node-client").is_dir())
}

#[test]
fn toxiproxys_python_client_lists_adds_updates_removes_disables_enables_and_resets() {
    if let Some(why) = python_client_missing() {
        return skip(&why);
    }
    let (_server, admin) = start_with_api();
    let mut python = Command::new("python3");
    python.args(["-c", PYTHON_CLIENT]);
    assert_eq!(run_client(python, admin).trim(), "ok");
}

#[test]
fn toxiproxys_node_client_drives_the_same_api_unchanged() {
    if !on_path("node") {
        return skip("node not found");
    }
    let Some(modules) = node_modules() else {
        return skip("toxiproxy-node-client is not installed in target/toxiproxy-node");
    };
    let (_server, admin) = start_with_api();
    let mut node = Command::new("node");
    node.env("NODE_PATH", modules)
        .args(["-e", NODE_CLIENT, "--"]);
    assert_eq!(run_client(node, admin).trim(), "ok");
}

/// Calls the API and checks toxiproxy's error: `status`, a body of
/// `error` and `status` only, and the proxies as they were.
fn refused(admin: SocketAddr, method: &str, path: &str, body: &str, status: u16) -> String {
    let before = call(admin, "GET", "/proxies", "");
    let (got, error) = call(admin, method, path, body);
    assert_eq!(got, status, "{method} {path} {body}: {error}");
    assert_eq!(error["status"], json!(status), "{error}");
    assert_eq!(error.as_object().map(|o| o.len()), Some(2), "{error}");
    assert_eq!(
        call(admin, "GET", "/proxies", ""),
        before,
        "{method} {path} {body}"
    );
    error["error"].as_str().unwrap().to_string()
}

#[test]
fn bad_requests_get_toxiproxys_status_and_error_and_change_nothing() {
    let (_server, admin) = start_with_api();
    let (status, _) = call(
        admin,
        "POST",
        "/proxies",
        r#"{"name": "p", "upstream": "x:1"}"#,
    );
    assert_eq!(status, 201);
    let (status, _) = call(admin, "POST", "/proxies/p/toxics", r#"{"type": "latency"}"#);
    assert_eq!(status, 200);

    let error = refused(admin, "POST", "/proxies/p/toxics", r#"{"type": "lat"#, 400);
    assert!(error.starts_with("bad request body"), "{error}");
    let error = refused(admin, "POST", "/proxies", "not json", 400);
    assert!(error.starts_with("bad request body"), "{error}");
    let error = refused(
        admin,
        "POST",
        "/proxies/p/toxics",
        r#"{"type": "lag"}"#,
        400,
    );
    assert!(error.starts_with("invalid toxic type"), "{error}");
    let error = refused(
        admin,
        "POST",
        "/proxies/q/toxics",
        r#"{"type": "latency"}"#,
        404,
    );
    assert_eq!(error, "proxy not found");
    let error = refused(admin, "GET", "/proxies/q", "", 404);
    assert_eq!(error, "proxy not found");
    let error = refused(admin, "DELETE", "/proxies/p/toxics/nope", "", 404);
    assert_eq!(error, "toxic not found");
    let error = refused(
        admin,
        "POST",
        "/proxies",
        r#"{"name": "p", "upstream": "x:1"}"#,
        409,
    );
    assert_eq!(error, "proxy already exists");
    let error = refused(
        admin,
        "POST",
        "/proxies/p/toxics",
        r#"{"type": "latency"}"#,
        409,
    );
    assert_eq!(error, "toxic already exists");
    let toxic = "/proxies/p/toxics/latency_downstream";
    refused(
        admin,
        "POST",
        toxic,
        r#"{"attributes": {"latency": -5}}"#,
        400,
    );
    refused(
        admin,
        "POST",
        toxic,
        r#"{"attributes": {"latency": 5, "rate": 1}}"#,
        400,
    );
    refused(admin, "POST", toxic, r#"{"toxicity": 1.5}"#, 400);
    refused(admin, "POST", "/proxies/p", r#"{"enabled": "no"}"#, 400);
    // A port in use: the listener cannot be bound, no proxy is made.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let body = format!(
        r#"{{"name": "q", "listen": "{}"}}"#,
        taken.local_addr().unwrap()
    );
    refused(admin, "POST", "/proxies", &body, 500);
    // Bounded as /metrics is: a body past the request limit is refused,
    // in toxiproxy's shape too.
    let huge = format!(r#"{{"name": "{}"}}"#, "x".repeat(10_000));
    let error = refused(admin, "POST", "/proxies", &huge, 413);
    assert_eq!(error, "request too large");
    let (_, proxies) = call(admin, "GET", "/proxies", "");
    assert_eq!(proxies.as_object().unwrap().len(), 1);
}

#[test]
fn deleting_a_listener_moves_the_next_one_up_with_its_socket_and_connections() {
    let mut config = Config::listening_on("127.0.0.1:0".parse().unwrap());
    config.admin = Some("127.0.0.1:0".parse().unwrap());
    config.udp = true;
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    config.faults = FaultTable::new(vec![
        FaultListener::new("first", any),
        FaultListener::new("second", any),
    ])
    .unwrap();
    let server = Server::bind(config).expect("bind the server");
    let admin = server.admin_addr().unwrap();
    let _server = InProcess::run(server);
    let latency = r#"{"type": "latency", "attributes": {"latency": 50}}"#;
    assert_eq!(
        call(admin, "POST", "/proxies/second/toxics", latency).0,
        200
    );
    let listen = |name: &str| -> SocketAddr {
        let (_, proxy) = call(admin, "GET", &format!("/proxies/{name}"), "");
        proxy["listen"].as_str().unwrap().parse().unwrap()
    };
    let second = listen("second");
    // A connection that drew the latency through the second listener, and
    // its UDP socket on the same port.
    let mut client = connect(second);
    echo_once(&mut client, b"before");
    let datagrams = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    datagrams.set_read_timeout(Some(PATIENCE)).unwrap();
    datagrams.connect(second).unwrap();
    let udp_echo = |message: &[u8]| {
        datagrams.send(message).unwrap();
        let mut buf = [0u8; 64];
        let n = datagrams.recv(&mut buf).expect("the datagram's echo");
        assert_eq!(&buf[..n], message);
    };
    udp_echo(b"before");

    assert_eq!(
        call(admin, "DELETE", "/proxies/first", ""),
        (204, Value::Null)
    );
    let (_, proxies) = call(admin, "GET", "/proxies", "");
    assert_eq!(
        proxies.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["second"]
    );
    assert_eq!(listen("second"), second);
    echo_once(&mut client, b"after");
    echo_all(second, b"a new connection");
    udp_echo(b"after");

    // Disabling it, now first in the table, closes its socket and the
    // connection that came through it.
    let (status, _) = call(admin, "POST", "/proxies/second", r#"{"enabled": false}"#);
    assert_eq!(status, 200);
    assert!(
        std::net::TcpStream::connect(second).is_err(),
        "still listening"
    );
    let mut byte = [0u8; 1];
    match client.read(&mut byte) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the connection through a disabled listener is open: {other:?}"),
    }
}

#[test]
fn the_api_needs_its_own_address_and_warns_off_loopback() {
    let out = run_within_patience(Command::new(env!("CARGO_BIN_EXE_echo-reactor")).args([
        "--listen",
        "127.0.0.1:0",
        "--metrics",
        "127.0.0.1:9",
        "--admin",
        "127.0.0.1:9",
    ]));
    assert!(!out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("admin and metrics must be different addresses"),
        "{stderr}"
    );
    let server = Binary::start(&["--listen", "127.0.0.1:0", "--admin", "0.0.0.0:0"]);
    server.wait_until_logged("is not on loopback");
}
