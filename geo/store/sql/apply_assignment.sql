-- Write the assignment computed in _assigned onto {table} (issues or toilets),
-- touching only rows whose grid, version or method changes. Rule 4: a point
-- with no grid is 'none'. Returns (id, old grid, new grid, method) per change.
WITH computed AS (
    SELECT t.id, a.grid_id, coalesce(a.method, 'none') AS method
    FROM {table} AS t
    LEFT JOIN _assigned AS a ON a.key = t.id
    WHERE {scope}
), changed AS (
    SELECT t.id, t.grid_id AS old_grid, c.grid_id, c.method
    FROM computed AS c JOIN {table} AS t ON t.id = c.id
    WHERE t.grid_id IS DISTINCT FROM c.grid_id
       OR t.grid_version IS DISTINCT FROM %(version)s
       OR t.assign_method <> c.method
)
UPDATE {table} AS t
SET grid_id = ch.grid_id, grid_version = %(version)s, assign_method = ch.method
FROM changed AS ch
WHERE t.id = ch.id
RETURNING t.id, ch.old_grid, ch.grid_id, ch.method;
