//! What the swarm does with its connections once they are open: the probe
//! that echoes through the hold, and the check of a sample of the idle
//! ones at the end.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::PROGRAM;

/// How long any one echo may take.
pub const ECHO_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends `message` and checks that exactly it comes back; different bytes
/// are an `InvalidData` error. The stream's read timeout bounds the wait.
pub fn echo_once(mut stream: &TcpStream, message: &[u8]) -> io::Result<()> {
    stream.write_all(message)?;
    let mut echo = vec![0; message.len()];
    stream.read_exact(&mut echo)?;
    if echo != message {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the echo differs from what was sent",
        ));
    }
    Ok(())
}

/// Echoes a message on `probe` every `every` (none with `every` zero) for
/// `hold`, and returns each echo's latency, sorted.
pub fn probe_through(
    probe: &TcpStream,
    hold: Duration,
    every: Duration,
) -> io::Result<Vec<Duration>> {
    let mut latencies = Vec::new();
    let hold_start = Instant::now();
    let mut next_probe = hold_start;
    let message = [0x5a_u8; 64];
    while hold_start.elapsed() < hold {
        if every.is_zero() {
            std::thread::sleep(hold);
            break;
        }
        let now = Instant::now();
        if now < next_probe {
            std::thread::sleep(next_probe - now);
        }
        next_probe += every;
        let sent = Instant::now();
        echo_once(probe, &message)?;
        latencies.push(sent.elapsed());
    }
    latencies.sort();
    Ok(latencies)
}

/// Sends a message of its own on each of a random sample of up to `sample`
/// of the `idle` connections and checks the echo; returns (checked,
/// failed), each failure reported on stderr.
pub fn check_sample(idle: &[TcpStream], sample: usize) -> (usize, usize) {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut failed = 0;
    let count = sample.min(idle.len());
    for i in 0..count {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let index = (state % idle.len() as u64) as usize;
        let message = format!("idle connection {index}, check {i}");
        let stream = &idle[index];
        let echoed = stream
            .set_read_timeout(Some(ECHO_TIMEOUT))
            .and_then(|()| echo_once(stream, message.as_bytes()));
        match echoed {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                failed += 1;
                eprintln!("{PROGRAM}: connection {index} echoed different bytes");
            }
            Err(e) => {
                failed += 1;
                eprintln!("{PROGRAM}: connection {index}: {e}");
            }
        }
    }
    (count, failed)
}
