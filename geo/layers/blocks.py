"""Blocks: the areas between roads, of which a grid is made (an optional layer).

With a blocks layer loaded, the balance suggestion (:mod:`geo.version_balance`) moves
whole blocks between neighbouring grids instead of lattice cells. Import replaces the
whole layer in one transaction. A feature is a (multi)polygon with an optional ``ref``
(an identifier shown in reports) and ``name``. Blocks need not tile the district exactly:
where two overlap, the balance gives the overlap to one of them; ground in no block stays
with its grid.
"""

from pathlib import Path

import geopandas as gpd
import shapely

from geo.io.units import NOMINAL_M_PER_DEGREE
from geo.layers import common as layers
from geo.io import readers
from geo.io.polygons import polygon_problems
from geo.errors import N_, InputError, Place, Problem, Text


class BlocksReport(layers.LayerReport):
    def counted(self):
        return Text(N_("%(n)d blocks"), {"n": self.features})


def import_blocks(db, settings, path, crs=None, dry_run=False, actor=None):
    """Replace the blocks layer with the polygons of ``path``, whole or not at all.

    Every feature that is not a valid polygon is reported (file, feature, ``ref``,
    reason) in one :class:`~geo.errors.InputError`, and nothing changes.

    Examples
    --------
    >>> print(import_blocks(db, settings, "data/demo/blocks.geojson"))  # doctest: +SKIP
    imported 1878 blocks from data/demo/blocks.geojson; the layer replaces the previous one
    """
    table = readers.read_polygons(path, crs)
    frame = table.frame
    problems, rows = [], []
    for i, geom in enumerate(table.geometry):
        problem = polygon_problems(geom, table.place(i, "ref"))
        if problem:
            problems.extend(problem)
            continue
        rows.append(tuple((frame[col].iat[i] or None) if col in frame.columns else None
                          for col in ("ref", "name")) + (layers.hex_wkb(geom),))
    if not rows and not problems:
        problems.append(Problem("io.no_features", N_("holds no features"), {},
                                Place(table.path.name)))
    if problems:
        raise InputError(problems, source=table.path)
    if not dry_run:
        layers.replace_layer(db, "blocks", table, [("ref", "text"), ("name", "text")], rows,
                             actor)
    return BlocksReport(Path(path).name, len(rows), dry_run)  # no server paths in messages


def is_loaded(tx):
    """Whether a blocks layer is loaded (inside the caller's transaction)."""
    return tx.fetchval("SELECT EXISTS (SELECT 1 FROM blocks)")


def shapes(db, simplify_m=2.0):
    """Every block's simplified polygon (lon/lat), for drawing a base map: an empty frame
    when no blocks layer is loaded."""
    with db.transaction() as tx:
        rows = tx.fetchall("SELECT ST_AsBinary(ST_SimplifyPreserveTopology(geom, %s))"
                           " FROM blocks ORDER BY id", (simplify_m / NOMINAL_M_PER_DEGREE,))
    return gpd.GeoDataFrame(geometry=shapely.from_wkb([bytes(r[0]) for r in rows]), crs=4490)
