-- Accepted demolitions, conversions and new builds per month of accepted_at (NULL
-- month: accepted without a date). The scope placeholder is "true" or a condition on
-- t built by geo.toilets.progress.progress_over_time.
SELECT to_char(date_trunc('month', t.accepted_at), 'YYYY-MM') AS month, t.action, count(*)
FROM toilets AS t
WHERE t.status = 'accepted' AND t.action IS NOT NULL AND {scope}
GROUP BY 1, 2
ORDER BY 1, 2
