//! The reference data every use case consults, held in memory: the
//! territory tree with its spatial index, the zones, and the catalogue of
//! categories and departments. Loaded from the store at start; replaced
//! whole (never edited in place) when an import or an edit changes it (see
//! [`crate::Core::world`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use citygrid_domain::{Category, CategoryCode, Department, Level, Point, UnitCode};
use citygrid_geo::{Location, TerritoryFeature, TerritoryIndex, ZoneIndex};
use citygrid_store::{StoredUnit, StoredZone};
use geo::{BoundingRect, CoordsIter, InteriorPoint, MultiPolygon};
use parking_lot::Mutex;
use serde::Serialize;

/// Why a boundary cannot be turned into GeoJSON text for storage.
#[derive(Debug, thiserror::Error)]
pub enum GeometryEncodeError {
    /// A coordinate is NaN or infinite: JSON would write it as `null`, and
    /// the stored boundary would never load again.
    #[error("coordinate ({x}, {y}) is not a finite number")]
    NonFinite {
        /// Longitude as held.
        x: f64,
        /// Latitude as held.
        y: f64,
    },
    /// The JSON encoder failed.
    #[error("cannot encode the geometry as GeoJSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Converts a boundary to GeoJSON geometry text for storage.
pub fn geometry_to_json(mp: &MultiPolygon<f64>) -> Result<String, GeometryEncodeError> {
    if let Some(c) = mp.coords_iter().find(|c| !c.x.is_finite() || !c.y.is_finite()) {
        return Err(GeometryEncodeError::NonFinite { x: c.x, y: c.y });
    }
    let g = geojson::Geometry::from(mp);
    Ok(serde_json::to_string(&g)?)
}

/// Parses stored GeoJSON geometry text (Polygon or MultiPolygon).
pub fn geometry_from_json(text: &str) -> Result<MultiPolygon<f64>, String> {
    let g: geojson::Geometry = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let g: geo::Geometry<f64> = g.try_into().map_err(|e: geojson::Error| e.to_string())?;
    match g {
        geo::Geometry::Polygon(p) => Ok(MultiPolygon(vec![p])),
        geo::Geometry::MultiPolygon(mp) => Ok(mp),
        _ => Err("boundary must be a Polygon or MultiPolygon".into()),
    }
}

/// A unit as the API shows it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnitView {
    /// Code.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub code: UnitCode,
    /// Name.
    pub name: String,
    /// Level.
    pub level: Level,
    /// Parent's code.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub parent: Option<UnitCode>,
    /// Whether the boundary is generated (demo data below district level).
    pub synthetic: bool,
    /// Number of direct children.
    pub children: usize,
    /// `[min_lon, min_lat, max_lon, max_lat]`.
    pub bbox: Option<[f64; 4]>,
    /// A point guaranteed inside the unit, for labels.
    pub label_point: Option<[f64; 2]>,
}

/// A unit whose boundary cannot be stored.
#[derive(Debug, thiserror::Error)]
#[error("unit {code}: {source}")]
pub struct UnitEncodeError {
    /// The unit's code.
    pub code: UnitCode,
    /// What is wrong with its boundary.
    #[source]
    pub source: GeometryEncodeError,
}

/// A unit as the store keeps it.
pub fn stored_unit(f: &TerritoryFeature) -> Result<StoredUnit, UnitEncodeError> {
    let geometry =
        geometry_to_json(&f.geometry).map_err(|source| UnitEncodeError { code: f.unit.code.clone(), source })?;
    Ok(StoredUnit { unit: f.unit.clone(), geometry })
}

/// Stored units with their boundaries parsed.
pub fn features_from_stored(units: Vec<StoredUnit>) -> Result<Vec<TerritoryFeature>, String> {
    units
        .into_iter()
        .map(|s| {
            let geometry = geometry_from_json(&s.geometry).map_err(|e| format!("stored unit {}: {e}", s.unit.code))?;
            Ok(TerritoryFeature { unit: s.unit, geometry })
        })
        .collect()
}

