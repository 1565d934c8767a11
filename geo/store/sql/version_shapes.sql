-- Shape figures of the grid-level rows of version %(version)s, measured in the
-- Gauss–Krüger zone EPSG:%(epsg)s: area (m², on the spheroid as stored), population and
-- Polsby–Popper compactness 4πA/P² (1 for a circle, small for a long or ragged shape).
SELECT g.code, g.name, g.area_m2, g.population,
       CASE WHEN ST_Perimeter(m) > 0 THEN 4 * pi() * ST_Area(m) / ST_Perimeter(m) ^ 2 END
FROM grids AS g
CROSS JOIN LATERAL ST_Transform(g.geom, %(epsg)s) AS m
WHERE g.version_id = %(version)s AND g.level = 'grid'
ORDER BY g.code, g.id;
