-- Building units for balancing version %(version)s on the blocks layer. The boundaries of
-- the grids and of the blocks are noded together and polygonized into faces, so any two
-- units below share their edges exactly. A face belongs to the grid and to the block
-- holding a point inside it (the smallest code / id where they overlap). A block's home is
-- the grid holding most of its area; the largest connected part of the block in its home
-- is the block's movable unit. Every other face (ground in no block, parts of blocks
-- outside their home) stays with its grid as a fixed unit, merged with adjacent ones.
DROP TABLE IF EXISTS _units;
CREATE TEMP TABLE _units ON COMMIT DROP AS
WITH grid AS (
    SELECT id, code, geom FROM grids WHERE version_id = %(version)s AND level = 'grid'
), face AS (
    SELECT row_number() OVER () AS face_id, d.geom
    FROM (SELECT ST_Polygonize(lines) AS faces FROM (
              SELECT ST_UnaryUnion(ST_Collect(ST_Boundary(geom))) AS lines FROM (
                  SELECT geom FROM grid
                  UNION ALL
                  SELECT b.geom FROM blocks AS b
                  WHERE b.geom && (SELECT ST_Extent(geom)::geometry FROM grid)) AS s) AS l
         ) AS p
    CROSS JOIN LATERAL ST_Dump(p.faces) AS d
), placed AS (
    SELECT f.face_id, f.geom, ST_Area(f.geom::geography) AS area_m2, g.id AS grid_id, g.code,
           (SELECT b.id FROM blocks AS b WHERE ST_Intersects(b.geom, pos)
            ORDER BY b.id LIMIT 1) AS block_id
    FROM face AS f
    CROSS JOIN LATERAL ST_PointOnSurface(f.geom) AS pos
    CROSS JOIN LATERAL (SELECT id, code FROM grids  -- not the CTE: its index finds them
                        WHERE version_id = %(version)s AND level = 'grid'
                          AND ST_Intersects(geom, pos)
                        ORDER BY code LIMIT 1) AS g
), home AS (
    SELECT DISTINCT ON (block_id) block_id, grid_id
    FROM (SELECT block_id, grid_id, code, sum(area_m2) AS area_m2 FROM placed
          WHERE block_id IS NOT NULL GROUP BY block_id, grid_id, code) AS s
    ORDER BY block_id, area_m2 DESC, code
), part AS (
    SELECT p.block_id, p.grid_id, p.code, d.geom,
           row_number() OVER (PARTITION BY p.block_id
                              ORDER BY ST_Area(d.geom) DESC, d.path) = 1 AS movable
    FROM (SELECT block_id, grid_id, code, ST_Union(geom) AS geom FROM placed
          JOIN home USING (block_id, grid_id) GROUP BY block_id, grid_id, code) AS p
    CROSS JOIN LATERAL ST_Dump(p.geom) AS d
), unit AS (
    SELECT grid_id, code, geom, block_id, true AS movable FROM part WHERE movable
    UNION ALL
    SELECT r.grid_id, r.code, d.geom, NULL, false
    FROM (SELECT grid_id, code, ST_Union(geom) AS geom FROM (
              SELECT grid_id, code, geom FROM placed
              WHERE NOT EXISTS (SELECT 1 FROM home AS h WHERE h.block_id = placed.block_id
                                AND h.grid_id = placed.grid_id)
              UNION ALL
              SELECT grid_id, code, geom FROM part WHERE NOT movable) AS f
          GROUP BY grid_id, code) AS r
    CROSS JOIN LATERAL ST_Dump(r.geom) AS d
)
SELECT row_number() OVER (ORDER BY u.code, u.movable DESC, u.block_id, ST_XMin(u.geom),
                                   ST_YMin(u.geom)) AS unit_id,
       u.code, u.grid_id, u.geom, ST_Area(u.geom::geography) AS area_m2, u.movable,
       coalesce(b.ref, 'block #' || b.id) AS block
FROM unit AS u LEFT JOIN blocks AS b ON b.id = u.block_id;
CREATE INDEX ON _units USING gist (geom);
CREATE INDEX ON _units (grid_id);
ANALYZE _units;
