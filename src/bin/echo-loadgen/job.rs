//! A load thread as the run sees it, whatever drives its connections: the
//! [`Job`] it runs and the [`ThreadReport`] it hands back. Its own module,
//! below the runners, so that each kind of thread (`worker.rs`,
//! `churn.rs`, `threads.rs`) and the report (`report.rs`) share these two
//! without knowing each other.

use std::io;
use std::sync::Barrier;

use crate::counters::Recorder;
use crate::timer::Timeline;

/// One load thread's work: wait at the start line with the others, run,
/// report.
pub type Job = Box<dyn FnOnce(&Barrier) -> ThreadReport + Send>;

/// What a thread hands back when it is done.
pub struct ThreadReport {
    pub recorder: Recorder,
    pub timeline: Timeline,
    /// When the last echo came back, or the thread gave up.
    pub finished_at: u64,
    /// An I/O error to print beside the report: udp, the first of a
    /// socket; TCP, the one that ended a connection (of those an I/O error
    /// ended, the first in the thread's order).
    pub first_error: Option<io::Error>,
}
