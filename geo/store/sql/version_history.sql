-- Of the points of {table} logged under activation %(activation)s: how many rows changed
-- at all, and how many changed grid (by code). Those, and those whose method changed, get
-- a history row in the form geo.assign writes; a point that only moves to its grid's new
-- row, or only gets the new version label, is in the activation log alone.
WITH changed AS (
    SELECT l.row_id, l.old_grid_id, l.new_grid_id, l.new_method, l.new_grid_version,
           o.code IS DISTINCT FROM n.code AS moved, l.old_method <> l.new_method AS method
    FROM grid_assignment_log AS l
    LEFT JOIN grids AS o ON o.id = l.old_grid_id
    LEFT JOIN grids AS n ON n.id = l.new_grid_id
    WHERE l.activation_id = %(activation)s AND l.kind = '{table}'
      AND (l.old_grid_id IS DISTINCT FROM l.new_grid_id
           OR l.old_grid_version IS DISTINCT FROM l.new_grid_version
           OR l.old_method <> l.new_method)
), written AS (
    INSERT INTO {history} ({key}, actor, action, data)
    SELECT row_id, coalesce(%(actor)s, current_user), 'reassigned',
           jsonb_build_object('from_grid', old_grid_id, 'to_grid', new_grid_id,
                              'method', new_method, 'grid_version', new_grid_version,
                              'activation', %(activation)s)
    FROM changed
    WHERE moved OR method
    RETURNING 1
)
SELECT count(*), count(*) FILTER (WHERE moved), (SELECT count(*) FROM written) FROM changed;
