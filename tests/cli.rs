//! The command line: `--help` and `--version` exit 0; a bad flag or value
//! exits 2 and an address in use exits 1, each with exactly one line on
//! stderr that scripts can show as is; repeated `--listen` flags serve on
//! every address.

use crate::support::*;

use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Output};

/// Runs the binary with `args` and logging off, to its exit.
fn run(args: &[&str]) -> Output {
    run_within_patience(Command::new(BINARY).args(args).env("RUST_LOG", "off"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("output is UTF-8")
}

/// The one non-empty line of `stderr`, or a panic showing all of it.
fn single_line(stderr: &[u8]) -> String {
    let stderr = text(stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "expected one line on stderr, got:\n{stderr}"
    );
    lines[0].to_string()
}

#[test]
fn help_exits_0_and_describes_the_listen_max_pending_and_idle_timeout_flags() {
    let out = run(&["--help"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let help = text(&out.stdout);
    for flag in ["--listen", "--max-pending", "--idle-timeout"] {
        assert!(
            help.contains(flag),
            "--help does not mention {flag}:\n{help}"
        );
    }
}

#[test]
fn version_exits_0_and_prints_the_version_from_cargo_toml() {
    let out = run(&["--version"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(text(&out.stdout).trim(), format!("echo-reactor {version}"));
}

#[test]
fn an_unknown_flag_exits_2_with_one_line_on_stderr() {
    let out = run(&["--bogus"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let line = single_line(&out.stderr);
    assert!(line.starts_with("echo-reactor:"), "{line}");
    assert!(
        line.contains("'--bogus'"),
        "the line does not name the flag: {line}"
    );
    assert!(out.stdout.is_empty(), "{out:?}");
}

#[test]
fn a_bad_value_exits_2_with_one_line_on_stderr_naming_it() {
    let cases: [(&[&str], &str); 5] = [
        (&["--max-pending", "lots"], "'lots'"),
        (&["--listen", "nonsense"], "'nonsense'"),
        (&["--idle-timeout", "-1"], "'-1'"),
        (&["--idle-timeout=-1"], "'-1'"),
        (&["--idle-timeout", "0"], "'0'"),
    ];
    for (args, named) in cases {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let line = single_line(&out.stderr);
        assert!(line.starts_with("echo-reactor:"), "{args:?}: {line}");
        assert!(
            line.contains(named),
            "{args:?}: does not name {named}: {line}"
        );
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
    }
}

#[test]
fn an_address_in_use_exits_1_with_one_line_on_stderr() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = run(&["--listen", &addr]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let line = single_line(&out.stderr);
    let source = std::io::Error::from_raw_os_error(libc::EADDRINUSE);
    assert_eq!(
        line,
        format!(
            "echo-reactor: cannot listen on {addr}: {source} (is another server running on it?)"
        )
    );
    drop(taken);
}

#[test]
fn two_listen_flags_are_both_logged_and_both_echo_and_so_does_ipv6() {
    let mut args = vec!["--listen", "127.0.0.1:0", "--listen", "127.0.0.1:0"];
    let ipv6_missing = ipv6_loopback_missing();
    let ipv6 = ipv6_missing.is_none();
    match ipv6_missing {
        None => args.extend(["--listen", "[::1]:0"]),
        Some(why) => skip(&format!("the IPv6 part: {why}")),
    }
    let server = Binary::start(&args);
    server.wait_until_logged("serving:");
    let log = server.log_text();
    let addrs: Vec<SocketAddr> = log
        .lines()
        .filter_map(|line| line.split("listening on ").nth(1))
        .map(|addr| addr.trim().parse().expect("a logged address"))
        .collect();
    assert_eq!(addrs.len(), args.len() / 2, "log:\n{log}");
    assert_ne!(addrs[0], addrs[1]);
    assert!(addrs.iter().all(|a| a.port() != 0), "{addrs:?}");
    if ipv6 {
        assert!(addrs[2].is_ipv6(), "{addrs:?}");
    }
    for (i, &addr) in addrs.iter().enumerate() {
        echo_all(addr, &all_byte_values(20_000, i as u64));
    }
}