/// The territory tree, its boundaries and its index.
pub struct Territory {
    features: Vec<TerritoryFeature>,
    by_code: HashMap<UnitCode, usize>,
    children: HashMap<UnitCode, Vec<usize>>,
    index: TerritoryIndex,
    geojson_cache: Mutex<HashMap<String, Arc<String>>>,
    /// Simplified layers for the map console; replaced with the territory.
    tiles: crate::tiles::TileCache,
}

impl Territory {
    /// Builds the tree and index from stored units.
    pub fn from_stored(units: Vec<StoredUnit>) -> Result<Territory, String> {
        Territory::new(features_from_stored(units)?)
    }

    /// Builds the tree and index from features.
    pub fn new(mut features: Vec<TerritoryFeature>) -> Result<Territory, String> {
        features.sort_by(|a, b| a.unit.code.cmp(&b.unit.code));
        let index = TerritoryIndex::build(&features).map_err(|e| e.to_string())?;
        let by_code: HashMap<UnitCode, usize> =
            features.iter().enumerate().map(|(i, f)| (f.unit.code.clone(), i)).collect();
        let mut children: HashMap<UnitCode, Vec<usize>> = HashMap::new();
        for (i, f) in features.iter().enumerate() {
            if let Some(p) = &f.unit.parent {
                children.entry(p.clone()).or_default().push(i);
            }
        }
        Ok(Territory {
            features,
            by_code,
            children,
            index,
            geojson_cache: Mutex::new(HashMap::new()),
            tiles: Default::default(),
        })
    }

    /// Every unit with its boundary, by code.
    pub fn features(&self) -> &[TerritoryFeature] {
        &self.features
    }

    /// The cache of simplified layers for a map console (the server's
    /// `GET /api/v1/territory/tiles`).
    pub fn tiles(&self) -> &crate::tiles::TileCache {
        &self.tiles
    }

    /// Number of units.
    pub fn len(&self) -> usize {
        self.features.len()
    }

    /// Whether there are no units.
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    /// One unit.
    pub fn get(&self, code: &UnitCode) -> Option<&TerritoryFeature> {
        self.by_code.get(code).map(|&i| &self.features[i])
    }

    /// The root units (those without a parent in the set).
    pub fn roots(&self) -> Vec<&TerritoryFeature> {
        self.features.iter().filter(|f| f.unit.parent.as_ref().is_none_or(|p| !self.by_code.contains_key(p))).collect()
    }

    /// A unit's direct children, by code.
    pub fn children(&self, code: &UnitCode) -> Vec<&TerritoryFeature> {
        self.children.get(code).map(|v| v.iter().map(|&i| &self.features[i]).collect()).unwrap_or_default()
    }

    /// Every unit of a level.
    pub fn level(&self, level: Level) -> Vec<&TerritoryFeature> {
        self.features.iter().filter(|f| f.unit.level == level).collect()
    }

    /// Counts per level.
    pub fn counts(&self) -> BTreeMap<Level, usize> {
        let mut m = BTreeMap::new();
        for f in &self.features {
            *m.entry(f.unit.level).or_insert(0) += 1;
        }
        m
    }

    /// The chain of units containing a point.
    pub fn locate(&self, p: Point) -> Option<Location> {
        self.index.locate(p)
    }

    /// The point-location index, for bulk location without allocating
    /// (see [`TerritoryIndex::locate_chain`]).
    pub fn index(&self) -> &TerritoryIndex {
        &self.index
    }

    /// The API view of a unit.
    pub fn view(&self, f: &TerritoryFeature) -> UnitView {
        let bbox = f.geometry.bounding_rect().map(|r| [r.min().x, r.min().y, r.max().x, r.max().y]);
        let label_point = f.geometry.interior_point().map(|p| [p.x(), p.y()]);
        UnitView {
            code: f.unit.code.clone(),
            name: f.unit.name.clone(),
            level: f.unit.level,
            parent: f.unit.parent.clone(),
            synthetic: f.unit.synthetic,
            children: self.children.get(&f.unit.code).map_or(0, Vec::len),
            bbox,
            label_point,
        }
    }

