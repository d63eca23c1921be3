//! Smart eyes (慧眼): detections in, incidents out, cases from incidents.
//!
//! | use case | file |
//! |---|---|
//! | take a batch of detections from any source | [`intake`] ([`Intake::submit`]) |
//! | list, read, confirm, dismiss, merge, promote incidents; false-positive rates | [`review`] |
//! | the rules, tracker and grouper behind the intake lock | [`state`] |
//!
//! The domain decides (`citygrid_domain::eyes`: validation, rules,
//! grouping, incident states); the store keeps (`citygrid_store::EyesStore`);
//! this module runs the steps in order and keeps the in-memory grouper in
//! step with what is stored.

pub mod intake;
pub mod review;
pub mod state;

pub use intake::{Intake, IntakeSource, ItemOutcome, ItemStatus};
pub use review::{IncidentDetail, Promoted, Review};
pub use state::{Eyes, INTAKE_QUEUE, SEEDED_RULES};
