-- Toilet records classified (docs/domain.md, *Toilets*; geo/toilets/coverage.py documents
-- each definition).
-- Embedded as a subquery, so no semicolon. The toilets placeholder is a relation with
-- toilets' kind, original_type, action, status and five facility columns (the table,
-- or rows grouped by them); its columns pass through. A NULL action reads as ''.
SELECT c.*,
       c.latrine AND (c.demolished OR c.converted) AS renovated,
       c.latrine AND NOT (c.demolished OR c.converted) AS remaining,
       c.flush AND c.kind = 'public' AS public_flush,
       c.flush AND NOT c.heating AS lacks_heating,
       c.flush AND NOT c.power AS lacks_power,
       c.flush AND NOT c.water AS lacks_water,
       c.flush AND NOT c.sewage AS lacks_sewage,
       c.flush AND NOT c.ventilation AS lacks_ventilation,
       c.flush AND NOT (c.heating AND c.power AND c.water AND c.sewage AND c.ventilation)
           AS lacks_facility
FROM (
    SELECT t.*,
           t.original_type = 'dry_latrine' AS latrine,
           t.status = 'accepted' AND coalesce(t.action, '') = 'demolish' AS demolished,
           t.status = 'accepted' AND coalesce(t.action, '') = 'convert' AS converted,
           t.status = 'accepted' AND coalesce(t.action, '') = 'new_build' AS new_built,
           (t.original_type = 'flush'
            AND NOT (t.status = 'accepted' AND coalesce(t.action, '') = 'demolish'))
           OR (t.status = 'accepted' AND coalesce(t.action, '') IN ('convert', 'new_build'))
           AS flush
    FROM {toilets} AS t
) AS c
