-- Write the assignment computed in _assigned onto the candidates of {table} and log
-- every candidate's assignment before and after under activation %(activation)s.
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
)
INSERT INTO grid_assignment_log (activation_id, kind, row_id, old_grid_id, old_grid_version,
                                 old_method, new_grid_id, new_grid_version, new_method)
SELECT %(activation)s, '{table}', o.id, o.grid_id, o.grid_version, o.assign_method,
       c.grid_id, %(version)s, c.method
FROM old AS o JOIN computed AS c ON c.id = o.id;
