"""Land use: an optional polygon layer; its residential parts are what toilets must serve.

Import replaces the whole layer in one transaction. A polygon is residential when its
``kind`` is ``residential``, ``居住用地``/``居住``, or a code of the residential class R of the
urban land classification standard GB 50137 (``R``, ``R1``, ``R2`` …).
"""

import re
from dataclasses import dataclass

import shapely

from geo import crs as crs_mod, readers
from geo.errors import InputError

_RESIDENTIAL = re.compile(r"^(residential|居住用地|居住|R\d*)$", re.IGNORECASE)


def is_residential(kind):
    """``True`` for the kinds that count as residential land.

    >>> is_residential("R2"), is_residential("居住用地"), is_residential("commercial")
    (True, True, False)
    """
    return bool(_RESIDENTIAL.match((kind or "").strip()))


@dataclass
class LanduseReport:
    path: str
    polygons: int
    residential: int
    dry_run: bool = False

    def __str__(self):
        head = "would import" if self.dry_run else "imported"
        return (f"{head} {self.polygons} land-use polygons ({self.residential} residential) "
                f"from {self.path}; the layer replaces the previous one")


def import_landuse(db, settings, path, crs=None, dry_run=False, actor=None):
    """Replace the land-use layer with ``path`` (polygons with a ``kind``), whole or not at all."""
    table = readers.read_polygons(path, crs)
    frame = table.frame
    if "kind" not in frame.columns:
        raise InputError(f"{table.path.name}: no 'kind' attribute (e.g. residential, R2, 居住用地)")
    problems, rows = [], []
    for i, geom in enumerate(table.geometry):
        where = table.where(i, "kind")
        kind = frame["kind"].iat[i]
        if not kind:
            problems.append(f"{where}: kind is empty")
        if geom is None or geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
            problems.append(f"{where}: expected a Polygon or MultiPolygon")
        elif not geom.is_valid:
            problems.append(f"{where}: invalid geometry: {shapely.is_valid_reason(geom)}")
        else:
            name = frame["name"].iat[i] if "name" in frame.columns else None
            rows.append((kind, name or None, is_residential(kind),
                         shapely.to_wkb(shapely.force_2d(geom), hex=True)))
    if problems:
        raise InputError(problems, source=table.path)
    report = LanduseReport(str(path), len(rows), sum(r[2] for r in rows), dry_run)
    if dry_run:
        return report
    with db.transaction() as tx:
        import_id = tx.fetchval(
            "INSERT INTO imports (kind, source_file, rows, crs, imported_by)"
            " VALUES ('landuse', %s, %s, %s, coalesce(%s, current_user)) RETURNING id",
            (str(path), len(rows), crs_mod.crs_label(table.crs), actor))
        tx.execute("DELETE FROM landuse")
        tx.execute_values(
            "INSERT INTO landuse (kind, name, residential, geom, import_id) SELECT v.kind,"
            " v.name, v.residential, ST_Multi(ST_GeomFromWKB(decode(v.wkb, 'hex'), 4490)), %s"
            " FROM (VALUES %%s) AS v (kind, name, residential, wkb)" % int(import_id),
            rows, template="(%s, %s, %s::boolean, %s)")
    return report
