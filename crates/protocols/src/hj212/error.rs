//! What can be wrong with an HJ 212 frame.

/// Why an HJ 212 frame or data segment was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Hj212Error {
    /// The frame does not start with `##` and 4 decimal digits.
    #[error("bad header: a frame starts with `##` and a 4-digit decimal length")]
    BadHeader,
    /// The declared data length is over the configured maximum.
    #[error("data segment of {declared} bytes is over the maximum of {max}")]
    TooLong {
        /// The length in the header.
        declared: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The frame ended (at its `\r\n`) somewhere else than its declared length says.
    #[error("declared data length {declared} but the data segment has {actual} bytes")]
    LengthMismatch {
        /// The length in the header.
        declared: usize,
        /// The length of the data segment actually delimited.
        actual: usize,
    },
    /// Fewer bytes than the header announces (and no `\r\n` to end the frame).
    #[error("truncated frame: {needed} bytes announced, {have} present")]
    Truncated {
        /// Bytes the whole frame needs.
        needed: usize,
        /// Bytes present.
        have: usize,
    },
    /// The 4 CRC characters are not hexadecimal, or `\r\n` does not follow them.
    #[error("bad trailer: expected 4 hex CRC digits and `\\r\\n`")]
    BadTrailer,
    /// The CRC in the frame is not the CRC of its data segment.
    #[error("CRC mismatch: frame says {declared:04X}, data segment gives {computed:04X}")]
    CrcMismatch {
        /// The CRC carried by the frame.
        declared: u16,
        /// The CRC computed over the data segment.
        computed: u16,
    },
    /// A field of the data segment is malformed.
    #[error("malformed {field}: {reason}")]
    Malformed {
        /// The field (`QN`, `Flag`, `CP`, a CP key, …).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A required field is absent.
    #[error("missing required field {0}")]
    MissingField(&'static str),
    /// Bytes that are not part of any frame were skipped (framer only).
    #[error("skipped {0} bytes that were not part of a frame")]
    Garbage(usize),
}

impl Hj212Error {
    pub(crate) fn malformed(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Hj212Error::Malformed { field: field.into(), reason: reason.into() }
    }
}
