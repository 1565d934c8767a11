"""Export grids, issues and toilets as GeoJSON, GeoPackage or CSV (README, *Input files*)."""

import io
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from geo.grids import assign
from geo.grids import store as version_store
from geo.errors import N_, InputError, NotFound, Place, Problem, shown
from geo.io.cells import neutralise_frame

FORMATS = ("geojson", "gpkg", "csv")
KINDS = ("grids", "issues", "toilets")

_QUERIES = {
    "grids": """
        SELECT g.code, g.name, g.level, g.parent_code, g.leader,
               array_to_string(g.departments, '、') AS departments, g.population,
               round(g.area_m2::numeric, 1)::float8 AS area_m2, g.version_id AS grid_version,
               ST_AsBinary(g.geom) AS wkb
        FROM grids g WHERE g.version_id = %(version)s ORDER BY g.code""",
    "issues": """
        SELECT i.ref, i.category, i.status, i.source,
               to_char(i.reported_at AT TIME ZONE 'Asia/Shanghai',
                       'YYYY-MM-DD"T"HH24:MI:SS"+08:00"') AS reported_at,
               to_char(i.closed_at AT TIME ZONE 'Asia/Shanghai',
                       'YYYY-MM-DD"T"HH24:MI:SS"+08:00"') AS closed_at,
               ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat, i.description, i.address,
               g.code AS grid_code, i.grid_version, i.assign_method,
               i.raw_x, i.raw_y, i.raw_crs
        FROM issues i LEFT JOIN grids g ON g.id = i.grid_id ORDER BY i.id""",
    "toilets": """
        SELECT t.code, t.kind, t.name, t.address, t.original_type, t.action, t.status,
               t.planned_at::text, t.started_at::text, t.accepted_at::text,
               t.heating, t.power, t.water, t.sewage, t.ventilation, t.sanitary_type,
               array_to_string(t.photos, ';') AS photos,
               ST_X(t.geom) AS lon, ST_Y(t.geom) AS lat,
               g.code AS grid_code, t.grid_version, t.assign_method
        FROM toilets t LEFT JOIN grids g ON g.id = t.grid_id ORDER BY t.id""",
}


def frame(db, kind, version=None):
    """The rows of ``kind`` as a GeoDataFrame in EPSG:4490."""
    if kind not in KINDS:
        raise InputError(Problem("parameter.not_one_of",
                                 N_("kind must be one of %(allowed)s, not %(value)r"),
                                 {"allowed": ", ".join(KINDS), "value": shown(kind)}))
    with db.transaction() as tx:
        if kind == "grids" and version is None:
            version = assign.active_version(tx)
            if version is None:
                raise NotFound(N_("there are no grids yet: import some first"),
                               code="grids.none_yet")
        rows = tx.fetchall(_QUERIES[kind], {"version": version})
        columns = tx.columns()
        if kind == "grids" and not rows:  # a version always has grids: is there one?
            version_store.version_row(tx, version)  # NotFound names it
    data = pd.DataFrame(rows, columns=columns)
    if kind == "grids":
        geometry = shapely.from_wkb([bytes(b) for b in data.pop("wkb")])
    else:
        geometry = gpd.points_from_xy(data["lon"], data["lat"])
    return gpd.GeoDataFrame(data, geometry=geometry, crs=4490)


#: The file name endings each format is written under.
SUFFIXES = {"csv": (".csv",), "geojson": (".geojson", ".json"), "gpkg": (".gpkg",),
            "xlsx": (".xlsx",), "png": (".png",), "html": (".html", ".htm"), "pdf": (".pdf",)}


def export(db, kind, fmt, path, version=None):
    """Write ``kind`` to ``path`` in ``fmt``; return the number of rows written.

    The file appears whole or not at all (see :func:`replacing`).
    """
    if fmt not in FORMATS:
        raise InputError(Problem("parameter.not_one_of",
                                 N_("format must be one of %(allowed)s, not %(value)r"),
                                 {"allowed": ", ".join(FORMATS), "value": shown(fmt)}))
    if version is not None and kind != "grids":
        raise InputError(Problem("export.version_of_points",
                                 N_("version: only grids have versions, not %(kind)s"),
                                 {"kind": kind}))
    gdf = frame(db, kind, version)
    with replacing(path, fmt) as tmp:
        _write(gdf, kind, fmt, tmp)
    return len(gdf)


def export_bytes(db, kind, fmt, version=None):
    """``kind`` in ``fmt`` as bytes, written in memory (a web download needs no file).

    Examples
    --------
    >>> data = export_bytes(db, "toilets", "geojson")  # doctest: +SKIP
    """
    if fmt not in FORMATS:
        raise InputError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if version is not None and kind != "grids":
        raise InputError(f"version: only grids have versions, not {kind}")
    buffer = io.BytesIO()
    _write(frame(db, kind, version), kind, fmt, buffer)
    return buffer.getvalue()


def _write(gdf, kind, fmt, target):
    """Write ``gdf`` to ``target`` (a path, or a binary buffer: its layer is ``kind``)."""
    in_memory = hasattr(target, "write")
    if fmt == "csv":
        # Text a spreadsheet would run as a formula gets a leading ' (read_csv takes it off).
        out = neutralise_frame(pd.DataFrame(gdf.drop(columns="geometry")))
        if kind == "grids":
            out["wkt"] = shapely.to_wkt(gdf.geometry.to_numpy(), rounding_precision=-1)
        out.to_csv(target, index=False, encoding="utf-8-sig")
    elif fmt == "geojson":
        gdf.to_file(target, driver="GeoJSON", engine="pyogrio", COORDINATE_PRECISION=9,
                    WRITE_NON_FINITE_VALUES="NO", **({"layer": kind} if in_memory else {}))
    else:
        gdf.to_file(target, driver="GPKG", layer=kind, engine="pyogrio")


@contextmanager
def replacing(path, fmt):
    """Yield a temporary file next to ``path`` that replaces ``path`` once written.

    A failed or interrupted write leaves a file that was at ``path`` as it was. Errors
    name the file: a missing folder, a folder or device in its place, a name that does
    not end as ``fmt`` files do, a disk that is full or not writable.
    """
    import pyogrio

    path = Path(path)
    place = Place(str(path))
    if path.suffix.lower() not in SUFFIXES[fmt]:
        raise InputError(Problem("export.file_name", N_("a %(format)s file's name ends in "
                                                        "%(suffixes)s"),
                                 {"format": fmt, "suffixes": " / ".join(SUFFIXES[fmt])}, place))
    if not path.parent.is_dir():
        raise InputError(Problem("export.no_folder", N_("the folder %(folder)s does not exist"),
                                 {"folder": str(path.parent)}, place))
    if path.exists() and not path.is_file():
        raise InputError(Problem("export.not_a_file", N_("exists and is not a file"), {}, place))
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    except OSError as exc:
        raise InputError(Problem("export.cannot_write",
                                 N_("cannot write in %(folder)s (%(reason)s)"),
                                 {"folder": str(path.parent), "reason": exc.strerror},
                                 place)) from None
    os.close(fd)
    os.unlink(name)  # the writers create it themselves (GDAL will not open an empty file)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    except (OSError, pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise InputError(Problem("export.cannot_write",
                                 N_("cannot write it (%(reason)s); nothing was changed"),
                                 {"reason": str(getattr(exc, "strerror", None) or exc)},
                                 place)) from None
    finally:
        tmp.unlink(missing_ok=True)
