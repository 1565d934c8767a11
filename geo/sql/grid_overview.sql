-- Active grid-level polygons with their issue counts, simplified for display.
SELECT g.code, g.name, g.leader, array_to_string(g.departments, '、') AS departments,
       g.population, g.area_m2,
       count(i.id) AS issues,
       count(i.id) FILTER (WHERE i.status NOT IN ('closed', 'void')) AS open_issues,
       ST_AsBinary(ST_SimplifyPreserveTopology(g.geom, %(tolerance_deg)s)) AS wkb
FROM grids g
LEFT JOIN issues i ON i.grid_id = g.id
WHERE g.version_id = %(version)s AND g.level = 'grid'
GROUP BY g.id
ORDER BY g.code
