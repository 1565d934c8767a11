"""civgrid core: grids, issues, toilets and their spatial assignment in PostGIS.

Nothing in this package imports Flask; :mod:`geo.store.db` is the only module that
imports psycopg2 (README, *Architecture*).
"""

__version__ = "0.1.0"
