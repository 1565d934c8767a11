-- Rollback: give every point of {table} that activation %(restore)s looked at the
-- assignment it had before (grid, version and method), logged under %(activation)s.
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
)
INSERT INTO grid_assignment_log (activation_id, kind, row_id, old_grid_id, old_grid_version,
                                 old_method, new_grid_id, new_grid_version, new_method)
SELECT %(activation)s, '{table}', o.id, o.grid_id, o.grid_version, o.assign_method,
       o.old_grid_id, o.old_grid_version, o.old_method
FROM old AS o;
