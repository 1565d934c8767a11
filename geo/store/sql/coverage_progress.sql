-- Accepted demolitions, conversions and new builds per month of accepted_at (NULL
-- month: accepted without a date; future: accepted_at after %(today)s, a typo that
-- geo.toilets.rules lists and the chart leaves out). The scope placeholder is "true" or
-- a condition on t built by geo.toilets.progress.progress_over_time.
SELECT to_char(date_trunc('month', t.accepted_at), 'YYYY-MM') AS month, t.action,
       coalesce(t.accepted_at > %(today)s, false) AS future, count(*)
FROM toilets AS t
WHERE t.status = 'accepted' AND t.action IS NOT NULL AND {scope}
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
