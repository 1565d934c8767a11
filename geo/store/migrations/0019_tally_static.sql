-- The tally trigger with static SQL: PL/pgSQL keeps the plans of its three upserts for
-- the session, instead of building and planning them again (EXECUTE) on every write.
-- A workflow step updates one case; planning three dynamic statements each time cost
-- it several milliseconds, most of a step's time. Same arithmetic as civgrid_tally_sql
-- (migration 0007), which bulk imports keep using on their own rows.
CREATE OR REPLACE FUNCTION civgrid_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO tally_grid AS t
        SELECT coalesce(grid_id, 0), category, source, status, count(*) FROM new_rows
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (grid_id, category, source, status) DO UPDATE SET n = t.n + excluded.n;
        INSERT INTO tally_cell AS t
        SELECT floor(ST_X(geom) * 512)::int, floor(ST_Y(geom) * 512)::int,
               coalesce(grid_id, 0), category, status, count(*) FROM new_rows
        GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (x, y, grid_id, category, status) DO UPDATE SET n = t.n + excluded.n;
        INSERT INTO tally_week AS t
        SELECT date_trunc('week', reported_at AT TIME ZONE 'Asia/Shanghai')::date,
               floor(ST_X(geom) * 256)::int, floor(ST_Y(geom) * 256)::int, count(*)
        FROM new_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (week, x, y) DO UPDATE SET n = t.n + excluded.n;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO tally_grid AS t
        SELECT coalesce(grid_id, 0), category, source, status, -count(*) FROM old_rows
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (grid_id, category, source, status) DO UPDATE SET n = t.n + excluded.n;
        INSERT INTO tally_cell AS t
        SELECT floor(ST_X(geom) * 512)::int, floor(ST_Y(geom) * 512)::int,
               coalesce(grid_id, 0), category, status, -count(*) FROM old_rows
        GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (x, y, grid_id, category, status) DO UPDATE SET n = t.n + excluded.n;
        INSERT INTO tally_week AS t
        SELECT date_trunc('week', reported_at AT TIME ZONE 'Asia/Shanghai')::date,
               floor(ST_X(geom) * 256)::int, floor(ST_Y(geom) * 256)::int, -count(*)
        FROM old_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (week, x, y) DO UPDATE SET n = t.n + excluded.n;
    ELSE
        -- Keys whose count does not change are not touched (a step that keeps the
        -- status writes no tally row at all); keys in key order, so concurrent writers
        -- lock tally rows in the same order.
        INSERT INTO tally_grid AS t
        SELECT coalesce(grid_id, 0), category, source, status, sum(s)
        FROM (SELECT 1 AS s, grid_id, category, source, status FROM new_rows
              UNION ALL SELECT -1, grid_id, category, source, status FROM old_rows) d
        GROUP BY 1, 2, 3, 4 HAVING sum(s) <> 0 ORDER BY 1, 2, 3, 4
        ON CONFLICT (grid_id, category, source, status) DO UPDATE SET n = t.n + excluded.n;
        INSERT INTO tally_cell AS t
        SELECT floor(ST_X(geom) * 512)::int, floor(ST_Y(geom) * 512)::int,
               coalesce(grid_id, 0), category, status, sum(s)
        FROM (SELECT 1 AS s, geom, grid_id, category, status FROM new_rows
              UNION ALL SELECT -1, geom, grid_id, category, status FROM old_rows) d
        GROUP BY 1, 2, 3, 4, 5 HAVING sum(s) <> 0 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (x, y, grid_id, category, status) DO UPDATE SET n = t.n + excluded.n;
        INSERT INTO tally_week AS t
        SELECT date_trunc('week', reported_at AT TIME ZONE 'Asia/Shanghai')::date,
               floor(ST_X(geom) * 256)::int, floor(ST_Y(geom) * 256)::int, sum(s)
        FROM (SELECT 1 AS s, geom, reported_at FROM new_rows
              UNION ALL SELECT -1, geom, reported_at FROM old_rows) d
        GROUP BY 1, 2, 3 HAVING sum(s) <> 0 ORDER BY 1, 2, 3
        ON CONFLICT (week, x, y) DO UPDATE SET n = t.n + excluded.n;
    END IF;
    RETURN NULL;
END $$;
