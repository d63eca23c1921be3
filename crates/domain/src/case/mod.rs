//! The closed case loop (GB/T 30428, CJ/T 315): report → register → dispatch
//! → handle → report back → verify → close → evaluate, with its side paths.
//!
//! A case is event-sourced: every change is an immutable [`TimelineEntry`],
//! and [`Case`] is the fold of its entries ([`Case::apply`]). Commands are
//! decided against the current case by [`decide`], which either refuses them
//! with a [`CaseError`] naming the state and the allowed actions, or yields
//! the one entry to append. Deadlines are computed when an entry is decided
//! and recorded in it, so replaying a timeline never depends on today's
//! calendar or category settings.

mod action;
mod decide;
mod model;
mod state;

pub use action::{Action, ActionKind};
pub use decide::{CaseError, DeadlinePolicy, DecideContext, NewCase, decide, report};
pub use decide::{MAX_EVIDENCE, MAX_TEXT_CHARS};
pub use model::{Case, CaseId, EntryData, Node, Source, TimelineEntry};
pub use state::CaseState;

#[cfg(test)]
mod tests;
