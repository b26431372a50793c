//! A real HAProxy in front, as people deploy it: one frontend whose backend
//! is echo-reactor with `send-proxy` (PROXY v1), one with `send-proxy-v2`.
//! A client through each gets 1 MiB of random bytes back exactly, and the
//! server's debug log names the client's real address and port, which only
//! the PROXY header carried.

use crate::support::*;

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// HAProxy running with a configuration of ours; killed when dropped.
pub(crate) struct Haproxy {
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

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The README's HAProxy configuration, exactly as printed.
fn readme_config() -> &'static str {
    readme_haproxy_config("## Behind a load balancer")
}

/// The first HAProxy configuration the README prints after `heading`,
/// exactly as printed.
pub(crate) fn readme_haproxy_config(heading: &str) -> &'static str {
    const README: &str = include_str!("../README.md");
    let section = &README[README.find(heading).expect("the section")..];
    let start = section.find("```haproxy\n").expect("a ```haproxy block") + "```haproxy\n".len();
    let end = start + section[start..].find("```").expect("the block's end");
    &section[start..end]
}

/// HAProxy running the README's configuration with its ports swapped for
/// ours: the frontend on a fresh loopback port, the backend `backend`, its
/// health check on `health`; with `send-proxy` instead of `send-proxy-v2`
/// when `v1`. Returns it and the frontend's address.
fn start_haproxy(backend: SocketAddr, health: SocketAddr, v1: bool) -> (Haproxy, SocketAddr) {
    let front = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let printed = readme_config();
    for placeholder in [
        "127.0.0.1:7000",
        "127.0.0.1:65432",
        "port 9100",
        "send-proxy-v2",
    ] {
        assert!(
            printed.contains(placeholder),
            "the README's config lost {placeholder:?}"
        );
    }
    let mut config = printed
        .replace("127.0.0.1:7000", &front.to_string())
        .replace("127.0.0.1:65432", &backend.to_string())
        .replace("port 9100", &format!("port {}", health.port()));
    if v1 {
        config = config.replace("send-proxy-v2", "send-proxy");
    }
    (spawn_haproxy(&config, front), front)
}

/// HAProxy running `config`, once it listens on `front`.
pub(crate) fn spawn_haproxy(config: &str, front: SocketAddr) -> Haproxy {
    let path = std::env::temp_dir().join(format!(
        "echo-reactor-haproxy-{}-{}.cfg",
        std::process::id(),
        front.port()
    ));
    std::fs::write(&path, config).unwrap();
    let child = Command::new("haproxy")
        .arg("-db")
        .arg("-f")
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start haproxy");
    let mut haproxy = Haproxy {
        child,
        _config: TempFile(path),
    };
    // HAProxy listens once it has read its configuration.
    let deadline = Instant::now() + PATIENCE;
    while std::net::TcpStream::connect(front).is_err() {
        if let Ok(Some(status)) = haproxy.child.try_wait() {
            let mut why = String::new();
            if let Some(mut stderr) = haproxy.child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut stderr, &mut why);
            }
            panic!("haproxy exited ({status}) with this configuration:\n{config}\n{why}");
        }
        assert!(Instant::now() < deadline, "haproxy did not start listening");
        std::thread::sleep(Duration::from_millis(20));
    }
    haproxy
}

#[test]
fn through_haproxy_with_proxy_v1_and_v2_every_byte_comes_back_and_the_client_is_named() {
    if !on_path("haproxy") {
        return skip("haproxy not found (Debian's package `haproxy`)");
    }
    let server = Binary::start(&[
        "--listen",
        "127.0.0.1:0",
        "--proxy-protocol",
        "--metrics",
        "127.0.0.1:0",
    ]);
    let health = server.metrics_addr();
    for (version, v1) in [("v1", true), ("v2", false)] {
        let (_haproxy, front) = start_haproxy(server.addr(), health, v1);
        // The readiness probe above made a connection with no payload:
        // HAProxy sent its header, and it ended when the probe did.
        let mut client = connect(front);
        let client_addr = client.local_addr().unwrap();
        let data = pattern(1 << 20, 77);
        let sender = send_then_half_close(&client, data.clone());
        assert_same_bytes(&read_exactly(&mut client, data.len()), &data);
        assert_eof(&mut client);
        sender.finish();
        server.wait_until_logged(&format!("PROXY {version} client {client_addr} to {front}"));
    }
}
