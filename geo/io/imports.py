"""The ``imports`` table: one row per file (or form) taken in, whatever it held.

Every stored record points at the import that brought it (``import_id``), so a page
can say which file and which person a record came from and in which coordinate
system its raw coordinates were given.
"""

from geo.io import crs as crs_mod
from geo.people import audit


def record_import(tx, kind, table, rows, actor=None):
    """Insert the ``imports`` row for ``table`` inside ``tx``; return its id.

    Parameters
    ----------
    kind : str
        What was imported: ``'issues'``, ``'toilets'``, ``'grids'`` or a layer's table.
    table : geo.io.readers.Table
        The file or form read; its path and CRS are recorded.
    rows : int
        How many records the import stores.
    actor : str, optional
        Who imported it (default: the database user).

    Examples
    --------
    >>> with db.transaction() as tx:  # doctest: +SKIP
    ...     import_id = record_import(tx, "issues", table, len(frame), actor="张三")
    """
    return tx.fetchval(
        "INSERT INTO imports (kind, source_file, rows, crs, imported_by)"
        " VALUES (%s, %s, %s, %s, coalesce(%s, current_user)) RETURNING id",
        (kind, str(table.path), rows, crs_mod.crs_label(table.crs), audit.login_of(actor)))
