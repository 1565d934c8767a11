-- Rule 3 of docs/domain.md, *Assignment rule*: outside every grid but within the tolerance (metres,
-- on the spheroid) of one: the nearest grid, ties to the smallest code.
-- The degree prefilter is generous and only there to use the GiST index.
-- The points left over are found first (MATERIALIZED), so the planner cannot probe
-- the grids for every point before dropping those rules 1 and 2 already placed
-- ({assigned}: their rows).
WITH rest AS MATERIALIZED (
    SELECT p.key, p.geom FROM {points} AS p
    WHERE NOT EXISTS (SELECT 1 FROM {assigned} AS a WHERE a.key = p.key)
)
SELECT p.key, n.grid_id, 'nearest' AS method
FROM rest AS p
CROSS JOIN LATERAL (
    SELECT g.id AS grid_id
    FROM grids AS g
    WHERE g.version_id = %(version)s AND g.level = 'grid'
      AND ST_DWithin(g.geom, p.geom, %(tolerance_deg)s)
      AND ST_DWithin(g.geom::geography, p.geom::geography, %(tolerance_m)s)
    ORDER BY ST_Distance(g.geom::geography, p.geom::geography), g.code
    LIMIT 1
) AS n
