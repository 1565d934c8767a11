"""JSON API under /api/v1/: GeoJSON for features, figures per grid, an OpenAPI description.

Bad parameters raise :class:`geo.errors.InputError` (a 400 naming the parameter)
through the one error handler in :mod:`webmap.errors`.
"""

import datetime as dt

import numpy as np
import shapely
from flask import Blueprint, jsonify, request

from geo.issues import browse
from geo.io import crs as crs_mod
from geo.issues import stats
from geo.errors import N_, NotFound, Text
from geo.issues.query import MAX_PAGE, IssueFilter
from geo.params import not_one_of, parse_bbox, parse_int, required, unknown
from webmap.db import get_db
from webmap.views.openapi import spec

bp = Blueprint("api", __name__, url_prefix="/api/v1")
#: The levels of the grid hierarchy, as a message names them.
LEVEL_NAMES = {"street": N_("street"), "community": N_("community"), "grid": N_("grid")}


def _json_value(v):
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    if isinstance(v, np.generic):
        return v.item()
    return v


def _display_crs():
    value = request.args.get("crs", "cgcs2000")
    if value not in ("cgcs2000", "gcj02"):
        raise not_one_of("crs", value, ("cgcs2000", "gcj02"))
    return value


def _filter():
    cats = stats.catalogue(get_db())
    flt = IssueFilter.parse(request.args, {c["code"] for c in cats},
                            {c["group_code"] for c in cats})
    if flt.bbox and _display_crs() == "gcj02":
        x1, y1 = crs_mod.gcj02_to_wgs84(flt.bbox[0], flt.bbox[1])
        x2, y2 = crs_mod.gcj02_to_wgs84(flt.bbox[2], flt.bbox[3])
        flt.bbox = (float(x1), float(y1), float(x2), float(y2))
    return flt


def _points(features_xy):
    """Shift ``[(lon, lat), …]`` onto GCJ-02 if asked (display only)."""
    if _display_crs() != "gcj02" or not features_xy:
        return features_xy
    arr = np.asarray(features_xy, dtype=float)
    lon, lat = crs_mod.wgs84_to_gcj02(arr[:, 0], arr[:, 1])
    return list(zip(lon.tolist(), lat.tolist()))


def _feature_collection(features, **extra):
    return jsonify({"type": "FeatureCollection", "features": features, **extra})


def _known_params(allowed):
    names = sorted(set(request.args) - set(allowed))
    if names:
        raise unknown(names[0], allowed)


ISSUE_PARAMS = set(IssueFilter.PARAMS) | {"limit", "offset", "crs", "lang"}


@bp.get("/issues")
def issues():
    """Issues as GeoJSON points, filtered, newest first, paged."""
    _known_params(ISSUE_PARAMS)
    flt = _filter()
    limit = parse_int(request.args, "limit", 100, 1, MAX_PAGE)
    offset = parse_int(request.args, "offset", 0, 0, 10**9)
    rows, total = browse.list_issues(get_db(), flt, limit=limit, offset=offset)
    coords = _points([(r["lon"], r["lat"]) for r in rows])
    features = [
        {"type": "Feature", "id": r["id"],
         "geometry": {"type": "Point", "coordinates": list(xy)},
         "properties": {k: _json_value(v) for k, v in r.items() if k not in ("lon", "lat")}}
        for r, xy in zip(rows, coords)
    ]
    return _feature_collection(features, numberMatched=total, numberReturned=len(features),
                               limit=limit, offset=offset)


@bp.get("/issues/<int:issue_id>")
def issue(issue_id):
    _known_params({"crs", "lang"})
    detail = browse.issue_detail(get_db(), issue_id)
    detail["history"] = [{k: _json_value(v) for k, v in h.items()} for h in detail["history"]]
    detail.pop("import", None)
    [(lon, lat)] = _points([(detail.pop("lon"), detail.pop("lat"))])
    return jsonify({"type": "Feature", "id": issue_id,
                    "geometry": {"type": "Point", "coordinates": [lon, lat]},
                    "properties": {k: _json_value(v) for k, v in detail.items()}})


