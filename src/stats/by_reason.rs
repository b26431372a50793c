//! Counters by reason: a fieldless enum declared once with `reasons!`
//! (each variant's label in `/metrics`, words on the stats line and log
//! sentence), and [`ByReason`], one count per variant indexed by the enum.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Index, IndexMut};

/// A reason's names: its label value in `/metrics` (`not_tls`) and its
/// words on the stats line (`not tls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Names {
    /// The label value.
    pub label: &'static str,
    /// The words.
    pub words: &'static str,
}

/// An enum of reasons (why a handshake failed, ...), declared with
/// `reasons!` (in this module), whose counts [`ByReason`] keeps.
pub trait Reason: Copy + fmt::Debug + Eq + 'static {
    /// One count per variant.
    type Counts: Copy + Default + fmt::Debug + Eq + AsRef<[u64]> + AsMut<[u64]>;
    /// Every variant, in declaration order.
    const ALL: &'static [Self];
    /// Each variant's names, in the order of [`ALL`](Reason::ALL).
    const NAMES: &'static [Names];
    /// Its position in [`ALL`](Reason::ALL).
    fn index(self) -> usize;
    /// Its names.
    fn names(self) -> Names {
        Self::NAMES[self.index()]
    }
}

/// Declares a fieldless enum of reasons, each variant once with its label
/// in `/metrics`, its words on the stats line and its sentence for the log
/// (its `Display`), and makes it a [`Reason`].
///
/// ```text
/// reasons! {
///     /// Why a connection was closed before its header was complete.
///     pub enum HeaderFailure {
///         /// No complete header within the header timeout.
///         Timeout = ("timeout", "timeout", "no PROXY protocol header within the header timeout"),
///     }
/// }
/// ```
macro_rules! reasons {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident = ($label:literal, $words:literal, $log:literal),
            )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$variant_meta])* $variant, )+
        }

        impl $crate::stats::Reason for $name {
            type Counts = [u64; [$($name::$variant),+].len()];
            const ALL: &'static [Self] = &[$($name::$variant),+];
            const NAMES: &'static [$crate::stats::Names] = &[
                $($crate::stats::Names { label: $label, words: $words }),+
            ];
            fn index(self) -> usize {
                self as usize
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(match self {
                    $($name::$variant => $log,)+
                })
            }
        }
    };
}
pub(crate) use reasons;

/// One count per reason of `R`, indexed by it:
/// `stats.tls_failed[HandshakeFailure::Timeout] += 1`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ByReason<R: Reason> {
    counts: R::Counts,
    reason: PhantomData<R>,
}

impl<R: Reason> Default for ByReason<R> {
    fn default() -> Self {
        ByReason {
            counts: R::Counts::default(),
            reason: PhantomData,
        }
    }
}

impl<R: Reason> ByReason<R> {
    /// The counts added up.
    pub fn total(&self) -> u64 {
        self.counts.as_ref().iter().sum()
    }

    /// Each reason with its count, in declaration order.
    pub fn iter(&self) -> impl Iterator<Item = (R, u64)> + '_ {
        R::ALL
            .iter()
            .copied()
            .zip(self.counts.as_ref().iter().copied())
    }
}

impl<R: Reason> Index<R> for ByReason<R> {
    type Output = u64;
    fn index(&self, reason: R) -> &u64 {
        &self.counts.as_ref()[reason.index()]
    }
}

impl<R: Reason> IndexMut<R> for ByReason<R> {
    fn index_mut(&mut self, reason: R) -> &mut u64 {
        &mut self.counts.as_mut()[reason.index()]
    }
}

impl<R: Reason> fmt::Debug for ByReason<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// What a counter's field holds: one value, or one per reason.
pub(super) trait Tally {
    /// Each value's names, for a counter by reason; empty for one value.
    const REASONS: &'static [Names];
    fn values(&self) -> &[u64];
    fn values_mut(&mut self) -> &mut [u64];
}

impl Tally for u64 {
    const REASONS: &'static [Names] = &[];
    fn values(&self) -> &[u64] {
        std::slice::from_ref(self)
    }
    fn values_mut(&mut self) -> &mut [u64] {
        std::slice::from_mut(self)
    }
}

impl<R: Reason> Tally for ByReason<R> {
    const REASONS: &'static [Names] = R::NAMES;
    fn values(&self) -> &[u64] {
        self.counts.as_ref()
    }
    fn values_mut(&mut self) -> &mut [u64] {
        self.counts.as_mut()
    }
}
