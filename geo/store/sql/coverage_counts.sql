-- Renovation and facility counts per grid_id (NULL: records in no grid). Records are
-- first grouped by the columns that classify them, so the classes placeholder
-- (coverage_classes.sql over toilet_groups) classifies a few hundred rows, not every
-- record; n is the number of records in a group.
WITH toilet_groups AS (
    SELECT grid_id, kind, original_type, action, status, heating, power, water, sewage,
           ventilation, count(*) AS n
    FROM toilets
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
)
SELECT t.grid_id,
       sum(t.n) AS toilets,
       coalesce(sum(t.n) FILTER (WHERE t.latrine), 0) AS latrines,
       coalesce(sum(t.n) FILTER (WHERE t.demolished), 0) AS demolished,
       coalesce(sum(t.n) FILTER (WHERE t.converted), 0) AS converted,
       coalesce(sum(t.n) FILTER (WHERE t.new_built), 0) AS new_built,
       coalesce(sum(t.n) FILTER (WHERE t.renovated), 0) AS renovated,
       coalesce(sum(t.n) FILTER (WHERE t.remaining), 0) AS remaining,
       coalesce(sum(t.n) FILTER (WHERE t.flush), 0) AS flush,
       coalesce(sum(t.n) FILTER (WHERE t.public_flush), 0) AS public_flush,
       coalesce(sum(t.n) FILTER (WHERE t.lacks_facility), 0) AS flush_lacking_facility,
       coalesce(sum(t.n) FILTER (WHERE t.lacks_heating), 0) AS lacking_heating,
       coalesce(sum(t.n) FILTER (WHERE t.lacks_power), 0) AS lacking_power,
       coalesce(sum(t.n) FILTER (WHERE t.lacks_water), 0) AS lacking_water,
       coalesce(sum(t.n) FILTER (WHERE t.lacks_sewage), 0) AS lacking_sewage,
       coalesce(sum(t.n) FILTER (WHERE t.lacks_ventilation), 0) AS lacking_ventilation
FROM ({classes}) AS t
GROUP BY t.grid_id
