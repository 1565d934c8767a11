-- Points of {table} outside the changed area assigned to a grid whose row is replaced
-- (same code, new shape elsewhere or new attributes): same grid, same method, the new
-- row. Logged under activation %(activation)s.
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
)
INSERT INTO grid_assignment_log (activation_id, kind, row_id, old_grid_id, old_grid_version,
                                 old_method, new_grid_id, new_grid_version, new_method)
SELECT %(activation)s, '{table}', o.id, o.grid_id, o.grid_version, o.assign_method,
       o.dst_id, %(version)s, o.assign_method
FROM old AS o;
