//! The case aggregate and its timeline entries.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::action::ActionKind;
use super::state::CaseState;
use crate::category::CategoryCode;
use crate::geometry::Point;
use crate::territory::UnitCode;

/// A case's number, assigned by the store.
pub type CaseId = i64;

/// Where a case came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A grid worker's patrol report (网格员上报).
    GridWorker,
    /// A citizen, through the web or Open311.
    Citizen,
    /// The 12345 hotline.
    Hotline,
    /// An alert promoted from the perception feed.
    Alert,
    /// A township's whistle (吹哨).
    Whistle,
    /// A department reporting a matter itself.
    Department,
}

impl Source {
    /// Every source.
    pub const ALL: [Source; 6] =
        [Source::GridWorker, Source::Citizen, Source::Hotline, Source::Alert, Source::Whistle, Source::Department];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::GridWorker => "grid_worker",
            Source::Citizen => "citizen",
            Source::Hotline => "hotline",
            Source::Alert => "alert",
            Source::Whistle => "whistle",
            Source::Department => "department",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// The node of the loop whose deadline is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Node {
    /// Waiting to be registered.
    Register,
    /// Waiting to be dispatched.
    Dispatch,
    /// Waiting for the department to acknowledge.
    Acknowledge,
    /// Waiting for the department to report back.
    Handle,
    /// Waiting for on-site verification.
    Verify,
    /// Waiting to be closed.
    Close,
}

/// Action-specific facts recorded with an entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EntryData {
    /// The category set at registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<CategoryCode>,
    /// The urgency set at registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urgent: Option<bool>,
    /// The lead department at dispatch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// Assisting departments at dispatch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assists: Vec<String>,
    /// The case this one was merged into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<CaseId>,
    /// Verification outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passed: Option<bool>,
    /// Evaluation rating, 1–5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<u8>,
    /// The handling deadline in force after this entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle_deadline: Option<DateTime<Utc>>,
    /// On suspension: minutes left on the node's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_minutes: Option<i64>,
    /// On suspension: minutes left on the handling clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_handle_minutes: Option<i64>,
}

/// One immutable step on a case's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimelineEntry {
    /// 1-based position on the timeline.
    pub seq: u32,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who did it (a user id, or `system`).
    pub actor: String,
    /// The actor's role at the time.
    pub actor_role: String,
    /// What was done.
    pub action: ActionKind,
    /// State before (`None` for the report).
    pub from: Option<CaseState>,
    /// State after.
    pub to: CaseState,
    /// Free text, reason or comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Content hashes of attachments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    /// The node whose clock runs after this entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<Node>,
    /// That node's deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<Utc>>,
    /// Action-specific facts.
    #[serde(default)]
    pub data: EntryData,
}

/// A case: its reported facts plus the fold of its timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Case {
    /// The case number.
    pub id: CaseId,
    /// Current state.
    pub state: CaseState,
    /// Category (may be corrected at registration).
    pub category: CategoryCode,
    /// Urgent cases run on natural time with urgent limits.
    pub urgent: bool,
    /// Where it came from.
    pub source: Source,
    /// Where it is.
    pub location: Point,
    /// The deepest territory unit containing the location.
    pub territory: UnitCode,
    /// What the reporter saw.
    pub description: String,
    /// Street address, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Who reported it.
    pub reporter: String,
    /// When it was reported.
    pub reported_at: DateTime<Utc>,
    /// When the timeline last changed.
    pub updated_at: DateTime<Utc>,
    /// Lead department while dispatched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// Assisting departments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assists: Vec<String>,
    /// The node whose clock runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<Node>,
    /// That node's deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<Utc>>,
    /// The handling deadline once dispatched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle_deadline: Option<DateTime<Utc>>,
    /// The state a suspended case will resume to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended_from: Option<CaseState>,
    /// Minutes left on the node's clock while suspended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_minutes: Option<i64>,
    /// Minutes left on the handling clock while suspended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_handle_minutes: Option<i64>,
    /// The case this duplicate was merged into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<CaseId>,
    /// Evaluation rating, 1–5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<u8>,
    /// Fixed on the spot by the grid worker.
    pub self_handled: bool,
    /// Times returned by a department.
    pub returns: u32,
    /// Times verification failed.
    pub reworks: u32,
    /// Times the deadline was extended.
    pub extensions: u32,
    /// When it was closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
    /// Number of timeline entries folded in.
    pub version: u32,
}

impl Case {
    /// Folds one entry into the case. Entries must come in `seq` order; the
    /// caller (the store) guarantees it, [`super::decide`] produces them so.
    pub fn apply(&mut self, e: &TimelineEntry) {
        self.state = e.to;
        self.node = e.node;
        self.deadline = e.deadline;
        self.updated_at = e.at;
        self.version = e.seq;
        let d = &e.data;
        if let Some(c) = &d.category {
            self.category = c.clone();
        }
        if let Some(u) = d.urgent {
            self.urgent = u;
        }
        match e.action {
            ActionKind::Dispatch => {
                self.department = d.department.clone();
                self.assists = d.assists.clone();
            }
            ActionKind::Return => {
                self.returns += 1;
                self.department = None;
                self.assists.clear();
            }
            ActionKind::Verify if d.passed == Some(false) => self.reworks += 1,
            ActionKind::Extend => self.extensions += 1,
            ActionKind::SelfHandle => self.self_handled = true,
            ActionKind::Merge => self.merged_into = d.merged_into,
            ActionKind::Evaluate => self.rating = d.rating,
            ActionKind::Close => self.closed_at = Some(e.at),
            _ => {}
        }
        self.suspended_from = if e.to == CaseState::Suspended { e.from } else { None };
        // Every entry restates the handling clock, so the fold needs no history.
        self.handle_deadline = d.handle_deadline;
        self.paused_minutes = d.paused_minutes;
        self.paused_handle_minutes = d.paused_handle_minutes;
    }

    /// Whether the running node's deadline has passed at `now`.
    /// A suspended case's clock is paused, so it is never overdue.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.state.is_open() && self.state != CaseState::Suspended && self.deadline.is_some_and(|d| d < now)
    }
}
