//! The one intake pipeline every source feeds ([`Intake`]): HTTP batches
//! today; MQTT, HJ 212 and GB/T 28181 listeners call the same method with
//! the detections they decoded, and never learn what happens next.
//!
//! Per batch: each item is checked (the caller may submit for its device,
//! the domain's bounds, a point inside the city); repeats inside the batch
//! are duplicates. Then, under the intake lock (see [`super::state`]): keys
//! already stored are duplicates; each new detection is evaluated against
//! the rules with the zone kinds active at its point and time, its alerts
//! are grouped into incidents, and the detections, the incidents they
//! touched and one audit record are written in one transaction. Only then
//! is the answer given, so an `accepted` item is durable. Detections no
//! rule matches are stored too (accepted, no incident).
//!
//! At most [`super::state::INTAKE_QUEUE`] batches wait for the lock; past
//! that a batch is refused at once with [`AppError::Overloaded`].
//!
//! A detection that raises several alert types (it may lie in two kinds of
//! zone) joins an incident for each; it is linked to the first.

use std::collections::{HashMap, HashSet};
use std::future::Future;

use chrono::{DateTime, Utc};
use citygrid_domain::access::{Operation, Principal, Scope};
use citygrid_domain::eyes::{Detection, Grouped, Incident, IncidentId, IncidentState};
use citygrid_domain::{UnitCode, ZoneKind};
use citygrid_store::{DetectionBatch, MAX_DETECTION_BATCH, Recorded, Store, StoredDetection};
use serde::Serialize;

use super::state::{Held, Pipeline};
use crate::actor::Actor;
use crate::core::{Core, now};
use crate::error::{AppError, AppResult};

/// Where a batch came from (recorded in its audit record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IntakeSource {
    /// `POST /api/v1/detections`.
    Http,
    /// An MQTT topic (Frigate events or CityGrid's own).
    Mqtt,
    /// An HJ 212 station connection.
    Hj212,
    /// A GB/T 28181 alarm notification.
    Gb28181,
}

impl IntakeSource {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            IntakeSource::Http => "http",
            IntakeSource::Mqtt => "mqtt",
            IntakeSource::Hj212 => "hj212",
            IntakeSource::Gb28181 => "gb28181",
        }
    }
}

/// What became of one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Stored now (durably, before the answer).
    Accepted,
    /// Its `(device, id)` was stored already, or came earlier in the batch.
    Duplicate,
    /// Refused; `reason` says why. Nothing was stored for it.
    Rejected,
}

/// The answer for one item, in the order the items came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemOutcome {
    /// The source's id of the item.
    pub id: String,
    /// Its device.
    pub device: String,
    /// What became of it.
    pub status: ItemStatus,
    /// The incident it joined or opened, when accepted and a rule matched.
    pub incident: Option<IncidentId>,
    /// Why it was rejected: names the field and the bound.
    pub reason: Option<String>,
}

impl ItemOutcome {
    fn new(d: &Detection, status: ItemStatus) -> ItemOutcome {
        ItemOutcome { id: d.id.clone(), device: d.device.clone(), status, incident: None, reason: None }
    }

    fn rejected(d: &Detection, reason: impl Into<String>) -> ItemOutcome {
        ItemOutcome { reason: Some(reason.into()), ..ItemOutcome::new(d, ItemStatus::Rejected) }
    }
}

/// The pipeline every detection source feeds.
pub trait Intake: Send + Sync {
    /// Takes one batch (at most [`MAX_DETECTION_BATCH`] items) from `actor`
    /// (a device or gateway) and answers per item once every accepted one
    /// is durable. Fails whole only when nothing could be written: not
    /// allowed, too many items, or the store refused
    /// ([`AppError::Overloaded`] when it is saturated).
    fn submit(
        &self,
        actor: &Actor,
        source: IntakeSource,
        detections: Vec<Detection>,
    ) -> impl Future<Output = AppResult<Vec<ItemOutcome>>> + Send;
}

/// A checked item waiting for the lock.
struct Candidate {
    /// Its position in the batch.
    index: usize,
    detection: Detection,
    territory: UnitCode,
    zones: Vec<ZoneKind>,
}

