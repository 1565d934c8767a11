-- Land use (optional): where a residential layer is loaded, toilet coverage is
-- measured on residential land instead of the whole district.
CREATE TABLE landuse (
    id          serial PRIMARY KEY,
    kind        text NOT NULL,
    name        text,
    residential boolean NOT NULL,
    geom        geometry(MultiPolygon, 4490) NOT NULL,
    import_id   integer REFERENCES imports (id)
);
CREATE INDEX landuse_geom_idx ON landuse USING gist (geom);
ALTER TABLE imports DROP CONSTRAINT imports_kind_check;
ALTER TABLE imports ADD CONSTRAINT imports_kind_check
    CHECK (kind IN ('grids', 'issues', 'toilets', 'categories', 'landuse'));
