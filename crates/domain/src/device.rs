//! What a device is: the fixed set of kinds the perception layer knows.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A device's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// A video camera (with or without on-board AI).
    Camera,
    /// A radar watching vessels on the river.
    Radar,
    /// An automatic water-quality station reporting over HJ 212.
    WaterStation,
    /// A checkpoint on a prevention ring.
    Checkpoint,
    /// Any other sensor.
    Sensor,
    /// A gateway submitting for the devices registered under it.
    Gateway,
}

impl DeviceKind {
    /// Every kind.
    pub const ALL: [DeviceKind; 6] = [
        DeviceKind::Camera,
        DeviceKind::Radar,
        DeviceKind::WaterStation,
        DeviceKind::Checkpoint,
        DeviceKind::Sensor,
        DeviceKind::Gateway,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Camera => "camera",
            DeviceKind::Radar => "radar",
            DeviceKind::WaterStation => "water_station",
            DeviceKind::Checkpoint => "checkpoint",
            DeviceKind::Sensor => "sensor",
            DeviceKind::Gateway => "gateway",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Option<DeviceKind> {
        DeviceKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_parse() {
        for k in DeviceKind::ALL {
            assert_eq!(DeviceKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{k}\""));
        }
        assert_eq!(DeviceKind::parse("drone"), None);
    }
}
