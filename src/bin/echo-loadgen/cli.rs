//! The command line: the flags (`flags.rs`, clap) and their translation
//! into the run's model (`translate.rs`), a checked [`Command`] with every
//! default filled in. Nothing here runs anything.
//!
//! [`Command`]: crate::model::Command

mod flags;
mod translate;

pub use flags::Cli;
pub use translate::command;
