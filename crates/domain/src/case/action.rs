//! What can be done to a case, one action per call.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::model::CaseId;
use crate::category::CategoryCode;

/// The name of an action, as recorded on the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// The report that opened the case (上报).
    Report,
    /// Register the case (立案).
    Register,
    /// Refuse to register it (不予立案).
    Reject,
    /// Merge it into another case as a duplicate.
    Merge,
    /// Dispatch it to a department (派遣), or re-dispatch after a return.
    Dispatch,
    /// The department acknowledges receipt (签收).
    Acknowledge,
    /// The department returns it with a reason (回退).
    Return,
    /// The department reports back with evidence (处置反馈).
    Handle,
    /// The grid worker fixed it on the spot (自行处置).
    SelfHandle,
    /// On-site verification (核查): pass or fail.
    Verify,
    /// Close the case (结案).
    Close,
    /// Extend the handling deadline (延期), approved.
    Extend,
    /// Suspend it, pausing the clock (挂账/缓办), approved.
    Suspend,
    /// Resume a suspended case.
    Resume,
    /// Void it (作废), approved.
    Void,
    /// The reporter's or public's evaluation (评价) of a closed case.
    Evaluate,
}

impl ActionKind {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Report => "report",
            ActionKind::Register => "register",
            ActionKind::Reject => "reject",
            ActionKind::Merge => "merge",
            ActionKind::Dispatch => "dispatch",
            ActionKind::Acknowledge => "acknowledge",
            ActionKind::Return => "return",
            ActionKind::Handle => "handle",
            ActionKind::SelfHandle => "self_handle",
            ActionKind::Verify => "verify",
            ActionKind::Close => "close",
            ActionKind::Extend => "extend",
            ActionKind::Suspend => "suspend",
            ActionKind::Resume => "resume",
            ActionKind::Void => "void",
            ActionKind::Evaluate => "evaluate",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Option<ActionKind> {
        use ActionKind as A;
        [
            A::Report,
            A::Register,
            A::Reject,
            A::Merge,
            A::Dispatch,
            A::Acknowledge,
            A::Return,
            A::Handle,
            A::SelfHandle,
            A::Verify,
            A::Close,
            A::Extend,
            A::Suspend,
            A::Resume,
            A::Void,
            A::Evaluate,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One action on an existing case with its arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Register; may correct the category and urgency.
    Register {
        /// A corrected category.
        #[serde(default)]
        category: Option<CategoryCode>,
        /// Corrected urgency.
        #[serde(default)]
        urgent: Option<bool>,
        /// Free text.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::schema::Text>))]
        note: Option<String>,
    },
    /// Refuse registration; a reason is required.
    Reject {
        /// Why.
        #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::RequiredText))]
        reason: String,
    },
    /// Merge into an open case reporting the same matter.
    Merge {
        /// The case that stays.
        #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 1))]
        into: CaseId,
        /// Free text.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::schema::Text>))]
        note: Option<String>,
    },
    /// Dispatch to a lead department, with optional assisting ones. Without a
    /// department the server picks the category's default for the territory.
    Dispatch {
        /// The lead department's code.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::schema::DepartmentCode>))]
        department: Option<String>,
        /// Assisting departments' codes.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::schema::DepartmentCode>, example = json!(["D340200-EE"])))]
        assists: Vec<String>,
        /// Free text.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::schema::Text>))]
        note: Option<String>,
    },
    /// Acknowledge receipt.
    Acknowledge {
        /// Free text.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::schema::Text>))]
        note: Option<String>,
    },
    /// Return to the centre; a reason is required.
    Return {
        /// Why the department cannot take it.
        #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::RequiredText))]
        reason: String,
    },
    /// Report back with evidence (photos' content hashes).
    Handle {
        /// What was done.
        #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::RequiredText))]
        note: String,
        /// Hashes of uploaded attachments; at least one.
        #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::RequiredEvidence))]
        evidence: Vec<String>,
    },
    /// Fixed on the spot by the grid worker, with evidence.
    SelfHandle {
        /// What was done.
        #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::RequiredText))]
        note: String,
        /// Hashes of uploaded attachments; at least one.
        #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::RequiredEvidence))]
        evidence: Vec<String>,
    },
    /// Verify on site: pass closes the way to closing, fail sends it back.
    Verify {
        /// Whether the matter is really resolved.
        passed: bool,
        /// Required when failing.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::schema::Text>))]
        note: Option<String>,
        /// Photos taken at verification.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Evidence))]
        evidence: Vec<String>,
    },
    /// Close a verified case.
    Close {
        /// Free text.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::schema::Text>))]
        note: Option<String>,
    },
    /// Approve a new handling deadline.
    Extend {
        /// The new deadline: later than the current one and than now, and at
        /// most [`crate::calendar::HORIZON_YEARS`] years ahead.
        until: DateTime<Utc>,
        /// Why.
        #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::RequiredText))]
        reason: String,
    },
    /// Suspend; the clock pauses until resumed.
    Suspend {
        /// Why.
        #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::RequiredText))]
        reason: String,
    },
    /// Resume a suspended case where it stood.
    Resume {
        /// Free text.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::schema::Text>))]
        note: Option<String>,
    },
    /// Void the case.
    Void {
        /// Why.
        #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::RequiredText))]
        reason: String,
    },
    /// Rate a closed case from 1 (very dissatisfied) to 5 (very satisfied).
    Evaluate {
        /// 1–5.
        #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 5))]
        rating: u8,
        /// Free text.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::schema::Text>))]
        comment: Option<String>,
    },
}

impl Action {
    /// The action's name.
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::Register { .. } => ActionKind::Register,
            Action::Reject { .. } => ActionKind::Reject,
            Action::Merge { .. } => ActionKind::Merge,
            Action::Dispatch { .. } => ActionKind::Dispatch,
            Action::Acknowledge { .. } => ActionKind::Acknowledge,
            Action::Return { .. } => ActionKind::Return,
            Action::Handle { .. } => ActionKind::Handle,
            Action::SelfHandle { .. } => ActionKind::SelfHandle,
            Action::Verify { .. } => ActionKind::Verify,
            Action::Close { .. } => ActionKind::Close,
            Action::Extend { .. } => ActionKind::Extend,
            Action::Suspend { .. } => ActionKind::Suspend,
            Action::Resume { .. } => ActionKind::Resume,
            Action::Void { .. } => ActionKind::Void,
            Action::Evaluate { .. } => ActionKind::Evaluate,
        }
    }

    /// The attachment hashes the action cites.
    pub fn evidence(&self) -> &[String] {
        match self {
            Action::Handle { evidence, .. } | Action::SelfHandle { evidence, .. } | Action::Verify { evidence, .. } => {
                evidence
            }
            _ => &[],
        }
    }
}
