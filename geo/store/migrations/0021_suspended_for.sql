-- The traffic light's clock stops while a case is suspended (挂账). Resuming moves the
-- deadline later by the time suspended; the light must also leave that time out of the time
-- used and the time allowed, so each case keeps the total time it has been suspended since
-- its (latest) filing. Existing cases get it from their resume steps' history rows, which
-- record when the suspension began.

ALTER TABLE issues ADD COLUMN suspended_for interval NOT NULL DEFAULT interval '0'
    CHECK (suspended_for >= interval '0');

UPDATE issues i SET suspended_for = s.held
FROM (SELECT h.issue_id, sum(h.at - (h.data->>'suspended_at')::timestamptz) AS held
      FROM issue_history h JOIN issues c ON c.id = h.issue_id
      WHERE h.action = 'resume' AND h.data ? 'suspended_at'
        AND h.at >= coalesce(c.filed_at, c.reported_at)
      GROUP BY h.issue_id) s
WHERE s.issue_id = i.id AND s.held > interval '0';

-- The overdue filter leaves suspended cases out (their clock stands still): the index of open
-- deadlines carries suspended_at, so counting overdue cases still reads the index alone.
DROP INDEX issues_open_deadline_idx;
CREATE INDEX issues_open_deadline_idx ON issues (deadline) INCLUDE (suspended_at)
    WHERE status NOT IN ('closed', 'void');
