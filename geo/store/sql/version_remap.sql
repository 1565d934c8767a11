-- Points of {table} outside the changed area assigned to a grid whose row is replaced
-- (same code, new shape elsewhere or new attributes): same grid, same method, the new
-- row. Logged under activation %(activation)s (the log: geo.grids.assign.log_changes_sql).
WITH old AS (
    SELECT t.id, t.grid_id, t.grid_version, t.assign_method, m.dst_id
    FROM _match AS m
    JOIN {table} AS t ON t.grid_id = m.src_id
    WHERE m.change IN ('reshaped', 'attributes')
      AND NOT EXISTS (SELECT 1 FROM _candidates AS c WHERE c.key = t.id)
      AND NOT EXISTS (SELECT 1 FROM grid_assignment_log AS l
                      WHERE l.activation_id = %(restore)s AND l.kind = '{table}'
                        AND l.row_id = t.id)
), updated AS (
    UPDATE {table} AS t SET grid_id = o.dst_id, grid_version = %(version)s
    FROM old AS o WHERE t.id = o.id
    RETURNING t.id
), changes AS (
    SELECT o.id AS row_id, o.grid_id AS old_grid_id, o.grid_version AS old_grid_version,
           o.assign_method AS old_method, o.dst_id AS new_grid_id,
           %(version)s AS new_grid_version, o.assign_method AS new_method
    FROM old AS o
)
{log_changes};
