-- CityGrid embedded store, schema 2: zones (geofences).
-- `body` is the zone as JSON; `geometry` its GeoJSON geometry, kept opaque.
-- A rowid table, not WITHOUT ROWID: geometries run to hundreds of kilobytes.

CREATE TABLE zones (
    id       TEXT PRIMARY KEY,
    kind     TEXT NOT NULL,
    body     TEXT NOT NULL,
    geometry TEXT NOT NULL
);
