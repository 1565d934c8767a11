-- The closed loop (the case workflow): where a case was dispatched, when it was filed and
-- suspended, the extension and suspension requests the command centre decides, and the
-- routing table that proposes a department at dispatch. Every step of a case is one row of
-- issue_history (its action is the step's name), from which metrics and bulletins count.

ALTER TABLE issues
    ADD COLUMN department   text,         -- the department it was dispatched to (NULL before)
    ADD COLUMN filed_at     timestamptz,  -- 立案: the deadline counts from here
    ADD COLUMN suspended_at timestamptz;  -- 挂账 since (NULL unless suspended): the clock stops
-- A department's work: its open cases, soonest deadline first.
CREATE INDEX issues_department_idx ON issues (department, deadline)
    WHERE department IS NOT NULL AND status NOT IN ('closed', 'void');
-- Bulletins and metrics count the steps of a period: by step and time.
CREATE INDEX issue_history_action_at_idx ON issue_history (action, at);

CREATE TABLE case_requests (
    id            bigserial PRIMARY KEY,
    issue_id      bigint NOT NULL REFERENCES issues (id),
    kind          text NOT NULL CHECK (kind IN ('extension', 'suspension')),
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'approved', 'refused')),
    reason        text NOT NULL CHECK (btrim(reason) <> ''),
    deadline_to   timestamptz,            -- an extension: the deadline asked for
    requested_by  text NOT NULL,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    decided_by    text,
    decided_at    timestamptz,
    decision_note text,
    CHECK (kind <> 'extension' OR deadline_to IS NOT NULL),
    CHECK ((status = 'pending') = (decided_at IS NULL))
);
-- One open request of each kind per case; the command centre's queue reads the pending ones.
CREATE UNIQUE INDEX case_requests_one_pending ON case_requests (issue_id, kind)
    WHERE status = 'pending';

-- category → department, first match by position wins (a 5-digit category, a 2-digit
-- group, or NULL for any); the grid's departments are the fallback.
CREATE TABLE routing_rules (
    id         serial PRIMARY KEY,
    position   integer NOT NULL UNIQUE,
    category   text CHECK (category ~ '^[0-9]{2}([0-9]{3})?$'),
    department text NOT NULL CHECK (btrim(department) <> '')
);
