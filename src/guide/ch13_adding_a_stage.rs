//! Chapter 13: adding a stage. One module, one line, one arm.
//!
//! A stage is something a connection passes through before or around its
//! echo, with state of its own: the PROXY header being read, the TLS
//! session, a request to the metrics endpoint. The server will gain more
//! (a connection whose echoes are delayed or cut on purpose, a WebSocket
//! session, a listener that answers with what it saw of the client), and
//! each must come in without touching the loop's paths one by one, and
//! without costing the plain connection a byte or an instruction. This
//! chapter shows the shape that makes that so, and then walks through
//! adding one.
//!
//! # What the slab holds
//!
//! The slab's element, `Entry` (in `src/server/entry.rs`), has three
//! shapes, by how often the loop meets them:
//!
//! - the plain echo connection,
//!   [`Connection`](crate::connection::Connection), held inline: 16 bytes
//!   in a release build, which a compile-time assertion beside the enum
//!   holds (a release build that makes it larger does not compile);
//! - a listener: its socket and its [`ListenerKind`](crate::serve::ListenerKind)
//!   (plain echo, TLS, metrics), which decides what its connections become;
//! - every other kind, boxed, so it costs the slot one pointer, and each a
//!   [`Stage`](crate::serve::Stage).
//!
//! The boxed kinds are listed once, in one macro invocation:
//!
//! ```text
//! entries! {
//!     /// A UDP echo socket (`--udp`), one per listening address.
//!     Udp(UdpEcho),
//!     /// A connection whose PROXY protocol header is still in progress.
//!     Header(HeaderStage),
//!     /// A TLS connection (`--tls-listen`).
//!     Tls(TlsConnection),
//!     /// A request to the metrics endpoint (`--metrics`).
//!     Http(HttpConn),
//!     /// A connection to a whoami listener, being answered.
//!     Whoami(WhoamiAnswer),
//!     /// A connection that keeps a receipt, around its own entry.
//!     Recorded(Recorded),
//! }
//! ```
//!
//! The macro writes the enum and the one `match` that turns any entry into
//! a `&mut dyn Stage` (`Entry::stage`). No other code of the loop names
//! the variants: the loop asks an entry what it needs through the trait.
//!
//! # What the loop asks of a stage
//!
//! Every method of [`Stage`](crate::serve::Stage) answers one question
//! the loop has, on one of its cold paths:
//!
//! | the loop's path | asks | and does |
//! |---|---|---|
//! | an event for the entry (`dispatch_other`) | [`serve`](crate::serve::Stage::serve) | what the answered [`Next`](crate::serve::Next) says |
//! | any answer ([`Next`](crate::serve::Next)) | [`role`](crate::serve::Stage::role) | a client's activity resets its idle deadline; a request's does not |
//! | [`Next::ServeAgain`](crate::serve::Next::ServeAgain) (`queue_again`, `serve_queued`) | [`queued`](crate::serve::Stage::queued) | keeps the serve-again queue free of doubles |
//! | closing (`Reactor::close`) | [`memory`](crate::serve::Stage::memory), [`role`](crate::serve::Stage::role), [`source`](crate::serve::Stage::source) | releases its charge to the budget; counts a client by reason, a request apart; forgets the registration where the close does not |
//! | a stage deadline due (`expire_stage`) | [`deadline`](crate::serve::Stage::deadline), [`time_out`](crate::serve::Stage::time_out) | closes it, if the deadline is still its own |
//! | shutdown (`shut_down`) | [`drain`](crate::serve::Stage::drain) | serves it once and lets it say goodbye as its protocol does: a FIN, a `close_notify` |
//! | [`Next::HandOff`](crate::serve::Next::HandOff) (`Reactor::hand_off`) | [`hand_off`](crate::serve::Stage::hand_off) | takes the entry out, starts the next stage in the same slot |
//!
//! Most methods have a default (a client's connection, never queued,
//! holds nothing, no deadline, closed at shutdown, never hands off), so a
//! stage writes only what it has. The plain connection implements the trait too, for the cold paths
//! (the serve-again queue, closing, shutdown); its events never reach a
//! `dyn` call: `dispatch` serves `Entry::Connection` itself, before the
//! cold path is ever taken.
//!
//! A stage whose time is limited from its start (a header, a handshake, a
//! request) gets one [`StageClock`](crate::timers::StageClock): deadlines
//! of one length fall due in the order they were set, so each clock is a
//! first-in first-out queue, with no heap. A key in a queue may have moved
//! on since (to the next stage, or to another connection), so a deadline
//! fires only if it is still the stage's own
//! ([`deadline`](crate::serve::Stage::deadline)).
//!
//! # Which stages a connection passes through
//!
//! One function says it: `Reactor::start` (in `src/server/starting.rs`).
//! A connection just accepted goes to the PROXY header stage when
//! `--proxy-protocol` is on, and otherwise, or once its header is
//! complete, by its listener's kind: a plain connection (with the banner
//! sent first), a TLS handshake. A stage that ends answers
//! [`Next::HandOff`](crate::serve::Next::HandOff) and gives up its socket
//! in a [`Handoff`](crate::serve::Handoff) (the socket, the listener it came
//! through, the bytes that arrived with the end of the stage); the next
//! stage starts in the same slot, so the connection keeps its key, its
//! idle deadline and its place in the counters.
//!
//! # A feature's state in the reactor
//!
//! A feature with state of its own in the reactor (its configuration, the
//! addresses it listens on, what it tracks while it runs) keeps it in one
//! field of `Features` (`src/server/features.rs`), empty when the feature
//! is off, rather than in loose fields of the reactor. The loop's own
//! state stays what every server needs.
//!
//! # Adding one: a connection that misbehaves on purpose
//!
//! Say a listener's connections must echo late, by a configured latency.
//! This is how the fault listeners (`--fault-listen`, [`crate::faults`])
//! came in; the steps, and what each costs the plain connection:
//!
//! 1. **The module.** `src/faults/stage.rs` defines `FaultedConnection`: its
//!    socket, the echoes it holds back with the time each is due, its
//!    charge to the memory budget. It implements
//!    [`Stage`](crate::serve::Stage): `serve` reads into the shared
//!    scratch buffer ([`Context::scratch`](crate::serve::Context::scratch)),
//!    keeps the bytes with their due time, charges them to
//!    [`Context::budget`](crate::serve::Context::budget), and stops reading
//!    when `--max-pending` is held, as a plain connection does; `queued`,
//!    `memory` and `drain` as for a plain connection (`role` keeps its
//!    default: a client's connection).
//!    Its own timing (a deadline per held echo, with jitter, so not first
//!    in first out) goes to the loop as a wake-up: `serve` answers
//!    `Next::Sleep` and [`Stage::wake_at`](crate::serve::Stage::wake_at)
//!    says when, and [`Timers`](crate::timers::Timers) keeps the wake-ups
//!    in a hashed timing wheel (chapter 14 says why a wheel, measured
//!    against a heap).
//! 2. **One line** in `entries!`: `Faulted(FaultedConnection),`. The
//!    variant is boxed by the macro, so the slot stays 16 bytes (the
//!    assertion says so at every release build).
//! 3. **One arm** in `Reactor::start`: a listener kind `Faulty(index)`
//!    whose connections draw their faults and start as `Entry::Faulted`
//!    (after their PROXY header, if any, as TLS connections do); one that
//!    drew none is a plain connection.
//! 4. **Its counters**, one line each in `counters!` (`src/stats.rs`):
//!    the line drives the sum across reactors, the stats line and
//!    `/metrics` (chapter 11); a new Prometheus family is also named once,
//!    with its place in the families' order. The metrics endpoint's
//!    `http_cut` counter was added this way, with its reasons
//!    (`RequestCut`) declared once in `stats/reasons.rs`.
//! 5. **Its state in the reactor**, if any (the fault table and each
//!    listener's socket), one field in `Features`: `faults`.
//!
//! Nothing else changes: `close`, the serve-again queue, shutdown and the
//! stage deadlines reach the new kind through the trait. The plain
//! connection's path is the same machine code, since `dispatch` never
//! looks past `Entry::Connection` for it.
//!
//! A receipt per connection (who connected, through what, how it ended;
//! [`crate::receipt`]) is the other kind of addition: not a stage but a
//! feature that follows a connection through all of its stages. It cannot
//! be a field of the connection (the slot has no room, and the plain
//! connection must not pay for it), nor a side table the loop looks up on
//! every event (that would be a test on the echo path). It is a wrapper:
//! a connection that keeps a receipt is an `Entry::Recorded`, a
//! [`Recorded`](crate::server::recorded::Recorded) that holds the
//! connection's own entry beside its receipt and is itself a `Stage`. It
//! answers every question by asking the entry inside, and adds to the
//! receipt the bytes each call moved (the counters' difference before and
//! after). Three places know it: `Reactor::start` wraps the first stage
//! (through one `insert` that every stage's start goes through),
//! `Reactor::hand_off` unwraps it, lets the ended stage describe what it
//! learned ([`Stage::describe`](crate::serve::Stage::describe): the PROXY
//! header's addresses and TLVs, the TLS session's names) and wraps the
//! next one, and `Reactor::close` finishes the receipt (its ending,
//! `TCP_INFO`) and hands it to the access log. Whether a new connection
//! keeps one is one test of a `Features` field at accept, behind which
//! everything else lies on cold paths: with no receipts asked for, a plain
//! connection is the same 16 bytes and the same machine code.
//!
//! # What the shape costs
//!
//! A cold path's call through the trait is an indirect call where there
//! was a `match`: on events of the stages themselves (a TLS record, a
//! header, a datagram), a few nanoseconds against the microseconds of
//! their work (a TLS record's decryption, a system call). On the plain
//! connection's events, nothing: the comparison before and after this
//! shape was introduced measured the same 157 user-space instructions per
//! echo (callgrind) and the same 16-byte slot. Its accept and close, which
//! `close` keeps off the trait for the plain connection, cost about 15
//! instructions more per lifecycle (872 against 857, callgrind), beside
//! some 30 µs of CPU that a lifecycle costs, nearly all in the kernel.
