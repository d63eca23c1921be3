//! "Smart eyes" (慧眼): what cameras, radars, water stations and
//! checkpoints along the Yangtze report, and how it becomes a short queue
//! of incidents.
//!
//! The pipeline, each step pure:
//! 1. a [`Detection`] arrives from any source and is checked
//!    ([`Detection::validate`]);
//! 2. a [`RuleSet`] turns it into alerts ([`RuleSet::evaluate`], with the
//!    zone kinds at its point and a [`PersistenceTracker`]); water samples
//!    and silent devices raise alerts directly ([`water_alert`], [`silent`]);
//! 3. a [`Grouper`] joins each [`Alert`] to an [`Incident`] of its type
//!    nearby in space and time, across devices, or opens one;
//! 4. reviewers move incidents through their states ([`Transition`]).

mod alert;
mod detection;
mod grouping;
mod incident;
mod persistence;
mod rule;
mod sensor;

pub use alert::{Alert, AlertType, Severity};
pub use detection::{
    DEVICE_ID_LEN, Detection, DetectionError, Field, MAX_AGE_DAYS, MAX_ATTRIBUTE_BYTES, MAX_ATTRIBUTE_KEYS,
    MAX_EVIDENCE as MAX_DETECTION_EVIDENCE, MAX_FUTURE_SECS, MAX_LABEL_LEN, MAX_SOURCE_ID_CHARS, valid_device_id,
    valid_label,
};
pub use grouping::{Grouped, Grouper, GroupingConfig, GroupingError, GroupingParams, MAX_QUIET_MINUTES, MAX_RADIUS_M};
pub use incident::{
    Incident, IncidentError, IncidentId, IncidentState, MAX_DEVICES, MAX_EVIDENCE as MAX_INCIDENT_EVIDENCE, Transition,
    next_state,
};
pub use persistence::{PersistenceTracker, TrackerConfig};
pub use rule::{
    MAX_LABELS, MAX_PERSISTENCE_MINUTES, MAX_RULE_ID_LEN, MAX_RULES, Persistence, Rule, RuleError, RuleSet,
};
pub use sensor::{JUMP_CLASSES, silent, water_alert};
