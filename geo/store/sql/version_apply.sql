-- Write the assignment computed in _assigned onto the candidates of {table} and log
-- every candidate's assignment before and after under activation %(activation)s
-- (the log: geo.grids.assign.log_changes_sql).
WITH computed AS (
    SELECT c.key AS id, a.grid_id, coalesce(a.method, 'none') AS method
    FROM _candidates AS c
    LEFT JOIN _assigned AS a ON a.key = c.key
), old AS (
    SELECT t.id, t.grid_id, t.grid_version, t.assign_method
    FROM {table} AS t JOIN computed AS c ON c.id = t.id
), updated AS (
    UPDATE {table} AS t
    SET grid_id = c.grid_id, grid_version = %(version)s, assign_method = c.method
    FROM computed AS c
    WHERE t.id = c.id
      AND (t.grid_id IS DISTINCT FROM c.grid_id OR t.grid_version IS DISTINCT FROM %(version)s
           OR t.assign_method <> c.method)
    RETURNING t.id
), changes AS (
    SELECT o.id AS row_id, o.grid_id AS old_grid_id, o.grid_version AS old_grid_version,
           o.assign_method AS old_method, c.grid_id AS new_grid_id,
           %(version)s AS new_grid_version, c.method AS new_method
    FROM old AS o JOIN computed AS c ON c.id = o.id
)
{log_changes};
