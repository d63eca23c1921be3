-- The live feed: one row per case change, numbered in commit order (the
-- single writer commits in number order). AUTOINCREMENT: numbers never
-- come back, even after every row has been pruned.
CREATE TABLE feed (
    seq  INTEGER PRIMARY KEY AUTOINCREMENT,
    at   INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX feed_at ON feed (at);
