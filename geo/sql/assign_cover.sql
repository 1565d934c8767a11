-- Rules 1 and 2 of DESIGN.md §3: grids of the version that cover the point
-- (interior or boundary). One grid: 'inside'. Several (a shared edge or
-- vertex): 'boundary', and the grid with the smallest code wins.
DROP TABLE IF EXISTS _assigned;
CREATE TEMP TABLE _assigned ON COMMIT DROP AS
SELECT p.key, c.grid_id,
       CASE WHEN c.n = 1 THEN 'inside' ELSE 'boundary' END AS method
FROM {points} AS p
CROSS JOIN LATERAL (
    SELECT g.id AS grid_id, count(*) OVER () AS n
    FROM grids AS g
    WHERE g.version_id = %(version)s AND g.level = 'grid' AND ST_Covers(g.geom, p.geom)
    ORDER BY g.code
    LIMIT 1
) AS c;
CREATE INDEX ON _assigned (key);
ANALYZE _assigned;
