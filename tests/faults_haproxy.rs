//! A real HAProxy in front of two fault listeners of one server, checking
//! each with an echo (`option tcp-check`, `tcp-check send` / `expect`), as
//! the README's "Misbehaving on purpose" prints it. A latency longer than
//! the check's timeout, added through `toxiproxy-python`, marks that
//! server down in HAProxy's stats socket, and clients go to the other;
//! removing the toxic brings it back up.

use crate::support::*;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use echo_reactor::faults::{FaultListener, FaultTable};
use echo_reactor::{Config, Server};

use crate::haproxy::{free_port, readme_haproxy_config, spawn_haproxy, Haproxy};

/// HAProxy's stats socket, removed when dropped.
struct StatsSocket(PathBuf);

impl Drop for StatsSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// HAProxy running the README's configuration, its frontend on a fresh
/// port and its servers `a` and `b` at the addresses given; returns it,
/// its stats socket and the frontend's address.
fn start_haproxy(a: SocketAddr, b: SocketAddr) -> (Haproxy, StatsSocket, SocketAddr) {
    let front = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let tag = format!("{}-{}", std::process::id(), front.port());
    let stats = std::env::temp_dir().join(format!("echo-faults-haproxy-{tag}.sock"));
    let printed = readme_haproxy_config("### Changing faults while it runs");
    let placeholders = [
        ("127.0.0.1:7100", front.to_string()),
        ("127.0.0.1:7001", a.to_string()),
        ("127.0.0.1:7002", b.to_string()),
        ("/tmp/echo-faults-haproxy.sock", stats.display().to_string()),
    ];
    let mut config = printed.to_string();
    for (placeholder, ours) in placeholders {
        assert!(
            config.contains(placeholder),
            "the README's config lost {placeholder:?}"
        );
        config = config.replace(placeholder, &ours);
    }
    let haproxy = spawn_haproxy(&config, front);
    let stats = StatsSocket(stats);
    wait_until("haproxy's stats socket", || stats.0.exists());
    (haproxy, stats, front)
}

/// One server's line of `show stat`: its status (`UP`, `DOWN`, ...) and
/// the sessions it has had.
#[derive(Debug, Clone, PartialEq)]
struct ServerStat {
    status: String,
    sessions: u64,
}

/// Server `name` of the backend `echoes`, as HAProxy's stats socket says.
fn server_stat(stats: &PathBuf, name: &str) -> ServerStat {
    let mut socket = UnixStream::connect(stats).expect("haproxy's stats socket");
    socket.set_read_timeout(Some(PATIENCE)).unwrap();
    socket.write_all(b"show stat\n").unwrap();
    let mut csv = String::new();
    socket.read_to_string(&mut csv).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines
        .next()
        .and_then(|line| line.strip_prefix("# "))
        .expect("show stat's header")
        .split(',')
        .collect();
    let column = |wanted: &str| header.iter().position(|c| *c == wanted).unwrap();
    let (status, sessions) = (column("status"), column("stot"));
    let row: Vec<&str> = lines
        .map(|line| line.split(',').collect::<Vec<_>>())
        .find(|row| row.first() == Some(&"echoes") && row.get(1) == Some(&name))
        .unwrap_or_else(|| panic!("no server {name} in:\n{csv}"));
    ServerStat {
        status: row[status].to_string(),
        sessions: row[sessions].parse().unwrap(),
    }
}

/// Waits (up to [`PATIENCE`]) until HAProxy says server `name` is `status`.
fn wait_for_status(stats: &PathBuf, name: &str, status: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let stat = server_stat(stats, name);
        if stat.status == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "server {name} is still {} after {PATIENCE:?}, not {status}",
            stat.status
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `toxiproxy-python` adds (`add`) or removes (`remove`) the README's
/// latency on proxy `a`, through the API at `admin`.
fn toxiproxy_python(admin: SocketAddr, action: &str) {
    const SCRIPT: &str = r#"
import sys
from toxiproxy import Toxiproxy

server = Toxiproxy()
server.update_api_consumer(sys.argv[1], int(sys.argv[2]))
a = server.get_proxy("a")
if sys.argv[3] == "add":
    a.add_toxic(type="latency", attributes={"latency": 1000})
else:
    a.destroy_toxic("latency_downstream")
"#;
    let out = run_within_patience(
        Command::new("python3")
            .args(["-c", SCRIPT])
            .arg(admin.ip().to_string())
            .arg(admin.port().to_string())
            .arg(action),
    );
    assert!(out.status.success(), "toxiproxy-python {action}: {out:?}");
}

#[test]
fn a_latency_past_haproxys_check_timeout_takes_that_server_down_and_back_up() {
    if !on_path("haproxy") {
        return skip("haproxy not found (Debian's package `haproxy`)");
    }
    if !on_path("python3") {
        return skip("python3 not found");
    }
    let mut probe = Command::new("python3");
    if !run_within_patience(probe.args(["-c", "import toxiproxy"]))
        .status
        .success()
    {
        return skip("toxiproxy-python is not installed (pip install toxiproxy-python)");
    }
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut config = Config::listening_on(any);
    config.admin = Some(any);
    config.faults = FaultTable::new(vec![
        FaultListener::new("a", any),
        FaultListener::new("b", any),
    ])
    .unwrap();
    let server = Server::bind(config).expect("bind the server");
    let admin = server.admin_addr().unwrap();
    let _server = InProcess::run(server);
    let listen = |name: &str| -> SocketAddr {
        let mut stream = connect(admin);
        write!(stream, "GET /proxies/{name} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let body = answer.split_once("\r\n\r\n").unwrap().1;
        let proxy: serde_json::Value = serde_json::from_str(body).unwrap();
        proxy["listen"].as_str().unwrap().parse().unwrap()
    };
    let (_haproxy, stats_socket, front) = start_haproxy(listen("a"), listen("b"));
    let stats = &stats_socket.0;
    wait_for_status(stats, "a", "UP");
    wait_for_status(stats, "b", "UP");

    toxiproxy_python(admin, "add");
    wait_for_status(stats, "a", "DOWN");
    assert_eq!(server_stat(stats, "b").status, "UP");
    // Every client now goes to b, and is echoed at once.
    let (a_before, b_before) = (
        server_stat(stats, "a").sessions,
        server_stat(stats, "b").sessions,
    );
    for n in 0..10 {
        let mut client = connect(front);
        let started = Instant::now();
        echo_once(&mut client, format!("client {n}").as_bytes());
        assert!(
            started.elapsed() < Duration::from_millis(900),
            "client {n} waited {:?}: it went to the slow server",
            started.elapsed()
        );
    }
    assert_eq!(server_stat(stats, "a").sessions, a_before);
    assert_eq!(server_stat(stats, "b").sessions, b_before + 10);

    toxiproxy_python(admin, "remove");
    wait_for_status(stats, "a", "UP");
}
