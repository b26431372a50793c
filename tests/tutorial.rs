//! The classic Python socket tutorial works against the binary unchanged:
//! its echo client (the Rust example and the Python original) gets
//! `b'Hello, world'` back, and its multi-connection client gets both
//! messages back on every one of 20 concurrent connections.

use crate::support::*;

#[path = "../examples/echo_client.rs"]
#[allow(dead_code)]
mod echo_client;

#[path = "../examples/multiconn_client.rs"]
#[allow(dead_code)]
mod multiconn_client;

use std::process::Command;
use std::sync::{Arc, Barrier};
use std::thread;

fn start_server() -> Binary {
    Binary::start(&["--listen", "127.0.0.1:0"])
}

#[test]
fn the_tutorial_echo_client_sends_hello_world_and_gets_exactly_it_back() {
    let server = start_server();
    let port = server.addr().port();
    let data = within_patience("the tutorial exchange", move || {
        echo_client::exchange("127.0.0.1", port)
    })
    .expect("the tutorial exchange");
    assert_eq!(data, b"Hello, world");
    assert_eq!(echo_client::python_bytes(&data), "b'Hello, world'");
}

/// The tutorial's echo client, verbatim but for the port.
const PYTHON_CLIENT: &str = r#"import socket
HOST = "127.0.0.1"
PORT = <port>
with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.connect((HOST, PORT))
    s.sendall(b"Hello, world")
    data = s.recv(1024)
print(f"Received {data!r}")
"#;

#[test]
fn the_python_tutorial_client_prints_received_hello_world() {
    if !on_path("python3") {
        return skip("python3 not found");
    }
    let server = start_server();
    let script = PYTHON_CLIENT.replace("<port>", &server.addr().port().to_string());
    let out = run_within_patience(Command::new("python3").arg("-c").arg(&script));
    assert!(
        out.status.success(),
        "python3 failed: {out:?}\nscript:\n{script}"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Received b'Hello, world'\n"
    );
}

#[test]
fn twenty_concurrent_multiconn_clients_each_get_both_messages_back() {
    let server = start_server();
    let port = server.addr().port();
    let expected = multiconn_client::MESSAGES.concat();
    assert_eq!(expected, b"Message 1 from client.Message 2 from client.");

    let received = within_patience("20 tutorial connections", move || {
        let start = Arc::new(Barrier::new(20));
        let workers: Vec<_> = (0..20)
            .map(|_| {
                let start = Arc::clone(&start);
                thread::spawn(move || {
                    start.wait();
                    multiconn_client::run_connection("127.0.0.1", port)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("client thread panicked"))
            .collect::<Vec<_>>()
    });
    for (i, result) in received.into_iter().enumerate() {
        let data = result.unwrap_or_else(|e| panic!("connection {i}: {e}"));
        assert_eq!(
            String::from_utf8_lossy(&data),
            String::from_utf8_lossy(&expected),
            "connection {i}"
        );
    }
}
