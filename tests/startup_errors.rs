//! What stops a server from starting, through the library: a
//! configuration value with no meaning (checked by `Config::validate`
//! before anything is bound) and an address that cannot be listened on,
//! each reported as an `Error` whose text is exactly what the binary
//! prints after `echo-reactor: `, hint included.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use echo_reactor::{Cluster, Config, Error, Server};

use crate::support::*;

fn loopback() -> Config {
    Config::listening_on("127.0.0.1:0".parse().unwrap())
}

/// The error `Server::bind` returns for `config`; panics if it binds.
fn bind_error(config: Config) -> Error {
    match Server::bind(config) {
        Ok(server) => panic!("bound {:?} though it should not", server.local_addrs()),
        Err(e) => e,
    }
}

#[test]
fn each_meaningless_value_is_refused_before_binding_with_its_name() {
    let cases: [(&str, Config, &str); 5] = [
        (
            "an empty listen list",
            Config {
                listen: Vec::new(),
                ..loopback()
            },
            "no address to listen on",
        ),
        (
            "max_pending 0",
            Config {
                max_pending: 0,
                ..loopback()
            },
            "max-pending must be at least 1 byte",
        ),
        (
            "max_connections 0",
            Config {
                max_connections: Some(0),
                ..loopback()
            },
            "max-connections must be at least 1",
        ),
        (
            "idle_timeout 0",
            Config {
                idle_timeout: Some(Duration::ZERO),
                ..loopback()
            },
            "idle-timeout must be longer than zero",
        ),
        (
            "stats_interval 0",
            Config {
                stats_interval: Some(Duration::ZERO),
                ..loopback()
            },
            "stats-interval must be longer than zero",
        ),
    ];
    for (what, config, why) in cases {
        assert_eq!(config.validate(), Err(why.to_string()), "{what}");
        let error = bind_error(config);
        assert!(
            matches!(&error, Error::Config(text) if text == why),
            "{what}: {error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!("invalid configuration: {why}"),
            "{what}"
        );
        assert!(std::error::Error::source(&error).is_none(), "{what}");
    }
    assert_eq!(loopback().validate(), Ok(()));
}

#[test]
fn a_cluster_of_no_reactors_is_refused() {
    let error = match Cluster::bind(loopback(), 0) {
        Ok(_) => panic!("bound a cluster of no reactors"),
        Err(e) => e,
    };
    assert_eq!(
        error.to_string(),
        "invalid configuration: at least one reactor is needed"
    );
}

#[test]
fn an_address_in_use_names_the_address_the_system_error_and_the_hint() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let error = bind_error(Config::listening_on(addr));
    let source = io::Error::from_raw_os_error(libc::EADDRINUSE);
    assert_eq!(
        error.to_string(),
        format!("cannot listen on {addr}: {source} (is another server running on it?)")
    );
    assert!(
        matches!(&error, Error::Listen { addr: a, .. } if *a == addr),
        "{error:?}"
    );
    let cause = std::error::Error::source(&error).expect("the system's error");
    assert_eq!(cause.to_string(), source.to_string());
}

#[test]
fn an_address_no_interface_has_names_the_address_the_system_error_and_the_hint() {
    // Only bound, never sent to: TEST-NET-1, reserved for documentation.
    let addr: SocketAddr = "192.0.2.1:0".parse().unwrap();
    let nonlocal = std::fs::read_to_string("/proc/sys/net/ipv4/ip_nonlocal_bind")
        .is_ok_and(|value| value.trim() != "0");
    if nonlocal {
        return skip("this host lets sockets bind addresses it does not have");
    }
    let error = bind_error(Config::listening_on(addr));
    let source = io::Error::from_raw_os_error(libc::EADDRNOTAVAIL);
    assert_eq!(
        error.to_string(),
        format!("cannot listen on {addr}: {source} (no local interface has this address)")
    );
}
