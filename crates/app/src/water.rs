//! Water stations: taking in an HJ 212 packet, and listing readings.
//!
//! A listener (the server's HJ 212 TCP listener today, others later) hands
//! each parsed packet to a [`StationIntake`] and writes back the answer it
//! gets: [`Ingested::reply`] once the readings are durable, or
//! [`refusal`] for an error. [`Core`] is the intake: it checks that `MN`
//! names a registered water station and `PW` is its password, classifies
//! each sample under GB 3838-2002 against the target class of the
//! station's section, and stores the readings with one audit record per
//! packet. Nothing is stored for a refused packet.

use std::future::Future;
use std::net::IpAddr;

use chrono::{DateTime, Duration, TimeZone, Utc};
use citygrid_domain::access::{Operation, Role, Scope};
use citygrid_domain::audit::AuditEvent;
use citygrid_domain::calendar::{cst, within_bounds};
use citygrid_domain::water::{WaterBody, classify, sample_class};
use citygrid_domain::{DeviceKind, ReadingKind, WaterClass};
use citygrid_protocols::hj212::{self, DataKind, Packet, QnRtn, reply};
use citygrid_store::{DeviceRecord, ReadingCursor, ReadingPage, ReadingQuery, Store, WaterReading};

use crate::actor::Actor;
use crate::core::{Core, now};
use crate::error::{AppError, AppResult};

/// Longest time range one readings query may span.
pub const MAX_QUERY_DAYS: i64 = 366;

/// What the intake made of one packet.
#[derive(Debug, Clone, PartialEq)]
pub struct Ingested {
    /// The station's device id.
    pub station: String,
    /// Readings stored now.
    pub stored: u64,
    /// Readings that were already stored (a station sending again).
    pub duplicates: u64,
    /// The sample's class: the worst of its classed values.
    pub sample_class: Option<WaterClass>,
    /// The section's target class.
    pub target: Option<WaterClass>,
    /// What to send back: the `CN=9014` data answer when the packet's
    /// `Flag` asks for one. The readings are durable when this is returned.
    pub reply: Option<Packet>,
}

/// Takes in station packets: the one seam every station intake calls.
pub trait StationIntake: Send + Sync + 'static {
    /// Checks, classifies and durably stores one packet's readings, or
    /// refuses it with nothing stored.
    fn ingest(&self, packet: Packet, peer: Option<IpAddr>) -> impl Future<Output = AppResult<Ingested>> + Send;
}

impl<S: Store> StationIntake for Core<S> {
    fn ingest(&self, packet: Packet, peer: Option<IpAddr>) -> impl Future<Output = AppResult<Ingested>> + Send {
        self.ingest_hj212(packet, peer)
    }
}

/// The request-answer code for a packet refused with `error`; `None` when
/// the refusal is on our side (store overloaded or away): send nothing, and
/// the station sends again.
pub fn answer_code(error: &AppError) -> Option<QnRtn> {
    match error {
        AppError::NotFound(_) | AppError::OutOfScope(_) => Some(QnRtn::MnError),
        AppError::Unauthenticated(_) => Some(QnRtn::PwError),
        AppError::Malformed { code: "not_a_data_upload", .. } => Some(QnRtn::CnError),
        AppError::Malformed { .. } | AppError::Invalid { .. } | AppError::DateOutOfRange(_) => Some(QnRtn::Rejected),
        AppError::Overloaded | AppError::Unavailable(_) | AppError::Internal(_) => None,
        _ => Some(QnRtn::Rejected),
    }
}

/// The `CN=9011` request answer to a packet refused with `error`, if one is due.
pub fn refusal(packet: &Packet, error: &AppError) -> Option<Packet> {
    let code = answer_code(error)?;
    Some(reply::request_answer(packet.qn, &packet.pw, &packet.mn, code))
}

/// Compares two secrets in time independent of where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn reading_kind(kind: DataKind) -> ReadingKind {
    match kind {
        DataKind::Realtime => ReadingKind::Realtime,
        DataKind::Minute => ReadingKind::Minute,
        DataKind::Hourly => ReadingKind::Hourly,
        DataKind::Daily => ReadingKind::Daily,
    }
}

/// A readings query as asked.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadingsRequest {
    /// The station's device id.
    pub station: String,
    /// From (default: a day before `to`).
    pub from: Option<DateTime<Utc>>,
    /// To, exclusive (default: now).
    pub to: Option<DateTime<Utc>>,
    /// Only this series.
    pub kind: Option<ReadingKind>,
    /// Continue after.
    pub after: Option<ReadingCursor>,
    /// Page size, already bounded by the caller.
    pub limit: usize,
}

impl<S: Store> Core<S> {
    /// The water station registered under `mn`, if its `pw` is right.
    async fn station_for(&self, mn: &str, pw: &str) -> AppResult<DeviceRecord> {
        let unknown = || AppError::NotFound(format!("station {mn}"));
        let device = self.store.device_by_mn(mn).await?.ok_or_else(unknown)?;
        let link = match (&device.kind, &device.station) {
            (DeviceKind::WaterStation, Some(link)) => link,
            _ => return Err(unknown()),
        };
        if device.revoked_at.is_some() {
            return Err(AppError::Unauthenticated(format!("station {mn} is revoked")));
        }
        if !same_secret(&self.vault.open_secret(&link.pw_sealed)?, pw) {
            return Err(AppError::Unauthenticated(format!("wrong PW for station {mn}")));
        }
        Ok(device)
    }

