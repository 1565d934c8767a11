-- One case created on its own (a citizen's report, an Open311 request, a field report)
-- goes through the import machinery as a one-row import, which then finds its row by
-- import_id (its history row, the tally of what was assigned, the reporter's scope).
-- Without an index each of those scanned every issue: ~125 ms per query at 100,000
-- issues, a second at a million, where an index answers in well under a millisecond.
-- Bulk imports drop and rebuild it with the other secondary indexes (geo/io/intake.py).
CREATE INDEX issues_import_idx ON issues (import_id);
