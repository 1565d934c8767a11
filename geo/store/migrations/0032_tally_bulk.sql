-- The tallies' bulk arithmetic in one pass: a bulk import or re-assignment (geo/store/bulk.py,
-- which holds the issues table exclusively meanwhile) adds a million rows to the tallies.
-- Migration 0007's three statements read those rows three times and upserted every key with
-- ON CONFLICT; here one hashed GROUPING SETS pass counts all three tallies into a temp
-- table, then each tally updates the keys it already has and inserts the others plainly.
-- Same keys and arithmetic as before (and as the trigger, migration 0019); only bulk
-- writers call these functions, the trigger is not touched.
--
-- civgrid_tally_apply_sql() adds a _tally_delta table to the tallies; a bulk import that
-- counted its rows itself (geo/store/bulk.py) fills that table and calls it alone.
CREATE FUNCTION civgrid_tally_apply_sql() RETURNS text[] LANGUAGE sql IMMUTABLE AS $f$
SELECT ARRAY[
    'ANALYZE _tally_delta',
    $q$
        UPDATE tally_grid AS t SET n = t.n + d.n FROM _tally_delta AS d
        WHERE d.tally = 3 AND (t.grid_id, t.category, t.source, t.status)
                              = (d.grid_id, d.category, d.source, d.status)
    $q$,
    $q$
        INSERT INTO tally_grid (grid_id, category, source, status, n)
        SELECT grid_id, category, source, status, n FROM _tally_delta AS d
        WHERE tally = 3 AND NOT EXISTS (SELECT 1 FROM tally_grid AS t
            WHERE (t.grid_id, t.category, t.source, t.status)
                  = (d.grid_id, d.category, d.source, d.status))
        ORDER BY 1, 2, 3, 4
    $q$,
    $q$
        UPDATE tally_cell AS t SET n = t.n + d.n FROM _tally_delta AS d
        WHERE d.tally = 5 AND (t.x, t.y, t.grid_id, t.category, t.status)
                              = (d.x, d.y, d.grid_id, d.category, d.status)
    $q$,
    $q$
        INSERT INTO tally_cell (x, y, grid_id, category, status, n)
        SELECT x, y, grid_id, category, status, n FROM _tally_delta AS d
        WHERE tally = 5 AND NOT EXISTS (SELECT 1 FROM tally_cell AS t
            WHERE (t.x, t.y, t.grid_id, t.category, t.status)
                  = (d.x, d.y, d.grid_id, d.category, d.status))
        ORDER BY 1, 2, 3, 4, 5
    $q$,
    $q$
        UPDATE tally_week AS t SET n = t.n + d.n FROM _tally_delta AS d
        WHERE d.tally = 6 AND (t.week, t.x, t.y) = (d.week, d.x256, d.y256)
    $q$,
    $q$
        INSERT INTO tally_week (week, x, y, n)
        SELECT week, x256, y256, n FROM _tally_delta AS d
        WHERE tally = 6 AND NOT EXISTS (SELECT 1 FROM tally_week AS t
            WHERE (t.week, t.x, t.y) = (d.week, d.x256, d.y256))
        ORDER BY 1, 2, 3
    $q$,
    'DROP TABLE _tally_delta']
$f$;

-- The whole bulk arithmetic: count the rows of the query ``delta`` (s = +1 or -1 and the
-- issues' columns, as in migration 0007) into _tally_delta, then add that to the tallies.
CREATE OR REPLACE FUNCTION civgrid_tally_sql(delta text) RETURNS text[] LANGUAGE sql IMMUTABLE AS $f$
SELECT ARRAY[
    'DROP TABLE IF EXISTS _tally_delta',
    -- tally: 3 = tally_grid, 5 = tally_cell, 6 = tally_week (GROUPING(source, x, week)).
    format($q$
        CREATE TEMP TABLE _tally_delta ON COMMIT DROP AS
        WITH d AS (%s)
        SELECT GROUPING(source, x, week) AS tally, grid_id, category, source, status, x, y,
               week, x256, y256, sum(s)::int AS n
        FROM (SELECT s, coalesce(grid_id, 0) AS grid_id, category, source, status,
                     floor(ST_X(geom) * 512)::int AS x, floor(ST_Y(geom) * 512)::int AS y,
                     date_trunc('week', reported_at AT TIME ZONE 'Asia/Shanghai')::date AS week,
                     floor(ST_X(geom) * 256)::int AS x256, floor(ST_Y(geom) * 256)::int AS y256
              FROM d) AS r
        GROUP BY GROUPING SETS ((grid_id, category, source, status),
                                (x, y, grid_id, category, status), (week, x256, y256))
        HAVING sum(s) <> 0
    $q$, delta)] || civgrid_tally_apply_sql()
$f$;
