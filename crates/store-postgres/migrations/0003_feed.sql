-- The live feed: one row per case change. Numbers come from a sequence, so
-- with several writers a number can commit after a higher one; readers
-- hold back behind a gap for a moment (see the server's feed hub).
CREATE SEQUENCE feed_seq;
CREATE TABLE feed (
    seq  bigint PRIMARY KEY DEFAULT nextval('feed_seq'),
    at   timestamptz NOT NULL,
    body text NOT NULL
);
CREATE INDEX feed_at ON feed (at);
