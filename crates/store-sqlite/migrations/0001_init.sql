-- CityGrid embedded store, schema 1.
-- Instants are integer milliseconds since the epoch (UTC) unless named *_us.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE units (
    code       TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    level      TEXT NOT NULL,
    parent     TEXT,
    valid_from TEXT NOT NULL,
    valid_to   TEXT,
    synthetic  INTEGER NOT NULL,
    geometry   TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE categories (
    code TEXT PRIMARY KEY,
    body TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE departments (
    code TEXT PRIMARY KEY,
    body TEXT NOT NULL
) WITHOUT ROWID;

-- The case projection: indexed columns for queries, the folded case as JSON.
CREATE TABLE cases (
    id          INTEGER PRIMARY KEY,
    state       TEXT NOT NULL,
    open        INTEGER NOT NULL,
    category    TEXT NOT NULL,
    territory   TEXT NOT NULL,
    reporter    TEXT NOT NULL,
    department  TEXT,
    reported_at INTEGER NOT NULL,
    deadline    INTEGER,
    lon         REAL NOT NULL,
    lat         REAL NOT NULL,
    version     INTEGER NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX cases_state ON cases (state, id);
CREATE INDEX cases_territory ON cases (territory, id);
CREATE INDEX cases_category ON cases (category, id);
CREATE INDEX cases_reporter ON cases (reporter, id);
CREATE INDEX cases_reported_at ON cases (reported_at);
CREATE INDEX cases_deadline ON cases (deadline) WHERE deadline IS NOT NULL;
CREATE INDEX cases_open ON cases (open) WHERE open = 1;

-- Every department a case was ever dispatched to (lead or assisting).
CREATE TABLE case_departments (
    department TEXT NOT NULL,
    case_id    INTEGER NOT NULL,
    PRIMARY KEY (department, case_id)
) WITHOUT ROWID;

-- The append-only timeline.
CREATE TABLE timeline (
    case_id INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    at      INTEGER NOT NULL,
    action  TEXT NOT NULL,
    body    TEXT NOT NULL,
    PRIMARY KEY (case_id, seq)
) WITHOUT ROWID;

CREATE TABLE attachments (
    sha256       TEXT PRIMARY KEY,
    size         INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    uploaded_by  TEXT NOT NULL,
    uploaded_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- The hash-chained audit trail; at_us keeps the exact instant that was hashed.
CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY,
    at_us     INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    role      TEXT NOT NULL,
    action    TEXT NOT NULL,
    resource  TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    source_ip TEXT,
    detail    TEXT,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX audit_actor ON audit (actor, seq);
CREATE INDEX audit_resource ON audit (resource, seq);

-- Reporter contacts, encrypted by the server; only blind indexes are searchable.
CREATE TABLE case_contacts (
    case_id     INTEGER PRIMARY KEY,
    ciphertext  TEXT NOT NULL,
    phone_index TEXT,
    id_index    TEXT
);
CREATE INDEX case_contacts_phone ON case_contacts (phone_index) WHERE phone_index IS NOT NULL;
CREATE INDEX case_contacts_id ON case_contacts (id_index) WHERE id_index IS NOT NULL;

CREATE TABLE users (
    id       TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    body     TEXT NOT NULL
) WITHOUT ROWID;

-- Only the hash of a session token is kept.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id);

-- Only the hash of a device's API key is kept.
CREATE TABLE devices (
    id       TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    body     TEXT NOT NULL
) WITHOUT ROWID;
