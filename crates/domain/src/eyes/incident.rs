//! An incident: the alerts of one type that the grouper judged to be one
//! real-world matter, and its review lifecycle.
//!
//! Lifecycle: `open` → `confirmed` (a reviewer agrees) → `promoted` (a
//! case was opened for it); `open` or `confirmed` → `dismissed` (a false
//! positive) or `merged` into another incident. Dismissed, merged and
//! promoted are final, and only open and confirmed incidents take new
//! alerts: after promotion the case carries the matter, and a fresh alert
//! starts a fresh incident.
//!
//! Kept values are bounded so an incident stays small however long it
//! runs: the first [`MAX_DEVICES`] distinct devices and the first
//! [`MAX_EVIDENCE`] distinct attachments; `count` and severity cover every
//! alert.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::alert::{Alert, AlertType, Severity};
use crate::case::CaseId;
use crate::geometry::{BBox, Point};

/// An incident's id, assigned by the caller (the store).
pub type IncidentId = u64;

/// Most distinct devices an incident keeps.
pub const MAX_DEVICES: usize = 64;
/// Most distinct evidence digests an incident keeps.
pub const MAX_EVIDENCE: usize = 32;

/// Where an incident stands in review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IncidentState {
    /// New, not yet reviewed (待核实).
    Open,
    /// A reviewer confirmed it (已确认).
    Confirmed,
    /// A false positive (误报). Final.
    Dismissed,
    /// Merged into another incident (已合并). Final.
    Merged,
    /// Promoted to a case (已转案件). Final.
    Promoted,
}

impl IncidentState {
    /// Every state.
    pub const ALL: [IncidentState; 5] = [
        IncidentState::Open,
        IncidentState::Confirmed,
        IncidentState::Dismissed,
        IncidentState::Merged,
        IncidentState::Promoted,
    ];

    /// The snake_case name used in APIs and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentState::Open => "open",
            IncidentState::Confirmed => "confirmed",
            IncidentState::Dismissed => "dismissed",
            IncidentState::Merged => "merged",
            IncidentState::Promoted => "promoted",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Option<IncidentState> {
        IncidentState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether new alerts may join an incident in this state.
    pub fn is_joinable(self) -> bool {
        matches!(self, IncidentState::Open | IncidentState::Confirmed)
    }

    /// Whether no transition leaves this state.
    pub fn is_final(self) -> bool {
        !self.is_joinable()
    }

    /// The states this one may move to.
    pub fn allowed(self) -> &'static [IncidentState] {
        use IncidentState as S;
        match self {
            S::Open => &[S::Confirmed, S::Dismissed, S::Merged, S::Promoted],
            S::Confirmed => &[S::Dismissed, S::Merged, S::Promoted],
            S::Dismissed | S::Merged | S::Promoted => &[],
        }
    }
}

impl fmt::Display for IncidentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A review decision on an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Transition {
    /// It is real.
    Confirm,
    /// It is a false positive.
    Dismiss,
    /// It duplicates another incident.
    Merge {
        /// The incident it is merged into.
        into: IncidentId,
    },
    /// A case was opened for it.
    Promote {
        /// The case.
        case: CaseId,
    },
}

impl Transition {
    /// The state the transition leads to.
    pub fn target(self) -> IncidentState {
        match self {
            Transition::Confirm => IncidentState::Confirmed,
            Transition::Dismiss => IncidentState::Dismissed,
            Transition::Merge { .. } => IncidentState::Merged,
            Transition::Promote { .. } => IncidentState::Promoted,
        }
    }
}

/// Why a transition is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IncidentError {
    /// The state does not allow it.
    #[error("an incident that is {from} cannot become {to}")]
    NotAllowed {
        /// The current state.
        from: IncidentState,
        /// The state asked for.
        to: IncidentState,
    },
    /// Merging an incident into itself.
    #[error("incident {0} cannot be merged into itself")]
    MergeIntoSelf(IncidentId),
}

/// The state `from` moves to under `t`, or why it cannot.
pub fn next_state(from: IncidentState, t: Transition) -> Result<IncidentState, IncidentError> {
    let to = t.target();
    if from.allowed().contains(&to) { Ok(to) } else { Err(IncidentError::NotAllowed { from, to }) }
}