    /// A FeatureCollection, serialised once per key and cached: boundaries
    /// only change by replacing the whole territory.
    pub fn geojson<'a>(&'a self, key: &str, features: impl FnOnce() -> Vec<&'a TerritoryFeature>) -> Arc<String> {
        if let Some(hit) = self.geojson_cache.lock().get(key) {
            return Arc::clone(hit);
        }
        let fc = citygrid_geo::to_feature_collection(&features());
        let text = Arc::new(fc.to_string());
        self.geojson_cache.lock().insert(key.to_owned(), Arc::clone(&text));
        text
    }
}

/// Categories and departments.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// By code.
    pub categories: BTreeMap<CategoryCode, Category>,
    /// All departments, by code.
    pub departments: BTreeMap<String, Department>,
}

impl Catalog {
    /// A catalogue from lists.
    pub fn new(categories: Vec<Category>, departments: Vec<Department>) -> Catalog {
        Catalog {
            categories: categories.into_iter().map(|c| (c.code.clone(), c)).collect(),
            departments: departments.into_iter().map(|d| (d.code.clone(), d)).collect(),
        }
    }

    /// The department that handles `category` at `territory` by default.
    pub fn default_department(&self, category: &Category, territory: &UnitCode) -> Option<&Department> {
        citygrid_domain::department::default_department(self.departments.values(), &category.department_type, territory)
    }
}

/// Builds the zone index from stored zones.
pub fn zones_from_stored(zones: Vec<StoredZone>) -> Result<ZoneIndex, String> {
    let mut list = Vec::with_capacity(zones.len());
    for s in zones {
        let geometry = geometry_from_json(&s.geometry).map_err(|e| format!("zone {}: {e}", s.zone.id))?;
        list.push((s.zone, geometry));
    }
    Ok(ZoneIndex::build(list))
}

/// The reference data, each part swapped atomically.
#[derive(Clone)]
pub struct World {
    /// The territory.
    pub territory: Arc<Territory>,
    /// The catalogue.
    pub catalog: Arc<Catalog>,
    /// The zones (geofences) and their index.
    pub zones: Arc<ZoneIndex>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use citygrid_domain::Unit;
    use geo::polygon;

    fn square(corner: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![polygon![
            (x: corner, y: 31.0), (x: 118.5, y: 31.0), (x: 118.5, y: 31.5), (x: corner, y: 31.5), (x: corner, y: 31.0)
        ]])
    }

    #[test]
    fn a_boundary_round_trips_through_its_stored_text() {
        let text = geometry_to_json(&square(118.0)).unwrap();
        assert_eq!(geometry_from_json(&text).unwrap(), square(118.0));
    }

    #[test]
    fn a_non_finite_coordinate_is_refused_not_stored_as_null() {
        for bad in [f64::NAN, f64::INFINITY] {
            match geometry_to_json(&square(bad)) {
                Err(GeometryEncodeError::NonFinite { y, .. }) => assert_eq!(y, 31.0),
                other => panic!("expected NonFinite, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_unit_that_cannot_be_stored_is_named_in_the_error() {
        let code = UnitCode::parse("340202").unwrap();
        let unit = Unit::new(code.clone(), "Jinghu", NaiveDate::from_ymd_opt(2020, 1, 1).unwrap());
        let f = TerritoryFeature { unit, geometry: square(f64::NAN) };
        let e = stored_unit(&f).unwrap_err();
        assert_eq!(e.code, code);
        assert!(e.to_string().contains("340202"), "{e}");
        let ok = TerritoryFeature { geometry: square(118.0), ..f };
        assert_eq!(geometry_from_json(&stored_unit(&ok).unwrap().geometry).unwrap(), square(118.0));
    }
}
