//! CityGrid's domain: the words and rules of city grid governance, with no I/O
//! and no async, so that every rule can be tested by itself.
//!
//! - [`territory`]: the division tree and its codes (GB/T 2260, GB/T 10114,
//!   statistical codes, grid and micro-grid codes).
//! - [`category`]: the two-level event/component taxonomy and its time limits.
//! - [`calendar`]: the working calendar that deadlines run on.
//! - [`case`]: the closed case loop of GB/T 30428: actions, states, timeline.
//! - [`department`]: departments and how a default one is chosen.
//! - [`access`]: roles, scopes and the one authorization policy.
//! - [`personal`]: personal-data validation and masking.
//! - [`audit`]: the hash-chained audit trail.
//! - [`geometry`]: the few plain geometric values the domain needs.
//! - [`zone`]: geofences (prevention rings, river zones) and when they apply.
//! - [`water`]: GB 3838-2002 surface-water classes of HJ 212 readings.
//! - [`eyes`]: "smart eyes" (慧眼): detections, rules, alerts and their grouping into incidents.
//! - [`device`]: the kinds of device; [`reading`]: the series a station reading belongs to.
//! - `schema` (feature `openapi`): helpers declaring the validated values'
//!   constraints in the OpenAPI document.

pub mod access;
pub mod audit;
pub mod calendar;
pub mod case;
pub mod category;
pub mod department;
pub mod device;
pub mod eyes;
pub mod geometry;
pub mod personal;
pub mod rate;
pub mod reading;
#[cfg(feature = "openapi")]
pub mod schema;
pub mod territory;
pub mod water;
pub mod zone;

pub use calendar::WorkingCalendar;
pub use category::{Category, CategoryCode, CategoryKind, TimeLimit, TimeLimits};
pub use department::Department;
pub use device::DeviceKind;
pub use geometry::{BBox, Point};
pub use reading::ReadingKind;
pub use territory::{Level, Unit, UnitCode};
pub use zone::{Schedule, WaterClass, Zone, ZoneKind};
