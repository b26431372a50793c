//! Chapter 6: more cores. Several reactors sharing a port.
//!
//! One reactor uses one core. A [`Cluster`](crate::Cluster) runs N
//! independent [`Server`](crate::Server)s, each on its own thread with its
//! own poll, slab and listening sockets, all bound to the same addresses
//! with `SO_REUSEPORT` ([`Config::reuse_port`](crate::Config::reuse_port)):
//! the kernel hashes each new connection to one of them, and the connection
//! stays there for its whole life. Nothing is shared on the hot path. A
//! coordinator on the calling thread handles signals, sums the counters
//! ([`ClusterHandle::stats`](crate::ClusterHandle::stats)) and watches the
//! threads: a reactor that fails or panics stops the others
//! ([`ClusterHandle::stop_now`](crate::ClusterHandle::stop_now)) and the run
//! returns [`Error::ReactorFailed`](crate::Error::ReactorFailed).
