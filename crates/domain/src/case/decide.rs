//! Deciding commands: refuse, or produce the one entry to append.

use chrono::{DateTime, Utc};
use thiserror::Error;

use super::action::{Action, ActionKind};
use super::model::{Case, CaseId, EntryData, Node, Source, TimelineEntry};
use super::state::CaseState;
use crate::calendar::{self, WorkingCalendar};
use crate::category::{Category, CategoryCode, TimeLimit};
use crate::geometry::Point;
use crate::territory::UnitCode;

/// Longest note, reason or description accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 4000;
/// Most attachments one action may cite.
pub const MAX_EVIDENCE: usize = 20;

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum CaseError {
    /// The action is not allowed in the current state.
    #[error("a case in state '{state}' does not accept '{action}'; allowed: {}", list(allowed))]
    Forbidden {
        /// The current state.
        state: CaseState,
        /// The refused action.
        action: ActionKind,
        /// What the state accepts.
        allowed: Vec<ActionKind>,
    },
    /// The action is allowed but its arguments are not acceptable.
    #[error("{action}: {reason}")]
    Invalid {
        /// The action.
        action: ActionKind,
        /// What is wrong.
        reason: String,
    },
    /// A date outside what a client may send: before [`calendar::earliest`]
    /// or past [`calendar::horizon`] of the decision time.
    #[error("{action}: {at} is outside the accepted range {earliest} to {latest}")]
    DateOutOfRange {
        /// The action.
        action: ActionKind,
        /// The refused date.
        at: DateTime<Utc>,
        /// The earliest date accepted.
        earliest: DateTime<Utc>,
        /// The latest date accepted now.
        latest: DateTime<Utc>,
    },
}

fn list(a: &[ActionKind]) -> String {
    if a.is_empty() {
        return "none (the case has ended)".to_owned();
    }
    a.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
}

/// Limits for the two nodes the category table does not cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadlinePolicy {
    /// From report-back to on-site verification.
    pub verify: TimeLimit,
    /// From verification to closing.
    pub close: TimeLimit,
}

impl Default for DeadlinePolicy {
    fn default() -> Self {
        Self {
            verify: TimeLimit { normal_minutes: 240, urgent_minutes: 60 },
            close: TimeLimit { normal_minutes: 60, urgent_minutes: 30 },
        }
    }
}

/// What a decision needs to know besides the case.
#[derive(Debug, Clone, Copy)]
pub struct DecideContext<'a> {
    /// The time of the decision.
    pub now: DateTime<Utc>,
    /// Who acts.
    pub actor: &'a str,
    /// Their role.
    pub actor_role: &'a str,
    /// The working calendar.
    pub calendar: &'a WorkingCalendar,
    /// The case's category, or the new one when registration corrects it.
    pub category: &'a Category,
    /// Verify/close limits.
    pub policy: &'a DeadlinePolicy,
}

impl DecideContext<'_> {
    fn due(&self, limit: TimeLimit, urgent: bool) -> DateTime<Utc> {
        let minutes = if urgent { limit.urgent_minutes } else { limit.normal_minutes };
        self.calendar.deadline(self.now, i64::from(minutes), urgent)
    }
}

/// The facts of a new report.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCase {
    /// Category.
    pub category: CategoryCode,
    /// Urgent or not.
    pub urgent: bool,
    /// Source channel.
    pub source: Source,
    /// Location.
    pub location: Point,
    /// Deepest territory unit at the location.
    pub territory: UnitCode,
    /// What was seen.
    pub description: String,
    /// Address, if any.
    pub address: Option<String>,
    /// Photos taken at the report (attachment hashes).
    pub evidence: Vec<String>,
}

/// Opens a case: the case (with `id`) and its first entry.
pub fn report(id: CaseId, new: NewCase, ctx: &DecideContext<'_>) -> Result<(Case, TimelineEntry), CaseError> {
    let invalid = |reason: &str| CaseError::Invalid { action: ActionKind::Report, reason: reason.to_owned() };
    if new.description.trim().is_empty() {
        return Err(invalid("a description is required"));
    }
    check_text(ActionKind::Report, Some(&new.description))?;
    check_text(ActionKind::Report, new.address.as_deref())?;
    if !ctx.category.active {
        return Err(invalid("the category is not active"));
    }
    let evidence = evidence(ActionKind::Report, &new.evidence, false)?;
    let entry = TimelineEntry {
        seq: 1,
        at: ctx.now,
        actor: ctx.actor.to_owned(),
        actor_role: ctx.actor_role.to_owned(),
        action: ActionKind::Report,
        from: None,
        to: CaseState::Reported,
        note: None,
        evidence,
        node: Some(Node::Register),
        deadline: Some(ctx.due(ctx.category.limits.register, new.urgent)),
        data: EntryData::default(),
    };
    let mut case = Case {
        id,
        state: CaseState::Reported,
        category: new.category,
        urgent: new.urgent,
        source: new.source,
        location: new.location,
        territory: new.territory,
        description: new.description,
        address: new.address,
        reporter: ctx.actor.to_owned(),
        reported_at: ctx.now,
        updated_at: ctx.now,
        department: None,
        assists: vec![],
        node: None,
        deadline: None,
        handle_deadline: None,
        suspended_from: None,
        paused_minutes: None,
        paused_handle_minutes: None,
        merged_into: None,
        rating: None,
        self_handled: false,
        returns: 0,
        reworks: 0,
        extensions: 0,
        closed_at: None,
        version: 0,
    };
    case.apply(&entry);
    Ok((case, entry))
}

