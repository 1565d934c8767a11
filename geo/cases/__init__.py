"""The closed loop of a case: its workflow (:mod:`geo.cases.workflow`), and the figures
counted from its history.

Every step a case takes is one row of ``issue_history`` named by the step (``file``,
``dispatch``, ``close``, …). The metrics (:mod:`geo.cases.metrics`) and the daily
bulletin (:mod:`geo.cases.bulletin`) count those rows and the case's current columns
(``issues.deadline``, ``closed_at``, ``department``, ``suspended_at``); docs/domain.md
defines every figure.
"""
