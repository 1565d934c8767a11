-- issues_category_idx (category) repeats the first column of issues_category_reported_idx
-- (category, reported_at, migration 0025): every look-up by category, and the foreign key's
-- check when a category is deleted, finds its rows through that one as well. An index costs
-- every write of a case a new entry and every bulk import or re-assignment a rebuild (about
-- a second a million cases): one is enough.
DROP INDEX IF EXISTS issues_category_idx;
