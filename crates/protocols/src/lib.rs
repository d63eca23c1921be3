//! CityGrid's wire formats, between the domain and the adapters: pure parsers
//! and encoders with no I/O and no async, so that every byte a device can send
//! is handled (or refused with a typed error) by code that can be tested and
//! fuzzed by itself.
//!
//! - [`hj212`]: HJ 212-2017 frames from water and air stations: framing,
//!   CRC, the data segment, a streaming [`hj212::Framer`] for TCP, readings
//!   from the data-upload commands and the platform's replies.
//! - [`gb28181`]: GB/T 28181 alarm notifications (`Notify`/`Alarm` XML in
//!   GB2312/GBK or UTF-8) and the little SIP an alarm receiver needs.
//! - [`frigate`]: Frigate's `frigate/events` MQTT payloads.
//!
//! Every parser takes untrusted bytes, caps their size and never panics (the
//! property tests and the fuzz targets in `fuzz/` check that; [`fuzzing`]
//! holds the checks those targets run).

pub mod frigate;
pub mod fuzzing;
pub mod gb28181;
pub mod hj212;
