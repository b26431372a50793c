//! Tests that cannot run on every host (no python3, no IPv6 loopback, no
//! raw sockets without root) say why and pass, so a contributor's machine
//! stays green; in strict mode, which CI turns on with
//! `ECHO_REACTOR_TEST_STRICT=1`, they fail instead, so a green CI means
//! every test ran in full.

use std::net::TcpListener;

/// The environment variable that turns strict mode on (value `1`).
pub const STRICT_VAR: &str = "ECHO_REACTOR_TEST_STRICT";

/// Whether strict mode is on: a test that cannot run fails.
pub fn strict() -> bool {
    std::env::var_os(STRICT_VAR).is_some_and(|value| value == "1")
}

/// For a test, or a part of one, that cannot run on this host because of
/// `why`: prints that it was skipped, or in strict mode panics. The caller
/// then returns (or leaves out the part), as in
/// `return skip("python3 not found");`.
pub fn skip(why: &str) {
    assert!(
        !strict(),
        "cannot run the whole test: {why} (and {STRICT_VAR}=1 allows no skipping)"
    );
    eprintln!("skipped: {why}");
}

/// Why this host cannot listen on IPv6 loopback, if it cannot.
pub fn ipv6_loopback_missing() -> Option<String> {
    TcpListener::bind("[::1]:0")
        .err()
        .map(|e| format!("cannot bind [::1]:0 on this host ({e})"))
}

/// Whether an executable named `name` is on PATH.
pub fn on_path(name: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| dir.join(name).is_file())
}
