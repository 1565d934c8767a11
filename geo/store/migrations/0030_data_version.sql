-- Data versions for caches: numbers that every statement writing what the overview and
-- the heatmap show raises by one, in its own transaction: ``issues`` for issues (new
-- cases, workflow steps, imports, re-assignments), ``grids`` for grids, grid versions
-- (activation, rollback) and categories.
--
-- They are a row, not sequences: a sequence moves before its transaction commits, so a
-- page built meanwhile from the old rows would be kept under the new number. The row
-- moves when the data moves, for every reader's snapshot; a reader that reads the
-- numbers before the rows can at worst keep newer rows under older numbers, which the
-- next reader of the newer numbers does not use. Writers wait for each other on this
-- row only from their write to their commit (milliseconds for a case step).
-- Statement-level triggers without transition tables: a bulk write pays one update.
CREATE TABLE data_version (
    one    boolean PRIMARY KEY DEFAULT true CHECK (one),
    issues bigint NOT NULL,
    grids  bigint NOT NULL
);
INSERT INTO data_version VALUES (true, 1, 1);

CREATE FUNCTION civgrid_bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'issues' THEN
        UPDATE data_version SET issues = issues + 1;
    ELSE
        UPDATE data_version SET grids = grids + 1;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER issues_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON issues
    FOR EACH STATEMENT EXECUTE FUNCTION civgrid_bump_data_version();
CREATE TRIGGER grids_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON grids
    FOR EACH STATEMENT EXECUTE FUNCTION civgrid_bump_data_version();
CREATE TRIGGER grid_versions_data_version
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON grid_versions
    FOR EACH STATEMENT EXECUTE FUNCTION civgrid_bump_data_version();
CREATE TRIGGER categories_data_version
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON categories
    FOR EACH STATEMENT EXECUTE FUNCTION civgrid_bump_data_version();
