-- Renovation and facility counts per grid (grid_id) and for the whole district (the
-- row with is_total); the classes placeholder is coverage_classes.sql.
SELECT grouping(t.grid_id) = 1 AS is_total, t.grid_id,
       count(*) AS toilets,
       count(*) FILTER (WHERE t.latrine) AS latrines,
       count(*) FILTER (WHERE t.demolished) AS demolished,
       count(*) FILTER (WHERE t.converted) AS converted,
       count(*) FILTER (WHERE t.new_built) AS new_built,
       count(*) FILTER (WHERE t.renovated) AS renovated,
       count(*) FILTER (WHERE t.remaining) AS remaining,
       count(*) FILTER (WHERE t.flush) AS flush,
       count(*) FILTER (WHERE t.public_flush) AS public_flush,
       count(*) FILTER (WHERE t.lacks_facility) AS flush_lacking_facility,
       count(*) FILTER (WHERE t.lacks_heating) AS lacking_heating,
       count(*) FILTER (WHERE t.lacks_power) AS lacking_power,
       count(*) FILTER (WHERE t.lacks_water) AS lacking_water,
       count(*) FILTER (WHERE t.lacks_sewage) AS lacking_sewage,
       count(*) FILTER (WHERE t.lacks_ventilation) AS lacking_ventilation
FROM ({classes}) AS t
GROUP BY GROUPING SETS ((t.grid_id), ())