/// What one grouping-and-writing pass did.
struct Written {
    /// Per candidate: inserted (with its incident) or a duplicate.
    results: Vec<(usize, ItemStatus, Option<IncidentId>)>,
    /// Incidents opened by a rule that promotes without review.
    auto_promote: Vec<IncidentId>,
}

/// Whether `who` may submit detections of `device`: the device itself.
///
/// The seam for gateways: once the device registry records which gateway
/// a device hangs off, a gateway key may also submit for the devices
/// registered under it; until then only the key's own device is accepted.
fn may_submit_for(who: &Principal, device: &str) -> bool {
    who.id == device
}

impl<S: Store> Intake for Core<S> {
    async fn submit(
        &self,
        actor: &Actor,
        source: IntakeSource,
        detections: Vec<Detection>,
    ) -> AppResult<Vec<ItemOutcome>> {
        let who = &actor.principal;
        self.authorize_actor(actor, Operation::SubmitDetections, &Scope::Global, &format!("device/{}", who.id)).await?;
        if detections.len() > MAX_DETECTION_BATCH {
            return Err(AppError::rule(
                "too_many_detections",
                format!("at most {MAX_DETECTION_BATCH} detections per batch; split it"),
            ));
        }
        let now = now();
        let world = self.world();
        let mut out = Vec::with_capacity(detections.len());
        let mut seen = HashSet::with_capacity(detections.len());
        let mut candidates = Vec::with_capacity(detections.len());
        for (index, d) in detections.into_iter().enumerate() {
            if !may_submit_for(who, &d.device) {
                out.push(ItemOutcome::rejected(&d, format!("device: this key may not submit for device {}", d.device)));
                continue;
            }
            if let Err(e) = d.validate(now) {
                out.push(ItemOutcome::rejected(&d, e.to_string()));
                continue;
            }
            let Some(territory) = world.territory.locate(d.point()).and_then(|l| l.deepest().cloned()) else {
                out.push(ItemOutcome::rejected(&d, "lon/lat: outside the city's territory"));
                continue;
            };
            if !seen.insert((d.device.clone(), d.id.clone())) {
                out.push(ItemOutcome::new(&d, ItemStatus::Duplicate));
                continue;
            }
            out.push(ItemOutcome::new(&d, ItemStatus::Accepted));
            let zones = world.zones.zones_at(d.point(), d.at).into_iter().map(|z| z.kind).collect();
            candidates.push(Candidate { index, detection: d, territory, zones });
        }
        if candidates.is_empty() {
            return Ok(out);
        }
        let rejected = out.iter().filter(|o| o.status == ItemStatus::Rejected).count();
        let written = {
            // Back-pressure: a full queue is refused now, nothing written.
            let _place = self.eyes.admission.try_acquire().map_err(|_| AppError::Overloaded)?;
            let mut p = self.eyes.pipeline.lock().await;
            let mut attempt = 0;
            loop {
                attempt += 1;
                match self.group_and_write(&mut p, actor, source, &candidates, rejected, now).await {
                    Ok(w) => break w,
                    // Another process wrote an incident first: the touched
                    // ones were reloaded; group the batch once more.
                    Err(AppError::Conflict(_)) if attempt < 3 => {
                        p.next_id = p.next_id.max(self.store.max_incident_id().await? + 1);
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        for (index, status, incident) in written.results {
            if let Some(o) = out.get_mut(index) {
                o.status = status;
                o.incident = incident;
            }
        }
        for id in written.auto_promote {
            // The batch is durable whatever happens here; a failed promotion
            // leaves the incident open for review.
            if let Err(e) = self.auto_promote(id).await {
                tracing::warn!(incident = id, error = %e, "auto-promotion failed; the incident stays open for review");
            }
        }
        Ok(out)
    }
}

impl<S: Store> Core<S> {
    /// One pass under the lock: duplicates against the store, rules,
    /// grouping, the durable write. On failure, memory is put back to what
    /// the store holds.
    async fn group_and_write(
        &self,
        p: &mut Pipeline,
        actor: &Actor,
        source: IntakeSource,
        candidates: &[Candidate],
        rejected: usize,
        now: DateTime<Utc>,
    ) -> AppResult<Written> {
        let keys = candidates.iter().map(|c| (c.detection.device.clone(), c.detection.id.clone())).collect();
        let known = self.store.detections_known(keys).await?;
        let mut results = Vec::with_capacity(candidates.len());
        let mut rows = Vec::with_capacity(candidates.len());
        let mut touched: Vec<IncidentId> = vec![];
        let mut latest: HashMap<IncidentId, Incident> = HashMap::new();
        let mut auto_promote = vec![];
        for (c, known) in candidates.iter().zip(known) {
            if known {
                results.push((c.index, ItemStatus::Duplicate, None));
                continue;
            }
            let mut first: Option<(IncidentId, String)> = None;
            for rule in self.eyes.rules.evaluate(&c.detection, &c.zones, &mut p.tracker) {
                let alert = rule.alert_for(&c.detection);
                let next_id = &mut p.next_id;
                let grouped = p.grouper.group(&alert, || {
                    let id = *next_id;
                    *next_id += 1;
                    id
                });
                let id = grouped.id();
                if let Grouped::Opened { .. } = grouped {
                    let held = Held { version: 0, territory: c.territory.clone(), rule: Some(rule.id.clone()) };
                    p.held.insert(id, held);
                    if rule.auto_promote {
                        auto_promote.push(id);
                    }
                }
                // Kept now: the grouper may let it go before the batch ends.
                if let Some(incident) = p.grouper.get(id) {
                    latest.insert(id, incident.clone());
                }
                if !touched.contains(&id) {
                    touched.push(id);
                }
                first.get_or_insert((id, rule.id.clone()));
            }
            results.push((c.index, ItemStatus::Accepted, first.as_ref().map(|f| f.0)));
            rows.push(StoredDetection {
                detection: c.detection.clone(),
                received_at: now,
                territory: c.territory.clone(),
                rule: first.as_ref().map(|f| f.1.clone()),
                incident: first.map(|f| f.0),
            });
        }
        if rows.is_empty() {
            return Ok(Written { results, auto_promote });
        }
        let incidents: Vec<_> =
            touched.iter().filter_map(|id| latest.remove(id)).filter_map(|i| p.next_record(i, now)).collect();
        let accepted = rows.len();
        let mut audit = self.actor_event(actor, "detections.record", &format!("device/{}", actor.principal.id));
        audit.detail = Some(
            serde_json::json!({
                "source": source.as_str(),
                "accepted": accepted,
                "duplicate": candidates.len() - accepted,
                "rejected": rejected,
                "incidents": &touched,
            })
            .to_string(),
        );
        let versions: Vec<(IncidentId, u64)> = incidents.iter().map(|r| (r.incident.id, r.version)).collect();
        match self.store.record_detections(DetectionBatch { detections: rows, incidents, audit }).await {
            Ok(recorded) => {
                for (id, version) in versions {
                    if let Some(h) = p.held.get_mut(&id) {
                        h.version = version;
                    }
                }
                p.prune();
                // Another process may have stored a key since it was looked up.
                let mut recorded = recorded.into_iter();
                for r in results.iter_mut().filter(|r| r.1 == ItemStatus::Accepted) {
                    if recorded.next() == Some(Recorded::Duplicate) {
                        *r = (r.0, ItemStatus::Duplicate, None);
                    }
                }
                Ok(Written { results, auto_promote })
            }
            Err(e) => {
                self.restore(p, &touched).await;
                Err(e.into())
            }
        }
    }

    /// Puts the touched incidents back as the store has them: forgotten
    /// first, so that if the store cannot answer either, later alerts open
    /// fresh incidents rather than join counts nobody stored.
    async fn restore(&self, p: &mut Pipeline, touched: &[IncidentId]) {
        for &id in touched {
            p.grouper.set_state(id, IncidentState::Dismissed);
            p.held.remove(&id);
            match self.store.incident(id).await {
                Ok(Some(r)) => p.load(r),
                Ok(None) => {}
                Err(e) => tracing::warn!(incident = id, error = %e, "cannot reload an incident after a failed write"),
            }
        }
    }
}