/// One incident; see the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Incident {
    /// Its id.
    pub id: IncidentId,
    /// The alert type of every alert in it.
    pub kind: AlertType,
    /// Review state.
    pub state: IncidentState,
    /// The highest severity of its alerts.
    pub severity: Severity,
    /// The earliest alert's time.
    pub first_seen: DateTime<Utc>,
    /// The latest alert's time.
    pub last_seen: DateTime<Utc>,
    /// How many alerts joined it, the first included.
    pub count: u64,
    /// The first [`MAX_DEVICES`] distinct devices that reported it.
    pub devices: Vec<String>,
    /// Whether further devices reported it than `devices` holds.
    pub devices_truncated: bool,
    /// The first [`MAX_EVIDENCE`] distinct evidence digests.
    pub evidence: Vec<String>,
    /// The mean position of its alerts.
    pub centroid: Point,
    /// The box around all its alerts' positions.
    pub bbox: BBox,
    /// The case it was promoted to.
    pub case_id: Option<CaseId>,
    /// The incident it was merged into.
    pub merged_into: Option<IncidentId>,
}

impl Incident {
    /// A new open incident holding one alert.
    pub fn open(id: IncidentId, alert: &Alert<'_>) -> Incident {
        let p = alert.point;
        let mut incident = Incident {
            id,
            kind: alert.kind,
            state: IncidentState::Open,
            severity: alert.severity,
            first_seen: alert.at,
            last_seen: alert.at,
            count: 1,
            devices: vec![alert.device.to_owned()],
            devices_truncated: false,
            evidence: Vec::new(),
            centroid: p,
            bbox: BBox { min_lon: p.lon, min_lat: p.lat, max_lon: p.lon, max_lat: p.lat },
            case_id: None,
            merged_into: None,
        };
        incident.keep_evidence(alert.evidence);
        incident
    }

    /// Adds one alert of the same type: count, times, severity (which can
    /// only rise), devices, evidence, centroid and box. The caller decides
    /// that it belongs here (see the grouper).
    pub fn absorb(&mut self, alert: &Alert<'_>) {
        self.count = self.count.saturating_add(1);
        self.severity = self.severity.max(alert.severity);
        self.first_seen = self.first_seen.min(alert.at);
        self.last_seen = self.last_seen.max(alert.at);
        if !self.devices.iter().any(|d| d == alert.device) {
            if self.devices.len() < MAX_DEVICES {
                self.devices.push(alert.device.to_owned());
            } else {
                self.devices_truncated = true;
            }
        }
        self.keep_evidence(alert.evidence);
        // Running mean: exact for any order of the same alerts up to
        // rounding, and needs no sums that could grow without bound.
        let n = self.count as f64;
        let p = alert.point;
        self.centroid.lon += (p.lon - self.centroid.lon) / n;
        self.centroid.lat += (p.lat - self.centroid.lat) / n;
        let b = &mut self.bbox;
        b.min_lon = b.min_lon.min(p.lon);
        b.min_lat = b.min_lat.min(p.lat);
        b.max_lon = b.max_lon.max(p.lon);
        b.max_lat = b.max_lat.max(p.lat);
    }

    /// Applies a review decision, or refuses it leaving the incident as it was.
    pub fn apply(&mut self, t: Transition) -> Result<(), IncidentError> {
        if t == (Transition::Merge { into: self.id }) {
            return Err(IncidentError::MergeIntoSelf(self.id));
        }
        self.state = next_state(self.state, t)?;
        match t {
            Transition::Merge { into } => self.merged_into = Some(into),
            Transition::Promote { case } => self.case_id = Some(case),
            Transition::Confirm | Transition::Dismiss => {}
        }
        Ok(())
    }

    /// Whether new alerts may join it.
    pub fn is_joinable(&self) -> bool {
        self.state.is_joinable()
    }

