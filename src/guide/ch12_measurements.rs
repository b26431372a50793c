//! Chapter 12: measurements and limits. What each design choice costs and
//! buys, in figures.
//!
//! The other chapters say why the code is shaped as it is; this one holds
//! the figures that decided it, and the limits a machine (or a cluster's
//! nodes) puts on the number of connections. Everything was measured on a
//! 2-core virtual machine with the load generator on the same cores, with
//! a release build, unless it says otherwise. The side-by-side comparison
//! with tokio and a C epoll server, with its full tables and how to run
//! it, is `examples/compare/README.md`; the README has its headline rows.
//!
//! # What an echo costs
//!
//! - Nearly all of an echo's cost is in the kernel: with these messages a
//!   `recv`, a `send` and a share of an `epoll_wait` cost several microseconds
//!   on this machine, against well under a tenth of a microsecond of
//!   user-space work. At a low rate (one event per wake-up) every server makes
//!   about three system calls per echo; under closed-loop load `epoll_wait`
//!   returns many events at once and it is about two.
//! - A connection's whole life costs echo-reactor 7.4 system calls here:
//!   `accept4` (and the one that says the queue is empty), one `epoll_ctl` to
//!   register, two `recvfrom` (the data, then the end of stream), one
//!   `sendto`, one `close`, and a share of `epoll_wait`. No `setsockopt`
//!   (accepted sockets inherit `TCP_NODELAY` from the listener on Linux), no
//!   `shutdown` (the peer closed first and nothing is unread, so `close`
//!   sends the FIN), no `EPOLL_CTL_DEL` (closing the descriptor removes it
//!   from epoll on Linux). Under strace every server fell behind at this rate
//!   and so batched a little, which lowers all of these figures alike; at a
//!   rate where none falls behind (one event per wake-up, three `epoll_wait`
//!   per lifecycle), echo-reactor made 9.75-9.97 calls and the C server
//!   10.96, the difference being its `setsockopt`.
//! - User-space instructions per echo are where echo-reactor still trails the
//!   C server: 157 against 92. They come from the layers between the event
//!   and the system call (mio's event accessors and `Events` iteration, the
//!   slab lookup, the fairness budget, the counters, the memory budget's
//!   flag, the idle-timer check), each a handful of instructions. At about
//!   0.05 µs per echo against ~8 µs of CPU in total, they do not show in the
//!   CPU figure; the rest of the gap needs a second, hand-tuned copy of the
//!   echo path, which this project does not want.
//!
//! How many events one `epoll_wait` may return was measured too, across
//! six loads: no size from 32 to 1,024 was better beyond the noise, so
//! the size is chosen by what it costs
//! (the doc of `EVENTS_CAPACITY`, in `src/server.rs`, gives the study).
//!
//! # Capacity at a latency objective
//!
//! How many echoes a second a server takes while its p99 stays within a
//! bound is found by `echo-loadgen --objective` (a search over fixed
//! rates; its module doc says how it steps). Two things decide whether
//! that figure measures the server.
//!
//! - **One message on the wire per connection.** In ping-pong a message
//!   that comes due while the echo before it is still out waits in the
//!   client, its latency counted from its schedule. Written at once
//!   instead, the overdue messages of a server at its edge reach it as a
//!   batch, and one `read` and one `write` echo them all: the search at
//!   p99 <= 10 ms with 50 connections then "found" 9 million echoes a
//!   second, a pipelined stream. One on the wire, it finds 190,000, each a
//!   round trip.
//! - **The machine's own tail.** Pinned (each server on CPU 1, the
//!   generator on CPU 0) and at fixed rates from 2,000 to 80,000 a second
//!   over 1,000 connections, echo-reactor's p99 was 207 to 648 µs and the
//!   C server's 180 to 343 µs, while both servers' p99.9 was 1.5 to 7 ms at
//!   every rate, the lowest included: this 2-core virtual machine stalls
//!   for milliseconds now and then whatever runs on it. A p99 of 1 ms fails
//!   whenever such stalls cover 1 % of a step, so the 1 ms searches spread
//!   three- to six-fold from repeat to repeat (echo-reactor at 1,000
//!   connections: 160k, 28k and 65k; the C server: 37.5k, 110k and 80k),
//!   and their medians rank the servers differently from row to row. The
//!   10 ms searches stand well above the stalls and repeat within about
//!   15 %: there echo-reactor is level with the C server (178.8k against
//!   178.1k with 50 connections, 170.0k against 165.0k with 1,000) and with
//!   tokio-rustls over TLS (128.0k against 137.5k, 131.2k against 130.0k;
//!   the search bisects to within 10 %, so closer figures are level by its
//!   measure). The gap that matters, what a server can take before its
//!   tail breaks, shows only on a quieter machine than this one.
//! - **Where a gap might hide.** At 1 ms with 1,000 connections, where
//!   echo-reactor's figure was lowest, 31 interleaved pairs of whole
//!   searches (same arguments) went 15 to the C server, 11 to
//!   echo-reactor and 5 ties (both failed the first rate, 10,000 a
//!   second): a sign test gives p = 0.56, two-sided, which the pairs
//!   cannot tell from chance. (The first comparison's three pairs went 2
//!   to 1 to the C server, a second comparison's three all to
//!   echo-reactor, 95k against 60k, 95k against 80k, 140k against 37.5k.)
//!   Two measurements that would show a tail of echo-reactor's own show
//!   none. Back-to-back fixed-rate runs against one server, three at a
//!   time as a search's step repeats run them (10,000 a second, 1,000
//!   connections, pinned, six servers each): echo-reactor's p99 was under
//!   1 ms in 16 of 18 runs, the C server's in 11. And a stall put in on
//!   purpose (the server stopped with `SIGSTOP` for 5 ms every 100 ms,
//!   at 40,000 a second over 1,000 connections): every stall leaves a
//!   backlog, and the mean latency says how fast a server clears it;
//!   median of 8 alternating runs, 806 µs for echo-reactor and 777 µs for
//!   the C server. Both serve the ready sockets in the kernel's order,
//!   one read and one write each, so neither clears a backlog faster.
//! - **The floor, measured.** What the stalls are is probed directly: a
//!   thread on each CPU sleeping 100 µs again and again, no server, no
//!   load. A CPU held up for `L` delays every echo that comes due in its
//!   first `L - bound`, so the sum of `max(0, L - bound)` over the stalls
//!   is the share of echoes the machine alone puts over the bound. The
//!   comparison runs this probe before each repeat of its searches and
//!   says which bounds it makes chance (`examples/compare/noise_floor.rs`).
//!   Before one run it found wake-ups late by over 1 ms for 2.9 % of the
//!   time on the two CPUs together (8 % in the worst second; the latest
//!   by 4.9 ms) and never by over 10 ms: on that run the machine alone
//!   failed p99 <= 1 ms for any server, three times over, and left p99 <=
//!   10 ms to the servers. Measured the same way a quarter of an hour
//!   earlier, one CPU was late by over 1 ms only 14 times in 10 s: the
//!   floor itself moves, and with it the 1 ms rows. Probed for 3 s
//!   before each of the last ten pairs above, it was 0.16 % to 1.5 %,
//!   always over the tenth of 1 % at which the comparison calls a p99
//!   row at that bound chance.
//! - **Pinned or not.** Three searches each at p99 <= 10 ms with 50
//!   connections, alternating servers: pinned, echo-reactor 190k, 200k and
//!   220k, the C server 200k, 190k and 200k; unpinned, 200k, 200k and 170k
//!   against 200k, 190k and 150k. The medians hardly move; unpinned, the
//!   low ones are lower, when the scheduler put the generator and the
//!   server on one core for a while.
//!
//! # Many blocking clients
//!
//! A thread per connection, each writing a message and blocking on its
//! echo, is the client most people write first. With 1,000 such threads
//! (128 B ping-pong) and the server on two cores, rounds of the same run
//! were once seen to land in two regimes, about 120-190k echoes/s or
//! 270-350k. Measured again (24 alternating rounds, 3 s each, unpinned):
//! echo-reactor 67k to 101k, median 78.7k; the C server 66k to 101k,
//! median 77.6k; one regime, spread evenly, no round near the high one.
//! What the server does there, read from `/proc/PID/schedstat` and
//! `/proc/PID/status` over one second of each round: it never sleeps (no
//! voluntary context switch: `epoll_wait` always has a ready socket) and
//! is preempted 18,000 to 37,000 times a second. Each echo it writes
//! wakes a client thread that has slept, and the scheduler lets that
//! thread preempt the server on its core, so the server echoes a few
//! messages per turn on the CPU. It used about three quarters of a core
//! in every round; the fast rounds were the ones where an echo cost it
//! less CPU (about 7 µs in the fastest round, 10 µs in the slowest). What
//! put some rounds in the high regime before was not seen again, and is
//! not known.
//!
//! # What an idle connection costs
//!
//! The shared read buffer (chapter 2) is what makes an idle connection
//! nearly free. Reads land in one 64 KiB buffer and are written back at
//! once; a connection holds heap memory only while it has unsent bytes.
//! An idle connection is a 16-byte slab entry (a 4-byte socket, three
//! bytes of flags, an `Option<Box<Pending>>`) and a socket: 18 B of RSS
//! each with 5,000 idle connections, 22.6 B with 19,900 (measured,
//! release build). Debug builds of mio add a 16-byte check per socket, so
//! there it is 32.
//!
//! # A million idle connections
//!
//! What one idle connection costs, measured here with 19,000 of them (the
//! machine's hard limit is 20,000 descriptors):
//!
//! - **In echo-reactor:** its 16-byte slab slot. RSS grew 23 B per connection
//!   (the slab grows by doubling, so part of the growth is spare capacity).
//!   No buffer, no timer, no CPU: the server made no system call at all in
//!   10 s.
//! - **In the kernel, per server-side socket:** about 3.8 KB of slab memory
//!   (`/proc/slabinfo` before and after: `TCP` 2,368 B, `sock_inode_cache`
//!   832 B, `dentry` 192 B, `filp` 192 B, `eventpoll_epi` 128 B, and a few
//!   smaller). An idle socket holds no packet buffers.
//!
//! Extrapolated (not measured here) to 1,000,000 idle connections: 16 MiB of
//! slab in echo-reactor (a 2^20-slot slab) plus about 3.8 GB of kernel memory,
//! and the same again for the clients' sockets if they run on the same
//! machine. It takes:
//!
//! - `ulimit -n` above a million for the server (and the client): raise
//!   `fs.nr_open` first (`sysctl -w fs.nr_open=2000000`), then the hard limit;
//!   echo-reactor raises its soft limit to the hard one by itself and derives
//!   `--max-connections` from it;
//! - `fs.file-max` above the total of both sides;
//! - enough source ports: one source address can open at most one connection
//!   per local port to one server address (about 28,000 with the default
//!   `net.ipv4.ip_local_port_range = 32768 60999`), so widen the range
//!   (`1024 65535`) and spread the clients over 16 or more source addresses;
//!   `echo-idle-swarm` binds to 127.0.0.1 ... 127.0.0.K (`--sources K`) with
//!   `IP_BIND_ADDRESS_NO_PORT`, so the kernel picks ports per destination;
//! - a long accept queue for the connect storm: `--backlog` and
//!   `net.core.somaxconn`.
//!
//! # The nodes of a cluster
//!
//! What one connection costs and what limits their number are above; in a
//! cluster (the README's "Run it in a cluster") each limit sits on a
//! particular node:
//!
//! - **Descriptors (server and generator nodes).** A pod cannot set its
//!   `ulimit -n`: it gets the container runtime's limit (the runtime
//!   service's `LimitNOFILE`, bounded by the node's `fs.nr_open`). The server
//!   raises its soft limit to the hard one and logs `open-files limit is N`
//!   at start (`kubectl logs deployment/echo-reactor`); `--max-connections`
//!   follows from it. Measured here: `fs.nr_open` 1,048,576, and a container
//!   of this machine's Docker gets 20,000.
//! - **Source ports (generator nodes).** Every connection from one generator
//!   to the one Service address needs its own source port: about 28,000
//!   with the default `net.ipv4.ip_local_port_range = 32768 60999`. The
//!   range is a per-pod sysctl Kubernetes allows without node changes
//!   (`securityContext.sysctls: [{name: net.ipv4.ip_local_port_range, value:
//!   "1024 65535"}]`, about 64,000); beyond that, more generator pods.
//! - **TCP memory (every node).** `net.ipv4.tcp_mem` (pages of 4 KiB) caps
//!   the buffers of all TCP sockets on a node; above its middle value the
//!   kernel shrinks them. Idle connections hold none; busy ones do. Measured
//!   here (24 GiB): `287898 383867 575796`, that is 1.1, 1.5 and 2.2 GiB.
//!   Extrapolated: a million connections each holding 4 KiB of unread or
//!   unsent data need about 4 GiB, past that maximum.
//! - **Conntrack (generator nodes, and any node that NATs).** A connection
//!   through a Service's address is translated by kube-proxy, and every
//!   translated connection (and UDP flow) takes an entry in the node's
//!   connection tracking table, `net.netfilter.nf_conntrack_max` (kube-proxy
//!   sets it from `conntrack.maxPerCore`, 32,768 per core by default, at
//!   least 131,072). A full table drops new connections' first packets (SYN)
//!   and the kernel logs `nf_conntrack: table full`. Raise kube-proxy's
//!   setting, or skip the translation: connect to the pods' own addresses
//!   through the headless Service (then only a network plugin that tracks
//!   pod traffic takes entries).
//!   Measured here: `nf_conntrack_max` 262,144 and 256 bytes per entry
//!   (`/proc/slabinfo`); extrapolated, a million entries take about 256 MB.
