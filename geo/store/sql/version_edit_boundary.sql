-- Move the boundary of grid %(target)s of draft %(draft)s to the shape %(new)s and make
-- its neighbours follow, so that no gap and no overlap appears:
--   _edit_new     the new shape, its vertices snapped (within %(snap)s degrees) onto the
--                 vertices of the old shape and of the neighbours;
--   _edit_freed   the parts of the old shape the new one gives up;
--   _edit_gift    for each freed part, the neighbour sharing the longest boundary with it
--                 (one of the same community first);
--   _edit_result  every neighbour that changes: what it had, minus the new shape, plus
--                 the freed parts it receives.
DROP TABLE IF EXISTS _edit_nb, _edit_new, _edit_freed, _edit_gift, _edit_result;
CREATE TEMP TABLE _edit_nb ON COMMIT DROP AS
SELECT g.id, g.code, g.geom
FROM grids AS g
JOIN grids AS t ON t.id = %(target)s
WHERE g.version_id = %(draft)s AND g.level = 'grid' AND g.id <> t.id
  AND ST_DWithin(g.geom, ST_Collect(t.geom, ST_GeomFromWKB(decode(%(new)s, 'hex'), 4490)),
                 %(snap)s);

CREATE TEMP TABLE _edit_new ON COMMIT DROP AS
SELECT civgrid_clean_polygons(ST_MakeValid(ST_Snap(
           ST_GeomFromWKB(decode(%(new)s, 'hex'), 4490),
           (SELECT ST_Collect(geom) FROM (SELECT geom FROM _edit_nb
                                          UNION ALL SELECT geom FROM grids
                                          WHERE id = %(target)s) AS s),
           %(snap)s)), %(noise)s) AS geom;

CREATE TEMP TABLE _edit_freed ON COMMIT DROP AS
SELECT f.k, f.geom, ST_Area(f.geom::geography) AS area_m2
FROM grids AS t, _edit_new AS e,
     ST_Dump(ST_CollectionExtract(ST_Difference(t.geom, e.geom), 3))
         WITH ORDINALITY AS f (path, geom, k)
WHERE t.id = %(target)s AND ST_Area(f.geom::geography) >= %(noise)s;

-- A freed part goes to a neighbour of the grid's own community where one borders it
-- (a boundary edit does not move land between communities), else to the longest border.
CREATE TEMP TABLE _edit_gift ON COMMIT DROP AS
SELECT DISTINCT ON (c.k) c.k, c.nb_id, c.code, c.shared_m
FROM (SELECT f.k, n.id AS nb_id, n.code, left(n.code, 12) = left(t.code, 12) AS same,
             ST_Length(ST_Intersection(ST_Boundary(f.geom),
                                       ST_Buffer(n.geom, %(eps)s, 'quad_segs=1'))::geography)
                 AS shared_m
      FROM _edit_freed AS f
      JOIN _edit_nb AS n ON ST_DWithin(f.geom, n.geom, %(eps)s)
      JOIN grids AS t ON t.id = %(target)s) AS c
WHERE c.shared_m >= 0.01
ORDER BY c.k, c.same DESC, c.shared_m DESC, c.code;

CREATE TEMP TABLE _edit_result ON COMMIT DROP AS
SELECT n.id, n.code,
       civgrid_clean_polygons(ST_Union(
           ST_Difference(n.geom, e.geom),
           coalesce((SELECT ST_Union(f.geom) FROM _edit_gift AS gi
                     JOIN _edit_freed AS f ON f.k = gi.k WHERE gi.nb_id = n.id),
                    ST_SetSRID('POLYGON EMPTY'::geometry, 4490))), %(noise)s) AS geom
FROM _edit_nb AS n, _edit_new AS e
WHERE ST_Area(ST_CollectionExtract(ST_Intersection(n.geom, e.geom), 3)::geography)
      >= %(noise)s
   OR n.id IN (SELECT nb_id FROM _edit_gift);
