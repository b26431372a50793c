//! The integration suite, as one test binary: each file declared below is
//! a module of it, the load tools' tests (`loadgen.rs`, `idle_swarm.rs`)
//! and the deployment's (`deploy.rs`) included, so cargo compiles and
//! links the suite once rather than once per file (`autotests = false` in
//! Cargo.toml). Run one file's tests with `cargo test --test tests echo::`,
//! one test by its full name.
//!
//! Every test drives a real server, in this process (`support::InProcess`)
//! or as a binary cargo built (`support::Binary` for `echo-reactor`), over
//! loopback only; the load tools run as binaries too. `support` is their
//! shared toolkit, and every wait in it is bounded.

mod support;

mod backpressure;
mod banner;
mod capacity;
mod cli;
mod deploy;
mod echo;
mod faults;
mod faults_api;
mod faults_haproxy;
mod faults_loadgen;
mod haproxy;
mod health_under_flood;
mod hostile_clients;
mod idle_swarm;
mod idle_timeout;
mod limits;
mod loadgen;
mod memory_budget;
mod metrics;
mod proxy_protocol;
mod reactors;
mod readme;
mod receipts;
mod shutdown;
mod slab;
mod startup_errors;
mod stats_interval;
mod tls;
mod tutorial;
mod udp;
mod websocket;
