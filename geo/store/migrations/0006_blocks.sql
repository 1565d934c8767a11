-- Blocks (optional): the areas between roads, of which a grid is made. Where a layer is
-- loaded, the balance suggestion moves whole blocks between grids.
CREATE TABLE blocks (
    id        serial PRIMARY KEY,
    ref       text,
    name      text,
    geom      geometry(MultiPolygon, 4490) NOT NULL,
    import_id integer REFERENCES imports (id)
);
CREATE INDEX blocks_geom_idx ON blocks USING gist (geom);
ALTER TABLE imports DROP CONSTRAINT imports_kind_check;
ALTER TABLE imports ADD CONSTRAINT imports_kind_check
    CHECK (kind IN ('grids', 'issues', 'toilets', 'categories', 'landuse', 'blocks'));
