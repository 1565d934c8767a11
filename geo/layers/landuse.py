"""Land use: an optional polygon layer; its residential parts are what toilets must serve.

Import replaces the whole layer in one transaction. A polygon is residential when its
``kind`` is ``residential``, ``居住用地``/``居住``, or a code of the residential class R of the
urban land classification standard GB 50137 (``R``, ``R1``, ``R2`` …).
"""

import re
from dataclasses import dataclass
from pathlib import Path

from geo.layers import common as layers
from geo.io import readers
from geo.io.polygons import polygon_problems
from geo.errors import N_, InputError, Problem, Text

_RESIDENTIAL = re.compile(r"^(residential|居住用地|居住|R\d*)$", re.IGNORECASE)


def is_residential(kind):
    """``True`` for the kinds that count as residential land.

    >>> is_residential("R2"), is_residential("居住用地"), is_residential("commercial")
    (True, True, False)
    """
    return bool(_RESIDENTIAL.match((kind or "").strip()))


@dataclass
class LanduseReport(layers.LayerReport):
    residential: int = 0

    def counted(self):
        return Text(N_("%(n)d land-use polygons (%(residential)d residential)"),
                    {"n": self.features, "residential": self.residential})


def import_landuse(db, settings, path, crs=None, dry_run=False, actor=None):
    """Replace the land-use layer with ``path`` (polygons with a ``kind``), whole or not at all."""
    table = readers.read_polygons(path, crs)
    frame = table.frame
    if "kind" not in frame.columns:
        raise InputError(table.require(["kind"]), source=table.path)
    problems, rows = [], []
    for i, geom in enumerate(table.geometry):
        kind = frame["kind"].iat[i]
        if not kind:
            problems.append(Problem("io.missing_value", N_("%(column)s is empty"),
                                    {"column": "kind"}, table.place(i, "kind")))
        problem = polygon_problems(geom, table.place(i, "kind"))
        if problem:
            problems.extend(problem)
        else:
            name = frame["name"].iat[i] if "name" in frame.columns else None
            rows.append((kind, name or None, is_residential(kind), layers.hex_wkb(geom)))
    if problems:
        raise InputError(problems, source=table.path)
    report = LanduseReport(Path(path).name, len(rows), dry_run, sum(r[2] for r in rows))
    if not dry_run:
        layers.replace_layer(db, "landuse", table, [("kind", "text"), ("name", "text"),
                                                     ("residential", "boolean")], rows, actor)
    return report