@bp.get("/issues/clusters")
def clusters():
    """Issues in a bbox grouped on a zoom-dependent lattice (for maps)."""
    _known_params((ISSUE_PARAMS | {"zoom"}) - {"limit", "offset"})
    flt = _filter()
    if flt.bbox is None:
        raise required("bbox")
    zoom = parse_int(request.args, "zoom", None, 0, 22)
    if zoom is None:
        raise required("zoom")
    rows = stats.clusters(get_db(), flt, zoom)
    coords = _points([(lon, lat) for lat, lon, _n, _id in rows])
    return _feature_collection([
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(xy)},
         "properties": {"count": n, "id": issue_id}}
        for (lat, lon, n, issue_id), xy in zip(rows, coords)
    ])


@bp.get("/heat")
def heat():
    """Binned heat weights ``[lat, lon, count]`` for the filtered issues."""
    _known_params((ISSUE_PARAMS | {"cell"}) - {"limit", "offset"})
    cell = parse_int(request.args, "cell", 100, 20, 5000)
    rows = stats.heat_bins(get_db(), _filter(), cell)
    coords = _points([(lon, lat) for lat, lon, _n in rows])
    return jsonify({"cell_m": cell, "bins": [[y, x, n] for (x, y), (_a, _b, n) in zip(coords, rows)]})


@bp.get("/grids")
def grids():
    """Grids of the active version (or ``version``) as GeoJSON."""
    _known_params({"bbox", "level", "q", "version", "limit", "offset", "lang"})
    level = request.args.get("level")
    if level not in (None, *browse.GRID_LEVELS):
        raise not_one_of("level", level, browse.GRID_LEVELS)
    bbox = parse_bbox(request.args)
    limit = parse_int(request.args, "limit", 1000, 1, 5000)
    offset = parse_int(request.args, "offset", 0, 0, 10**9)
    version = parse_int(request.args, "version", None, 1, 10**9)
    rows, total = browse.list_grids(get_db(), version, level, request.args.get("q") or None,
                                    bbox, limit, offset)
    features = [
        {"type": "Feature", "id": r["code"],
         "geometry": shapely.geometry.mapping(r.pop("geometry")),
         "properties": {k: _json_value(v) for k, v in r.items()}}
        for r in rows
    ]
    return _feature_collection(features, numberMatched=total, numberReturned=len(features))


@bp.get("/grids/<code>")
def grid(code):
    _known_params({"lang"})
    g = browse.grid_detail(get_db(), code)
    geom = g.pop("geometry")
    g["neighbours"] = [{"code": n["code"], "name": n["name"]} for n in g["neighbours"]]
    g["children"] = [{"code": c, "name": n} for c, n in g["children"]]
    g.pop("id")
    return jsonify({"type": "Feature", "id": code, "geometry": shapely.geometry.mapping(geom),
                    "properties": {k: _json_value(v) for k, v in g.items()}})


@bp.get("/grids/<code>/stats")
def grid_stats(code):
    _known_params({"lang"})
    g = browse.grid_detail(get_db(), code)
    if g["figures"] is None:
        raise NotFound(N_("%(code)s is a %(level)s, not a grid: statistics are per grid"),
                       {"code": code, "level": Text(LEVEL_NAMES[g["level"]])},
                       code="grids.not_a_grid")
    return jsonify({"code": code, "name": g["name"], **g["figures"]})


@bp.get("/stats/grids")
def all_grid_stats():
    """Filtered counts for every grid of the active version (no geometry)."""
    _known_params(ISSUE_PARAMS - {"limit", "offset", "crs"})
    frame = stats.grid_measures(get_db(), _filter())
    if frame is None:
        return jsonify({"grids": []})
    rows = frame.drop(columns="geometry").to_dict(orient="records")
    return jsonify({"grids": [{k: _json_value(v) for k, v in r.items()} for r in rows]})


@bp.get("/openapi.json")
def openapi():
    return jsonify(spec())
