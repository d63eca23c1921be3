-- CityGrid shared store, schema 3: water stations and their readings.
-- A water station's HJ 212 station code (MN) is unique among devices; older
-- devices have none (their JSON body reads back with the new fields' defaults).

ALTER TABLE devices ADD COLUMN mn text COLLATE "C";
CREATE UNIQUE INDEX devices_mn ON devices (mn) WHERE mn IS NOT NULL;

-- One row per station, data time, series and factor: the idempotency key.
CREATE TABLE water_readings (
    station      text COLLATE "C" NOT NULL,
    data_time    timestamptz NOT NULL,
    kind         text COLLATE "C" NOT NULL,
    factor       text COLLATE "C" NOT NULL,
    value        double precision NOT NULL,
    flag         text,
    class        text,
    sample_class text,
    target       text,
    received_at  timestamptz NOT NULL,
    PRIMARY KEY (station, data_time, kind, factor)
);
