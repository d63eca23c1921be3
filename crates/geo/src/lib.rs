//! CityGrid's spatial layer.
//!
//! - [`wuhu`]: the demo city, Wuhu (芜湖市, 340200): real city and district
//!   boundaries, real township and community codes and names, and a seeded,
//!   deterministic synthetic partition below district level (townships,
//!   communities, unit grids, and micro-grids for one showcase township).
//! - [`index`]: point location — which chain of units (city → … → grid)
//!   contains a point.
//! - [`geojson_io`]: GeoJSON export and import.
//! - [`csv_io`]: CSV import (territory units with WKT boundaries, division lists).
//! - [`validate`](mod@validate): the checks behind `citygrid import` and `citygrid check`;
//!   [`repair`]: reading a file with every check, and the explicit `--repair`.
//! - [`tiles`]: the units in a viewport, simplified for a zoom level with
//!   shared borders simplified once, for the console's map.
//! - [`zones`]: zones in space (the zone index, the Wuhu demo zones) and
//!   [`buffer`]: buffers in metres around lines, points and boundaries.
//!
//! Coordinates are longitude/latitude degrees in whatever datum the data uses
//! (the Wuhu files are GCJ-02). Areas computed here are planar, in square
//! degrees, which is enough for comparing a unit with its parent or siblings.

pub mod buffer;
pub mod csv_io;
pub mod geojson_io;
pub mod index;
mod prepared;
mod record;
pub mod repair;
pub mod tiles;
pub mod validate;
mod voronoi;
pub mod wuhu;
pub mod zones;

use citygrid_domain::Unit;
use geo::MultiPolygon;

pub use csv_io::{import_territory_csv, parse_divisions_csv, parse_territory_csv};
pub use geojson_io::{DEFAULT_VALID_FROM, import_territory_geojson, parse_territory_geojson, to_feature_collection};
pub use index::{Location, TerritoryIndex};
pub use validate::{
    ImportReport, KnownUnits, Problem, ProblemKind, Severity, validate, validate_units, validate_with_known,
};
pub use wuhu::{wuhu_city_outline, wuhu_demo, wuhu_yangtze};
pub use zones::{ZoneIndex, wuhu_demo_zones};

/// A territory unit together with its boundary.
#[derive(Debug, Clone, PartialEq)]
pub struct TerritoryFeature {
    /// The unit (code, name, level, parent, validity, synthetic flag).
    pub unit: Unit,
    /// The unit's boundary, longitude/latitude degrees.
    pub geometry: MultiPolygon<f64>,
}

/// What can go wrong in the spatial layer outside of user-data validation
/// (which reports [`Problem`]s instead).
#[derive(thiserror::Error, Debug, Clone, PartialEq)]
pub enum GeoError {
    /// An embedded data file could not be read.
    #[error("embedded data file {file}: {message}")]
    Data {
        /// The file, relative to `data/wuhu/`.
        file: &'static str,
        /// What was wrong with it.
        message: String,
    },
    /// Two features carry the same code.
    #[error("duplicate unit code {code}: features #{first} and #{second}")]
    DuplicateCode {
        /// The code.
        code: String,
        /// Index of the first feature with it.
        first: usize,
        /// Index of the second feature with it.
        second: usize,
    },
    /// A feature's geometry has no polygon (or only empty rings).
    #[error("unit {code} has an empty geometry")]
    EmptyGeometry {
        /// The unit's code.
        code: String,
    },
    /// A feature's geometry has a NaN or infinite coordinate.
    #[error("unit {code} has a non-finite coordinate")]
    NonFiniteCoordinate {
        /// The unit's code.
        code: String,
    },
    /// A unit's declared parent is not the parent its code implies.
    #[error("unit {code} declares parent {declared}, but its code implies {implied}")]
    ParentMismatch {
        /// The unit's code.
        code: String,
        /// The declared parent.
        declared: String,
        /// The parent implied by the code (empty for a city).
        implied: String,
    },
    /// Generating the synthetic partition failed for a unit.
    #[error("cannot partition unit {code}: {message}")]
    Partition {
        /// The unit being partitioned (or carved).
        code: String,
        /// Why.
        message: String,
    },
}
