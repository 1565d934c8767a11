-- What the daily bulletin and the metrics page read (geo/cases/metrics.py, bulletin.py).
--
-- The cases a period touches: those whose deadline falls in it and those closed in it or
-- after it, closed or not. The index on open deadlines (0004) cannot answer for closed
-- cases, so without these a day's bulletin reads every case of the year twice.
CREATE INDEX issues_deadline_idx ON issues (deadline);
CREATE INDEX issues_closed_at_idx ON issues (closed_at);
-- Every open case with what the figures read of it, from the index alone: a period's open
-- cases at its end are most of what it touches.
CREATE INDEX issues_open_cover_idx ON issues (reported_at)
    INCLUDE (id, category, source, department, status, deadline, closed_at, suspended_at,
             grid_id)
    WHERE status NOT IN ('closed', 'void');
-- The 30-day trend's overdue count: cases closed after their deadline, with what it
-- needs to place them, read from the index alone.
CREATE INDEX issues_closed_late_idx ON issues (closed_at)
    INCLUDE (deadline, reported_at, status, suspended_at) WHERE closed_at > deadline;
-- The steps of a period by kind, with the case they belong to, from the index alone (the
-- history is append-only, so its pages stay all-visible): replaces (action, at) of 0015.
CREATE INDEX issue_history_action_at_issue_idx ON issue_history (action, at, issue_id);
DROP INDEX issue_history_action_at_idx;
