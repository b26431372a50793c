//! Chapter 8: behind a load balancer. Stages before the echo, and an
//! endpoint beside it.
//!
//! Load balancers and proxies relay TCP to their backends, so a backend
//! sees the balancer's address, not the client's; they poll a health
//! endpoint to decide where to send clients; and the people testing them
//! want to know which backend answered. Three options answer that (the
//! README shows how to use them, with an HAProxy configuration a test
//! runs). This chapter shows how they fit into the loop without costing
//! the plain connection anything.
//!
//! # The PROXY header: a stage before the echo
//!
//! With [`Config::proxy_protocol`](crate::config::Config::proxy_protocol),
//! an accepted connection does not echo at once: it is first a
//! [`HeaderStage`](crate::proxy_protocol::HeaderStage), a slab entry of
//! its own, boxed, that reads the PROXY header (v1 text or v2 binary, told
//! apart by their first bytes) in as many pieces as it comes
//! ([`HeaderStage::read`](crate::proxy_protocol::HeaderStage::read)). A
//! header may arrive one byte at a time, so the stage keeps what it has
//! read so far, bounded by the longest header allowed
//! ([`V1_MAX_LEN`](crate::proxy_protocol::V1_MAX_LEN), 107 bytes;
//! [`V2_MAX_LEN`](crate::proxy_protocol::V2_MAX_LEN), 2,048), and charges
//! it to the memory budget. A v2 `LOCAL` header (the balancer's own health
//! check) is accepted.
//!
//! Once the header is complete, the stage logs the client's real address
//! and is replaced, under the same key, by a plain
//! [`Connection`](crate::connection::Connection) (or, on a TLS port, by
//! the TLS handshake, chapter 9). Whatever followed the header in the same
//! read is echoed at once
//! ([`Connection::send_initial`](crate::connection::Connection::send_initial)),
//! and the new connection is served once more on the loop's initiative:
//! bytes past the header's size limit, or a FIN that came with it, raised
//! no edge of their own.
//!
//! ```text
//! [DEBUG echo_reactor::server::accepting] token 2 opened: peer 127.0.0.1:43714
//! [TRACE echo_reactor::server] poll: waiting, timeout Some(4.999967137s)
//! [TRACE echo_reactor::server] event: token 2 readable=true writable=true read_closed=false error=false
//! [DEBUG echo_reactor::proxy_protocol] token 2: PROXY v1 client 192.0.2.7:51234 to 10.0.0.5:7000
//! [TRACE echo_reactor::connection] token 2: read 18 bytes, wrote them back
//! [TRACE echo_reactor::connection] token 2: read would block
//! ```
//!
//! (This server also had a `--banner`: the 18 bytes are the banner and
//! the client's `hello\n`, sent as one echo, banner first.)
//!
//! A connection whose first bytes are not a header, whose header is
//! malformed or too long, or that does not complete it in time is closed
//! with nothing echoed, counted by its
//! [`HeaderFailure`](crate::proxy_protocol::HeaderFailure):
//!
//! ```text
//! [DEBUG echo_reactor::server::closing] token 2 closed: the first bytes are not a PROXY protocol header
//! ```
//!
//! **Deadlines without a heap.** The stage's deadline
//! (`--proxy-header-timeout`) is one entry in a
//! [`DeadlineQueue`](crate::timers::DeadlineQueue): every header has the
//! same allowance, so first in is first due, and a `VecDeque` is the whole
//! timer wheel. Entries are not removed when a header completes early;
//! when one comes due, the loop checks that the key still holds a header
//! stage with that very deadline, and otherwise drops it. That is why the
//! poll above keeps a timeout of a few seconds after the header is done:
//! the stale entry wakes the loop once, for nothing, instead of every
//! completed header paying for a removal.
//!
//! # The banner
//!
//! A [`Banner`](crate::banner::Banner) (`--banner`) is sent to each new
//! client before any echo, with `{hostname}` and `{local_addr}` filled in,
//! so a client can see which backend it reached. It goes out through the
//! connection's first send, the same path as an echo: a short write keeps
//! the rest pending, ahead of everything echoed later, so order holds.
//!
//! # The endpoint: `/metrics` and `/healthz`
//!
//! [`Config::metrics`](crate::config::Config::metrics) adds two more kinds
//! of slab entry: the endpoint's listener and its short-lived
//! [`HttpConn`](crate::http::HttpConn)s, which read one request (parsed
//! by `httparse`), answer it ([`metrics::route`](crate::metrics::route))
//! and close. The endpoint is served by the same loop, so it is bounded so
//! that it can never take the loop from echo clients: 8 KiB per request
//! ([`MAX_REQUEST`](crate::http::MAX_REQUEST)), 5 s to send one
//! ([`REQUEST_TIMEOUT`](crate::http::REQUEST_TIMEOUT), kept with the
//! connection's slot, below), 16 open at once
//! ([`MAX_HTTP_CONNECTIONS`](crate::http::MAX_HTTP_CONNECTIONS)), and at
//! most 64 accepted per listener event
//! ([`ACCEPTS_PER_EVENT`](crate::http::admission::ACCEPTS_PER_EVENT); the
//! listener is served again after the next poll if more wait).
//!
//! # A health check no flood can starve
//!
//! Sixteen slots are a target. The metrics port is usually reachable from
//! every pod of a cluster, and a neighbour that opens idle connections to
//! it, or sends a byte of a request a second, and reopens each as it is
//! cut, would hold all sixteen for ever if a slot were kept until its
//! request came or its 5 s ran out. Kubernetes' readiness probe, refused,
//! would take the pod out of its Service while its echo service was fine.
//! HAProxy at its `maxconn` stops accepting, and new clients queue in the
//! kernel behind the ones that hold the slots: the same starvation. nginx,
//! out of connections, closes the oldest of those waiting for a request
//! (its "reusable" connections, `ngx_drain_connections`), and that is the
//! rule here ([`admission`](crate::http::admission)):
//!
//! - every connection is served the moment it is accepted: a probe sends
//!   its whole request at once, and one that waited in the accept queue
//!   has it there already, so it is answered before the next connection
//!   is accepted, and never needs a slot;
//! - only a connection still waiting for its request takes a slot; when
//!   all sixteen are held, it takes the slot of the one that has waited
//!   longest unanswered, which is evicted;
//! - that one is first served once more, so a request that has just
//!   arrived is answered, not cut;
//! - connections accepted in the same listener event never evict each
//!   other (none has had a turn for its request to come): when all sixteen
//!   came in this event, the newcomer is refused.
//!
//! The kernel's accept queue is the other place a probe can be lost: when
//! it overflows, new SYNs are dropped, and a dropped SYN is sent again a
//! second later, past a probe's one-second timeout. So the metrics
//! listener's queue is long ([`BACKLOG`](crate::http::admission::BACKLOG),
//! 4,096, capped by `net.core.somaxconn`): what waits there costs the
//! server nothing, and a flood must hold 4,096 connections at once to
//! overflow it. The cost of a flood to the server is bounded work per turn
//! (64 accepts, each a read, and an eviction at most) and the sixteen slots:
//! no list grows with the number of clients. The request deadlines live in
//! the slots too: every request has the same 5 s, so the slots in the order
//! they were taken are in the order their deadlines fall, and the oldest
//! slot's is the one the loop's timers wait for. A connection cut early
//! leaves no entry behind in a timer queue. Every connection cut is
//! counted by why, in `echo_reactor_http_connections_cut_total{reason=
//! "evicted_idle" | "evicted_slow" | "refused" | "timeout"}`, and logged at
//! `debug`:
//!
//! ```text
//! [DEBUG echo_reactor::server::closing] token 19 closed: evicted for a new connection, having sent nothing
//! ```
//!
//! The test that holds it (`tests/health_under_flood.rs`) probes as
//! Kubernetes' prober does (a new connection per probe, one second for the
//! exchange), ten times a second for ten seconds, while a thousand idle or
//! trickling connections are held and reopened: every probe is answered.
//!
//! `GET /metrics` answers every counter of [`Stats`](crate::Stats) in
//! Prometheus's text format ([`metrics::render`](crate::metrics::render)).
//! `GET /healthz` answers `200 ok` while serving and `503 draining` from
//! the moment a graceful shutdown begins (chapter 6), so the balancer
//! stops sending new clients before the listeners close. With several
//! reactors (chapter 10) the coordinator serves the endpoint instead,
//! summing their counters
//! ([`ClusterHandle::stats_timeout`](crate::cluster::ClusterHandle::stats_timeout)).
//!
//! # What the plain connection pays
//!
//! Nothing. Each stage is its own slab entry, boxed, existing only while
//! the stage lasts (the header) or only on connections that need it (TLS);
//! the slab element stays 16 bytes, and the echo path has not one branch
//! more: a stage's events reach it through the loop's cold path, and a
//! connection that has left its stage is a plain connection like any
//! other.
