-- Supervision bulletins (督查专报): 第N期 numbered per year with no gap and no repeat.
--
-- The number is taken from the year's counter row in the composing transaction
-- (INSERT … ON CONFLICT DO UPDATE … RETURNING): a second composition of the same year
-- waits on that row until the first commits (then takes the next number) or rolls back
-- (then takes the same one), so numbers never race as max(number) + 1 would.

CREATE TABLE supervision_counters (
    year integer PRIMARY KEY CHECK (year BETWEEN 1900 AND 2199),
    last integer NOT NULL CHECK (last > 0)
);

CREATE TABLE supervision_bulletins (
    id         serial PRIMARY KEY,
    year       integer NOT NULL,
    number     integer NOT NULL CHECK (number > 0),
    title      text NOT NULL CHECK (btrim(title) <> ''),
    note       text,
    rectify_by date,                     -- the deadline to rectify, on the district's calendar
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    case_ids   bigint[] NOT NULL CHECK (cardinality(case_ids) > 0),
    -- The cases as they stood when composed (place, grid, departments, category,
    -- description, status, photos): the PDF is rendered from this, the same every time.
    cases      jsonb NOT NULL,
    UNIQUE (year, number)
);
CREATE INDEX supervision_bulletins_created_idx ON supervision_bulletins (created_at DESC);

-- An issued bulletin is a record: it is never edited or deleted.
CREATE TRIGGER supervision_bulletins_append_only BEFORE UPDATE OR DELETE
    ON supervision_bulletins FOR EACH ROW EXECUTE FUNCTION civgrid_append_only();