fn check_text(action: ActionKind, text: Option<&str>) -> Result<(), CaseError> {
    match text {
        Some(t) if t.chars().count() > MAX_TEXT_CHARS => {
            Err(CaseError::Invalid { action, reason: format!("text longer than {MAX_TEXT_CHARS} characters") })
        }
        _ => Ok(()),
    }
}

/// Refuses a client-supplied date outside [`calendar::within_bounds`], so
/// that no deadline can be pushed to where the calendar loses its meaning.
fn check_date(action: ActionKind, now: DateTime<Utc>, at: DateTime<Utc>) -> Result<(), CaseError> {
    if calendar::within_bounds(now, at) {
        return Ok(());
    }
    Err(CaseError::DateOutOfRange { action, at, earliest: calendar::earliest(), latest: calendar::horizon(now) })
}

fn required(action: ActionKind, what: &str, text: &str) -> Result<String, CaseError> {
    if text.trim().is_empty() {
        return Err(CaseError::Invalid { action, reason: format!("a {what} is required") });
    }
    check_text(action, Some(text))?;
    Ok(text.to_owned())
}

fn evidence(action: ActionKind, ev: &[String], need_one: bool) -> Result<Vec<String>, CaseError> {
    let bad = |reason: String| CaseError::Invalid { action, reason };
    if need_one && ev.is_empty() {
        return Err(bad("at least one piece of evidence (an uploaded attachment's hash) is required".into()));
    }
    if ev.len() > MAX_EVIDENCE {
        return Err(bad(format!("at most {MAX_EVIDENCE} pieces of evidence")));
    }
    if let Some(h) = ev.iter().find(|h| h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Err(bad(format!("evidence {h:?} is not a SHA-256 content hash")));
    }
    Ok(ev.to_vec())
}

