-- One toilet record with its grid (geo.toilets.get_toilet / update_toilet).
SELECT t.id, t.code, t.kind, t.name, t.address, t.original_type, t.action, t.status,
       t.planned_at::text AS planned_at, t.started_at::text AS started_at,
       t.accepted_at::text AS accepted_at,
       t.heating, t.power, t.water, t.sewage, t.ventilation, t.sanitary_type, t.photos,
       ST_X(t.geom) AS lon, ST_Y(t.geom) AS lat, t.raw_x, t.raw_y, t.raw_crs,
       g.code AS grid_code, g.name AS grid_name, t.grid_version, t.assign_method, t.created_at
FROM toilets AS t
LEFT JOIN grids AS g ON g.id = t.grid_id
WHERE t.code = %(code)s
