//! The states of a case and which actions each allows.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::action::ActionKind;

/// Where a case stands in the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// Reported (上报), waiting to be registered.
    Reported,
    /// Registered (立案), waiting for dispatch.
    Registered,
    /// Dispatched (派遣) to a department, waiting for acknowledgement.
    Dispatched,
    /// Acknowledged (签收) and being handled by the department.
    Handling,
    /// The department reported back (处置反馈); waiting for verification.
    Handled,
    /// Verified (核查通过) on site; waiting to be closed.
    Verified,
    /// Closed (结案); may still be evaluated.
    Closed,
    /// Evaluated (评价) after closing. Terminal.
    Evaluated,
    /// Returned by the department (回退), waiting for re-dispatch.
    Returned,
    /// Verification failed (返工); back with the department.
    Rework,
    /// Suspended (挂账/缓办); the clock is paused.
    Suspended,
    /// Rejected at registration (不予立案). Terminal.
    Rejected,
    /// Merged into another case as a duplicate. Terminal.
    Merged,
    /// Voided (作废). Terminal.
    Voided,
}

impl CaseState {
    /// Every state.
    pub const ALL: [CaseState; 14] = [
        CaseState::Reported,
        CaseState::Registered,
        CaseState::Dispatched,
        CaseState::Handling,
        CaseState::Handled,
        CaseState::Verified,
        CaseState::Closed,
        CaseState::Evaluated,
        CaseState::Returned,
        CaseState::Rework,
        CaseState::Suspended,
        CaseState::Rejected,
        CaseState::Merged,
        CaseState::Voided,
    ];

    /// The snake_case name used in APIs and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::Reported => "reported",
            CaseState::Registered => "registered",
            CaseState::Dispatched => "dispatched",
            CaseState::Handling => "handling",
            CaseState::Handled => "handled",
            CaseState::Verified => "verified",
            CaseState::Closed => "closed",
            CaseState::Evaluated => "evaluated",
            CaseState::Returned => "returned",
            CaseState::Rework => "rework",
            CaseState::Suspended => "suspended",
            CaseState::Rejected => "rejected",
            CaseState::Merged => "merged",
            CaseState::Voided => "voided",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Option<CaseState> {
        CaseState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// No action is possible any more.
    pub fn is_terminal(self) -> bool {
        matches!(self, CaseState::Evaluated | CaseState::Rejected | CaseState::Merged | CaseState::Voided)
    }

    /// Still being worked on: not closed and not ended otherwise.
    pub fn is_open(self) -> bool {
        !self.is_terminal() && self != CaseState::Closed
    }

    /// The actions a case in this state accepts.
    pub fn allowed(self) -> &'static [ActionKind] {
        use ActionKind as A;
        match self {
            CaseState::Reported => &[A::Register, A::Reject, A::Merge, A::SelfHandle, A::Suspend, A::Void],
            CaseState::Registered => &[A::Dispatch, A::Merge, A::Suspend, A::Void],
            CaseState::Dispatched => &[A::Acknowledge, A::Return, A::Extend, A::Suspend, A::Void],
            CaseState::Handling => &[A::Handle, A::Return, A::Extend, A::Suspend, A::Void],
            CaseState::Handled => &[A::Verify, A::Suspend, A::Void],
            CaseState::Verified => &[A::Close, A::Void],
            CaseState::Closed => &[A::Evaluate],
            CaseState::Returned => &[A::Dispatch, A::Suspend, A::Void],
            CaseState::Rework => &[A::Handle, A::Extend, A::Suspend, A::Void],
            CaseState::Suspended => &[A::Resume, A::Void],
            CaseState::Evaluated | CaseState::Rejected | CaseState::Merged | CaseState::Voided => &[],
        }
    }
}

impl fmt::Display for CaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
