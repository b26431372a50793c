//! Chapter 15: WebSocket. A protocol with frames, under the loop's rules.
//!
//! The public WebSocket echo services most tutorials pointed at have shut
//! down, and a proxy's WebSocket upgrade is where deployments break, so
//! the server speaks it too (`--ws-listen`, and `--wss-listen` over TLS):
//! an HTTP/1.1 upgrade, then every message echoed as it came. It is one
//! more stage ([chapter 13](super::ch13_adding_a_stage)):
//! [`WsConnection`](crate::websocket::WsConnection), boxed in the slab,
//! one line in `entries!`, one arm in `Reactor::start`, its counters in
//! `counters!`. What is worth a chapter is how a protocol with frames,
//! masks and messages keeps the rules a byte echo keeps.
//!
//! # No buffer while idle
//!
//! A WebSocket library usually gives each connection a read buffer, to
//! collect a frame before parsing it, and a message buffer, to collect a
//! message before handing it over; tungstenite's start at several KiB.
//! Here neither exists. A read lands in the shared scratch buffer, as a
//! plain connection's does, and the session
//! ([`Session`](crate::websocket::session::Session)) walks it in place:
//! it unmasks each frame's payload where it lies and echoes that piece as
//! a frame of its own, of the same message. A message of 100 MiB passes
//! through in pieces of at most one read, and is never whole anywhere.
//! What an open connection keeps between two reads is the state of the
//! frame in progress, a few dozen bytes inside its box:
//! `size_of::<WsConnection>()` is 152 bytes in a debug build, tested.
//!
//! The echo thus cuts messages into other frames than the client's: a
//! 1 MiB frame read 32 KiB at a time goes back as some 32 frames, the
//! first with the message's opcode, the rest continuations, the last with
//! FIN. RFC 6455 lets any intermediary refragment (section 5.4), and every
//! client library reassembles: the messages, their types and their bytes
//! are what a client sees, and they are the same.
//!
//! # A frame header across reads
//!
//! Edge-triggered readiness hands over whatever has arrived, and a frame
//! header (2 to 14 bytes) may be cut anywhere, even a byte at a time (a
//! test writes one so). The header is parsed by
//! [`HeaderReader`](crate::websocket::frame::HeaderReader), which keeps
//! the bytes so far in a 14-byte array and says, from the first bytes on,
//! how long the header is and whether it is refused: reserved bits or
//! opcodes, an unmasked frame, a control frame over 125 bytes, and a
//! 64-bit length with its top bit set (the "2^63 bytes" header) are
//! refused as soon as the byte that says so arrives, without waiting for
//! the rest. A text message's UTF-8 is checked the same way, across reads
//! and fragments, with the state of a cut code point carried over
//! ([`Utf8Check`](crate::websocket::utf8::Utf8Check)): a piece is echoed
//! only once it has passed, so a failure (close code 1007) never falls
//! inside a frame already begun.
//!
//! # Backpressure
//!
//! Answers (echo frames, pongs, the close) are written into the lower
//! half of the scratch buffer while the read sits in the upper half, and
//! sent at once; an answer is never longer than what it answers by more
//! than a few hundred bytes
//! ([`OUT_SLACK`](crate::websocket::session::OUT_SLACK): the server's
//! headers are shorter than the client's masked ones), so the halves
//! cannot overlap. What the socket does not take goes into a
//! [`Pending`](crate::pending::Pending) buffer, charged to the memory
//! budget and freed once out, exactly as a plain connection's echo; the
//! next read is sized so that its answers fit under `--max-pending`, and
//! when nothing fits, reading stops (a backpressure pause, counted) until
//! a writable edge drains the buffer. A client that never reads fills its
//! own queues and stalls; everyone else is served (a test holds one such
//! client and echoes for another).
//!
//! # Its ends
//!
//! The upgrade request is bounded as a metrics request is (8 KiB, 5 s,
//! with its own [`StageClock`](crate::timers::StageClock)); a refusal is
//! answered with its status and counted by reason. A close frame is
//! answered with the peer's code, then the server sends its FIN first, as
//! RFC 6455 asks, and reads and drops what the client still sends until
//! its end of stream, so the last frame is never lost to a reset. At
//! shutdown an open session gets close code 1001 and ends the same way;
//! the drain timeout bounds a client that never answers.
//!
//! Over TLS the same protocol runs inside the TLS stage: the protocol
//! with no socket, [`Endpoint`](crate::websocket::Endpoint), reads the
//! decrypted bytes and its answers are what the session encrypts, so
//! `--max-pending`, the memory budget and `close_notify` are TLS's own.
