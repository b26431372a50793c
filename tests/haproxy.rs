//! A real HAProxy in front, as people deploy it: one frontend whose backend
//! is echo-reactor with `send-proxy` (PROXY v1), one with `send-proxy-v2`.
//! A client through each gets 1 MiB of random bytes back exactly, and the
//! server's debug log names the client's real address and port, which only
//! the PROXY header carried.

use crate::support::*;

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// HAProxy running with a configuration of ours; killed when dropped.
struct Haproxy {
    child: Child,
    _config: TempFile,
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A file removed when dropped.
struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// HAProxy on two fresh loopback ports, relaying to `backend` with PROXY v1
/// on the first and v2 on the second.
fn start_haproxy(backend: SocketAddr) -> (Haproxy, SocketAddr, SocketAddr) {
    let (v1, v2) = (free_port(), free_port());
    let config = format!(
        "global\n  maxconn 100\n\
         defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n\
         frontend v1\n  bind 127.0.0.1:{v1}\n  default_backend echo_v1\n\
         frontend v2\n  bind 127.0.0.1:{v2}\n  default_backend echo_v2\n\
         backend echo_v1\n  server echo {backend} send-proxy\n\
         backend echo_v2\n  server echo {backend} send-proxy-v2\n"
    );
    let path = std::env::temp_dir().join(format!(
        "echo-reactor-haproxy-{}-{v1}.cfg",
        std::process::id()
    ));
    std::fs::write(&path, config).unwrap();
    let child = Command::new("haproxy")
        .arg("-db")
        .arg("-f")
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start haproxy");
    let haproxy = Haproxy {
        child,
        _config: TempFile(path),
    };
    let (v1, v2): (SocketAddr, SocketAddr) = (
        SocketAddr::from(([127, 0, 0, 1], v1)),
        SocketAddr::from(([127, 0, 0, 1], v2)),
    );
    // HAProxy listens once it has read its configuration.
    let deadline = Instant::now() + PATIENCE;
    while std::net::TcpStream::connect(v2).is_err() {
        assert!(Instant::now() < deadline, "haproxy did not start listening");
        std::thread::sleep(Duration::from_millis(20));
    }
    (haproxy, v1, v2)
}

#[test]
fn through_haproxy_with_proxy_v1_and_v2_every_byte_comes_back_and_the_client_is_named() {
    if !on_path("haproxy") {
        return skip("haproxy not found (Debian's package `haproxy`)");
    }
    let server = Binary::start(&["--listen", "127.0.0.1:0", "--proxy-protocol"]);
    let (_haproxy, v1, v2) = start_haproxy(server.addr());
    // The readiness probe above made connections that carried no payload:
    // HAProxy sent their headers, and they ended when the probe did.
    for (version, front) in [("v1", v1), ("v2", v2)] {
        let mut client = connect(front);
        let client_addr = client.local_addr().unwrap();
        let data = pattern(1 << 20, 77);
        let writer = {
            let mut client = client.try_clone().unwrap();
            let data = data.clone();
            std::thread::spawn(move || {
                client.write_all(&data).unwrap();
                client.shutdown(Shutdown::Write).unwrap();
            })
        };
        assert_same_bytes(&read_exactly(&mut client, data.len()), &data);
        assert_eof(&mut client);
        join_within("the writer", writer, PATIENCE);
        let named = format!("PROXY {version} client {client_addr} to {front}");
        server.wait_until_logged(&named);
    }
}
