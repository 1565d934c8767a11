-- Issues binned on a regular lon/lat lattice: one weighted point per occupied
-- cell, so a heatmap of a million issues costs the page a few thousand points.
SELECT ST_Y(c) AS lat, ST_X(c) AS lon, n
FROM (
    SELECT ST_SnapToGrid(geom, %(cell_deg)s) AS c, count(*) AS n
    FROM issues
    WHERE status NOT IN ('void')
    GROUP BY 1
) s
