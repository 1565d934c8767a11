"""The closed loop of a case: its workflow (:mod:`geo.cases.workflow`) and what is counted from its history."""
