//! Which series a station's reading belongs to: real-time, minute, hourly
//! or daily values (HJ 212's data-upload commands 2011, 2051, 2061, 2031).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The series of a reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReadingKind {
    /// A real-time value (`CN=2011`).
    Realtime,
    /// A minute average (`CN=2051`).
    Minute,
    /// An hourly average (`CN=2061`).
    Hourly,
    /// A daily average (`CN=2031`).
    Daily,
}

impl ReadingKind {
    /// Every kind.
    pub const ALL: [ReadingKind; 4] =
        [ReadingKind::Realtime, ReadingKind::Minute, ReadingKind::Hourly, ReadingKind::Daily];

    /// The snake_case name (what the stores keep).
    pub fn as_str(self) -> &'static str {
        match self {
            ReadingKind::Realtime => "realtime",
            ReadingKind::Minute => "minute",
            ReadingKind::Hourly => "hourly",
            ReadingKind::Daily => "daily",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Option<ReadingKind> {
        ReadingKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for ReadingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in ReadingKind::ALL {
            assert_eq!(ReadingKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{k}\""));
        }
        assert_eq!(ReadingKind::parse("weekly"), None);
    }
}
