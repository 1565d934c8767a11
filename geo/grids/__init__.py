"""Grids: codes, import, versions, validation, editing, impact, activation, balance, and the
point → grid assignment."""
