-- Points of {table} whose assignment may differ between the two versions: those in the
-- changed area or within the 'nearest' tolerance of it (%(band)s degrees, at least the
-- tolerance everywhere in the district). Every other point is covered by the same grids,
-- or lies at the same distance from them, in both versions (geo/grids/activation.py).
DROP TABLE IF EXISTS _candidates;
CREATE TEMP TABLE _candidates ON COMMIT DROP AS
SELECT DISTINCT t.id AS key, t.geom
FROM _changed AS c
JOIN {table} AS t ON ST_DWithin(t.geom, c.geom, %(band)s);
DELETE FROM _candidates
WHERE key IN (SELECT row_id FROM grid_assignment_log
              WHERE activation_id = %(restore)s AND kind = '{table}');
CREATE INDEX ON _candidates USING gist (geom);
ANALYZE _candidates;
