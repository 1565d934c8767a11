-- Every toilet with its grid, community and street (of the grid version it was
-- assigned under), for the Excel ledger (geo/toilets/ledger.py). The scope placeholder is
-- "true" or a condition on t.
SELECT t.code, t.kind, t.name, t.address, ST_X(t.geom) AS lon, ST_Y(t.geom) AS lat,
       t.original_type, t.action, t.status, t.planned_at, t.started_at, t.accepted_at,
       t.heating, t.power, t.water, t.sewage, t.ventilation, t.sanitary_type, t.photos,
       s.name AS street_name, c.name AS community_name, g.code AS grid_code,
       g.name AS grid_name, t.assign_method, t.grid_version, t.raw_x, t.raw_y, t.raw_crs,
       t.created_at
FROM toilets AS t
LEFT JOIN grids AS g ON g.id = t.grid_id
LEFT JOIN grids AS c ON c.version_id = g.version_id AND c.code = left(g.code, 12) || '000'
LEFT JOIN grids AS s ON s.version_id = g.version_id AND s.code = left(g.code, 9) || '000000'
WHERE {scope}
ORDER BY g.code NULLS LAST, t.code