    fn keep_evidence(&mut self, evidence: &[String]) {
        for h in evidence {
            if self.evidence.len() >= MAX_EVIDENCE {
                break;
            }
            if !self.evidence.contains(h) {
                self.evidence.push(h.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn alert<'a>(device: &'a str, evidence: &'a [String], severity: Severity, lon: f64, min: i64) -> Alert<'a> {
        Alert {
            kind: AlertType::IllegalFishing,
            severity,
            point: Point { lon, lat: 31.35 },
            at: DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000) + Duration::minutes(min),
            device,
            evidence,
        }
    }

    #[test]
    fn transitions() {
        use IncidentState as S;
        let all = |from: S| -> Vec<S> {
            [Transition::Confirm, Transition::Dismiss, Transition::Merge { into: 9 }, Transition::Promote { case: 5 }]
                .into_iter()
                .filter_map(|t| next_state(from, t).ok())
                .collect()
        };
        assert_eq!(all(S::Open), [S::Confirmed, S::Dismissed, S::Merged, S::Promoted]);
        assert_eq!(all(S::Confirmed), [S::Dismissed, S::Merged, S::Promoted]);
        for end in [S::Dismissed, S::Merged, S::Promoted] {
            assert!(all(end).is_empty(), "{end}");
            assert!(end.is_final() && !end.is_joinable());
        }
        assert_eq!(
            next_state(S::Confirmed, Transition::Confirm),
            Err(IncidentError::NotAllowed { from: S::Confirmed, to: S::Confirmed })
        );
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        let t: Transition = serde_json::from_str(r#"{"action":"promote","case":12}"#).unwrap();
        assert_eq!(t, Transition::Promote { case: 12 });
    }

    #[test]
    fn apply_records_links_and_refuses_cleanly() {
        let a = alert("cam-1", &[], Severity::Low, 118.0, 0);
        let mut i = Incident::open(3, &a);
        assert_eq!(i.apply(Transition::Merge { into: 3 }), Err(IncidentError::MergeIntoSelf(3)));
        assert_eq!(i.apply(Transition::Confirm), Ok(()));
        assert_eq!(i.apply(Transition::Promote { case: 77 }), Ok(()));
        assert_eq!((i.state, i.case_id), (IncidentState::Promoted, Some(77)));
        let before = i.clone();
        assert!(i.apply(Transition::Dismiss).is_err());
        assert_eq!(i, before);
        let mut j = Incident::open(4, &a);
        j.apply(Transition::Merge { into: 3 }).unwrap();
        assert_eq!((j.state, j.merged_into), (IncidentState::Merged, Some(3)));
        assert!(!j.is_joinable());
    }

    #[test]
    fn absorb_keeps_bounded_summaries() {
        let h = |i: usize| format!("{i:064x}");
        let ev: Vec<String> = (0..20).map(h).collect();
        let mut i = Incident::open(1, &alert("cam-0", &ev, Severity::Medium, 118.0, 10));
        i.absorb(&alert("cam-1", &ev[10..], Severity::Low, 118.2, 5));
        let more: Vec<String> = (20..40).map(h).collect();
        i.absorb(&alert("cam-0", &more, Severity::High, 118.1, 20));
        assert_eq!(i.count, 3);
        assert_eq!(i.severity, Severity::High);
        assert_eq!(i.first_seen, alert("x", &[], Severity::Low, 0.0, 5).at);
        assert_eq!(i.last_seen, alert("x", &[], Severity::Low, 0.0, 20).at);
        assert_eq!(i.devices, ["cam-0", "cam-1"]);
        assert_eq!(i.evidence.len(), MAX_EVIDENCE);
        assert_eq!(i.evidence[..20], ev[..]);
        assert!((i.centroid.lon - 118.1).abs() < 1e-9);
        assert_eq!((i.bbox.min_lon, i.bbox.max_lon), (118.0, 118.2));
        i.absorb(&alert("cam-1", &[], Severity::Low, 118.1, 21));
        assert_eq!(i.severity, Severity::High, "never falls");
        let names: Vec<String> = (0..100).map(|n| format!("cam-{n}")).collect();
        for d in &names {
            i.absorb(&alert(d, &[], Severity::Low, 118.1, 22));
        }
        assert_eq!(i.devices.len(), MAX_DEVICES);
        assert!(i.devices_truncated);
        assert_eq!(i.count, 104);
    }
}
