//! What a new connection gets from its listener's toxics: each drawn with
//! the toxic's toxicity, the drawn ones folded into one [`Plan`].
//!
//! The draw is made once, at accept, as toxiproxy does per connection. A
//! connection that drew nothing is a plain connection (the same slot and
//! the same echo path as any other), so a toxic with toxicity 0.1 costs
//! nine connections in ten nothing at all.
//!
//! The random numbers come from [`SplitMix64`]: a few lines, no
//! dependency, and good enough to decide shares of connections and to
//! spread jitter; seeded by `--fault-seed` so that a run can be repeated.

use std::time::Duration;

use super::model::{FaultListener, Stream, ToxicKind, FAULT_KINDS};

/// Sebastiano Vigna's SplitMix64: one add, two multiply-xorshifts.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in [0, 1), from the top 53 bits.
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A number from `-spread` to `spread`, inclusive.
    pub(crate) fn spread(&mut self, spread: u64) -> i64 {
        if spread == 0 {
            return 0;
        }
        let width = spread.saturating_mul(2).saturating_add(1);
        (self.next_u64() % width) as i64 - spread as i64
    }
}

/// What a connection does at once, instead of echoing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AtAccept {
    /// Closed with a FIN (`accept_close`).
    Close,
    /// Reset (`accept_reset`).
    Reset,
}

/// Echoes held back by a latency: `latency` give or take `jitter`, the
/// latencies of both streams added, since an echo crosses both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Delay {
    pub(crate) latency: Duration,
    pub(crate) jitter: Duration,
}

/// Echoes written in slices of `average_size` give or take
/// `size_variation` bytes, `delay` apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slices {
    pub(crate) average_size: u64,
    pub(crate) size_variation: u64,
    pub(crate) delay: Duration,
}

/// Every fault one connection drew, folded: two toxics of one type add
/// their latencies, or keep the stricter of their limits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) at_accept: Option<AtAccept>,
    pub(crate) delay: Option<Delay>,
    /// Upstream bandwidth: bytes a second read.
    pub(crate) read_rate: Option<u64>,
    /// Downstream bandwidth: bytes a second written.
    pub(crate) write_rate: Option<u64>,
    pub(crate) slices: Option<Slices>,
    /// Bytes echoed before the FIN (`limit_data`, either stream: what is
    /// not read is not echoed).
    pub(crate) limit: Option<u64>,
    /// No data moves; closed after the duration, or never (`None`).
    pub(crate) black_hole: Option<Option<Duration>>,
    pub(crate) reset_after: Option<Duration>,
    pub(crate) slow_close: Option<Duration>,
}

/// What a connection drew: its plan, the kinds applied (by
/// [`ToxicKind::index`]), and the toxics' names for the log.
#[derive(Debug, Clone)]
pub(crate) struct Drawn {
    pub(crate) plan: Plan,
    pub(crate) applied: [bool; FAULT_KINDS],
    pub(crate) names: Vec<String>,
}

/// Draws each of `listener`'s toxics for one connection; `None` if it
/// drew none (or only listener-wide ones), so it is a plain connection.
pub(crate) fn draw(listener: &FaultListener, rng: &mut SplitMix64) -> Option<Drawn> {
    let mut drawn = Drawn {
        plan: Plan::default(),
        applied: [false; FAULT_KINDS],
        names: Vec::new(),
    };
    for toxic in &listener.toxics {
        let per_connection = !(toxic.kind.is_listener_wide() || toxic.kind.is_per_datagram());
        if !per_connection || rng.next_f64() >= toxic.toxicity.share() {
            continue;
        }
        drawn.plan.add(toxic.kind, toxic.stream);
        drawn.applied[toxic.kind.index()] = true;
        drawn.names.push(toxic.name.clone());
    }
    (!drawn.names.is_empty()).then_some(drawn)
}

