//! Chapter 10: more cores. Several reactors sharing a port.
//!
//! One reactor uses one core. A [`Cluster`](crate::cluster::Cluster)
//! (`--reactors N`, or `auto` for one per available core) runs N copies of
//! the same single-threaded reactor, each a
//! [`Server`](crate::server::Server) on its own thread with its own poll,
//! slab and listening sockets, all bound to the same addresses with
//! `SO_REUSEPORT` ([`Config::reuse_port`](crate::config::Config::reuse_port)).
//! The kernel hashes each new connection's addresses and ports to choose a
//! listening socket, so connections spread over the reactors without any
//! user-space hand-off, and a connection stays on the reactor that
//! accepted it for its whole life. Nothing is shared on the hot path: no
//! locks, no atomics per event.
//!
//! A small coordinator on the calling thread (a `Coordinator`, in
//! `src/cluster/coordinator.rs`, one method per job) owns what the
//! reactors share:
//! signals stop all of them (each drains as one would), SIGUSR1 and
//! `--stats-interval` log the summed counters
//! ([`ClusterHandle::stats`](crate::cluster::ClusterHandle::stats)),
//! `--max-connections` and `--max-memory` are divided among them (the log
//! says how), and it watches the threads: a reactor that fails or panics
//! stops the others
//! ([`ClusterHandle::stop_now`](crate::cluster::ClusterHandle::stop_now))
//! and the run returns
//! [`Error::ReactorFailed`](crate::error::Error::ReactorFailed), so the
//! process exits 1 rather than serving on with fewer reactors than it
//! claims.
//!
//! When it helps: when one reactor's core is saturated, which on loopback
//! means hundreds of thousands of echoes a second, and the load comes from
//! elsewhere (other machines, or other cores). When it does not: on this
//! 2-core machine the load generator needs a core of its own, so a second
//! reactor mostly competes with it (see the `echo-reactor-x2` column of
//! the comparison, `examples/compare`); and idle connections cost the
//! same either way.
//!
//! Measured here (`compare`, medians of 5 interleaved repeats, one run, the
//! load generator on the same 2 cores):
//!
//! | scenario | one reactor | `--reactors 2` | ratio |
//! |---|---|---|---|
//! | ping-pong, 50 connections, msg/s | 265.3k | 199.1k | 0.75 |
//! | pipelined, 50 connections x 16, msg/s | 4.02M | 3.25M | 0.81 |
//! | ping-pong, 50 connections, 4 KiB, msg/s | 233.4k | 170.2k | 0.73 |
//! | bulk, 1 GiB, GB/s | 1.140 | 1.162 | 1.02 |
//! | server CPU per echo at a fixed 50k msg/s, µs | 6.82 | 7.45 | 1.09 |
//!
//! So on two cores shared with the load generator, a second reactor costs
//! throughput (the two reactors and the load generator contend for two
//! cores) and about 9 % more CPU per echo (more, smaller batches per
//! `epoll_wait`). These figures show the overhead, not the scaling, which
//! needs cores the load does not use.
//!
//! Known imbalance: the spread is a hash, not a balancer. With few
//! connections one reactor may get noticeably more than its share, a
//! connection that turns busy stays where it landed, and a reactor does not
//! steal work from another. Many connections of similar weight (the usual
//! load-test shape) even out.
//!
//! On a 64-core machine (extrapolated, not measured here): with `--reactors
//! auto` and clients on other machines, throughput should scale with cores
//! until the NIC's queues, the kernel's per-socket locks or memory bandwidth
//! limit it. Each reactor is independent, so the usual advice applies: spread
//! the NIC's receive queues over the cores (RSS/RPS), keep each reactor's
//! thread on the core that gets its interrupts, raise `--backlog` and
//! `net.core.somaxconn` for the connect storm, and raise the fd limit for
//! the connections of all reactors together.
