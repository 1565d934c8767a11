-- The grid-level rows of two versions matched by code (docs/domain.md, *Grid versions*):
-- how each grid
-- changes from version %(src)s to version %(dst)s. 'identical' rows differ in nothing
-- but their id; 'attributes' rows keep their shape; 'reshaped', 'added' and 'removed'
-- rows make up the changed area.
DROP TABLE IF EXISTS _match;
CREATE TEMP TABLE _match ON COMMIT DROP AS
SELECT coalesce(s.code, d.code) AS code, s.id AS src_id, d.id AS dst_id,
       CASE WHEN s.id IS NULL THEN 'added'
            WHEN d.id IS NULL THEN 'removed'
            WHEN NOT ST_OrderingEquals(s.geom, d.geom) THEN 'reshaped'
            WHEN (s.name, s.parent_code, s.leader, s.departments, s.population)
                 IS NOT DISTINCT FROM
                 (d.name, d.parent_code, d.leader, d.departments, d.population)
                 THEN 'identical'
            ELSE 'attributes' END AS change
FROM (SELECT * FROM grids WHERE version_id = %(src)s AND level = 'grid') AS s
FULL JOIN (SELECT * FROM grids WHERE version_id = %(dst)s AND level = 'grid') AS d
    ON d.code = s.code;
