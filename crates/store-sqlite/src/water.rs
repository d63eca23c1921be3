//! SQL for water-quality readings.

use citygrid_domain::ReadingKind;
use citygrid_store::{ReadingPage, ReadingQuery, StoreError, WaterReading};
use rusqlite::types::Value;
use rusqlite::{Connection, params, params_from_iter};

use crate::sql::{backend, from_ms, ms};
use citygrid_store::water::{class_of, class_text};

/// Inserts the readings not stored yet; returns how many were new.
pub(crate) fn append(conn: &Connection, readings: &[WaterReading]) -> Result<u64, StoreError> {
    let mut st = conn
        .prepare_cached(
            "INSERT INTO water_readings
                 (station, data_time, kind, factor, value, flag, class, sample_class, target, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (station, data_time, kind, factor) DO NOTHING",
        )
        .map_err(backend)?;
    let mut n = 0u64;
    for r in readings {
        n += st
            .execute(params![
                r.station,
                ms(r.data_time),
                r.kind.as_str(),
                r.factor,
                r.value,
                r.flag,
                class_text(r.class),
                class_text(r.sample_class),
                class_text(r.target),
                ms(r.received_at),
            ])
            .map_err(backend)? as u64;
    }
    Ok(n)
}

/// One page of a station's readings.
pub(crate) fn page(conn: &Connection, q: &ReadingQuery) -> Result<ReadingPage, StoreError> {
    let limit = q.limit.max(1);
    let mut sql = String::from(
        "SELECT station, data_time, kind, factor, value, flag, class, sample_class, target, received_at
         FROM water_readings WHERE station = ?1 AND data_time >= ?2 AND data_time < ?3",
    );
    let mut args: Vec<Value> = vec![q.station.clone().into(), ms(q.from).into(), ms(q.to).into()];
    if let Some(k) = q.kind {
        args.push(k.as_str().to_owned().into());
        sql.push_str(&format!(" AND kind = ?{}", args.len()));
    }
    if let Some(c) = &q.after {
        args.push(ms(c.data_time).into());
        let t = args.len();
        args.push(c.kind.as_str().to_owned().into());
        args.push(c.factor.clone().into());
        sql.push_str(&format!(" AND (data_time, kind, factor) > (?{t}, ?{}, ?{})", t + 1, t + 2));
    }
    args.push(i64::try_from(limit + 1).unwrap_or(i64::MAX).into());
    sql.push_str(&format!(" ORDER BY data_time, kind, factor LIMIT ?{}", args.len()));
    let mut st = conn.prepare_cached(&sql).map_err(backend)?;
    type Raw = (String, i64, String, String, f64, Option<String>, Option<String>, Option<String>, Option<String>, i64);
    let rows = st
        .query_map(params_from_iter(args), |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
            ))
        })
        .map_err(backend)?;
    let mut readings = Vec::new();
    for row in rows {
        let (station, data_time, kind, factor, value, flag, class, sample_class, target, received_at): Raw =
            row.map_err(backend)?;
        readings.push(WaterReading {
            station,
            data_time: from_ms("water_readings.data_time", data_time)?,
            kind: ReadingKind::parse(&kind)
                .ok_or_else(|| StoreError::Backend(format!("stored reading kind {kind:?} is unknown")))?,
            factor,
            value,
            flag,
            class: class_of("class", class)?,
            sample_class: class_of("sample_class", sample_class)?,
            target: class_of("target", target)?,
            received_at: from_ms("water_readings.received_at", received_at)?,
        });
    }
    let next = if readings.len() > limit {
        readings.truncate(limit);
        readings.last().map(WaterReading::cursor)
    } else {
        None
    };
    Ok(ReadingPage { readings, next })
}
