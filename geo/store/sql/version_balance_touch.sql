-- Pairs of units sharing a boundary line (not just a corner; an empty intersection has
-- dimension 2 in PostGIS, hence the emptiness test).
SELECT a.unit_id, b.unit_id
FROM _units AS a
JOIN _units AS b ON a.unit_id < b.unit_id AND a.geom && b.geom
CROSS JOIN LATERAL ST_Intersection(a.geom, b.geom) AS shared
WHERE NOT ST_IsEmpty(shared) AND ST_Dimension(shared) >= 1;
