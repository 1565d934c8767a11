-- Points of {table} among the candidates whose grid (by code) would differ under the
-- version assigned in _assigned: id, label, old and new code and method, and for issues
-- whether the issue is open and recent (for the workload after the change).
SELECT t.id, t.{label}, og.code, ng.code, t.assign_method, coalesce(a.method, 'none'),
       {open_expr}, {recent_expr}
FROM _candidates AS c
JOIN {table} AS t ON t.id = c.key
LEFT JOIN grids AS og ON og.id = t.grid_id
LEFT JOIN _assigned AS a ON a.key = c.key
LEFT JOIN grids AS ng ON ng.id = a.grid_id
WHERE og.code IS DISTINCT FROM ng.code
ORDER BY t.id;
