//! Toxiproxy's error answer: `{"error": "...", "status": N}`, with its
//! messages, so a client that reads them (or only the status, as
//! toxiproxy's Python client does) sees what toxiproxy would have said.
//!
//! Toxiproxy's message comes first, word for word (`proxy not found`,
//! `toxic already exists`); where our refusal is finer than its (which
//! attribute a type lacks, a toxicity out of range), the detail follows it
//! after a colon, as toxiproxy itself joins a cause to its message.

use serde_json::json;

use crate::faults::FaultError;
use crate::http::Response;

/// A refused request: toxiproxy's message and status code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The message, toxiproxy's first.
    pub message: String,
    /// The HTTP status.
    pub status: u16,
}

impl ApiError {
    /// Toxiproxy's `bad request body` (400), with what was wrong in it.
    pub fn bad_body(cause: impl std::fmt::Display) -> ApiError {
        ApiError {
            message: format!("bad request body: {cause}"),
            status: 400,
        }
    }

    /// Toxiproxy's `missing required field` (400).
    pub fn missing(field: &str) -> ApiError {
        ApiError {
            message: format!("missing required field: {field}"),
            status: 400,
        }
    }

    /// No route has this path (404), or this method on it (405).
    pub fn no_route(status: u16) -> ApiError {
        let message = if status == 405 {
            "method not allowed"
        } else {
            "not found"
        };
        ApiError {
            message: message.to_string(),
            status,
        }
    }

    /// A listener could not be opened (500, as toxiproxy answers a proxy
    /// that cannot start).
    pub fn listen(addr: std::net::SocketAddr, cause: std::io::Error) -> ApiError {
        ApiError {
            message: format!("cannot listen on {addr}: {cause}"),
            status: 500,
        }
    }

    /// The fault table is out of reach (503).
    pub fn unavailable() -> ApiError {
        ApiError {
            message: "the fault table is not available here".to_string(),
            status: 503,
        }
    }

    /// The answer: toxiproxy's JSON shape, its status.
    pub fn response(&self) -> Response {
        let body = json!({ "error": self.message, "status": self.status });
        super::json_response(self.status, body.to_string())
    }
}

impl From<FaultError> for ApiError {
    fn from(error: FaultError) -> ApiError {
        let status = error.status();
        let message = match &error {
            FaultError::ListenerNotFound(_) => "proxy not found".to_string(),
            FaultError::ListenerExists(_) => "proxy already exists".to_string(),
            FaultError::ToxicNotFound { .. } => "toxic not found".to_string(),
            FaultError::ToxicExists { .. } => "toxic already exists".to_string(),
            FaultError::UnknownType(_) => format!("invalid toxic type: {error}"),
            FaultError::BadStream(_) => {
                "stream was invalid, can be either upstream or downstream".to_string()
            }
            _ => format!("bad request body: {error}"),
        };
        ApiError { message, status }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_models_refusals_carry_toxiproxys_messages_and_statuses() {
        let error = ApiError::from(FaultError::ListenerNotFound("x".into()));
        assert_eq!(
            (error.message.as_str(), error.status),
            ("proxy not found", 404)
        );
        let error = ApiError::from(FaultError::UnknownType("lag".into()));
        assert_eq!(error.status, 400);
        assert!(
            error.message.starts_with("invalid toxic type: "),
            "{error:?}"
        );
        let answer = ApiError::missing("name").response();
        assert_eq!(answer.status, 400);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&answer.body).unwrap(),
            json!({"error": "missing required field: name", "status": 400})
        );
    }
}
