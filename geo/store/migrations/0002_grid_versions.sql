-- Grid redrawing for planners: the district boundary, drafts that may hold defects until
-- validated, immutable grid rows, and a per-activation log that makes rollback exact.

-- The district boundary. Gaps and parts outside are checked against it: the union of a
-- version's grids is not the boundary (a gap in the grids would be invisible).
CREATE TABLE districts (
    code        text PRIMARY KEY,
    name        text NOT NULL,
    geom        geometry(MultiPolygon, 4490) NOT NULL,
    source_file text,
    loaded_by   text NOT NULL DEFAULT current_user,
    loaded_at   timestamptz NOT NULL DEFAULT now()
);

-- A draft may hold duplicate codes until validation reports them; validation blocks the
-- activation of such a draft, so active and retired versions stay unique per code.
ALTER TABLE grids DROP CONSTRAINT grids_version_id_code_key;
CREATE INDEX grids_version_code_idx ON grids (version_id, code);

-- Grid rows are never changed in place and only drafts gain or lose rows. The one update
-- allowed moves an unchanged row between two versions: activation exchanges the rows of
-- grids that are identical in the old and the new version, so the points assigned to them
-- need not be rewritten (geo/version_activation.py).
CREATE FUNCTION civgrid_grid_rows_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v integer := CASE WHEN TG_OP = 'INSERT' THEN NEW.version_id ELSE OLD.version_id END;
BEGIN
    IF TG_OP = 'UPDATE' THEN
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
CREATE TRIGGER grids_guard BEFORE INSERT OR UPDATE OR DELETE ON grids
    FOR EACH ROW EXECUTE FUNCTION civgrid_grid_rows_guard();

-- Polygons of g without the parts and holes smaller than min_m2 (numerical debris of
-- overlay operations), always as a MultiPolygon. Areas are planar in degrees scaled to m²
-- at the part's latitude: ample for a threshold, and far cheaper than on the spheroid.
CREATE FUNCTION civgrid_clean_polygons(g geometry, min_m2 double precision)
RETURNS geometry LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- ST_Dump's estimate of 1,000 rows would make every call pay for JIT compilation.
SET jit = off AS $$
    SELECT coalesce(ST_Multi(ST_Collect(p ORDER BY path)),
                    ST_SetSRID('MULTIPOLYGON EMPTY'::geometry, ST_SRID(g)))
    FROM (
        SELECT d.path, ST_MakePolygon(ST_ExteriorRing(d.geom), ARRAY(
                   SELECT ST_InteriorRingN(d.geom, k)
                   FROM generate_series(1, ST_NumInteriorRings(d.geom)) AS k
                   WHERE ST_Area(ST_MakePolygon(ST_InteriorRingN(d.geom, k))) * m2 >= min_m2
                   ORDER BY k)) AS p
        FROM ST_Dump(ST_CollectionExtract(g, 3)) AS d
        CROSS JOIN LATERAL (SELECT 111320.0 * 110574.0
                                   * cos(radians(ST_Y(ST_PointOnSurface(d.geom)))) AS m2) AS f
        WHERE ST_Area(d.geom) * m2 >= min_m2
    ) AS s
$$;

-- Activations and rollbacks: which version was active before, which activation a rollback
-- undoes (once), and the area whose points were re-assigned.
ALTER TABLE grid_activations
    ADD COLUMN previous_version_id integer REFERENCES grid_versions (id),
    ADD COLUMN undoes integer REFERENCES grid_activations (id),
    ADD COLUMN changed_area geometry(MultiPolygon, 4490),
    ADD COLUMN validation jsonb;
CREATE UNIQUE INDEX grid_activations_undone_once ON grid_activations (undoes)
    WHERE undoes IS NOT NULL;

-- Every point an activation or rollback looked at: its assignment before and after.
-- Rollback restores the 'old' columns exactly. The ids name rows of grids and
-- grid_versions that are never deleted (only drafts lose rows, and drafts hold no
-- assignments); foreign keys are left out because they would be checked for every
-- logged point, on the activation's critical path.
CREATE TABLE grid_assignment_log (
    activation_id    integer NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('issues', 'toilets')),
    row_id           bigint NOT NULL,
    old_grid_id      integer,
    old_grid_version integer,
    old_method       text NOT NULL,
    new_grid_id      integer,
    new_grid_version integer,
    new_method       text NOT NULL,
    PRIMARY KEY (activation_id, kind, row_id)
);
