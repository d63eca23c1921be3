//! HJ 212-2017, the data transmission standard for pollution and water-quality
//! monitoring stations ("污染物在线监控(监测)系统数据传输标准").
//!
//! A frame is `##` + the data segment's length as 4 decimal digits + the data
//! segment + its CRC as 4 hex digits + `\r\n`:
//!
//! ```text
//! ##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&1C80\r\n
//! ```
//!
//! - [`parse`] / [`encode`]: one frame ⇄ a typed [`Packet`].
//! - [`Framer`]: bytes as they arrive on a TCP stream → frames, resynchronising
//!   at the next `##` after garbage, with a bounded buffer.
//! - [`readings`]: the data-upload commands (2011, 2051, 2061, 2031) → [`Reading`]s.
//! - [`reply`]: the platform's answers: `CN=9014` data answer and `CN=9011`
//!   request answer with a [`QnRtn`] code.

mod crc;
mod data;
mod error;
mod framer;
mod packet;
pub mod reply;

pub use crc::crc16;
pub use data::{DataFlag, DataKind, Reading, readings};
pub use error::Hj212Error;
pub use framer::{Framer, Rejected};
pub use packet::{Cp, Flag, LooseHeader, Packet, Qn, encode, parse, parse_with};
pub use reply::QnRtn;

/// The largest data-segment length the 4-digit length field can express, and
/// the standard's upper bound.
pub const MAX_DATA_LEN: usize = 9999;

/// Bytes around the data segment: `##`, 4 length digits, 4 CRC digits, `\r\n`.
pub const FRAME_OVERHEAD: usize = 12;

/// Limits applied to untrusted frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest data segment accepted; at most [`MAX_DATA_LEN`] (a larger
    /// value is treated as [`MAX_DATA_LEN`]).
    pub max_data_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_data_len: MAX_DATA_LEN }
    }
}

impl Limits {
    /// The effective cap on the data segment.
    pub fn data_cap(&self) -> usize {
        self.max_data_len.min(MAX_DATA_LEN)
    }

    /// The longest whole frame accepted.
    pub fn frame_cap(&self) -> usize {
        self.data_cap() + FRAME_OVERHEAD
    }
}

/// System codes (`ST`) used by CityGrid.
pub mod st {
    /// Surface-water quality monitoring.
    pub const SURFACE_WATER: &str = "21";
    /// Air quality monitoring.
    pub const AIR: &str = "22";
    /// Air pollution sources.
    pub const AIR_POLLUTION_SOURCE: &str = "31";
    /// Surface-water pollution sources.
    pub const WATER_POLLUTION_SOURCE: &str = "32";
    /// System interaction (the platform's replies).
    pub const SYSTEM: &str = "91";
}

/// Command codes (`CN`) used by CityGrid.
pub mod cn {
    /// Real-time data upload.
    pub const REALTIME: &str = "2011";
    /// Daily data upload.
    pub const DAILY: &str = "2031";
    /// Minute data upload.
    pub const MINUTE: &str = "2051";
    /// Hourly data upload.
    pub const HOURLY: &str = "2061";
    /// Request answer (with `QnRtn`).
    pub const REQUEST_ANSWER: &str = "9011";
    /// Execution result (with `ExeRtn`).
    pub const EXECUTION_RESULT: &str = "9012";
    /// Notification answer.
    pub const NOTIFY_ANSWER: &str = "9013";
    /// Data answer.
    pub const DATA_ANSWER: &str = "9014";
}
