-- CityGrid PostgreSQL store, schema 1.
-- Keys and ordered text columns use the "C" collation so that ORDER BY and
-- range scans compare bytes, as the embedded store and Row::key do.
-- Instants are timestamptz (microseconds), the precision the audit hash covers.

CREATE TABLE meta (
    key   text COLLATE "C" PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE units (
    code       text COLLATE "C" PRIMARY KEY,
    name       text NOT NULL,
    level      text NOT NULL,
    parent     text,
    valid_from date NOT NULL,
    valid_to   date,
    synthetic  boolean NOT NULL,
    geometry   text NOT NULL
);

-- `body` is the zone as JSON; `geometry` its GeoJSON geometry, kept opaque.
CREATE TABLE zones (
    id       text COLLATE "C" PRIMARY KEY,
    kind     text NOT NULL,
    body     text NOT NULL,
    geometry text NOT NULL
);

CREATE TABLE categories (
    code text COLLATE "C" PRIMARY KEY,
    body text NOT NULL
);

CREATE TABLE departments (
    code text COLLATE "C" PRIMARY KEY,
    body text NOT NULL
);

-- Case ids come from here, so every process draws distinct ones.
CREATE SEQUENCE case_ids;

-- The case projection: indexed columns for queries, the folded case as JSON text.
CREATE TABLE cases (
    id          bigint PRIMARY KEY,
    state       text COLLATE "C" NOT NULL,
    open        boolean NOT NULL,
    category    text COLLATE "C" NOT NULL,
    territory   text COLLATE "C" NOT NULL,
    reporter    text NOT NULL,
    department  text,
    reported_at timestamptz NOT NULL,
    deadline    timestamptz,
    lon         double precision NOT NULL,
    lat         double precision NOT NULL,
    version     bigint NOT NULL,
    body        text NOT NULL
);
CREATE INDEX cases_state ON cases (state, id);
CREATE INDEX cases_territory ON cases (territory, id);
CREATE INDEX cases_category ON cases (category, id);
CREATE INDEX cases_reporter ON cases (reporter, id);
CREATE INDEX cases_reported_at ON cases (reported_at);
CREATE INDEX cases_deadline ON cases (deadline) WHERE deadline IS NOT NULL;
-- The duplicate hint's bounding-box prefilter: open cases by category and place.
CREATE INDEX cases_open_place ON cases (category, lon, lat) WHERE open;

-- Every department a case was ever dispatched to (lead or assisting).
CREATE TABLE case_departments (
    department text NOT NULL,
    case_id    bigint NOT NULL,
    PRIMARY KEY (department, case_id)
);

-- The append-only timeline.
CREATE TABLE timeline (
    case_id bigint NOT NULL,
    seq     bigint NOT NULL,
    at      timestamptz NOT NULL,
    action  text NOT NULL,
    body    text NOT NULL,
    PRIMARY KEY (case_id, seq)
);

-- Reporter contacts, encrypted by the server; only blind indexes are searchable.
CREATE TABLE case_contacts (
    case_id     bigint PRIMARY KEY,
    ciphertext  text NOT NULL,
    phone_index text,
    id_index    text
);
CREATE INDEX case_contacts_phone ON case_contacts (phone_index) WHERE phone_index IS NOT NULL;
CREATE INDEX case_contacts_id ON case_contacts (id_index) WHERE id_index IS NOT NULL;

CREATE TABLE attachments (
    sha256       text COLLATE "C" PRIMARY KEY,
    size         bigint NOT NULL,
    content_type text NOT NULL,
    uploaded_by  text NOT NULL,
    uploaded_at  timestamptz NOT NULL
);

-- Attachment bytes, by the hex SHA-256 of their content.
CREATE TABLE blobs (
    sha256 text COLLATE "C" PRIMARY KEY,
    bytes  bytea NOT NULL
);

-- The audit trail: several independent hash chains (see the crate docs).
-- `seq` orders the whole trail; (chain, link) places a record in its chain.
CREATE SEQUENCE audit_seq;
CREATE TABLE audit (
    seq       bigint PRIMARY KEY,
    chain     integer NOT NULL,
    link      bigint NOT NULL,
    at        timestamptz NOT NULL,
    actor     text NOT NULL,
    role      text NOT NULL,
    action    text NOT NULL,
    resource  text NOT NULL,
    outcome   text NOT NULL,
    source_ip text,
    detail    text,
    prev_hash text NOT NULL,
    hash      text NOT NULL,
    UNIQUE (chain, link)
);
CREATE INDEX audit_actor ON audit (actor, seq);
CREATE INDEX audit_action ON audit (action, seq);
CREATE INDEX audit_resource ON audit (resource, seq);
CREATE INDEX audit_at ON audit (at);

-- The head of each chain: where its next record links on. A writer locks
-- its chain's row (FOR UPDATE) for the rest of its transaction.
CREATE TABLE audit_chains (
    chain integer PRIMARY KEY,
    link  bigint NOT NULL,
    hash  text NOT NULL
);
INSERT INTO audit_chains (chain, link, hash)
SELECT c, 0, '0000000000000000000000000000000000000000000000000000000000000000'
FROM generate_series(0, 15) AS c;

CREATE TABLE users (
    id       text COLLATE "C" PRIMARY KEY,
    username text COLLATE "C" NOT NULL UNIQUE,
    body     text NOT NULL
);

-- Only the hash of a session token is kept.
CREATE TABLE sessions (
    token_hash text COLLATE "C" PRIMARY KEY,
    user_id    text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Only the hash of a device's API key is kept.
CREATE TABLE devices (
    id       text COLLATE "C" PRIMARY KEY,
    key_hash text NOT NULL UNIQUE,
    body     text NOT NULL
);

-- Named, expiring leases: background work runs in one process at a time.
CREATE TABLE leases (
    name   text PRIMARY KEY,
    holder text NOT NULL,
    until  timestamptz NOT NULL
);

-- Token buckets for rate limits, shared by every process.
CREATE TABLE rate_buckets (
    key    text PRIMARY KEY,
    tokens double precision NOT NULL,
    at     timestamptz NOT NULL
);
CREATE INDEX rate_buckets_at ON rate_buckets (at);
