-- Tallies: issue counts kept up to date on every write, so the overview and the
-- heatmap sum tens of thousands of rows instead of aggregating every issue per request.
--
-- Each tally keeps only the dimensions its page filters on, so it stays far shorter
-- than the issues table; a page whose filter needs another one (dates on the
-- overview, text, source on the heatmap, …) reads the issues table instead (geo.stats
-- decides). Cells are a fixed lattice of 1/512 degree (about 217 m north-south,
-- 165 m east-west at 41°N): cell x covers longitudes [x/512, (x+1)/512). Unassigned
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

CREATE TABLE tally_day (             -- per heat cell and day: the heatmap over time
    day  date NOT NULL,              -- reported on, Asia/Shanghai
    x    integer NOT NULL,
    y    integer NOT NULL,
    n    integer NOT NULL,
    PRIMARY KEY (day, x, y)
);

-- Adds the statement's rows (+1 each) and subtracts the rows it replaced or
-- deleted (-1 each); keys whose count does not change are not touched. Keys are
-- written in key order so concurrent writers lock tally rows in the same order.
CREATE FUNCTION civgrid_tally() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    delta text := CASE TG_OP
        WHEN 'INSERT' THEN 'SELECT 1 AS s, * FROM new_rows'
        WHEN 'DELETE' THEN 'SELECT -1 AS s, * FROM old_rows'
        ELSE 'SELECT 1 AS s, * FROM new_rows UNION ALL SELECT -1 AS s, * FROM old_rows'
    END;
BEGIN
    EXECUTE format($q$
        WITH d AS (%s)
        INSERT INTO tally_grid AS t
        SELECT coalesce(grid_id, 0), category, source, status, sum(s) FROM d
        GROUP BY 1, 2, 3, 4 HAVING sum(s) <> 0 ORDER BY 1, 2, 3, 4
        ON CONFLICT (grid_id, category, source, status) DO UPDATE SET n = t.n + excluded.n
    $q$, delta);
    EXECUTE format($q$
        WITH d AS (%s)
        INSERT INTO tally_cell AS t
        SELECT floor(ST_X(geom) * 512)::int, floor(ST_Y(geom) * 512)::int,
               coalesce(grid_id, 0), category, status, sum(s) FROM d
        GROUP BY 1, 2, 3, 4, 5 HAVING sum(s) <> 0 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (x, y, grid_id, category, status) DO UPDATE SET n = t.n + excluded.n
    $q$, delta);
    EXECUTE format($q$
        WITH d AS (%s)
        INSERT INTO tally_day AS t
        SELECT (reported_at AT TIME ZONE 'Asia/Shanghai')::date,
               floor(ST_X(geom) * 512)::int, floor(ST_Y(geom) * 512)::int, sum(s) FROM d
        GROUP BY 1, 2, 3 HAVING sum(s) <> 0 ORDER BY 1, 2, 3
        ON CONFLICT (day, x, y) DO UPDATE SET n = t.n + excluded.n
    $q$, delta);
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
    TRUNCATE tally_grid, tally_cell, tally_day;
    RETURN NULL;
END $$;
CREATE TRIGGER issues_tally_truncate AFTER TRUNCATE ON issues
    FOR EACH STATEMENT EXECUTE FUNCTION civgrid_tally_truncate();

-- Count what is already there.
INSERT INTO tally_grid
SELECT coalesce(grid_id, 0), category, source, status, count(*) FROM issues GROUP BY 1, 2, 3, 4;
INSERT INTO tally_cell
SELECT floor(ST_X(geom) * 512)::int, floor(ST_Y(geom) * 512)::int, coalesce(grid_id, 0),
       category, status, count(*) FROM issues GROUP BY 1, 2, 3, 4, 5;
INSERT INTO tally_day
SELECT (reported_at AT TIME ZONE 'Asia/Shanghai')::date,
       floor(ST_X(geom) * 512)::int, floor(ST_Y(geom) * 512)::int, count(*) FROM issues
GROUP BY 1, 2, 3;
