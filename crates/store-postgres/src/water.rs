//! SQL for water-quality readings.

use chrono::{DateTime, Utc};
use citygrid_domain::ReadingKind;
use citygrid_store::{ReadingPage, ReadingQuery, StoreError, WaterReading};
use tokio_postgres::GenericClient;

use crate::error::Fail;
use crate::sql::Query;
use citygrid_store::water::{class_of, class_text};

/// Inserts the readings not stored yet, in one statement; returns how many were new.
pub(crate) async fn append<C: GenericClient + Sync>(c: &C, readings: &[WaterReading]) -> Result<u64, Fail> {
    let station: Vec<&str> = readings.iter().map(|r| r.station.as_str()).collect();
    let data_time: Vec<DateTime<Utc>> = readings.iter().map(|r| r.data_time).collect();
    let kind: Vec<&str> = readings.iter().map(|r| r.kind.as_str()).collect();
    let factor: Vec<&str> = readings.iter().map(|r| r.factor.as_str()).collect();
    let value: Vec<f64> = readings.iter().map(|r| r.value).collect();
    let flag: Vec<Option<&str>> = readings.iter().map(|r| r.flag.as_deref()).collect();
    let class: Vec<Option<String>> = readings.iter().map(|r| class_text(r.class)).collect();
    let sample: Vec<Option<String>> = readings.iter().map(|r| class_text(r.sample_class)).collect();
    let target: Vec<Option<String>> = readings.iter().map(|r| class_text(r.target)).collect();
    let received: Vec<DateTime<Utc>> = readings.iter().map(|r| r.received_at).collect();
    let n = c
        .execute(
            "INSERT INTO water_readings
                 (station, data_time, kind, factor, value, flag, class, sample_class, target, received_at)
             SELECT * FROM UNNEST($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::float8[],
                                  $6::text[], $7::text[], $8::text[], $9::text[], $10::timestamptz[])
             ON CONFLICT (station, data_time, kind, factor) DO NOTHING",
            &[&station, &data_time, &kind, &factor, &value, &flag, &class, &sample, &target, &received],
        )
        .await?;
    Ok(n)
}

/// One page of a station's readings.
pub(crate) async fn page<C: GenericClient + Sync>(c: &C, q: &ReadingQuery) -> Result<ReadingPage, Fail> {
    let limit = q.limit.max(1);
    let mut query = Query::new(
        "SELECT station, data_time, kind, factor, value, flag, class, sample_class, target, received_at
         FROM water_readings WHERE ",
    );
    let (s, f, t) = (query.arg(q.station.clone()), query.arg(q.from), query.arg(q.to));
    query.sql.push_str(&format!("station = {s} AND data_time >= {f} AND data_time < {t}"));
    if let Some(k) = q.kind {
        let k = query.arg(k.as_str().to_owned());
        query.sql.push_str(&format!(" AND kind = {k}"));
    }
    if let Some(after) = &q.after {
        let (t, k, f) =
            (query.arg(after.data_time), query.arg(after.kind.as_str().to_owned()), query.arg(after.factor.clone()));
        query.sql.push_str(&format!(" AND (data_time, kind, factor) > ({t}, {k}, {f})"));
    }
    let l = query.arg(i64::try_from(limit + 1).unwrap_or(i64::MAX));
    query.sql.push_str(&format!(" ORDER BY data_time, kind, factor LIMIT {l}"));
    let rows = c.query(&query.sql, &query.args()).await?;
    let mut readings = Vec::with_capacity(rows.len());
    for r in rows {
        let kind: String = r.try_get(2)?;
        readings.push(WaterReading {
            station: r.try_get(0)?,
            data_time: r.try_get(1)?,
            kind: ReadingKind::parse(&kind)
                .ok_or_else(|| StoreError::Backend(format!("stored reading kind {kind:?} is unknown")))?,
            factor: r.try_get(3)?,
            value: r.try_get(4)?,
            flag: r.try_get(5)?,
            class: class_of("class", r.try_get(6)?)?,
            sample_class: class_of("sample_class", r.try_get(7)?)?,
            target: class_of("target", r.try_get(8)?)?,
            received_at: r.try_get(9)?,
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
