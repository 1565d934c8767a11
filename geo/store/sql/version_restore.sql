-- Rollback: give every point of {table} that activation %(restore)s looked at the
-- assignment it had before (grid, version and method), logged under %(activation)s
-- (the log: geo.grids.assign.log_changes_sql).
WITH old AS (
    SELECT t.id, t.grid_id, t.grid_version, t.assign_method,
           l.old_grid_id, l.old_grid_version, l.old_method
    FROM grid_assignment_log AS l
    JOIN {table} AS t ON t.id = l.row_id
    WHERE l.activation_id = %(restore)s AND l.kind = '{table}'
), updated AS (
    UPDATE {table} AS t
    SET grid_id = o.old_grid_id, grid_version = o.old_grid_version,
        assign_method = o.old_method
    FROM old AS o
    WHERE t.id = o.id
      AND (t.grid_id IS DISTINCT FROM o.old_grid_id
           OR t.grid_version IS DISTINCT FROM o.old_grid_version
           OR t.assign_method <> o.old_method)
    RETURNING t.id
), changes AS (
    SELECT o.id AS row_id, o.grid_id AS old_grid_id, o.grid_version AS old_grid_version,
           o.assign_method AS old_method, o.old_grid_id AS new_grid_id,
           o.old_grid_version AS new_grid_version, o.old_method AS new_method
    FROM old AS o
)
{log_changes};
