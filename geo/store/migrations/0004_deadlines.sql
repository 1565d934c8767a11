-- Deadlines (docs/domain.md, *Deadlines and the traffic light*): reported time +
-- the category's limit. Working days
-- skip Saturdays and Sundays (public holidays are not modelled); a start on a
-- weekend counts from the following Monday. 'plan' categories have none.
CREATE FUNCTION civgrid_deadline(t timestamptz, n integer, unit text)
RETURNS timestamptz LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    -- One expression, no subquery, so the planner inlines it into bulk inserts.
    -- A start on Saturday/Sunday (ISO weekday 6/7 in Shanghai) counts from Monday.
    SELECT CASE
        WHEN n IS NULL THEN NULL
        WHEN unit = 'hours' THEN t + make_interval(hours => n)
        WHEN unit = 'working_days' THEN t + make_interval(days => CASE
            WHEN extract(isodow FROM t AT TIME ZONE 'Asia/Shanghai') >= 6
            THEN 8 - extract(isodow FROM t AT TIME ZONE 'Asia/Shanghai')::int + n + 2 * (n / 5)
            ELSE n + 2 * ((extract(isodow FROM t AT TIME ZONE 'Asia/Shanghai')::int - 1 + n) / 5)
        END)
    END
$$;

-- The deadline is stored with the issue: an approved extension moves it, and
-- overdue counts over a million issues must not recompute it row by row.
ALTER TABLE issues ADD COLUMN deadline timestamptz;
UPDATE issues i SET deadline = civgrid_deadline(i.reported_at, c.limit_value, c.limit_unit)
FROM categories c WHERE c.code = i.category;
CREATE INDEX issues_open_deadline_idx ON issues (deadline) WHERE status NOT IN ('closed', 'void');
CREATE INDEX issues_category_idx ON issues (category);
CREATE INDEX issues_status_idx ON issues (status);
