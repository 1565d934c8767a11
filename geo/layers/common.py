"""Optional polygon layers that an import replaces whole: land use and blocks.

Both read a polygon file with :func:`geo.readers.read_polygons`, name every bad feature
(file, feature, reason) and then swap the table's rows in one transaction, recorded in
``imports``; a failed check changes nothing.
"""

from dataclasses import dataclass

import shapely

from geo.io import crs as crs_mod
# The layers' polygon check (blocks and land use call layers.polygon_problems).
from geo.io.polygons import polygon_problems  # noqa: F401


@dataclass
class LayerReport:
    """What an import of a layer did (with ``dry_run``: would do)."""

    path: str
    features: int
    dry_run: bool = False
    noun = "polygons"

    def counted(self):
        return f"{self.features} {self.noun}"

    def __str__(self):
        head = "would import" if self.dry_run else "imported"
        return f"{head} {self.counted()} from {self.path}; the layer replaces the previous one"


def hex_wkb(geom):
    """2-D hex WKB, the form :func:`replace_layer` inserts."""
    return shapely.to_wkb(shapely.force_2d(geom), hex=True)


def replace_layer(db, kind, table, columns, rows, actor=None):
    """Replace every row of ``kind``'s layer with ``rows``, whole or not at all.

    ``columns`` are the attribute columns ``(name, SQL type)``; each row holds their
    values and last the geometry as :func:`hex_wkb`. Returns the import's id.
    """
    names = ", ".join(name for name, _ in columns)
    casts = ", ".join(f"%s::{sql_type}" for _, sql_type in columns)
    with db.transaction() as tx:
        import_id = tx.fetchval(
            "INSERT INTO imports (kind, source_file, rows, crs, imported_by)"
            " VALUES (%s, %s, %s, %s, coalesce(%s, current_user)) RETURNING id",
            (kind, str(table.path), len(rows), crs_mod.crs_label(table.crs), actor))
        tx.execute(f"DELETE FROM {kind}")
        tx.execute_values(
            f"INSERT INTO {kind} ({names}, geom, import_id) SELECT {names},"
            " ST_Multi(ST_GeomFromWKB(decode(v.wkb, 'hex'), 4490)), %s"
            f" FROM (VALUES %%s) AS v ({names}, wkb)" % int(import_id),
            rows, template=f"({casts}, %s)")
    return import_id
