-- The issues data version in 64 counters instead of one row (migration 0030).
--
-- Every statement that writes issues raised the one row's number, so every writer held
-- that row's lock from its write to its commit, and concurrent case steps, reports and
-- imports took turns through it: at a commit's flush of a few milliseconds, that queue,
-- not the CPU, set how many writes a second the district could make. Now a statement
-- raises the counter of its own session's slot (backend pid modulo 64): a transaction
-- only ever holds one slot (no deadlock between slots), and two writers wait for each
-- other only when their sessions share a slot. The issues version is the row's old
-- number (kept as the base) plus the sum of the slots; each slot only grows, so the sum
-- moves exactly when the rows do, for every reader's snapshot, as the one number did.
-- Grids, grid versions and categories are written rarely and keep their one number.
CREATE TABLE data_version_issues (
    slot smallint PRIMARY KEY CHECK (slot BETWEEN 0 AND 63),
    n    bigint NOT NULL DEFAULT 0
) WITH (fillfactor = 50);
INSERT INTO data_version_issues (slot) SELECT generate_series(0, 63);

CREATE OR REPLACE FUNCTION civgrid_bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'issues' THEN
        UPDATE data_version_issues SET n = n + 1 WHERE slot = pg_backend_pid() % 64;
    ELSE
        UPDATE data_version SET grids = grids + 1;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION civgrid_data_version(OUT grids bigint, OUT issues bigint)
LANGUAGE sql STABLE AS $$
    SELECT v.grids, v.issues + (SELECT sum(n) FROM data_version_issues)::bigint
    FROM data_version v
$$;
