-- What made a draft, kept with it so that its page can show it after the redirect:
-- the moves of a balance suggestion, and the digitising noise repaired when a grid file
-- became a version. Both go with the version (a discarded draft takes them along).

CREATE TABLE balance_suggestions (      -- one per draft made by the balance suggestion
    version_id  integer PRIMARY KEY REFERENCES grid_versions (id) ON DELETE CASCADE,
    source_id   integer NOT NULL,       -- the version it started from
    metric      text NOT NULL,          -- open_issues | recent_issues | issues | area
    scope       text NOT NULL,          -- community | street: how far a block may move
    unit_kind   text NOT NULL,          -- blocks | lattice
    units       integer NOT NULL,       -- movable units
    unit_m      double precision NOT NULL,
    fallback    boolean NOT NULL,       -- the lattice stood in for a missing blocks layer
    before      jsonb NOT NULL,         -- {"sd", "range", "mean"} of the grids' loads
    after       jsonb NOT NULL,
    moves       jsonb NOT NULL          -- [{"unit", "block", "from", "to", "load", "with",
                                        --   "lon", "lat"}], in the order they were made
);

CREATE TABLE grid_repairs (             -- digitising noise repaired in a version's rows
    id          serial PRIMARY KEY,
    version_id  integer NOT NULL REFERENCES grid_versions (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('overlap', 'gap')),
    codes       text[] NOT NULL,        -- the grids around it
    given_to    text NOT NULL,          -- the grid that holds it now
    area_m2     double precision NOT NULL,
    width_m     double precision NOT NULL,  -- its largest width (below the noise width)
    geom        geometry(Polygon, 4490) NOT NULL
);
CREATE INDEX ON grid_repairs (version_id);