    /// Takes in one HJ 212 data upload (see the module docs).
    pub async fn ingest_hj212(&self, packet: Packet, peer: Option<IpAddr>) -> AppResult<Ingested> {
        let station = self.station_for(&packet.mn, &packet.pw).await?;
        let values = hj212::readings(&packet).map_err(|e| match DataKind::of(&packet.cn) {
            None => AppError::Malformed {
                code: "not_a_data_upload",
                message: format!("CN={} is not a data upload", packet.cn),
            },
            Some(_) => AppError::Malformed { code: "invalid_data", message: e.to_string() },
        })?;
        let received = now();
        let target = station
            .station
            .as_ref()
            .and_then(|l| self.world().zones.get(&l.water_section).and_then(|(z, _)| z.target_class));
        let normal = |r: &hj212::Reading| r.flag.as_ref().is_none_or(|f| f.is_normal());
        let sample =
            sample_class(values.iter().filter(|r| normal(r)).map(|r| (r.factor.as_str(), r.value)), WaterBody::River);
        let mut readings = Vec::with_capacity(values.len());
        for r in &values {
            let data_time = cst()
                .from_local_datetime(&r.data_time)
                .single()
                .map(|t| t.with_timezone(&Utc))
                .filter(|t| within_bounds(received, *t))
                .ok_or_else(|| AppError::DateOutOfRange(format!("DataTime {} is out of range", r.data_time)))?;
            readings.push(WaterReading {
                station: station.id.clone(),
                data_time,
                kind: reading_kind(r.kind),
                factor: r.factor.clone(),
                value: r.value,
                flag: r.flag.as_ref().map(flag_letter),
                class: if normal(r) { classify(&r.factor, r.value) } else { None },
                sample_class: sample,
                target,
                received_at: received,
            });
        }
        let total = readings.len() as u64;
        let mut ev = station_event(&station, peer, received);
        ev.detail = Some(format!(
            "CN={} QN={} {} reading(s)",
            packet.cn,
            packet.qn.map(|q| q.to_string()).unwrap_or_default(),
            total
        ));
        let stored = self.store.append_readings(readings, ev).await?;
        if self.liveness.due(&station.id, received)
            && let Err(e) = self.store.touch_devices(vec![(station.id.clone(), received)]).await
        {
            tracing::warn!(station = %station.id, error = %e, "cannot record when the station was last seen");
        }
        let reply = packet.wants_answer().then(|| reply::data_answer(&packet));
        Ok(Ingested { station: station.id, stored, duplicates: total - stored, sample_class: sample, target, reply })
    }

    /// One page of a water station's readings, with their classes. Readers
    /// see the stations inside their territory; others are not found.
    pub async fn water_readings(&self, actor: &Actor, req: ReadingsRequest) -> AppResult<ReadingPage> {
        let resource = format!("device/{}", req.station);
        // The role first, so a caller who may never read readings learns nothing of stations.
        self.authorize_actor(actor, Operation::ReadReadings, &Scope::Global, &resource).await?;
        let station = match self.store.device(&req.station).await? {
            Some(d) if d.kind == DeviceKind::WaterStation => d,
            _ => return Err(AppError::NotFound(resource)),
        };
        self.authorize_actor(actor, Operation::ReadReadings, &Scope::Device(station.unit.as_ref()), &resource).await?;
        let to = req.to.unwrap_or_else(now);
        let from = req.from.unwrap_or(to - Duration::days(1));
        let t = now();
        for (what, at) in [("from", from), ("to", to)] {
            if !within_bounds(t, at) {
                return Err(AppError::DateOutOfRange(format!("{what} {at} is outside the accepted range")));
            }
        }
        if from >= to {
            return Err(AppError::rule("invalid_range", "from must be before to"));
        }
        if to - from > Duration::days(MAX_QUERY_DAYS) {
            return Err(AppError::rule("range_too_long", format!("a query spans at most {MAX_QUERY_DAYS} days")));
        }
        let query =
            ReadingQuery { station: station.id, from, to, kind: req.kind, after: req.after, limit: req.limit.max(1) };
        Ok(self.store.readings(query).await?)
    }
}

/// The HJ 212 letter of a data flag.
fn flag_letter(f: &hj212::DataFlag) -> String {
    use hj212::DataFlag as F;
    match f {
        F::Normal => "N",
        F::Stopped => "F",
        F::Maintenance => "M",
        F::Manual => "S",
        F::Fault => "D",
        F::Calibration => "C",
        F::OverRange => "T",
        F::CommError => "B",
        F::Other(s) => s.as_str(),
    }
    .to_owned()
}

/// The audit event of a station's packet, by the station itself.
fn station_event(station: &DeviceRecord, peer: Option<IpAddr>, at: DateTime<Utc>) -> AuditEvent {
    let resource = format!("device/{}", station.id);
    let mut ev = AuditEvent::ok(at, &station.id, Role::Device.as_str(), "water.readings", resource);
    ev.source_ip = peer.map(|i| i.to_string());
    ev
}
