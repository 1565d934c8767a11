-- People: accounts with roles and scopes, login failures (throttling), API tokens.
-- Roles and their actions are defined in geo/people/permissions.py (the one place).

CREATE TABLE users (
    id                   serial PRIMARY KEY,
    login                text NOT NULL UNIQUE CHECK (login ~ '^[A-Za-z0-9_.@-]{1,64}$'),
    display_name         text NOT NULL,
    phone                text,
    roles                text[] NOT NULL DEFAULT '{}',
    grids                text[] NOT NULL DEFAULT '{}',   -- scope of the grid_worker role
    departments          text[] NOT NULL DEFAULT '{}',   -- scope of the department role
    password_hash        text NOT NULL,
    must_change_password boolean NOT NULL DEFAULT false,
    disabled             boolean NOT NULL DEFAULT false,
    -- Raised by every password change, reset and disabling: sessions carry it, so
    -- older sessions stop working at once.
    session_epoch        integer NOT NULL DEFAULT 0,
    created_at           timestamptz NOT NULL DEFAULT now(),
    last_login_at        timestamptz
);

-- One row per failed login: throttling counts them per login name and per client
-- address in a recent window, so several server processes agree.
CREATE TABLE login_failures (
    id      bigserial PRIMARY KEY,
    login   text NOT NULL,
    address text NOT NULL,
    at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_login_idx ON login_failures (login, at);
CREATE INDEX login_failures_address_idx ON login_failures (address, at);

-- Tokens for scripts: only the SHA-256 of the token is kept; it acts with one role
-- of its owner.
CREATE TABLE api_tokens (
    id           serial PRIMARY KEY,
    user_id      integer NOT NULL REFERENCES users (id),
    role         text NOT NULL,
    label        text,
    token_sha256 text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
