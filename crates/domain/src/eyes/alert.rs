//! What an alert is about and how serious it is: the eight river elements
//! the city's smart eyes watch, the prevention-ring checkpoints, and device
//! faults.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::geometry::Point;

/// The kind of an alert; incidents group alerts of one kind only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AlertType {
    /// 非法捕捞: fishing in banned water.
    IllegalFishing,
    /// 非法采砂: sand mining in a banned reach.
    IllegalSandMining,
    /// 大气污染: smoke, burning, dust.
    AirPollution,
    /// 水质污染: water worse than its section's target, or suddenly worse.
    WaterPollution,
    /// 岸堤位移: bank and dam displacement.
    BankDisplacement,
    /// 违规倾倒: garbage dumped in the river or on the shoreline.
    IllegalDumping,
    /// 水上交通安全: river traffic safety (collision risk, overspeed).
    RiverTraffic,
    /// 船舶污染: discharge from ships.
    ShipPollution,
    /// 防控圈卡口预警: a checkpoint alert on a prevention ring.
    RingCheckpoint,
    /// 设备故障: a device fell silent or reported a fault.
    DeviceFault,
}

impl AlertType {
    /// Every type, the eight river elements first.
    pub const ALL: [AlertType; 10] = [
        AlertType::IllegalFishing,
        AlertType::IllegalSandMining,
        AlertType::AirPollution,
        AlertType::WaterPollution,
        AlertType::BankDisplacement,
        AlertType::IllegalDumping,
        AlertType::RiverTraffic,
        AlertType::ShipPollution,
        AlertType::RingCheckpoint,
        AlertType::DeviceFault,
    ];

    /// The stable snake_case name used in APIs, files and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertType::IllegalFishing => "illegal_fishing",
            AlertType::IllegalSandMining => "illegal_sand_mining",
            AlertType::AirPollution => "air_pollution",
            AlertType::WaterPollution => "water_pollution",
            AlertType::BankDisplacement => "bank_displacement",
            AlertType::IllegalDumping => "illegal_dumping",
            AlertType::RiverTraffic => "river_traffic",
            AlertType::ShipPollution => "ship_pollution",
            AlertType::RingCheckpoint => "ring_checkpoint",
            AlertType::DeviceFault => "device_fault",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Option<AlertType> {
        AlertType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The type's position in [`AlertType::ALL`], for per-type tables.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for AlertType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How serious an alert is; ordered, so `Critical > Low`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// 一般: worth a look.
    #[default]
    Low,
    /// 较重: needs review soon.
    Medium,
    /// 严重: needs action.
    High,
    /// 特别严重: needs action now.
    Critical,
}

impl Severity {
    /// Every severity, least first.
    pub const ALL: [Severity; 4] = [Severity::Low, Severity::Medium, Severity::High, Severity::Critical];

    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One alert as the grouper takes it: a rule's verdict on a detection, or
/// a sensor signal (a water sample, a silent device). It borrows from its
/// source, so making one costs no allocation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Alert<'a> {
    /// What it is about.
    pub kind: AlertType,
    /// How serious.
    pub severity: Severity,
    /// Where.
    pub point: Point,
    /// When the device saw it.
    pub at: DateTime<Utc>,
    /// The reporting device's id.
    pub device: &'a str,
    /// SHA-256 digests of its attachments.
    pub evidence: &'a [String],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (i, t) in AlertType::ALL.into_iter().enumerate() {
            assert_eq!(AlertType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
            assert_eq!(t.index(), i);
        }
        for s in Severity::ALL {
            assert_eq!(Severity::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(AlertType::parse("fishing"), None);
    }

    #[test]
    fn severities_are_ordered() {
        assert!(Severity::Low < Severity::Medium && Severity::High < Severity::Critical);
        assert_eq!(Severity::ALL.into_iter().max(), Some(Severity::Critical));
    }
}
