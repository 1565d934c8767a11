-- The changed area of a switch from %(src)s to %(dst)s (rows of _match): the symmetric
-- difference of old and new shape for every reshaped grid, the whole shape of an added
-- or removed one. Cut into small pieces so that the points' index finds the points near
-- it quickly (MapIt's ST_Subdivide trick).
DROP TABLE IF EXISTS _changed;
CREATE TEMP TABLE _changed ON COMMIT DROP AS
SELECT ST_Subdivide(p.geom, 64) AS geom
FROM _match AS m
LEFT JOIN grids AS s ON s.id = m.src_id
LEFT JOIN grids AS d ON d.id = m.dst_id
CROSS JOIN LATERAL ST_Dump(ST_CollectionExtract(CASE m.change
        WHEN 'added' THEN d.geom
        WHEN 'removed' THEN s.geom
        ELSE ST_SymDifference(s.geom, d.geom) END, 3)) AS p
WHERE m.change IN ('added', 'removed', 'reshaped');
CREATE INDEX ON _changed USING gist (geom);
ANALYZE _changed;
