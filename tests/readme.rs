//! The README teaches from the code's own output and names: these tests
//! fail when either drifts from it.
//!
//! - The `RUST_LOG=trace` excerpt is replayed against the real binary: a
//!   client sends 8 MiB before it reads, as the README says, and every line
//!   of the excerpt must appear in the server's log, in the excerpt's
//!   order, once timestamps and numbers (ports, byte counts) are set aside.
//!   Change a log line and this fails until the README follows.
//! - Every name in the README's "Where each rule lives" table must still
//!   name something in `src/`.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::thread;

use crate::support::{Binary, PATIENCE};

const README: &str = include_str!("../README.md");

/// The lines of the first ```text block after `heading` in the README.
fn block_after(heading: &str) -> Vec<&'static str> {
    let from = README
        .find(heading)
        .unwrap_or_else(|| panic!("README has no {heading:?}"));
    let block = &README[from..];
    let start = block.find("```text\n").expect("a ```text block") + "```text\n".len();
    let end = start + block[start..].find("```").expect("the block's end");
    block[start..end].lines().collect()
}

/// A log line as the README shows it: `[LEVEL target] message`, with every
/// run of digits as `N`. env_logger's lines carry a timestamp first
/// (`[2026-01-01T00:00:00Z TRACE target] ...`), which is cut.
fn shape(line: &str) -> Option<String> {
    let rest = line.strip_prefix('[')?;
    let (head, message) = rest.split_once("] ")?;
    let mut words = head.split_whitespace().rev();
    let target = words.next()?;
    let level = words.next()?;
    let mut shaped = format!("[{level} {target}] ");
    let mut in_digits = false;
    for c in message.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                shaped.push('N');
            }
            in_digits = true;
        } else {
            shaped.push(c);
            in_digits = false;
        }
    }
    Some(shaped)
}

#[test]
fn the_readme_trace_excerpt_is_what_the_server_logs() {
    let excerpt = block_after("Watch it with `RUST_LOG=trace");
    let expected: Vec<String> = excerpt
        .iter()
        .filter(|line| line.starts_with('['))
        .map(|line| shape(line).unwrap_or_else(|| panic!("README line {line:?} is no log line")))
        .collect();
    assert!(
        expected.len() >= 10,
        "the excerpt is too short: {excerpt:?}"
    );

    let mut server = Binary::start_logging("trace", &["--listen", "127.0.0.1:0"]);
    let addr = server.addr();

    // The README's client: 8 MiB sent before it reads a byte, then its end
    // of stream; it starts reading once the server has paused reading it.
    let sent: Vec<u8> = (0..8 << 20).map(|i: u32| (i % 251) as u8).collect();
    let mut client = TcpStream::connect(addr).expect("connect");
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    client.set_write_timeout(Some(PATIENCE)).unwrap();
    let mut writer = client.try_clone().unwrap();
    let to_send = sent.clone();
    let sending = thread::spawn(move || {
        writer.write_all(&to_send).expect("send 8 MiB");
        writer.shutdown(Shutdown::Write).expect("half-close");
    });
    server.wait_for_log("reads paused until the client catches up");
    let mut echoed = Vec::with_capacity(sent.len());
    client
        .read_to_end(&mut echoed)
        .expect("read the echo to its end");
    sending.join().expect("the sending thread");
    assert!(echoed == sent, "the echo differs from what was sent");
    server.wait_for_log("closed: client closed, every byte echoed");

    let logged: Vec<String> = server.log_text().lines().filter_map(shape).collect();
    let mut from = 0;
    for line in &expected {
        match logged[from..].iter().position(|logged| logged == line) {
            Some(at) => from += at + 1,
            None => panic!(
                "the README's trace excerpt has a line the server did not log (in this \
                 order):\n  {line}\nthe server logged:\n{}",
                logged.join("\n")
            ),
        }
    }
}

#[test]
fn every_name_in_the_rule_table_exists_in_the_code() {
    let start = README
        .find("### Where each rule lives")
        .expect("the rule table");
    let table: Vec<&str> = README[start..]
        .lines()
        .skip(1)
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .collect();
    assert!(table.len() >= 10, "the rule table is too short");
    let mut sources = String::new();
    collect_sources(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src").as_path(),
        &mut sources,
    );
    for row in table {
        let place = row.rsplit('|').nth(1).expect("a second column");
        for name in place.split('`').skip(1).step_by(2) {
            if name.ends_with(".rs") {
                let root = Path::new(env!("CARGO_MANIFEST_DIR"));
                assert!(
                    root.join(name).exists() || root.join("src").join(name).exists(),
                    "{name} in the rule table is no file"
                );
                continue;
            }
            let mut parts = name.rsplit("::");
            let item = parts.next().unwrap();
            assert!(
                defines_word(&sources, item),
                "`{name}` in the rule table names nothing in src/"
            );
            if let Some(owner) = parts.next() {
                assert!(
                    sources.contains(&format!("struct {owner}"))
                        || sources.contains(&format!("enum {owner}"))
                        || sources.contains(&format!("mod {owner}")),
                    "`{name}` in the rule table: no type or module {owner} in src/"
                );
            }
        }
    }
}

/// `word` is defined (fn, const, struct, enum, variant, local) somewhere
/// in `code`.
fn defines_word(code: &str, word: &str) -> bool {
    ["fn ", "const ", "struct ", "enum ", "mod ", "let "]
        .iter()
        .any(|kind| code.contains(&format!("{kind}{word}")))
        || code.contains(&format!("    {word},"))
        || code.contains(&format!("    {word}("))
        || code.contains(&format!("    {word} {{"))
}

fn collect_sources(dir: &Path, into: &mut String) {
    for entry in std::fs::read_dir(dir).expect("read src/") {
        let path = entry.expect("a src/ entry").path();
        if path.is_dir() {
            collect_sources(&path, into);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            into.push_str(&std::fs::read_to_string(&path).expect("read a source file"));
        }
    }
}
