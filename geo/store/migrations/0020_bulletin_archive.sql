-- The archive of daily bulletins (日通报) made at the configured time: one row per day,
-- holding that day's workbook and PDF as they were made, so they are downloaded again
-- unchanged. The primary key is what makes "exactly one bulletin per day" hold when
-- several server processes each run the schedule; the maker also takes a transaction-level
-- advisory lock for the day, so a second process does not render it in vain.

CREATE TABLE bulletin_archive (
    day          date PRIMARY KEY,
    made_at      timestamptz NOT NULL DEFAULT now(),
    made_by      text NOT NULL,
    xlsx         bytea NOT NULL,
    pdf          bytea NOT NULL
);

-- An archived bulletin is a record: it is never edited or deleted.
CREATE TRIGGER bulletin_archive_append_only BEFORE UPDATE OR DELETE
    ON bulletin_archive FOR EACH ROW EXECUTE FUNCTION civgrid_append_only();
