//! Plain geometric values: a WGS-84/GCJ-02 point and a bounding box.

use serde::{Deserialize, Serialize};

/// Mean Earth radius in metres, used for distances at city scale.
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Smallest longitude accepted, in degrees.
pub const MIN_LON: f64 = -180.0;
/// Largest longitude accepted, in degrees.
pub const MAX_LON: f64 = 180.0;
/// Smallest latitude accepted, in degrees.
pub const MIN_LAT: f64 = -90.0;
/// Largest latitude accepted, in degrees.
pub const MAX_LAT: f64 = 90.0;

/// A longitude/latitude pair in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Point {
    /// Longitude in degrees east.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Longitude))]
    pub lon: f64,
    /// Latitude in degrees north.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Latitude))]
    pub lat: f64,
}

impl Point {
    /// A point, if both coordinates are finite and within the globe.
    pub fn new(lon: f64, lat: f64) -> Option<Self> {
        let ok = (MIN_LON..=MAX_LON).contains(&lon) && (MIN_LAT..=MAX_LAT).contains(&lat);
        ok.then_some(Self { lon, lat })
    }

    /// Great-circle distance in metres (haversine).
    pub fn distance_m(&self, other: &Point) -> f64 {
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = p2 - p1;
        let dl = (other.lon - self.lon).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_M * a.sqrt().asin()
    }

    /// The box of all points within `radius_m` metres (a slight over-estimate).
    pub fn bbox_around(&self, radius_m: f64) -> BBox {
        let dlat = (radius_m / EARTH_RADIUS_M).to_degrees();
        let cos = self.lat.to_radians().cos().max(1e-6);
        let dlon = dlat / cos;
        BBox { min_lon: self.lon - dlon, min_lat: self.lat - dlat, max_lon: self.lon + dlon, max_lat: self.lat + dlat }
    }
}

/// An axis-aligned box in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BBox {
    /// West edge.
    pub min_lon: f64,
    /// South edge.
    pub min_lat: f64,
    /// East edge.
    pub max_lon: f64,
    /// North edge.
    pub max_lat: f64,
}

/// A longitude in [`MIN_LON`]..=[`MAX_LON`] as decimal text.
macro_rules! lon_text {
    () => {
        r"-?(?:180(?:\.0+)?|(?:1[0-7][0-9]|[1-9]?[0-9])(?:\.[0-9]+)?)"
    };
}

/// A latitude in [`MIN_LAT`]..=[`MAX_LAT`] as decimal text.
macro_rules! lat_text {
    () => {
        r"-?(?:90(?:\.0+)?|[1-8]?[0-9](?:\.[0-9]+)?)"
    };
}

impl BBox {
    /// `min_lon,min_lat,max_lon,max_lat` with each number in range, as
    /// [`BBox::parse`] accepts it (which also needs min ≤ max, and takes
    /// other number forms and spaces too).
    pub const PATTERN: &str = concat!("^", lon_text!(), ",", lat_text!(), ",", lon_text!(), ",", lat_text!(), "$");

    /// Parses `min_lon,min_lat,max_lon,max_lat`.
    pub fn parse(s: &str) -> Option<Self> {
        let v: Vec<f64> = s.split(',').map(|p| p.trim().parse::<f64>()).collect::<Result<_, _>>().ok()?;
        let [min_lon, min_lat, max_lon, max_lat] = v.as_slice() else {
            return None;
        };
        let b = BBox { min_lon: *min_lon, min_lat: *min_lat, max_lon: *max_lon, max_lat: *max_lat };
        (Point::new(b.min_lon, b.min_lat).is_some()
            && Point::new(b.max_lon, b.max_lat).is_some()
            && b.min_lon <= b.max_lon
            && b.min_lat <= b.max_lat)
            .then_some(b)
    }

    /// Whether the box contains the point (edges included).
    pub fn contains(&self, p: &Point) -> bool {
        (self.min_lon..=self.max_lon).contains(&p.lon) && (self.min_lat..=self.max_lat).contains(&p.lat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_of_one_degree_of_latitude_is_about_111_km() {
        let a = Point { lon: 118.4, lat: 31.0 };
        let b = Point { lon: 118.4, lat: 32.0 };
        let d = a.distance_m(&b);
        assert!((d - 111_195.0).abs() < 200.0, "{d}");
    }

    #[test]
    fn bbox_around_contains_the_circle() {
        let c = Point { lon: 118.38, lat: 31.33 };
        let b = c.bbox_around(500.0);
        let east = Point { lon: b.max_lon, lat: c.lat };
        assert!(c.distance_m(&east) >= 499.0);
    }

    #[test]
    fn bbox_parse_rejects_inverted_and_garbage() {
        assert!(BBox::parse("118,31,119,32").is_some());
        assert!(regex::Regex::new(BBox::PATTERN).unwrap().is_match("-180,-90.0,180.000,90"));
        assert!(BBox::parse("119,31,118,32").is_none());
        assert!(BBox::parse("a,b,c,d").is_none());
        assert!(BBox::parse("1,2,3").is_none());
        assert!(BBox::parse("0,0,200,1").is_none());
    }

    proptest::proptest! {
        /// Every box the pattern allows parses, once its corners are in order.
        #[test]
        fn the_bbox_pattern_only_allows_boxes(s in "-?(180|1[0-7][0-9]|[0-9]{1,3})(\\.[0-9]{1,3})?,-?(90|[0-9]{1,2})(\\.[0-9]{1,3})?") {
            let re = regex::Regex::new(BBox::PATTERN).unwrap();
            let b = format!("{s},{s}");
            proptest::prop_assert!(!re.is_match(&b) || BBox::parse(&b).is_some(), "{}", b);
        }
    }

    #[test]
    fn point_rejects_non_finite() {
        assert!(Point::new(f64::NAN, 1.0).is_none());
        assert!(Point::new(181.0, 1.0).is_none());
    }
}
