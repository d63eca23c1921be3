-- 64 audit chains instead of 16: a writer takes whichever head is free
-- (FOR UPDATE SKIP LOCKED), so concurrent writers almost never wait for one
-- another's commit; more chains than writers keeps that true for several
-- server processes with full pools.
INSERT INTO audit_chains (chain, link, hash)
SELECT c, 0, '0000000000000000000000000000000000000000000000000000000000000000'
FROM generate_series(16, 63) AS c
ON CONFLICT (chain) DO NOTHING;
