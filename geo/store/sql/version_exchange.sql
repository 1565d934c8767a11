-- Grids that differ between version %(src)s and version %(dst)s (reshaped, or new
-- attributes; rows of _match): the row the points reference (src_id) takes the shape and
-- attributes of the new version's row and moves into %(dst)s; that row (dst_id) takes the
-- old ones into %(src)s. Both versions keep exactly the grids they had, and the points of
-- such a grid outside the changed area keep their row (migration 0037). The subquery
-- reads both rows as they were before the statement.
UPDATE grids AS g
SET version_id = o.version_id, name = o.name, parent_code = o.parent_code,
    leader = o.leader, departments = o.departments, population = o.population,
    area_m2 = o.area_m2, geom = o.geom
FROM (
    SELECT m.src_id AS id, d.version_id, d.name, d.parent_code, d.leader, d.departments,
           d.population, d.area_m2, d.geom
    FROM _match AS m JOIN grids AS d ON d.id = m.dst_id
    WHERE m.change IN ('reshaped', 'attributes')
    UNION ALL
    SELECT m.dst_id, s.version_id, s.name, s.parent_code, s.leader, s.departments,
           s.population, s.area_m2, s.geom
    FROM _match AS m JOIN grids AS s ON s.id = m.src_id
    WHERE m.change IN ('reshaped', 'attributes')
) AS o
WHERE g.id = o.id;
