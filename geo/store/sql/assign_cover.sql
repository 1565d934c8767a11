-- Rules 1 and 2 of docs/domain.md, *Assignment rule*: grids of the version that cover the point
-- (interior or boundary). One grid: 'inside'. Several (a shared edge or
-- vertex): 'boundary', and the grid with the smallest code wins.
--
-- The loop runs over grids and asks the points' index for each grid's
-- points: PostGIS then reuses one prepared polygon for all of them, several
-- times faster than probing the grid index once per point. OFFSET 0 keeps
-- the planner from flattening the lateral subquery into a point-first join.
SELECT a.key, g.id AS grid_id,
       CASE WHEN a.n = 1 THEN 'inside' ELSE 'boundary' END AS method
FROM (
    SELECT c.key, min(g.code) AS code, count(*) AS n
    FROM grids AS g
    CROSS JOIN LATERAL (
        SELECT p.key FROM {points} AS p WHERE ST_Covers(g.geom, p.geom) OFFSET 0
    ) AS c
    WHERE g.version_id = %(version)s AND g.level = 'grid'
    GROUP BY c.key
) AS a
JOIN grids AS g ON g.version_id = %(version)s AND g.code = a.code
