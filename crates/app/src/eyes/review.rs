//! Reading and reviewing incidents: list and read within the caller's
//! territory, confirm, dismiss as a false positive, merge into another
//! incident, promote to a case; false-positive rates.
//!
//! Every decision is taken under the intake lock on the stored incident,
//! written with its version, and then told to the grouper, so an incident
//! that is no longer joinable stops taking alerts at once.

use citygrid_domain::access::{Operation, Scope, incident_visibility};
use citygrid_domain::case::{Case, Source};
use citygrid_domain::eyes::{IncidentId, Severity, Transition, next_state};
use citygrid_store::{FalsePositiveStats, IncidentFilter, IncidentPage, IncidentRecord, Store, StoredDetection};

use crate::actor::Actor;
use crate::core::{Core, now};
use crate::error::{AppError, AppResult};
use crate::report::ReportCase;

/// A review decision other than promotion (which opens a case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Review {
    /// It is real.
    Confirm,
    /// It is a false positive.
    Dismiss,
    /// It is the same matter as another incident (of the same type).
    Merge {
        /// The incident it goes into.
        into: IncidentId,
    },
}

impl Review {
    fn transition(self) -> Transition {
        match self {
            Review::Confirm => Transition::Confirm,
            Review::Dismiss => Transition::Dismiss,
            Review::Merge { into } => Transition::Merge { into },
        }
    }

    fn action(self) -> &'static str {
        match self {
            Review::Confirm => "incident.confirm",
            Review::Dismiss => "incident.dismiss",
            Review::Merge { .. } => "incident.merge",
        }
    }
}

/// An incident with its first detections.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentDetail {
    /// The incident.
    pub record: IncidentRecord,
    /// Its first detections, earliest first.
    pub detections: Vec<StoredDetection>,
}

/// A promoted incident and the case opened for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Promoted {
    /// The incident, now promoted and naming the case.
    pub incident: IncidentRecord,
    /// The new case.
    pub case: Case,
}

impl<S: Store> Core<S> {
    /// Loads incident `id` if the actor may perform `op` on it; one outside
    /// the actor's territory is [`AppError::OutOfScope`], like a missing one.
    pub async fn incident_for(&self, actor: &Actor, id: IncidentId, op: Operation) -> AppResult<IncidentRecord> {
        let resource = format!("incident/{id}");
        // Ids past what storage holds name nothing; they are not malformed.
        let stored = if i64::try_from(id).is_ok() { self.store.incident(id).await? } else { None };
        let Some(rec) = stored else {
            // Answered like an incident outside the actor's territory, so
            // that nobody learns which ids exist beyond their own.
            self.authorize_actor(actor, op, &Scope::Incident(None), &resource).await?;
            return Err(AppError::NotFound(resource));
        };
        self.authorize_actor(actor, op, &Scope::Incident(Some(&rec.territory)), &resource).await?;
        Ok(rec)
    }

    /// An incident and its first `limit` detections.
    pub async fn incident_detail(&self, actor: &Actor, id: IncidentId, limit: usize) -> AppResult<IncidentDetail> {
        let record = self.incident_for(actor, id, Operation::ReadIncident).await?;
        let detections = self.store.incident_detections(id, limit).await?;
        Ok(IncidentDetail { record, detections })
    }

    /// Incidents matching `filter`, narrowed to what the actor may see.
    pub async fn list_incidents(&self, actor: &Actor, mut filter: IncidentFilter) -> AppResult<IncidentPage> {
        self.authorize_actor(actor, Operation::ReadIncident, &Scope::Global, "incidents").await?;
        filter.scope = incident_visibility(&actor.principal);
        Ok(self.store.list_incidents(filter).await?)
    }

    /// Dismissed and total detections per device and rule, over the
    /// incidents the actor may see.
    pub async fn false_positive_rates(&self, actor: &Actor) -> AppResult<FalsePositiveStats> {
        self.authorize_actor(actor, Operation::ReadIncident, &Scope::Global, "incidents/stats").await?;
        Ok(self.store.false_positives(incident_visibility(&actor.principal)).await?)
    }

