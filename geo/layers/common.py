"""Optional polygon layers that an import replaces whole: land use and blocks.

Both read a polygon file with :func:`geo.io.readers.read_polygons`, name every bad feature
(file, feature, reason) and then swap the table's rows in one transaction, recorded in
``imports``; a failed check changes nothing.
"""

from dataclasses import dataclass

import shapely

from geo.errors import N_, Text
from geo.io.imports import record_import
from geo.people import audit


@dataclass
class LayerReport:
    """What an import of a layer did (with ``dry_run``: would do).

    The fields are the data; :meth:`text` says it as a translatable
    :class:`~geo.errors.Text` (``render(gettext)`` in a language, ``str()`` in English).
    """

    path: str
    features: int
    dry_run: bool = False

    def counted(self):
        """How many of what were imported, as a phrase."""
        return Text(N_("%(n)d polygons"), {"n": self.features})

    def text(self):
        if self.dry_run:
            message = N_("would import %(counted)s from %(path)s; the layer replaces the "
                         "previous one")
        else:
            message = N_("imported %(counted)s from %(path)s; the layer replaces the previous one")
        return Text(message, {"counted": self.counted(), "path": self.path})

    def render(self, translate=None):
        return self.text().render(translate) if translate else self.text().render()

    def __str__(self):
        return self.render()


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
        import_id = record_import(tx, kind, table, len(rows), actor)
        tx.execute(f"DELETE FROM {kind}")
        tx.execute_values(
            f"INSERT INTO {kind} ({names}, geom, import_id) SELECT {names},"
            " ST_Multi(ST_GeomFromWKB(decode(v.wkb, 'hex'), 4490)), %s"
            f" FROM (VALUES %%s) AS v ({names}, wkb)" % int(import_id),
            rows, template=f"({casts}, %s)")
        audit.record(tx, actor, "layer.import", "layer", kind, None,
                     {"file": table.path.name, "import": import_id, "rows": len(rows)})
    return import_id
