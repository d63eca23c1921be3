-- Smart eyes: incidents (grouped alerts) and the detections behind them.
-- The incident's whole value is `body` (JSON text); the columns beside it
-- are what lists filter and sort on.
CREATE TABLE incidents (
    id         bigint PRIMARY KEY,
    kind       text NOT NULL,
    state      text NOT NULL,
    territory  text COLLATE "C" NOT NULL,
    rule       text,
    first_seen timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL,
    lon        double precision NOT NULL,
    lat        double precision NOT NULL,
    version    bigint NOT NULL,
    updated_at timestamptz NOT NULL,
    body       text NOT NULL
);
CREATE INDEX incidents_territory ON incidents (territory, id);
CREATE INDEX incidents_open ON incidents (last_seen) WHERE state IN ('open', 'confirmed');

-- One row per (device, source id): the intake's idempotency key.
-- Evidence and attributes are JSON text, kept as sent.
CREATE TABLE detections (
    device      text COLLATE "C" NOT NULL,
    source_id   text COLLATE "C" NOT NULL,
    at          timestamptz NOT NULL,
    label       text NOT NULL,
    score       double precision NOT NULL,
    lon         double precision NOT NULL,
    lat         double precision NOT NULL,
    evidence    text,
    attributes  text,
    received_at timestamptz NOT NULL,
    territory   text COLLATE "C" NOT NULL,
    rule        text,
    incident    bigint,
    PRIMARY KEY (device, source_id)
);
CREATE INDEX detections_incident ON detections (incident, at) WHERE incident IS NOT NULL;
