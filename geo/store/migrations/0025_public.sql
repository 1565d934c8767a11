-- The public: citizens' reports and their tracking codes, satisfaction, reopen requests.
--
-- A citizen who reports a problem, or who says "it is this one" to a suggested open case,
-- gets a row here with a tracking code of their own: the first reporter of a case has
-- follows = false, every later one follows = true. Name, phone and e-mail are optional
-- and only the command centre and admins see them. The row also holds the citizen's
-- latest answer to "are you satisfied?" for the case as last closed.

CREATE TABLE citizen_reports (
    id          bigserial PRIMARY KEY,
    code        text NOT NULL UNIQUE CHECK (code ~ '^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$'),
    issue_id    bigint NOT NULL REFERENCES issues (id),
    follows     boolean NOT NULL DEFAULT false,
    channel     text NOT NULL CHECK (channel IN ('web', 'open311')),
    name        text CHECK (length(name) <= 100),
    phone       text CHECK (length(phone) <= 40),
    email       text CHECK (length(email) <= 200),
    created_at  timestamptz NOT NULL DEFAULT now(),
    satisfied   boolean,
    rated_at    timestamptz,
    rating_note text CHECK (length(rating_note) <= 2000),
    CHECK ((satisfied IS NULL) = (rated_at IS NULL))
);
CREATE INDEX citizen_reports_issue_idx ON citizen_reports (issue_id);
-- The duplicate suggestion: open cases of one category reported lately, near a point.
CREATE INDEX issues_category_reported_idx ON issues (category, reported_at);

-- An unsatisfied citizen asks for the closed case to be reopened; the command centre decides.
ALTER TABLE case_requests DROP CONSTRAINT case_requests_kind_check;
ALTER TABLE case_requests ADD CONSTRAINT case_requests_kind_check
    CHECK (kind IN ('extension', 'suspension', 'reopen'));
