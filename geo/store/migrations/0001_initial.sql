-- civgrid initial schema: grid versions, grids, categories, issues, toilets, history.
CREATE EXTENSION IF NOT EXISTS postgis;

-- One row per import or bulk operation: who loaded what, from which file.
CREATE TABLE imports (
    id          serial PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('grids', 'issues', 'toilets', 'categories')),
    source_file text,
    rows        integer NOT NULL DEFAULT 0,
    crs         text,
    imported_by text NOT NULL DEFAULT current_user,
    imported_at timestamptz NOT NULL DEFAULT now()
);

-- Boundary generations: one active, any number of drafts, old ones kept.
CREATE TABLE grid_versions (
    id           serial PRIMARY KEY,
    label        text NOT NULL,
    status       text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'retired')),
    parent_id    integer REFERENCES grid_versions (id),
    import_id    integer REFERENCES imports (id),
    created_by   text NOT NULL DEFAULT current_user,
    created_at   timestamptz NOT NULL DEFAULT now(),
    activated_by text,
    activated_at timestamptz,
    retired_at   timestamptz,
    note         text
);
CREATE UNIQUE INDEX grid_versions_one_active ON grid_versions ((true)) WHERE status = 'active';

-- Every activation (and rollback) in order: answers "which version was active at time T".
CREATE TABLE grid_activations (
    id           serial PRIMARY KEY,
    version_id   integer NOT NULL REFERENCES grid_versions (id),
    activated_by text NOT NULL DEFAULT current_user,
    activated_at timestamptz NOT NULL DEFAULT now(),
    action       text NOT NULL DEFAULT 'activate' CHECK (action IN ('activate', 'rollback'))
);

-- Grid rows are never updated in place: a changed grid is a new row in a new version.
CREATE TABLE grids (
    id          serial PRIMARY KEY,
    version_id  integer NOT NULL REFERENCES grid_versions (id),
    code        text NOT NULL CHECK (code ~ '^[0-9]{15}$'),
    name        text NOT NULL,
    level       text NOT NULL CHECK (level IN ('street', 'community', 'grid')),
    parent_code text CHECK (parent_code ~ '^[0-9]{15}$'),
    leader      text,
    departments text[] NOT NULL DEFAULT '{}',
    population  integer CHECK (population >= 0),
    area_m2     double precision NOT NULL,
    geom        geometry(MultiPolygon, 4490) NOT NULL,
    UNIQUE (version_id, code)
);
CREATE INDEX grids_geom_idx ON grids USING gist (geom);
CREATE INDEX grids_version_level_idx ON grids (version_id, level);

CREATE TABLE categories (
    code        text PRIMARY KEY CHECK (code ~ '^[0-9]{5}$'),
    name_zh     text NOT NULL,
    name_en     text NOT NULL,
    group_code  text NOT NULL,
    group_zh    text NOT NULL,
    group_en    text NOT NULL,
    limit_value integer,
    limit_unit  text NOT NULL CHECK (limit_unit IN ('hours', 'working_days', 'plan'))
);

CREATE TABLE issues (
    id            bigserial PRIMARY KEY,
    ref           text UNIQUE,
    category      text NOT NULL REFERENCES categories (code),
    source        text NOT NULL CHECK (source IN
                    ('leader', 'joint', 'patrol', 'sweep', 'citizen', 'city', 'other')),
    status        text NOT NULL DEFAULT 'reported' CHECK (status IN
                    ('reported', 'filed', 'dispatched', 'processing', 'fed_back', 'checking',
                     'closed', 'void', 'rework', 'returned', 'suspended')),
    reported_at   timestamptz NOT NULL,
    closed_at     timestamptz,
    description   text,
    address       text,
    geom          geometry(Point, 4490) NOT NULL,
    raw_x         double precision NOT NULL,
    raw_y         double precision NOT NULL,
    raw_crs       text NOT NULL,
    grid_id       integer REFERENCES grids (id),
    grid_version  integer REFERENCES grid_versions (id),
    assign_method text NOT NULL DEFAULT 'none'
                  CHECK (assign_method IN ('inside', 'boundary', 'nearest', 'none')),
    import_id     integer REFERENCES imports (id),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX issues_geom_idx ON issues USING gist (geom);
CREATE INDEX issues_grid_idx ON issues (grid_id);
CREATE INDEX issues_reported_idx ON issues (reported_at);

-- Append-only: who changed what, when.
CREATE TABLE issue_history (
    id          bigserial PRIMARY KEY,
    issue_id    bigint NOT NULL REFERENCES issues (id),
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL DEFAULT current_user,
    action      text NOT NULL,
    from_status text,
    to_status   text,
    note        text,
    data        jsonb
);
CREATE INDEX issue_history_issue_idx ON issue_history (issue_id);

CREATE FUNCTION civgrid_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END $$;
CREATE TRIGGER issue_history_append_only BEFORE UPDATE OR DELETE ON issue_history
    FOR EACH ROW EXECUTE FUNCTION civgrid_append_only();

CREATE TABLE toilets (
    id            serial PRIMARY KEY,
    code          text NOT NULL UNIQUE,
    kind          text NOT NULL CHECK (kind IN ('household', 'public')),
    name          text,
    address       text,
    original_type text NOT NULL CHECK (original_type IN ('dry_latrine', 'flush', 'none')),
    action        text CHECK (action IN ('demolish', 'convert', 'new_build')),
    status        text NOT NULL CHECK (status IN ('planned', 'in_progress', 'accepted')),
    planned_at    date,
    started_at    date,
    accepted_at   date,
    heating       boolean NOT NULL DEFAULT false,
    power         boolean NOT NULL DEFAULT false,
    water         boolean NOT NULL DEFAULT false,
    sewage        boolean NOT NULL DEFAULT false,
    ventilation   boolean NOT NULL DEFAULT false,
    sanitary_type text CHECK (sanitary_type IN ('three_compartment', 'double_urn', 'biogas',
                    'urine_diverting', 'double_pit', 'sewer_flush')),
    photos        text[] NOT NULL DEFAULT '{}',
    geom          geometry(Point, 4490) NOT NULL,
    raw_x         double precision NOT NULL,
    raw_y         double precision NOT NULL,
    raw_crs       text NOT NULL,
    grid_id       integer REFERENCES grids (id),
    grid_version  integer REFERENCES grid_versions (id),
    assign_method text NOT NULL DEFAULT 'none'
                  CHECK (assign_method IN ('inside', 'boundary', 'nearest', 'none')),
    import_id     integer REFERENCES imports (id),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX toilets_geom_idx ON toilets USING gist (geom);

CREATE TABLE toilet_history (
    id        bigserial PRIMARY KEY,
    toilet_id integer NOT NULL REFERENCES toilets (id),
    at        timestamptz NOT NULL DEFAULT now(),
    actor     text NOT NULL DEFAULT current_user,
    action    text NOT NULL,
    note      text,
    data      jsonb
);
CREATE TRIGGER toilet_history_append_only BEFORE UPDATE OR DELETE ON toilet_history
    FOR EACH ROW EXECUTE FUNCTION civgrid_append_only();
