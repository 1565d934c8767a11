-- The holiday calendar (docs/domain.md, *Deadlines and the traffic light*): statutory
-- holidays and the official make-up working days (调休上班), loaded a year at a time
-- (`civgrid calendar import`, /admin/calendar). A day is a working day when it is a
-- 'workday' here, or a Monday to Friday that is not a 'holiday'.
CREATE TABLE calendar_days (
    day  date PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('holiday', 'workday')),
    name text
);

-- The working days, compiled from calendar_days by civgrid_calendar_refresh() after each
-- change into the bodies of three IMMUTABLE functions (the planner folds them to constant
-- arrays once per query), over the loaded years plus one year either side:
--   civgrid_calendar_first(): the first day covered (NULL when no calendar is loaded);
--   (civgrid_calendar_ordinals())[i]: how many working days come before day first + i - 1;
--   (civgrid_calendar_days())[k]: the k-th working day (from 1), as days after first.
-- So the n-th working day after day d is days[ordinals[d] + n + 1]: array look-ups in an
-- expression the planner inlines, which keeps a bulk import of a million issues fast
-- (a per-row table look-up took 28 s a million). Redefining the functions invalidates
-- the plans that folded the old arrays. Outside the covered days only weekends count.
CREATE FUNCTION civgrid_calendar_refresh() RETURNS void LANGUAGE plpgsql AS $refresh$
DECLARE
    first date;
    last date;
    ordinals integer[];
    days integer[];
BEGIN
    SELECT make_date(min(extract(year FROM day))::int - 1, 1, 1),
           make_date(max(extract(year FROM day))::int + 1, 12, 31)
    INTO first, last FROM calendar_days;
    IF first IS NOT NULL THEN
        SELECT array_agg(ordinal ORDER BY day), array_agg(day - first ORDER BY day)
                                                FILTER (WHERE working)
        INTO ordinals, days
        FROM (SELECT day, working,
                     coalesce(count(*) FILTER (WHERE working) OVER (ORDER BY day
                              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS ordinal
              FROM (SELECT d::date AS day,
                           coalesce(c.kind = 'workday', extract(isodow FROM d) < 6) AS working
                    FROM generate_series(first, last, interval '1 day') AS d
                    LEFT JOIN calendar_days AS c ON c.day = d::date) AS marked) AS counted;
    END IF;
    EXECUTE format('CREATE OR REPLACE FUNCTION civgrid_calendar_first() RETURNS date'
                   ' LANGUAGE sql IMMUTABLE PARALLEL SAFE AS %L',
                   format('SELECT %L::date', first));
    EXECUTE format('CREATE OR REPLACE FUNCTION civgrid_calendar_ordinals() RETURNS integer[]'
                   ' LANGUAGE sql IMMUTABLE PARALLEL SAFE AS %L',
                   format('SELECT %L::integer[]', coalesce(ordinals, '{}')));
    EXECUTE format('CREATE OR REPLACE FUNCTION civgrid_calendar_days() RETURNS integer[]'
                   ' LANGUAGE sql IMMUTABLE PARALLEL SAFE AS %L',
                   format('SELECT %L::integer[]', coalesce(days, '{}')));
END
$refresh$;
SELECT civgrid_calendar_refresh();

-- The ISO weekday of d (1 Monday … 7 Sunday) in integer arithmetic: extract() gives a
-- numeric, several times slower over a million rows. 2000-01-03 was a Monday.
CREATE FUNCTION civgrid_isodow(d date) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((d - DATE '2000-01-03') % 7 + 7) % 7 + 1
$$;

-- The n-th working day after d counting weekends only (from Monday for a weekend d).
CREATE FUNCTION civgrid_weekdays_after(d date, n integer) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN civgrid_isodow(d) >= 6 THEN d + (8 - civgrid_isodow(d)) + n + 2 * (n / 5)
                ELSE d + n + 2 * ((civgrid_isodow(d) - 1 + n) / 5) END
$$;

-- Whether d is a working day: a 'workday', or Monday to Friday and not a 'holiday'.
CREATE FUNCTION civgrid_is_working_day(d date) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN d - civgrid_calendar_first()
                     BETWEEN 0 AND cardinality(civgrid_calendar_ordinals()) - 1
                THEN coalesce((civgrid_calendar_days())[(civgrid_calendar_ordinals())
                                  [d - civgrid_calendar_first() + 1] + 1]
                              = d - civgrid_calendar_first(), false)
                ELSE civgrid_isodow(d) < 6 END
$$;

-- The n-th working day after d (after the next working day when d is not one).
CREATE FUNCTION civgrid_nth_working_day(d date, n integer) RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN d - civgrid_calendar_first()
                     BETWEEN 0 AND cardinality(civgrid_calendar_ordinals()) - 1
                 AND (civgrid_calendar_ordinals())[d - civgrid_calendar_first() + 1] + n
                     < cardinality(civgrid_calendar_days())
                THEN civgrid_calendar_first() + (civgrid_calendar_days())
                     [(civgrid_calendar_ordinals())[d - civgrid_calendar_first() + 1] + n + 1]
                ELSE civgrid_weekdays_after(d, n) END
$$;

-- Same signature as before (migration 0004), now STABLE: it reads the calendar.
--   hours: the clock, t + n hours.
--   working_days: d = the Shanghai day of t. On a working day, the deadline is the same
--     clock time on the n-th working day after d. On any other day the count starts at
--     00:00 of the next working day, so the deadline is 00:00 of the n-th working day
--     after that next working day.
--   plan (or no limit): NULL.
-- One expression without a subquery, so that the planner inlines it into bulk inserts.
CREATE OR REPLACE FUNCTION civgrid_deadline(t timestamptz, n integer, unit text)
RETURNS timestamptz LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN n IS NULL OR t IS NULL THEN NULL
        WHEN unit = 'hours' THEN t + make_interval(hours => n)
        WHEN unit <> 'working_days' THEN NULL
        WHEN civgrid_is_working_day((t AT TIME ZONE 'Asia/Shanghai')::date)
        THEN (civgrid_nth_working_day((t AT TIME ZONE 'Asia/Shanghai')::date, n)
              + (t AT TIME ZONE 'Asia/Shanghai')::time) AT TIME ZONE 'Asia/Shanghai'
        ELSE civgrid_nth_working_day((t AT TIME ZONE 'Asia/Shanghai')::date, n)::timestamp
             AT TIME ZONE 'Asia/Shanghai'
    END
$$;

-- Existing deadlines under the new rule: from the filing time (the reported time for a
-- case never filed), except where an approved extension or a resumed suspension moved it.
UPDATE issues AS i
SET deadline = civgrid_deadline(coalesce(i.filed_at, i.reported_at), c.limit_value, c.limit_unit)
FROM categories AS c
WHERE c.code = i.category
  AND NOT EXISTS (SELECT 1 FROM case_requests AS r
                  WHERE r.issue_id = i.id AND r.kind = 'extension' AND r.status = 'approved')
  AND NOT EXISTS (SELECT 1 FROM issue_history AS h WHERE h.issue_id = i.id AND h.action = 'resume')
  AND i.deadline IS DISTINCT FROM
      civgrid_deadline(coalesce(i.filed_at, i.reported_at), c.limit_value, c.limit_unit);
