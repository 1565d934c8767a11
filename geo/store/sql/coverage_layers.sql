-- Service areas of the public flush toilets and what they leave unserved, in the
-- district's Gauss–Krüger CRS (metres). Fills temp tables that geo/toilets/coverage.py and
-- geo/toilets/sites.py read:
--   _cov_grids     active grid-level rows: id, code, name, population, geom (GK), area_m2
--   _cov_points    public flush toilets: id, code, name, grid_id, facilities,
--                  lon, lat (EPSG:4490), geom (GK), disc
--   _cov_union     one row: the union of every service disc (GK), EMPTY without toilets
--   _cov_pieces    the unserved part of the district cut by ST_Subdivide, indexed
--   _cov_unserved  per grid: the part outside every disc (GK) and its area
-- The classes placeholder below is coverage_classes.sql over public_toilets.
DROP TABLE IF EXISTS _cov_grids, _cov_points, _cov_union, _cov_pieces, _cov_unserved;

-- geom / area_m2: the land to serve — the grid, or its residential part where a
-- residential land-use layer is loaded; grid_area_m2: the whole grid (densities).
CREATE TEMP TABLE _cov_grids ON COMMIT DROP AS
SELECT g.id, g.code, g.name, g.population, b.geom, ST_Area(b.geom) AS area_m2,
       ST_Area(gk.geom) AS grid_area_m2
FROM grids AS g
CROSS JOIN LATERAL (SELECT ST_Transform(g.geom, %(srid)s) AS geom) AS gk
CROSS JOIN LATERAL (
    SELECT CASE WHEN NOT %(residential)s THEN gk.geom
                ELSE coalesce(ST_CollectionExtract(ST_Intersection(gk.geom, (
                         SELECT ST_Union(ST_Transform(l.geom, %(srid)s)) FROM landuse AS l
                         WHERE l.residential AND l.geom && g.geom)), 3),
                     ST_SetSRID('MULTIPOLYGON EMPTY'::geometry, %(srid)s)) END AS geom
) AS b
WHERE g.version_id = %(version)s AND g.level = 'grid';

-- Every disc is one template polygon (GEOS's buffer of the origin) moved onto its
-- toilet: the vertices ST_Buffer would compute, at a fraction of the cost.
CREATE TEMP TABLE _cov_points ON COMMIT DROP AS
WITH public_toilets AS (SELECT * FROM toilets WHERE kind = 'public')
SELECT t.id, t.code, t.name, t.grid_id, t.heating, t.power, t.water, t.sewage,
       t.ventilation, ST_X(t.geom) AS lon, ST_Y(t.geom) AS lat, p.geom,
       ST_Translate(d.disc, ST_X(p.geom), ST_Y(p.geom)) AS disc
FROM ({classes}) AS t
CROSS JOIN LATERAL (SELECT ST_Transform(t.geom, %(srid)s) AS geom) AS p
CROSS JOIN (SELECT ST_Buffer(ST_SetSRID(ST_MakePoint(0, 0), %(srid)s), %(radius)s,
                             %(buffer_style)s) AS disc) AS d
WHERE t.public_flush;

CREATE TEMP TABLE _cov_union ON COMMIT DROP AS
SELECT coalesce(ST_Union(disc), ST_SetSRID('POLYGON EMPTY'::geometry, %(srid)s)) AS geom
FROM _cov_points;

-- Everything unserved: the district (the union of the grids, until a district boundary
-- table exists) minus the service union, cut into small indexed pieces (the
-- ST_Subdivide trick of STYLE.md) so that each grid overlays only the pieces it
-- touches. Cheaper than subtracting the much larger service union grid by grid.
CREATE TEMP TABLE _cov_pieces ON COMMIT DROP AS
SELECT ST_Subdivide(ST_Difference(d.geom, u.geom), 128) AS geom
FROM (SELECT ST_Union(geom) AS geom FROM _cov_grids) AS d, _cov_union AS u;
CREATE INDEX ON _cov_pieces USING gist (geom);
ANALYZE _cov_pieces;

-- Where neighbouring grids' pieces touch a grid's edge the overlay also yields lines:
-- only the polygons are kept.
CREATE TEMP TABLE _cov_unserved ON COMMIT DROP AS
SELECT g.id, u.geom, ST_Area(u.geom) AS area_m2
FROM _cov_grids AS g
CROSS JOIN LATERAL (
    SELECT coalesce(ST_CollectionExtract(ST_Intersection(
               g.geom, (SELECT ST_Union(p.geom) FROM _cov_pieces AS p WHERE p.geom && g.geom)), 3),
           ST_SetSRID('MULTIPOLYGON EMPTY'::geometry, %(srid)s)) AS geom
) AS u;
