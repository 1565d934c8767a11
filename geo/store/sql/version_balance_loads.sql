-- Issues of the metric's kind ({filter}) per unit: an issue counts in the unit of its own
-- grid that covers it (the first one, if it lies on a line between two); per grid, the
-- issues in none of its units (assigned as 'nearest', outside the grid).
WITH counted AS (
    SELECT DISTINCT ON (i.id) i.id, i.grid_id, u.unit_id
    FROM issues AS i
    LEFT JOIN _units AS u ON u.grid_id = i.grid_id AND ST_Intersects(u.geom, i.geom)
    WHERE i.grid_id IN (SELECT grid_id FROM _units) AND {filter}
    ORDER BY i.id, u.unit_id
)
SELECT grid_id, unit_id, count(*) FROM counted GROUP BY grid_id, unit_id;
