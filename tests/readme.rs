//! The guide teaches from the code's own output and names: these tests
//! fail when either drifts from it.
//!
//! - The `RUST_LOG=trace` excerpt of chapter 2 ("Watch it") is replayed
//!   against the real binary: a client sends 8 MiB before it reads, as the
//!   chapter says, and every line of the excerpt must appear in the
//!   server's log, in the excerpt's order, once timestamps and numbers
//!   (ports, byte counts) are set aside. Change a log line and this fails
//!   until the guide follows.
//! - Every name in chapter 1's "where each rule lives" table must still
//!   be defined in `src/`, as a whole identifier: `queue_again` is not
//!   satisfied by `requeue_again_later`, and `Type::method` needs a file
//!   that has both an `impl` (or the definition) of `Type` and a
//!   definition of `method`.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::sync::mpsc;
use std::thread;

use crate::support::{Binary, PATIENCE};

/// Chapter 2 of the guide, which holds the trace excerpt.
const BYTES_TRIP: &str = include_str!("../src/guide/ch02_a_bytes_trip.rs");
/// Chapter 1 of the guide, which holds the rule table.
const THE_LOOP: &str = include_str!("../src/guide/ch01_the_loop.rs");

/// The text of a module's `//!` doc, as rustdoc reads it.
fn module_doc(source: &str) -> Vec<&str> {
    source
        .lines()
        .filter_map(|line| line.strip_prefix("//!"))
        .map(|line| line.strip_prefix(' ').unwrap_or(line))
        .collect()
}

/// The lines of the first ```text block after the line `heading` in a
/// module's doc.
fn block_after<'a>(doc: &[&'a str], heading: &str) -> Vec<&'a str> {
    let from = doc
        .iter()
        .position(|line| *line == heading)
        .unwrap_or_else(|| panic!("the guide has no {heading:?}"));
    doc[from..]
        .iter()
        .skip_while(|line| **line != "```text")
        .skip(1)
        .take_while(|line| **line != "```")
        .copied()
        .collect()
}

/// A log line as the guide shows it: `[LEVEL target] message`, with every
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
fn the_guide_trace_excerpt_is_what_the_server_logs() {
    let excerpt = block_after(&module_doc(BYTES_TRIP), "# Watch it");
    let expected: Vec<String> = excerpt
        .iter()
        .filter(|line| line.starts_with('['))
        .map(|line| shape(line).unwrap_or_else(|| panic!("guide line {line:?} is no log line")))
        .collect();
    assert!(
        expected.len() >= 10,
        "the excerpt is too short: {excerpt:?}"
    );

    let mut server = Binary::start_logging("trace", &["--listen", "127.0.0.1:0"]);
    let addr = server.addr();

    // The guide's client: 8 MiB sent before it reads a byte, then its end
    // of stream; it starts reading once the server has paused reading it.
    // Its last 64 KiB and its end of stream wait until the server has
    // resumed reading: loopback's buffers (up to 32 MiB of receive queue)
    // could otherwise hold all 8 MiB, and a FIN already queued when the
    // client starts reading makes that event say read_closed=true.
    let sent: Vec<u8> = (0..8 << 20).map(|i: u32| (i % 251) as u8).collect();
    let (head, tail) = sent.split_at(sent.len() - (64 << 10));
    let (head, tail) = (head.to_vec(), tail.to_vec());
    let mut client = TcpStream::connect(addr).expect("connect");
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    client.set_write_timeout(Some(PATIENCE)).unwrap();
    let mut writer = client.try_clone().unwrap();
    let (resumed, wait_for_resume) = mpsc::channel::<()>();
    let sending = thread::spawn(move || {
        writer.write_all(&head).expect("send 8 MiB");
        wait_for_resume.recv().expect("the test's go-ahead");
        writer.write_all(&tail).expect("send the last 64 KiB");
        writer.shutdown(Shutdown::Write).expect("half-close");
    });
    server.wait_for_log("reads paused until the client catches up");
    let reading = thread::spawn(move || {
        let mut echoed = Vec::new();
        client
            .read_to_end(&mut echoed)
            .expect("read the echo to its end");
        echoed
    });
    server.wait_for_log("resuming reads");
    resumed.send(()).unwrap();
    let echoed = reading.join().expect("the reading thread");
    sending.join().expect("the sending thread");
    assert!(echoed == sent, "the echo differs from what was sent");
    server.wait_for_log("closed: client closed, every byte echoed");

    let logged: Vec<String> = server.log_text().lines().filter_map(shape).collect();
    let mut from = 0;
    for line in &expected {
        match logged[from..].iter().position(|logged| logged == line) {
            Some(at) => from += at + 1,
            None => panic!(
                "the guide's trace excerpt has a line the server did not log (in this \
                 order):\n  {line}\nthe server logged:\n{}",
                logged.join("\n")
            ),
        }
    }
}

