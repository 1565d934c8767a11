-- The rows of {table} within {scope} whose grid, version or method the assignment in
-- _assigned changes (rule 4: a point with no grid is 'none'), with what they had before:
-- a narrow table, so the write that follows touches only these rows.
DROP TABLE IF EXISTS _changes;
CREATE TEMP TABLE _changes ON COMMIT DROP AS
SELECT t.id, t.grid_id AS old_grid, t.assign_method AS old_method,
       a.grid_id AS new_grid, coalesce(a.method, 'none') AS method
FROM {table} AS t
LEFT JOIN _assigned AS a ON a.key = t.id
WHERE ({scope})
  AND (t.grid_id IS DISTINCT FROM a.grid_id
       OR t.grid_version IS DISTINCT FROM %(version)s
       OR t.assign_method <> coalesce(a.method, 'none'));
