-- The issue list's default order (newest first, ties by id) read from an index, so a
-- page of 50 out of a million issues does not sort the million first. The old index on
-- reported_at alone is covered by this one (date filters use its first column).
CREATE INDEX issues_reported_id_idx ON issues (reported_at, id);
DROP INDEX issues_reported_idx;
