"""Cases: the closed loop of an issue (its workflow, :mod:`geo.cases.workflow`), its deadlines
and the holiday calendar they follow, and what is counted from its history: the metrics
(:mod:`geo.cases.metrics`) and the daily bulletin (:mod:`geo.cases.bulletin`) count the
steps of ``issue_history`` and the case's current columns; docs/domain.md defines every
figure."""
