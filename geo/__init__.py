"""civgrid core: grids, issues, toilets and their spatial assignment in PostGIS.

Nothing in this package imports Flask; :mod:`geo.db` is the only module that
imports psycopg2.
"""

__version__ = "0.1.0"
