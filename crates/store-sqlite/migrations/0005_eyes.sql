-- Smart eyes: incidents (grouped alerts) and the detections behind them.
-- Instants are microseconds since the epoch (what PostgreSQL keeps, so a
-- move between backends changes nothing).
-- The incident's whole value is `body` (JSON); the columns beside it are
-- what lists filter and sort on.
CREATE TABLE incidents (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,
    state      TEXT NOT NULL,
    territory  TEXT NOT NULL,
    rule       TEXT,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    lon        REAL NOT NULL,
    lat        REAL NOT NULL,
    version    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX incidents_territory ON incidents (territory, id);
CREATE INDEX incidents_open ON incidents (last_seen) WHERE state IN ('open', 'confirmed');

-- One row per (device, source id): the intake's idempotency key.
-- Evidence and attributes are JSON text, kept as sent.
CREATE TABLE detections (
    device      TEXT NOT NULL,
    source_id   TEXT NOT NULL,
    at          INTEGER NOT NULL,
    label       TEXT NOT NULL,
    score       REAL NOT NULL,
    lon         REAL NOT NULL,
    lat         REAL NOT NULL,
    evidence    TEXT,
    attributes  TEXT,
    received_at INTEGER NOT NULL,
    territory   TEXT NOT NULL,
    rule        TEXT,
    incident    INTEGER,
    PRIMARY KEY (device, source_id)
) WITHOUT ROWID;
CREATE INDEX detections_incident ON detections (incident, at) WHERE incident IS NOT NULL;
