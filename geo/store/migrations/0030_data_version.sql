-- A data version for caches: one number that every statement writing what the overview
-- and the heatmap show (issues and their statuses, grids, grid versions and their
-- activation, categories) raises by one, in its own transaction.
--
-- It is a row, not a sequence: a sequence moves before its transaction commits, so a
-- page built meanwhile from the old rows would be kept under the new number. The row
-- moves when the data moves, for every reader's snapshot; a reader that reads the
-- number before the rows can at worst keep newer rows under the older number, which
-- the next reader of the newer number does not use. Writers wait for each other on
-- this row only from their write to their commit (milliseconds for a case step).
-- Statement-level triggers without transition tables: a bulk write pays one update.
CREATE TABLE data_version (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    n   bigint NOT NULL
);
INSERT INTO data_version VALUES (true, 1);

CREATE FUNCTION civgrid_bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE data_version SET n = n + 1;
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
