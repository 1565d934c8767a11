-- Tallies: issue counts kept up to date on every write, so the overview and the
-- heatmap sum tens of thousands of rows instead of aggregating every issue per request.
--
-- Each tally keeps only the dimensions its page filters on, and no finer time than a
-- week, so its length is bounded by the district's cells and categories (and weeks),
-- not by the number of issues; a page whose filter needs another dimension (dates,
-- text, …) reads the issues table instead (geo.stats decides). Heat cells are a fixed
-- lattice of 1/512 degree (about 217 m north-south, 165 m east-west at 41°N; the
-- weekly tally uses 1/256): cell x covers longitudes [x/512, (x+1)/512). Unassigned
-- issues are counted under grid_id 0.

CREATE TABLE tally_grid (            -- per grid: the overview's grid colours
    grid_id  integer NOT NULL,
    category text NOT NULL,
    source   text NOT NULL,
    status   text NOT NULL,
    n        integer NOT NULL,
    PRIMARY KEY (grid_id, category, source, status)
);

CREATE TABLE tally_cell (            -- per heat cell: the overview's heatmap
    x        integer NOT NULL,
    y        integer NOT NULL,
    grid_id  integer NOT NULL,
    category text NOT NULL,
    status   text NOT NULL,
    n        integer NOT NULL,
    PRIMARY KEY (x, y, grid_id, category, status)
);

CREATE TABLE tally_week (            -- per coarse cell and week: the heatmap over time
    week date NOT NULL,              -- the Monday (Asia/Shanghai) of the week reported in
    x    integer NOT NULL,           -- cells of 1/256 degree: about the heat's blur
    y    integer NOT NULL,           -- radius at the zoom the animation opens at
    n    integer NOT NULL,
    PRIMARY KEY (week, x, y)
);

-- The three upserts that add a delta to the tallies: ``delta`` is a query giving
-- s (+1 or -1) and the issues' columns. Keys whose count does not change are not
-- touched; keys are written in key order so concurrent writers lock tally rows in
-- the same order. Used by the trigger below (on its transition tables), by bulk
-- imports (on the rows they inserted, with the trigger off) and to count existing rows.
CREATE FUNCTION civgrid_tally_sql(delta text) RETURNS text[] LANGUAGE sql IMMUTABLE AS $f$
SELECT ARRAY[
    format($q$
        WITH d AS (%s)
        INSERT INTO tally_grid AS t
        SELECT coalesce(grid_id, 0), category, source, status, sum(s) FROM d
        GROUP BY 1, 2, 3, 4 HAVING sum(s) <> 0 ORDER BY 1, 2, 3, 4
        ON CONFLICT (grid_id, category, source, status) DO UPDATE SET n = t.n + excluded.n
    $q$, delta),
    format($q$
        WITH d AS (%s)
        INSERT INTO tally_cell AS t
        SELECT floor(ST_X(geom) * 512)::int, floor(ST_Y(geom) * 512)::int,
               coalesce(grid_id, 0), category, status, sum(s) FROM d
        GROUP BY 1, 2, 3, 4, 5 HAVING sum(s) <> 0 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (x, y, grid_id, category, status) DO UPDATE SET n = t.n + excluded.n
    $q$, delta),
    format($q$
        WITH d AS (%s)
        INSERT INTO tally_week AS t
        SELECT date_trunc('week', reported_at AT TIME ZONE 'Asia/Shanghai')::date,
               floor(ST_X(geom) * 256)::int, floor(ST_Y(geom) * 256)::int, sum(s) FROM d
        GROUP BY 1, 2, 3 HAVING sum(s) <> 0 ORDER BY 1, 2, 3
        ON CONFLICT (week, x, y) DO UPDATE SET n = t.n + excluded.n
    $q$, delta)]
$f$;

-- Adds the statement's rows and subtracts the rows it replaced or deleted.
CREATE FUNCTION civgrid_tally() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    q text;
BEGIN
    FOREACH q IN ARRAY civgrid_tally_sql(CASE TG_OP
        WHEN 'INSERT' THEN 'SELECT 1 AS s, * FROM new_rows'
        WHEN 'DELETE' THEN 'SELECT -1 AS s, * FROM old_rows'
        ELSE 'SELECT 1 AS s, * FROM new_rows UNION ALL SELECT -1 AS s, * FROM old_rows'
    END) LOOP
        EXECUTE q;
    END LOOP;
    RETURN NULL;
END $$;

CREATE TRIGGER issues_tally_insert AFTER INSERT ON issues
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION civgrid_tally();
CREATE TRIGGER issues_tally_update AFTER UPDATE ON issues
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION civgrid_tally();
CREATE TRIGGER issues_tally_delete AFTER DELETE ON issues
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION civgrid_tally();

CREATE FUNCTION civgrid_tally_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE tally_grid, tally_cell, tally_week;
    RETURN NULL;
END $$;
CREATE TRIGGER issues_tally_truncate AFTER TRUNCATE ON issues
    FOR EACH STATEMENT EXECUTE FUNCTION civgrid_tally_truncate();

-- Count what is already there.
DO $$
DECLARE
    q text;
BEGIN
    FOREACH q IN ARRAY civgrid_tally_sql('SELECT 1 AS s, * FROM issues') LOOP
        EXECUTE q;
    END LOOP;
END $$;