/// Decides `action` on `case`: the entry to append, or why not.
///
/// `ctx.category` must be the category the case will have after the action
/// (the corrected one when registration reclassifies it).
pub fn decide(case: &Case, action: &Action, ctx: &DecideContext<'_>) -> Result<TimelineEntry, CaseError> {
    let kind = action.kind();
    let state = case.state;
    if !state.allowed().contains(&kind) {
        return Err(CaseError::Forbidden { state, action: kind, allowed: state.allowed().to_vec() });
    }
    let limits = ctx.category.limits;
    let mut urgent = case.urgent;
    let mut e = TimelineEntry {
        seq: case.version + 1,
        at: ctx.now,
        actor: ctx.actor.to_owned(),
        actor_role: ctx.actor_role.to_owned(),
        action: kind,
        from: Some(state),
        to: state,
        note: None,
        evidence: vec![],
        node: None,
        deadline: None,
        data: EntryData { handle_deadline: case.handle_deadline, ..EntryData::default() },
    };
    match action {
        Action::Register { category, urgent: u, note } => {
            check_text(kind, note.as_deref())?;
            if let Some(c) = category {
                if c != &ctx.category.code {
                    return Err(CaseError::Invalid {
                        action: kind,
                        reason: "the context's category must be the corrected one".into(),
                    });
                }
                if !ctx.category.active {
                    return Err(CaseError::Invalid { action: kind, reason: format!("category {c} is not active") });
                }
            }
            urgent = u.unwrap_or(urgent);
            e.data.category = category.clone();
            e.data.urgent = *u;
            e.note = note.clone();
            e.to = CaseState::Registered;
            e.node = Some(Node::Dispatch);
            e.deadline = Some(ctx.due(limits.dispatch, urgent));
        }
        Action::Reject { reason } => {
            e.note = Some(required(kind, "reason", reason)?);
            e.to = CaseState::Rejected;
        }
        Action::Merge { into, note } => {
            check_text(kind, note.as_deref())?;
            if *into == case.id {
                return Err(CaseError::Invalid { action: kind, reason: "a case cannot be merged into itself".into() });
            }
            e.note = note.clone();
            e.data.merged_into = Some(*into);
            e.to = CaseState::Merged;
        }
        Action::Dispatch { department, assists, note } => {
            check_text(kind, note.as_deref())?;
            let Some(dept) = department.as_ref().filter(|d| !d.trim().is_empty()) else {
                return Err(CaseError::Invalid { action: kind, reason: "a lead department is required".into() });
            };
            if assists.contains(dept) {
                return Err(CaseError::Invalid {
                    action: kind,
                    reason: "the lead department cannot also assist".into(),
                });
            }
            e.note = note.clone();
            e.data.department = Some(dept.clone());
            e.data.assists = assists.clone();
            e.to = CaseState::Dispatched;
            e.node = Some(Node::Acknowledge);
            e.deadline = Some(ctx.due(limits.acknowledge, urgent));
            e.data.handle_deadline = Some(ctx.due(limits.handle, urgent));
        }
        Action::Acknowledge { note } => {
            check_text(kind, note.as_deref())?;
            e.note = note.clone();
            e.to = CaseState::Handling;
            e.node = Some(Node::Handle);
            e.deadline = case.handle_deadline;
        }
        Action::Return { reason } => {
            e.note = Some(required(kind, "reason", reason)?);
            e.to = CaseState::Returned;
            e.node = Some(Node::Dispatch);
            e.deadline = Some(ctx.due(limits.dispatch, urgent));
            e.data.handle_deadline = None;
        }
        Action::Handle { note, evidence: ev } | Action::SelfHandle { note, evidence: ev } => {
            e.note = Some(required(kind, "note of what was done", note)?);
            e.evidence = evidence(kind, ev, true)?;
            e.data.handle_deadline = None;
            if kind == ActionKind::SelfHandle {
                // The grid worker's own before/after photos stand as verification.
                e.to = CaseState::Verified;
                e.node = Some(Node::Close);
                e.deadline = Some(ctx.due(ctx.policy.close, urgent));
            } else {
                e.to = CaseState::Handled;
                e.node = Some(Node::Verify);
                e.deadline = Some(ctx.due(ctx.policy.verify, urgent));
            }
        }
        Action::Verify { passed, note, evidence: ev } => {
            e.evidence = evidence(kind, ev, false)?;
            e.data.passed = Some(*passed);
            if *passed {
                check_text(kind, note.as_deref())?;
                e.note = note.clone();
                e.to = CaseState::Verified;
                e.node = Some(Node::Close);
                e.deadline = Some(ctx.due(ctx.policy.close, urgent));
            } else {
                let why = note.as_deref().unwrap_or("");
                e.note = Some(required(kind, "note saying what is still wrong", why)?);
                e.to = CaseState::Rework;
                let due = ctx.due(limits.handle, urgent);
                e.node = Some(Node::Handle);
                e.deadline = Some(due);
                e.data.handle_deadline = Some(due);
            }
        }
        Action::Close { note } => {
            check_text(kind, note.as_deref())?;
            e.note = note.clone();
            e.to = CaseState::Closed;
        }
        Action::Extend { until, reason } => {
            e.note = Some(required(kind, "reason", reason)?);
            check_date(kind, ctx.now, *until)?;
            let current = case.handle_deadline.unwrap_or(ctx.now);
            if *until <= current || *until <= ctx.now {
                return Err(CaseError::Invalid {
                    action: kind,
                    reason: format!("the new deadline must be later than the current one ({current})"),
                });
            }
            e.data.handle_deadline = Some(*until);
            e.node = case.node;
            e.deadline = if state == CaseState::Dispatched { case.deadline } else { Some(*until) };
        }
        Action::Suspend { reason } => {
            e.note = Some(required(kind, "reason", reason)?);
            e.to = CaseState::Suspended;
            e.node = case.node;
            e.data.paused_minutes = case.deadline.map(|d| ctx.calendar.remaining(ctx.now, d, urgent));
            e.data.paused_handle_minutes = case.handle_deadline.map(|d| ctx.calendar.remaining(ctx.now, d, urgent));
        }
        Action::Resume { note } => {
            check_text(kind, note.as_deref())?;
            e.note = note.clone();
            e.to = case.suspended_from.unwrap_or(CaseState::Reported);
            e.node = case.node;
            let resume = |m: Option<i64>| m.map(|m| ctx.calendar.deadline(ctx.now, m, urgent));
            e.deadline = resume(case.paused_minutes);
            e.data.handle_deadline = resume(case.paused_handle_minutes);
        }
        Action::Void { reason } => {
            e.note = Some(required(kind, "reason", reason)?);
            e.to = CaseState::Voided;
        }
        Action::Evaluate { rating, comment } => {
            check_text(kind, comment.as_deref())?;
            if !(1..=5).contains(rating) {
                return Err(CaseError::Invalid { action: kind, reason: "rating must be 1 to 5".into() });
            }
            e.note = comment.clone();
            e.data.rating = Some(*rating);
            e.to = CaseState::Evaluated;
        }
    }
    if e.to.is_terminal() || e.to == CaseState::Closed {
        e.node = None;
        e.deadline = None;
        e.data.handle_deadline = None;
    }
    Ok(e)
}
