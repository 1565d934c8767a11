-- One append-only audit log: every change anywhere, written in the transaction that
-- makes it (geo/people/audit.py). Rows are only ever inserted: a trigger refuses
-- UPDATE, DELETE and TRUNCATE, for every role (superusers too, short of disabling
-- triggers), and those privileges are revoked.

CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_login text NOT NULL,          -- the account's login, 'cli:<os user>' or the db user
    actor_id    integer,                -- users.id, when the actor is an account
    token_id    integer,                -- api_tokens.id, when it acted through a token
    address     text,                   -- the client's address (NULL on the command line)
    action      text NOT NULL,          -- e.g. 'grids.activate', 'toilets.edit', 'users.create'
    object_type text NOT NULL,          -- e.g. 'grid_version', 'toilet', 'user', 'import'
    object_id   text,                   -- the object's id or code
    before      jsonb,                  -- what changed, as it was (changed fields only)
    after       jsonb                   -- and as it became; a summary for bulk imports
);

-- The page lists entries newest first, (at, id) descending, within its filters and
-- from the last entry shown: each filter reads one range of one of these.
CREATE INDEX audit_log_at_idx ON audit_log (at, id);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_login, at, id);
CREATE INDEX audit_log_action_idx ON audit_log (action, at, id);
CREATE INDEX audit_log_object_idx ON audit_log (object_type, object_id, at, id);

-- civgrid_append_only() (migration 0001) raises '<table> is append-only'.
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION civgrid_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION civgrid_append_only();

REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;
