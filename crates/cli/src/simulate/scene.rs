//! Where simulated devices stand: inside the demo's own river and ring
//! zones, read from the running server (`GET /api/v1/zones/geojson`).

use geo::{BoundingRect, Contains, LineString, MultiPolygon, Point, Polygon};
use rand::Rng;
use serde_json::Value;

/// A simulated device's place.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    /// Device id.
    pub id: String,
    /// Device kind (`camera`, `radar`, `checkpoint`, `water_station`).
    pub kind: &'static str,
    /// The kind of zone it watches.
    pub zone_kind: String,
    /// The zone it watches.
    pub zone: String,
    /// Longitude.
    pub lon: f64,
    /// Latitude.
    pub lat: f64,
}

/// A zone as read from the server.
#[derive(Debug, Clone)]
pub struct SceneZone {
    /// Id.
    pub id: String,
    /// Kind.
    pub kind: String,
    /// Area.
    pub area: MultiPolygon<f64>,
}

fn ring(v: &Value) -> Option<LineString<f64>> {
    let pts: Option<Vec<(f64, f64)>> =
        v.as_array()?.iter().map(|p| Some((p.get(0)?.as_f64()?, p.get(1)?.as_f64()?))).collect();
    Some(LineString::from(pts?))
}

fn polygon(v: &Value) -> Option<Polygon<f64>> {
    let rings = v.as_array()?;
    let exterior = ring(rings.first()?)?;
    let interiors = rings.iter().skip(1).filter_map(ring).collect();
    Some(Polygon::new(exterior, interiors))
}

/// The zones of a GeoJSON FeatureCollection with `properties.id` and
/// `properties.kind`; features it cannot read are skipped.
pub fn zones(collection: &Value) -> Vec<SceneZone> {
    let Some(features) = collection["features"].as_array() else { return vec![] };
    features
        .iter()
        .filter_map(|f| {
            let g = &f["geometry"];
            let area = match g["type"].as_str()? {
                "Polygon" => MultiPolygon(vec![polygon(&g["coordinates"])?]),
                "MultiPolygon" => MultiPolygon(g["coordinates"].as_array()?.iter().filter_map(polygon).collect()),
                _ => return None,
            };
            Some(SceneZone {
                id: f["properties"]["id"].as_str()?.to_owned(),
                kind: f["properties"]["kind"].as_str()?.to_owned(),
                area,
            })
        })
        .collect()
}

/// A random point inside `zone`, if one is found in a few hundred tries.
pub fn point_in<R: Rng>(rng: &mut R, zone: &SceneZone) -> Option<(f64, f64)> {
    let b = zone.area.bounding_rect()?;
    (0..500).find_map(|_| {
        let p = Point::new(rng.random_range(b.min().x..=b.max().x), rng.random_range(b.min().y..=b.max().y));
        zone.area.contains(&p).then_some((p.x(), p.y()))
    })
}

/// How many devices of which kind go into zones of each kind.
const PLAN: &[(&str, &str, usize)] = &[
    ("fishing_ban_water", "camera", 6),
    ("no_sand_mining", "radar", 2),
    ("shoreline", "camera", 3),
    ("ring_city", "checkpoint", 2),
    ("key_area", "checkpoint", 1),
    ("water_section", "water_station", 3),
];

/// Places the simulated devices: a few per zone kind, in the first zones of
/// that kind, ids `<prefix>-<kind>-<n>`.
pub fn place<R: Rng>(rng: &mut R, zones: &[SceneZone], prefix: &str) -> Vec<Placed> {
    let mut out = vec![];
    for (zone_kind, kind, n) in PLAN {
        let of_kind: Vec<&SceneZone> = zones.iter().filter(|z| z.kind == *zone_kind).collect();
        for i in 0..*n {
            let Some(z) = of_kind.get(i % of_kind.len().max(1)) else { break };
            if let Some((lon, lat)) = point_in(rng, z) {
                out.push(Placed {
                    id: format!("{prefix}-{}-{}", zone_kind.replace('_', "-"), i + 1),
                    kind,
                    zone_kind: (*zone_kind).to_owned(),
                    zone: z.id.clone(),
                    lon,
                    lat,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use serde_json::json;

    use super::*;

    #[test]
    fn devices_stand_inside_their_zones() {
        let fc = json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"id": "fish-1", "kind": "fishing_ban_water"},
             "geometry": {"type": "Polygon", "coordinates": [[[118.0, 31.0], [118.1, 31.0], [118.1, 31.05], [118.0, 31.0]]]}},
            {"type": "Feature", "properties": {"id": "ws-1", "kind": "water_section"},
             "geometry": {"type": "MultiPolygon", "coordinates": [[[[118.2, 31.2], [118.3, 31.2], [118.3, 31.3], [118.2, 31.3], [118.2, 31.2]]]]}},
            {"type": "Feature", "properties": {"id": "broken"}, "geometry": null}
        ]});
        let z = zones(&fc);
        assert_eq!(z.len(), 2);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let placed = place(&mut rng, &z, "sim");
        assert_eq!(placed.iter().filter(|p| p.kind == "camera").count(), 6);
        assert_eq!(placed.iter().filter(|p| p.kind == "water_station").count(), 3);
        for p in &placed {
            let zone = z.iter().find(|x| x.id == p.zone).unwrap();
            assert!(zone.area.contains(&Point::new(p.lon, p.lat)), "{p:?}");
        }
        assert_eq!(placed[0].id, "sim-fishing-ban-water-1");
    }
}
