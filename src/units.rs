//! Sizes and durations as people type them on a command line.
//!
//! The server's flags and the example tools' flags share these, so
//! `--max-pending 64KiB` and `--bytes 1GiB` mean the same thing everywhere.
//! A text that is neither is a [`UnitError`], whose message quotes it.

use std::fmt;
use std::time::Duration;

/// Largest size accepted (1 TiB): anything bigger is surely a typo.
pub const MAX_SIZE: u64 = 1 << 40;

/// Parses a byte count with an optional binary unit: `65536`, `64K`,
/// `64KiB`, `2M`, `1GiB` (K = 1024). Zero is refused.
pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| UnitError::NotASize(text.to_string()))?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(UnitError::UnknownUnit(unit.to_string())),
    };
    match number.checked_mul(multiplier) {
        Some(0) => Err(UnitError::ZeroSize),
        Some(bytes) if bytes <= MAX_SIZE => Ok(bytes),
        _ => Err(UnitError::TooLarge(text.to_string())),
    }
}

/// Parses a non-negative number of seconds, fractions allowed: `5`, `0.25`.
pub fn parse_seconds(text: &str) -> Result<Duration, UnitError> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| UnitError::NotSeconds(text.to_string()))?;
    Duration::try_from_secs_f64(seconds).map_err(|_| UnitError::BadDuration(text.to_string()))
}

/// A size or a duration that cannot be read; each variant holds the text
/// (or the part of it) that was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnitError {
    /// Not a number of bytes.
    NotASize(String),
    /// A number with a unit other than K, M or G (the unit).
    UnknownUnit(String),
    /// Zero bytes.
    ZeroSize,
    /// More than [`MAX_SIZE`].
    TooLarge(String),
    /// Not a number of seconds.
    NotSeconds(String),
    /// A negative, infinite or NaN number of seconds.
    BadDuration(String),
}

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnitError::NotASize(text) => write!(f, "'{text}' is not a size in bytes"),
            UnitError::UnknownUnit(unit) => write!(f, "unknown unit '{unit}' (use K, M or G)"),
            UnitError::ZeroSize => f.write_str("must be at least 1 byte"),
            UnitError::TooLarge(text) => write!(f, "'{text}' is too large"),
            UnitError::NotSeconds(text) => write!(f, "'{text}' is not a number of seconds"),
            UnitError::BadDuration(text) => write!(f, "'{text}' is not a valid duration"),
        }
    }
}

impl std::error::Error for UnitError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_suffixes() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("64k"), Ok(65536));
        assert_eq!(parse_size("2M"), Ok(2 * 1024 * 1024));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert!(parse_size("0").is_err());
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("2048G").is_err());
    }

    #[test]
    fn seconds_may_be_fractional_but_not_negative() {
        assert_eq!(parse_seconds("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_seconds("0"), Ok(Duration::ZERO));
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("soon").is_err());
        assert!(parse_seconds("NaN").is_err());
    }
}
