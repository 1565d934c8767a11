-- Activation exchanges the rows of a grid that differs between the old and the new version
-- (reshaped, or new attributes), as it already exchanged identical rows: the row the
-- points reference takes the new version's shape and attributes and moves into the new
-- version, its twin takes the old ones into the old version. Each version keeps exactly
-- the grids it had, but the points outside the changed area need no write: before, each
-- such point was updated to the new row (about 8,000 updates, each touching every index of
-- issues, for 10 reshaped grids of a million issues: most of an activation's time).
--
-- Every other change stays refused: a row is edited only by this exchange, which
-- geo/grids/activation.py announces for the statement with the transaction-local setting
-- civgrid.grid_exchange = 'on'; it keeps the row's id, code and level and moves the row to
-- another version. Drafts still gain and lose rows, active and retired versions do not.
CREATE OR REPLACE FUNCTION civgrid_grid_rows_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v integer := CASE WHEN TG_OP = 'INSERT' THEN NEW.version_id ELSE OLD.version_id END;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF coalesce(current_setting('civgrid.grid_exchange', true), '') = 'on'
           AND (NEW.id, NEW.code, NEW.level) IS NOT DISTINCT FROM (OLD.id, OLD.code, OLD.level)
           AND NEW.version_id <> OLD.version_id THEN
            RETURN NEW;
        END IF;
        IF (NEW.id, NEW.code, NEW.name, NEW.level, NEW.parent_code, NEW.leader, NEW.departments,
            NEW.population, NEW.area_m2) IS DISTINCT FROM
           (OLD.id, OLD.code, OLD.name, OLD.level, OLD.parent_code, OLD.leader, OLD.departments,
            OLD.population, OLD.area_m2)
           OR NOT ST_OrderingEquals(NEW.geom, OLD.geom) THEN
            RAISE EXCEPTION 'grid % of version %: grid rows are never changed in place; an edit '
                'adds a new row to a draft', OLD.code, OLD.version_id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF (SELECT status FROM grid_versions WHERE id = v) <> 'draft' THEN
        RAISE EXCEPTION 'grid version % is not a draft: its grids cannot be added or removed', v
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'INSERT' THEN NEW ELSE OLD END;
END $$;