#[test]
fn every_name_in_the_rule_table_exists_in_the_code() {
    let doc = module_doc(THE_LOOP);
    let table: Vec<&str> = doc
        .iter()
        .skip_while(|line| **line != "# The rules of the loop, and where each lives")
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .copied()
        .collect();
    assert!(table.len() >= 10, "the rule table is too short");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = Vec::new();
    collect_sources(&root.join("src"), &mut sources);
    for row in table {
        let place = row.rsplit('|').nth(1).expect("a second column");
        for name in code_spans(place) {
            if name.ends_with(".rs") {
                assert!(
                    root.join(name).exists() || root.join("src").join(name).exists(),
                    "{name} in the rule table is no file"
                );
                continue;
            }
            assert!(
                names_something(&sources, name),
                "`{name}` in the rule table names nothing in src/"
            );
        }
    }
}

/// The text of each `code span` in a piece of Markdown (the names of an
/// intra-doc link's text included, not its target).
fn code_spans(markdown: &str) -> impl Iterator<Item = &str> {
    markdown.split('`').skip(1).step_by(2)
}

/// `name` (`item`, `Owner::item` or `module::item`) is defined in the
/// sources: for `Owner::item`, in one file that also defines or
/// implements `Owner`, or that is the module `owner`.
fn names_something(sources: &[(String, String)], name: &str) -> bool {
    let mut parts = name.rsplit("::");
    let item = parts.next().expect("a name");
    let owner = parts.next();
    sources.iter().any(|(file, code)| {
        defines(code, item)
            && match owner {
                None => true,
                Some(owner) => {
                    file == &format!("{owner}.rs")
                        || ["impl ", "for ", "struct ", "enum ", "mod "]
                            .iter()
                            .any(|kind| has_word_after(code, kind, owner))
                }
            }
    })
}

/// `code` defines `word` as a whole identifier: a function, constant,
/// static, type, module, or an enum variant (a line `Word,`, `Word(..),`
/// or `Word {`; a call, `word(..);`, is no definition).
fn defines(code: &str, word: &str) -> bool {
    [
        "fn ", "const ", "static ", "struct ", "enum ", "mod ", "type ", "trait ",
    ]
    .iter()
    .any(|kind| has_word_after(code, kind, word))
        || code.lines().any(|line| {
            line.trim().strip_prefix(word).is_some_and(|rest| {
                rest == ","
                    || rest == "{"
                    || rest.starts_with(" {")
                    || (rest.starts_with('(') && rest.ends_with("),"))
            })
        })
}

/// `code` has `keyword` (which ends in a space, and starts a word) followed
/// by `word`, and `word` ends there: `fn queue_again` matches `fn
/// queue_again(`, not `fn queue_again_later(` nor `fn requeue_again(`.
fn has_word_after(code: &str, keyword: &str, word: &str) -> bool {
    let pattern = format!("{keyword}{word}");
    code.match_indices(&pattern).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = code[at + pattern.len()..].chars().next();
        !before.is_some_and(is_identifier_char) && !after.is_some_and(is_identifier_char)
    })
}

fn is_identifier_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Every `.rs` file under `dir`, as (file name, text), but the guide's:
/// the table must name code, not the text that teaches it.
fn collect_sources(dir: &Path, into: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("read src/") {
        let path = entry.expect("a src/ entry").path();
        if path.ends_with("guide") {
            continue;
        }
        if path.is_dir() {
            collect_sources(&path, into);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            into.push((
                name,
                std::fs::read_to_string(&path).expect("read a source file"),
            ));
        }
    }
}
