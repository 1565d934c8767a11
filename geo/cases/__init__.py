"""Cases: the closed loop of an issue, its deadlines and the holiday calendar they follow."""
