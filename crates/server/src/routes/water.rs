//! `GET /api/v1/water/readings`: a water station's readings with their
//! GB 3838 classes, paged, within the caller's territory.

use axum::Json;
use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use citygrid_app::water::ReadingsRequest;
use citygrid_domain::{ReadingKind, WaterClass};
use citygrid_store::{ReadingCursor, Store, WaterReading};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;

/// Readings per page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 100;

/// Which readings.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReadingsParams {
    /// The station's device id.
    #[param(example = "ws-wuhu-01")]
    station: String,
    /// Data time at or after (RFC 3339); default: a day before `to`.
    #[serde(default)]
    from: Option<DateTime<Utc>>,
    /// Data time before (RFC 3339); default: now. At most 366 days after `from`.
    #[serde(default)]
    to: Option<DateTime<Utc>>,
    /// Only this series: realtime, minute, hourly or daily.
    #[serde(default)]
    #[param(value_type = Option<ReadingKind>)]
    kind: Option<ReadingKind>,
    /// The previous page's `next_cursor`.
    #[serde(default)]
    cursor: Option<String>,
    /// Page size: 1 to the server's `max_page` (default 100).
    #[serde(default)]
    #[param(minimum = 1, example = 100)]
    limit: Option<usize>,
}

/// One reading as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadingView {
    /// Data time (the station's `DataTime`, as UTC).
    data_time: DateTime<Utc>,
    /// Series.
    kind: ReadingKind,
    /// HJ 212 factor code, e.g. `w01018` (COD).
    factor: String,
    /// Value.
    value: f64,
    /// The station's data flag (`N` normal, `D` fault, `C` calibration, …).
    flag: Option<String>,
    /// This value's GB 3838 class (none: no limit, or not a normal measurement).
    class: Option<WaterClass>,
    /// The sample's class: the worst of its assessed values.
    sample_class: Option<WaterClass>,
    /// The section's target class.
    target: Option<WaterClass>,
    /// Whether this value is worse than the target.
    exceeds_target: bool,
    /// When the platform received it.
    received_at: DateTime<Utc>,
}

impl From<WaterReading> for ReadingView {
    fn from(r: WaterReading) -> Self {
        let exceeds_target = matches!((r.class, r.target), (Some(c), Some(t)) if !c.meets(t));
        ReadingView {
            data_time: r.data_time,
            kind: r.kind,
            factor: r.factor,
            value: r.value,
            flag: r.flag,
            class: r.class,
            sample_class: r.sample_class,
            target: r.target,
            exceeds_target,
            received_at: r.received_at,
        }
    }
}

/// A page of readings.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadingsPage {
    /// The station.
    station: String,
    /// Readings in (data time, kind, factor) order.
    readings: Vec<ReadingView>,
    /// Pass as `cursor` for the next page; absent on the last.
    next_cursor: Option<String>,
}

/// The opaque cursor for a position.
pub fn encode_cursor(c: &ReadingCursor) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{}|{}", c.data_time.timestamp_millis(), c.kind, c.factor))
}

/// The position an opaque cursor names.
pub fn decode_cursor(s: &str) -> Option<ReadingCursor> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(s).ok()?).ok()?;
    let mut parts = raw.splitn(3, '|');
    let ms: i64 = parts.next()?.parse().ok()?;
    let kind = ReadingKind::parse(parts.next()?)?;
    let factor = parts.next()?.to_owned();
    Some(ReadingCursor { data_time: DateTime::from_timestamp_millis(ms)?, kind, factor })
}

/// A water station's readings with their GB 3838 class (administrators,
/// auditors; operators and grid workers for stations in their territory).
#[utoipa::path(get, path = "/api/v1/water/readings", tag = "water", params(ReadingsParams),
    responses((status = 200, body = ReadingsPage), (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn readings<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiQuery(p): ApiQuery<ReadingsParams>,
) -> ApiResult<Json<ReadingsPage>> {
    let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > app.config.max_page {
        return Err(ApiError::bad_request("invalid_limit", format!("limit must be 1..={}", app.config.max_page)));
    }
    let after = match p.cursor.as_deref() {
        Some(c) => Some(decode_cursor(c).ok_or_else(|| ApiError::bad_request("invalid_cursor", "unknown cursor"))?),
        None => None,
    };
    let req = ReadingsRequest { station: p.station.clone(), from: p.from, to: p.to, kind: p.kind, after, limit };
    let page = app.water_readings(&caller.actor(), req).await?;
    Ok(Json(ReadingsPage {
        station: p.station,
        readings: page.readings.into_iter().map(ReadingView::from).collect(),
        next_cursor: page.next.as_ref().map(encode_cursor),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = ReadingCursor {
            data_time: DateTime::from_timestamp_millis(1_800_000_000_123).unwrap(),
            kind: ReadingKind::Hourly,
            factor: "w01018".into(),
        };
        assert_eq!(decode_cursor(&encode_cursor(&c)), Some(c));
        for bad in ["", "!!", "bm9wZQ", &URL_SAFE_NO_PAD.encode("1|weekly|w01018")] {
            assert_eq!(decode_cursor(bad), None, "{bad}");
        }
    }
}
