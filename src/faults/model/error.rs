//! Why an operation on the faults was refused, with the status code
//! toxiproxy answers it with.

use std::fmt;

/// Why an operation on the faults was refused; each maps to the status
/// code toxiproxy answers with ([`FaultError::status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultError {
    /// No listener has this name.
    ListenerNotFound(String),
    /// A listener already has this name.
    ListenerExists(String),
    /// The listener has no toxic of this name.
    ToxicNotFound {
        /// The listener's name.
        listener: String,
        /// The toxic's.
        toxic: String,
    },
    /// The listener already has a toxic of this name.
    ToxicExists {
        /// The listener's name.
        listener: String,
        /// The toxic's.
        toxic: String,
    },
    /// No toxic type has this name.
    UnknownType(String),
    /// The toxic type has no attribute of this name.
    UnknownAttribute {
        /// The type.
        kind: &'static str,
        /// The attribute asked for.
        key: String,
    },
    /// A stream other than `upstream` or `downstream`.
    BadStream(String),
    /// A toxicity outside 0 to 1 (as given).
    BadToxicity(String),
    /// More listeners or toxics than the table keeps.
    TooMany {
        /// Of what.
        what: &'static str,
        /// The most allowed.
        max: usize,
    },
}

impl FaultError {
    /// The HTTP status toxiproxy answers this with: 404 for what does not
    /// exist, 409 for what exists already, 400 for the rest.
    pub fn status(&self) -> u16 {
        match self {
            FaultError::ListenerNotFound(_) | FaultError::ToxicNotFound { .. } => 404,
            FaultError::ListenerExists(_) | FaultError::ToxicExists { .. } => 409,
            FaultError::UnknownType(_)
            | FaultError::UnknownAttribute { .. }
            | FaultError::BadStream(_)
            | FaultError::BadToxicity(_)
            | FaultError::TooMany { .. } => 400,
        }
    }
}

impl fmt::Display for FaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultError::ListenerNotFound(name) => write!(f, "no listener named '{name}'"),
            FaultError::ListenerExists(name) => write!(f, "a listener named '{name}' exists"),
            FaultError::ToxicNotFound { listener, toxic } => {
                write!(f, "listener '{listener}' has no toxic named '{toxic}'")
            }
            FaultError::ToxicExists { listener, toxic } => {
                write!(
                    f,
                    "listener '{listener}' has a toxic named '{toxic}' already"
                )
            }
            FaultError::UnknownType(name) => write!(
                f,
                "unknown toxic type '{name}' (known: {})",
                super::toxic::type_names().join(", ")
            ),
            FaultError::UnknownAttribute { kind, key } => {
                let known = super::toxic::attribute_names(kind);
                if known.is_empty() {
                    write!(f, "a {kind} toxic has no attribute '{key}' (it has none)")
                } else {
                    write!(
                        f,
                        "a {kind} toxic has no attribute '{key}' (it has {})",
                        known.join(", ")
                    )
                }
            }
            FaultError::BadStream(name) => {
                write!(f, "stream '{name}' is neither upstream nor downstream")
            }
            FaultError::BadToxicity(text) => {
                write!(f, "toxicity '{text}' is not a number from 0 to 1")
            }
            FaultError::TooMany { what, max } => write!(f, "at most {max} {what}"),
        }
    }
}

impl std::error::Error for FaultError {}
