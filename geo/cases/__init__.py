"""Cases: the closed loop of an issue (its workflow, :mod:`geo.cases.workflow`), its deadlines
and the holiday calendar they follow, and what is counted from its history."""
