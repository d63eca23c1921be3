//! Listeners for device protocols beside the HTTP API. Each takes bytes
//! off the wire, parses them with `citygrid_protocols` and hands what it
//! read to an intake seam of `citygrid_app` (for water stations,
//! [`citygrid_app::water::StationIntake`]; for detections over MQTT,
//! [`mqtt::MqttIntake`]); none holds logic of its own.

pub mod hj212;
pub mod mqtt;
mod mqtt_intake;
