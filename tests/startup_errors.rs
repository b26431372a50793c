//! What stops a server from starting, through the library: a
//! configuration value with no meaning (checked by `Config::validate`
//! before anything is bound, a typed `ConfigError` naming the `Config`
//! field) and an address that cannot be listened on, each reported as an
//! `Error`; the binary prints the address's error as is, hint included,
//! and words a configuration problem with its flags' names.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::time::Duration;

use echo_reactor::{Cluster, Config, ConfigError, Error, Server};

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

/// What a case is, how it spoils a good configuration, the problem
/// found and its text.
type Case = (&'static str, fn(&mut Config), ConfigError, &'static str);

#[test]
fn each_meaningless_value_is_refused_before_binding_with_its_name() {
    let cases: [Case; 5] = [
        (
            "an empty listen list",
            |c| c.listen = Vec::new(),
            ConfigError::NoAddress,
            "no address to listen on: listen, tls_listen and whoami_listen are empty",
        ),
        (
            "max_pending 0",
            |c| c.max_pending = 0,
            ConfigError::ZeroMaxPending,
            "max_pending must be at least 1 byte",
        ),
        (
            "max_connections 0",
            |c| c.max_connections = Some(0),
            ConfigError::ZeroMaxConnections,
            "max_connections must be at least 1",
        ),
        (
            "idle_timeout 0",
            |c| c.idle_timeout = Some(Duration::ZERO),
            ConfigError::ZeroIdleTimeout,
            "idle_timeout must be longer than zero",
        ),
        (
            "stats_interval 0",
            |c| c.stats_interval = Some(Duration::ZERO),
            ConfigError::ZeroStatsInterval,
            "stats_interval must be longer than zero",
        ),
    ];
    for (what, set, problem, why) in cases {
        let mut config = loopback();
        set(&mut config);
        assert_eq!(config.validate(), Err(problem.clone()), "{what}");
        assert_eq!(problem.to_string(), why, "{what}");
        let error = bind_error(config);
        assert!(
            matches!(&error, Error::Config(p) if *p == problem),
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
fn a_too_long_banner_is_refused_with_its_length_and_the_limit() {
    let mut config = loopback();
    config.banner = Some("x".repeat(echo_reactor::MAX_BANNER + 1));
    let max = echo_reactor::MAX_BANNER;
    let problem = ConfigError::BannerTooLong { len: max + 1, max };
    assert_eq!(config.validate(), Err(problem.clone()));
    assert_eq!(
        problem.to_string(),
        format!("banner is {} bytes, more than the {max} allowed", max + 1)
    );
}

#[test]
fn the_binary_names_the_flags_of_a_meaningless_configuration() {
    let output = run_within_patience(
        Command::new(BINARY)
            .args(["--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0"])
            .env("RUST_LOG", "off"),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "echo-reactor: invalid configuration: tls-listen and whoami-tls-listen need a \
         certificate: tls-cert and tls-key, or tls-self-signed"
    );
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

#[test]
fn an_access_log_that_cannot_be_written_is_one_line_and_exit_1() {
    let output = run_within_patience(
        Command::new(BINARY)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--access-log",
                "/nonexistent-directory/access.jsonl",
            ])
            .env("RUST_LOG", "off"),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "echo-reactor: cannot open the access log /nonexistent-directory/access.jsonl: \
         No such file or directory (os error 2)"
    );
}
