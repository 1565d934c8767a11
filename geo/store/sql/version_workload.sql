-- Issues per grid code under the current assignments: open ones ({open_expr}, filled in
-- from geo.issues.statuses) and those reported since %(since)s.
SELECT g.code,
       count(*) FILTER (WHERE {open_expr}) AS open_issues,
       count(*) FILTER (WHERE i.reported_at >= %(since)s) AS recent_issues
FROM issues AS i
JOIN grids AS g ON g.id = i.grid_id
GROUP BY g.code;
