//! Chapter 8: behind a load balancer. Stages before the echo, and an
//! endpoint beside it.
//!
//! **Stages.** With [`Config::proxy_protocol`](crate::Config::proxy_protocol),
//! an accepted connection does not echo at once: it is first a
//! [`HeaderStage`](crate::proxy_protocol::HeaderStage), a slab entry of its
//! own, boxed, that reads the PROXY header in as many pieces as it comes
//! ([`HeaderStage::read`](crate::proxy_protocol::HeaderStage::read)), logs
//! the client's real address, and is then replaced by a plain
//! [`Connection`](crate::connection::Connection) that echoes whatever
//! followed the header
//! ([`Connection::send_initial`](crate::connection::Connection::send_initial)).
//! The stage's deadline is one entry in a
//! [`DeadlineQueue`](crate::timers::DeadlineQueue): every header has the same
//! allowance, so first in is first due. A failed header closes the
//! connection through the loop's one close function, counted by
//! [`HeaderFailure`](crate::proxy_protocol::HeaderFailure). A
//! [`Banner`](crate::banner::Banner) goes out through the same first send.
//! A plain connection never meets any of this: the slab element stays 16
//! bytes, and the echo path has not one more branch.
//!
//! **The endpoint.** [`Config::metrics`](crate::Config::metrics) adds two
//! more kinds of slab entry: the endpoint's listener and its short-lived
//! [`HttpConn`](crate::http::HttpConn)s, which read one request (parsed by
//! `httparse`), answer it ([`metrics::route`](crate::metrics::route)) and
//! close, each bounded in size, time and number. `/healthz` answers 503
//! from the moment a drain begins. With several reactors the coordinator
//! serves it instead, summing their counters
//! ([`ClusterHandle::stats_timeout`](crate::ClusterHandle::stats_timeout)).
