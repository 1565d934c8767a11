-- Service areas of the public flush toilets and what they leave unserved, in the
-- district's Gauss–Krüger CRS (metres). Fills temp tables that geo/coverage.py and
-- geo/coverage_sites.py read:
--   _cov_grids     active grid-level rows: id, code, name, population, geom (GK), area_m2
--   _cov_points    public flush toilets: id, code, name, grid_id, geom (GK), disc
--   _cov_union     one row: the union of every service disc (GK), EMPTY without toilets
--   _cov_pieces    that union cut by ST_Subdivide, indexed
--   _cov_unserved  per grid: the part outside every disc (GK) and its area
-- The classes placeholder below is coverage_classes.sql.
DROP TABLE IF EXISTS _cov_grids, _cov_points, _cov_union, _cov_pieces, _cov_unserved;

CREATE TEMP TABLE _cov_grids ON COMMIT DROP AS
SELECT g.id, g.code, g.name, g.population, gk.geom, ST_Area(gk.geom) AS area_m2
FROM grids AS g
CROSS JOIN LATERAL (SELECT ST_Transform(g.geom, %(srid)s) AS geom) AS gk
WHERE g.version_id = %(version)s AND g.level = 'grid';

-- Every disc is one template polygon (GEOS's buffer of the origin) moved onto its
-- toilet: the vertices ST_Buffer would compute, at a fraction of the cost.
CREATE TEMP TABLE _cov_points ON COMMIT DROP AS
SELECT t.id, t.code, t.name, t.grid_id, p.geom,
       ST_Translate(d.disc, ST_X(p.geom), ST_Y(p.geom)) AS disc
FROM ({classes}) AS t
CROSS JOIN LATERAL (SELECT ST_Transform(t.geom, %(srid)s) AS geom) AS p
CROSS JOIN (SELECT ST_Buffer(ST_SetSRID(ST_MakePoint(0, 0), %(srid)s), %(radius)s,
                             %(buffer_style)s) AS disc) AS d
WHERE t.public_flush;

CREATE TEMP TABLE _cov_union ON COMMIT DROP AS
SELECT coalesce(ST_Union(disc), ST_SetSRID('POLYGON EMPTY'::geometry, %(srid)s)) AS geom
FROM _cov_points;

-- Small pieces of the union, so that each grid overlays only the pieces it touches
-- (the ST_Subdivide trick of STYLE.md): several times faster than overlaying the
-- whole union once per grid.
CREATE TEMP TABLE _cov_pieces ON COMMIT DROP AS
SELECT ST_Subdivide(geom, 128) AS geom FROM _cov_union;
CREATE INDEX ON _cov_pieces USING gist (geom);
ANALYZE _cov_pieces;

CREATE TEMP TABLE _cov_unserved ON COMMIT DROP AS
SELECT g.id, u.geom, ST_Area(u.geom) AS area_m2
FROM _cov_grids AS g
CROSS JOIN LATERAL (
    SELECT coalesce(ST_Difference(g.geom, (SELECT ST_Union(p.geom) FROM _cov_pieces AS p
                                           WHERE p.geom && g.geom)),
                    g.geom) AS geom
) AS u;