    /// Confirms, dismisses or merges an incident. A merge target must be an
    /// open or confirmed incident of the same type the actor can see.
    /// Audited as `incident.<decision>`.
    pub async fn review_incident(&self, actor: &Actor, id: IncidentId, review: Review) -> AppResult<IncidentRecord> {
        let rec = self.incident_for(actor, id, Operation::ReviewIncident).await?;
        if let Review::Merge { into } = review {
            if into == id {
                return Err(AppError::InvalidTransition(format!("incident {id} cannot be merged into itself")));
            }
            let target = self.incident_for(actor, into, Operation::ReadIncident).await?;
            if target.incident.kind != rec.incident.kind {
                return Err(AppError::rule(
                    "merge_kind_mismatch",
                    format!("incident {into} is {}, not {}", target.incident.kind, rec.incident.kind),
                ));
            }
            if !target.incident.is_joinable() {
                return Err(AppError::InvalidTransition(format!(
                    "incident {into} is {}; merge into an open or confirmed incident",
                    target.incident.state
                )));
            }
        }
        self.transition(actor, id, review.transition(), review.action()).await
    }

    /// Opens a case for an incident (see [`Core::promote_incident`]).
    pub async fn promote_incident(&self, actor: &Actor, id: IncidentId) -> AppResult<Promoted> {
        let rec = self.incident_for(actor, id, Operation::ReviewIncident).await?;
        self.promote(actor, rec, true).await
    }

    /// Promotes an incident a rule marked `auto_promote`, as the platform.
    pub(crate) async fn auto_promote(&self, id: IncidentId) -> AppResult<Promoted> {
        let rec = self.store.incident(id).await?.ok_or_else(|| AppError::NotFound(format!("incident/{id}")))?;
        self.promote(&Actor::system("eyes-auto-promote"), rec, false).await
    }

    /// Reports the case through the ordinary report use case (category from
    /// the rules file's `[promote]` table, place from the incident's
    /// centroid, urgent from high severity up, the incident's stored
    /// attachments as evidence, a description naming the incident), then
    /// records the case on the incident. Audited as `case.create` and
    /// `incident.promote`.
    async fn promote(&self, actor: &Actor, rec: IncidentRecord, authorize: bool) -> AppResult<Promoted> {
        let i = &rec.incident;
        let id = i.id;
        next_state(i.state, Transition::Promote { case: 0 }).map_err(|e| AppError::InvalidTransition(e.to_string()))?;
        let category = self.eyes.rules.promote_category(i.kind).cloned().ok_or_else(|| {
            AppError::rule(
                "no_promote_category",
                format!("no category is configured for {} incidents ([promote] in the rules file)", i.kind),
            )
        })?;
        let missing = self.store.missing_attachments(i.evidence.clone()).await?;
        let evidence = i.evidence.iter().filter(|h| !missing.contains(*h)).cloned().collect();
        let devices = if i.devices_truncated { format!("{}, …", i.devices.join(", ")) } else { i.devices.join(", ") };
        let description = format!(
            "Incident #{id} ({}, {}): {} detection(s) from {} ({}); first seen {}, last seen {}.",
            i.kind,
            i.severity,
            i.count,
            devices,
            if i.devices.len() == 1 { "1 device".to_owned() } else { format!("{} devices", i.devices.len()) },
            i.first_seen.to_rfc3339(),
            i.last_seen.to_rfc3339(),
        );
        let req = ReportCase {
            category,
            description,
            lon: i.centroid.lon,
            lat: i.centroid.lat,
            urgent: i.severity >= Severity::High,
            source: Some(Source::Alert),
            address: None,
            contact: None,
            evidence,
        };
        let reported = self.report_with(actor, req, authorize).await?;
        let case = reported.created.case;
        match self.transition(actor, id, Transition::Promote { case: case.id }, "incident.promote").await {
            Ok(incident) => Ok(Promoted { incident, case }),
            Err(e) => Err(AppError::Conflict(format!(
                "case {} was opened for incident {id}, but the incident changed meanwhile: {e}",
                case.id
            ))),
        }
    }

    /// Applies `t` to the stored incident under the intake lock, writes it
    /// with its version, and tells the grouper.
    async fn transition(
        &self,
        actor: &Actor,
        id: IncidentId,
        t: Transition,
        action: &str,
    ) -> AppResult<IncidentRecord> {
        let mut p = self.eyes.pipeline.lock().await;
        let mut rec = self.store.incident(id).await?.ok_or_else(|| AppError::NotFound(format!("incident/{id}")))?;
        rec.incident.apply(t).map_err(|e| AppError::InvalidTransition(e.to_string()))?;
        rec.version += 1;
        rec.updated_at = now();
        let audit = self.actor_event(actor, action, &format!("incident/{id}"));
        self.store.update_incident(rec.clone(), audit).await?;
        if !rec.incident.is_joinable() {
            p.held.remove(&id);
        } else if let Some(h) = p.held.get_mut(&id) {
            h.version = rec.version;
        }
        p.grouper.set_state(id, rec.incident.state);
        Ok(rec)
    }
}
