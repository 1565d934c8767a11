-- Deadlines (DESIGN.md §6): reported time + the category's limit. Working days
-- skip Saturdays and Sundays (public holidays are not modelled); a start on a
-- weekend counts from the following Monday. 'plan' categories have none.
CREATE FUNCTION civgrid_deadline(t timestamptz, n integer, unit text)
RETURNS timestamptz LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN n IS NULL THEN NULL
        WHEN unit = 'hours' THEN t + make_interval(hours => n)
        WHEN unit = 'working_days' THEN (
            SELECT s + make_interval(days => n + 2 * ((w + n) / 5))
            FROM (SELECT CASE WHEN dow >= 6 THEN t + make_interval(days => 8 - dow) ELSE t END AS s
                  FROM (SELECT extract(isodow FROM t AT TIME ZONE 'Asia/Shanghai')::int AS dow) d) a,
                 LATERAL (SELECT extract(isodow FROM s AT TIME ZONE 'Asia/Shanghai')::int - 1 AS w) b)
    END
$$;

-- Issue lists and maps filter by category and status and sort by time.
CREATE INDEX issues_category_idx ON issues (category);
CREATE INDEX issues_status_idx ON issues (status);
