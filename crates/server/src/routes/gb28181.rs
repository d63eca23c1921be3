//! `POST /api/v1/intake/gb28181`: a GB/T 28181 alarm notification (the XML
//! body of a SIP `MESSAGE`, `Notify` / `CmdType=Alarm`, GB2312 or UTF-8)
//! posted by the camera or platform's device key, taken into the same
//! detection pipeline as everything else.
//!
//! The alarm becomes one detection of the key's device: its id is the
//! alarm's `SN` and time, so a notification sent twice is kept once; its
//! label names the alarm (`intrusion`, `tripwire`, `left_object`, … for
//! video alarms, `alarm_<method>` for others); its place is the alarm's
//! longitude and latitude, or the device's registered position.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::TimeZone;
use citygrid_app::eyes::{Intake, IntakeSource};
use citygrid_domain::calendar::cst;
use citygrid_domain::eyes::Detection;
use citygrid_protocols::gb28181::{Alarm, AlarmMethod, VideoAlarmType, parse_alarm};
use citygrid_store::Store;
use serde_json::json;

use super::detections::ItemResult;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};

/// A documented alarm: an intrusion (video alarm 6) at a place in 镜湖区.
pub const EXAMPLE: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<Notify><CmdType>Alarm</CmdType><SN>17430</SN>\
<DeviceID>34020000001340000001</DeviceID><AlarmPriority>1</AlarmPriority><AlarmMethod>5</AlarmMethod>\
<AlarmTime>2026-12-02T12:00:00</AlarmTime><AlarmDescription>区域入侵</AlarmDescription>\
<Longitude>118.37</Longitude><Latitude>31.33</Latitude><Info><AlarmType>6</AlarmType></Info></Notify>";

/// The label an alarm is filed under.
pub fn label(a: &Alarm) -> String {
    use VideoAlarmType as V;
    if let Some(v) = a.video_type() {
        return match v {
            V::Manual => "manual_alarm",
            V::Motion => "motion",
            V::LeftObject => "left_object",
            V::RemovedObject => "removed_object",
            V::Tripwire => "tripwire",
            V::Intrusion => "intrusion",
            V::WrongWay => "wrong_way",
            V::Loitering => "loitering",
            V::FlowCount => "flow_count",
            V::Density => "crowd_density",
            V::VideoAnomaly => "video_anomaly",
            V::FastMovement => "fast_movement",
        }
        .to_owned();
    }
    let method = match a.method {
        AlarmMethod::Phone => "phone",
        AlarmMethod::Device => "device",
        AlarmMethod::Sms => "sms",
        AlarmMethod::Gps => "gps",
        AlarmMethod::Video => "video",
        AlarmMethod::DeviceFault => "device_fault",
        AlarmMethod::Other => "other",
    };
    format!("alarm_{method}")
}

/// How sure an alarm is, from its priority (1 is the most urgent).
fn score(priority: u8) -> f64 {
    match priority {
        1 => 1.0,
        2 => 0.9,
        3 => 0.8,
        _ => 0.7,
    }
}

/// Takes one alarm notification from a device key. 200 with the item's
/// result (`accepted` with its incident, `duplicate`, or `rejected` with a
/// reason) once it is durable; 400 `invalid_alarm` for XML that is not an
/// alarm notification.
#[utoipa::path(post, path = "/api/v1/intake/gb28181", tag = "eyes",
    request_body(content = String, content_type = "application/xml",
        description = "GB/T 28181 `Notify` with `CmdType=Alarm` (GB2312 or UTF-8)", example = json!(EXAMPLE)),
    security(("api_key" = [])),
    responses((status = 200, body = ItemResult), (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn alarm<S: Store>(State(app): State<App<S>>, caller: Caller, body: Bytes) -> ApiResult<Json<ItemResult>> {
    let alarm = parse_alarm(&body).map_err(|e| ApiError::bad_request("invalid_alarm", e.to_string()))?;
    let device = caller.principal.id.clone();
    let (lon, lat) = match (alarm.longitude, alarm.latitude) {
        (Some(lon), Some(lat)) => (lon, lat),
        _ => {
            let registered = app.store.device(&device).await?.and_then(|d| d.position);
            let p = registered.ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "no_position",
                    "the alarm has no longitude/latitude and the device has no registered position",
                )
            })?;
            (p.lon, p.lat)
        }
    };
    let at = cst().from_local_datetime(&alarm.time).single().map(|t| t.to_utc()).ok_or_else(|| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_alarm_time", "the alarm time is not a valid instant")
    })?;
    let detection = Detection {
        id: format!("{}-{}", alarm.sn, alarm.time.format("%Y%m%dT%H%M%S")),
        device,
        at,
        label: label(&alarm),
        score: score(alarm.priority),
        lon,
        lat,
        evidence: vec![],
        attributes: Some(json!({
            "source": "gb28181",
            "gb_device_id": alarm.device_id,
            "priority": alarm.priority,
            "description": alarm.description.as_deref().map(|d| d.chars().take(200).collect::<String>()),
        })),
    };
    let mut outcomes = app.submit(&caller.actor(), IntakeSource::Gb28181, vec![detection]).await?;
    let outcome = outcomes.pop().ok_or_else(|| ApiError::internal("the intake answered nothing"))?;
    Ok(Json(outcome.into()))
}