impl Plan {
    fn add(&mut self, kind: ToxicKind, stream: Stream) {
        match kind {
            ToxicKind::Latency { latency, jitter } => {
                let delay = self.delay.get_or_insert_with(Delay::default);
                delay.latency += latency;
                delay.jitter += jitter;
            }
            ToxicKind::Bandwidth { bytes_per_second } => {
                let rate = match stream {
                    Stream::Upstream => &mut self.read_rate,
                    Stream::Downstream => &mut self.write_rate,
                };
                *rate = Some(rate.map_or(bytes_per_second, |r| r.min(bytes_per_second)));
            }
            ToxicKind::Slicer {
                average_size,
                size_variation,
                delay,
            } => {
                self.slices = Some(Slices {
                    average_size: average_size.max(1),
                    size_variation,
                    delay,
                })
            }
            ToxicKind::LimitData { bytes } => {
                self.limit = Some(self.limit.map_or(bytes, |l| l.min(bytes)))
            }
            ToxicKind::Timeout { timeout } => self.black_hole = Some(timeout),
            ToxicKind::ResetPeer { timeout } => {
                self.reset_after = Some(self.reset_after.map_or(timeout, |t| t.min(timeout)))
            }
            ToxicKind::SlowClose { delay } => self.slow_close = Some(delay),
            ToxicKind::AcceptClose => {
                self.at_accept.get_or_insert(AtAccept::Close);
            }
            ToxicKind::AcceptReset => self.at_accept = Some(AtAccept::Reset),
            // Not the connection's: the listener's, or its datagrams'.
            ToxicKind::StopAccepting
            | ToxicKind::UdpLoss
            | ToxicKind::UdpDuplicate
            | ToxicKind::UdpDelay { .. }
            | ToxicKind::UdpReorder { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::model::{Toxic, Toxicity};

    fn listener(toxics: Vec<Toxic>) -> FaultListener {
        FaultListener {
            toxics,
            ..FaultListener::new("l", "127.0.0.1:0".parse().unwrap())
        }
    }

    fn toxic(kind: ToxicKind, stream: Stream, share: f64) -> Toxic {
        Toxic {
            toxicity: Toxicity::new(share).unwrap(),
            ..Toxic::new(kind, stream)
        }
    }

    #[test]
    fn a_toxicity_is_the_share_of_connections_that_draw_it() {
        let listener = listener(vec![toxic(ToxicKind::AcceptReset, Stream::Downstream, 0.3)]);
        let mut rng = SplitMix64::new(42);
        let hits = (0..10_000)
            .filter(|_| draw(&listener, &mut rng).is_some())
            .count();
        assert!((2_850..=3_150).contains(&hits), "{hits}");
        let never = self::listener(vec![toxic(ToxicKind::AcceptReset, Stream::Downstream, 0.0)]);
        assert!((0..1000).all(|_| draw(&never, &mut rng).is_none()));
    }

    #[test]
    fn latencies_add_up_and_limits_keep_the_stricter() {
        let ms = Duration::from_millis;
        let listener = listener(vec![
            toxic(
                ToxicKind::Latency {
                    latency: ms(10),
                    jitter: ms(1),
                },
                Stream::Upstream,
                1.0,
            ),
            toxic(
                ToxicKind::Latency {
                    latency: ms(20),
                    jitter: ms(2),
                },
                Stream::Downstream,
                1.0,
            ),
            toxic(ToxicKind::LimitData { bytes: 10 }, Stream::Upstream, 1.0),
            toxic(ToxicKind::LimitData { bytes: 5 }, Stream::Downstream, 1.0),
            toxic(ToxicKind::StopAccepting, Stream::Downstream, 1.0),
        ]);
        let drawn = draw(&listener, &mut SplitMix64::new(1)).unwrap();
        assert_eq!(
            drawn.plan.delay,
            Some(Delay {
                latency: ms(30),
                jitter: ms(3)
            })
        );
        assert_eq!(drawn.plan.limit, Some(5));
        assert!(!drawn.applied[ToxicKind::StopAccepting.index()]);
        assert_eq!(drawn.names.len(), 4);
    }

    #[test]
    fn a_spread_stays_within_its_bounds() {
        let mut rng = SplitMix64::new(7);
        let values: Vec<i64> = (0..1000).map(|_| rng.spread(3)).collect();
        assert!(values.iter().all(|v| (-3..=3).contains(v)));
        assert!(values.contains(&-3) && values.contains(&3));
    }
}
