-- CityGrid embedded store, schema 3: water stations and their readings.
-- A water station's HJ 212 station code (MN) is unique among devices; older
-- devices have none (their JSON body reads back with the new fields' defaults).

ALTER TABLE devices ADD COLUMN mn TEXT;
CREATE UNIQUE INDEX devices_mn ON devices (mn) WHERE mn IS NOT NULL;

-- One row per station, data time (ms), series and factor: the idempotency key.
CREATE TABLE water_readings (
    station      TEXT NOT NULL,
    data_time    INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    factor       TEXT NOT NULL,
    value        REAL NOT NULL,
    flag         TEXT,
    class        TEXT,
    sample_class TEXT,
    target       TEXT,
    received_at  INTEGER NOT NULL,
    PRIMARY KEY (station, data_time, kind, factor)
) WITHOUT ROWID;
