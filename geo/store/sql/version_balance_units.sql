-- Building units for balancing version %(version)s: every grid cut by a lattice of
-- %(dx)s × %(dy)s degree cells (about the requested size on the ground) into pieces,
-- a stand-in for blocks where no blocks layer is loaded. Neighbouring cells share their
-- corner coordinates exactly. Every unit is movable (the columns of version_balance_blocks).
DROP TABLE IF EXISTS _units;
CREATE TEMP TABLE _units ON COMMIT DROP AS
WITH box AS (
    SELECT ST_XMin(e) AS x0, ST_YMin(e) AS y0, ST_XMax(e) AS x1, ST_YMax(e) AS y1
    FROM (SELECT ST_Extent(geom)::geometry AS e FROM grids
          WHERE version_id = %(version)s AND level = 'grid') AS s
), cells AS (
    SELECT i, j, ST_MakeEnvelope(x0 + i * %(dx)s, y0 + j * %(dy)s,
                                 x0 + (i + 1) * %(dx)s, y0 + (j + 1) * %(dy)s, 4490) AS geom
    FROM box,
         generate_series(0, ceil((x1 - x0) / %(dx)s)::int) AS i,
         generate_series(0, ceil((y1 - y0) / %(dy)s)::int) AS j
)
SELECT row_number() OVER (ORDER BY g.code, c.j, c.i, d.path) AS unit_id,
       g.code, g.id AS grid_id, d.geom, ST_Area(d.geom::geography) AS area_m2,
       true AS movable, NULL::text AS block
FROM grids AS g
JOIN cells AS c ON c.geom && g.geom
CROSS JOIN LATERAL ST_Dump(ST_CollectionExtract(
    CASE WHEN ST_Within(c.geom, g.geom) THEN c.geom ELSE ST_Intersection(g.geom, c.geom) END,
    3)) AS d
WHERE g.version_id = %(version)s AND g.level = 'grid'
  AND ST_Area(d.geom::geography) >= %(noise)s;
CREATE INDEX ON _units USING gist (geom);
CREATE INDEX ON _units (grid_id);
ANALYZE _units;
