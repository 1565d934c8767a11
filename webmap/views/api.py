"""JSON API under /api/v1/: GeoJSON for features, figures per grid, an OpenAPI description.

Bad parameters raise :class:`geo.errors.InputError` (a 400 naming the parameter)
through the one error handler in :mod:`webmap.errors`.
"""

import datetime as dt

import numpy as np
import shapely
import json

from flask import Blueprint, Response, jsonify, request

from geo.cases import workflow
from geo.issues import browse
from geo.io import crs as crs_mod
from geo.issues import stats
from geo.layers import blocks
from geo.errors import N_, NotFound, Text
from geo.issues.query import MAX_PAGE, IssueFilter, parse_sort
from geo.params import known_only, not_one_of, parse_bbox, parse_int, required
from webmap.db import get_db, settings
from webmap import auth
from webmap.views.cases import uploads
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
    flt.scope = auth.scope("issues.read")
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
    known_only(request.args, allowed)


ISSUE_PARAMS = set(IssueFilter.PARAMS) | {"limit", "offset", "crs", "lang"}


@bp.get("/issues")
@auth.requires("issues.read")
def issues():
    """Issues as GeoJSON points, filtered, sorted (newest first by default), paged."""
    _known_params(ISSUE_PARAMS | {"sort"})
    flt = _filter()
    sort = parse_sort(request.args)
    limit = parse_int(request.args, "limit", 100, 1, MAX_PAGE)
    offset = parse_int(request.args, "offset", 0, 0, 10**9)
    rows, total = browse.list_issues(get_db(), flt, limit=limit, offset=offset, sort=sort)
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
@auth.requires("issues.read")
def issue(issue_id):
    _known_params({"crs", "lang"})
    detail = browse.issue_detail(get_db(), issue_id, scope=auth.scope("issues.read"))
    detail["history"] = [{k: _json_value(v) for k, v in h.items()} for h in detail["history"]]
    detail.pop("import", None)
    [(lon, lat)] = _points([(detail.pop("lon"), detail.pop("lat"))])
    return jsonify({"type": "Feature", "id": issue_id,
                    "geometry": {"type": "Point", "coordinates": [lon, lat]},
                    "properties": {k: _json_value(v) for k, v in detail.items()}})


@bp.post("/issues/<int:issue_id>/actions")
@auth.requires("issues.act")
def issue_action(issue_id):
    """One workflow step on a case, e.g. ``{"action": "close"}`` with an API token: the
    same rules, history and audit as the pages (geo.cases.workflow). Sent as
    ``multipart/form-data``, it may carry photos in ``photo`` (the "after" photo of a feed
    back), checked and re-encoded as the page's. Answers the case's new status and the
    steps the account may take on it now."""
    body = (request.get_json(silent=True) if request.is_json else request.form) or {}
    if not isinstance(body, dict) and not hasattr(body, "get"):
        body = {}
    db = get_db()
    status = workflow.act(db, issue_id, str(body.get("action") or ""), auth.actor(),
                          auth.account(), note=body.get("note"),
                          department=body.get("department"),
                          deadline_to=body.get("deadline_to"), photos=uploads("photo"),
                          data_dir=settings().data_dir)
    case = workflow.case_state(db, issue_id, auth.account())
    return jsonify({"id": issue_id, "status": status, "department": case["department"],
                    "deadline": _json_value(case["deadline"]), "allowed": case["allowed"]})


@bp.get("/issues/clusters")
@auth.requires("issues.read")
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
    coords = _points([(lon, lat) for lat, lon, *_rest in rows])
    return _feature_collection([
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(xy)},
         "properties": {"count": n, "id": issue_id, "status": status, "light": light}}
        for (lat, lon, n, issue_id, status, light), xy in zip(rows, coords)
    ])


@bp.get("/heat")
@auth.requires("issues.read")
def heat():
    """Binned heat weights ``[lat, lon, count]`` for the filtered issues."""
    _known_params((ISSUE_PARAMS | {"cell"}) - {"limit", "offset"})
    cell = parse_int(request.args, "cell", 100, 20, 5000)
    rows = stats.heat_bins(get_db(), _filter(), cell)
    coords = _points([(lon, lat) for lat, lon, _n in rows])
    return jsonify({"cell_m": cell, "bins": [[y, x, n] for (x, y), (_a, _b, n) in zip(coords, rows)]})


@bp.get("/grids")
@auth.requires("maps.read")
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
@auth.requires("maps.read")
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
@auth.requires("maps.read")
def grid_stats(code):
    _known_params({"lang"})
    g = browse.grid_detail(get_db(), code)
    if g["figures"] is None:
        raise NotFound(N_("%(code)s is a %(level)s, not a grid: statistics are per grid"),
                       {"code": code, "level": Text(LEVEL_NAMES[g["level"]])},
                       code="grids.not_a_grid")
    return jsonify({"code": code, "name": g["name"], **g["figures"]})


@bp.get("/stats/grids")
@auth.requires("maps.read")
def all_grid_stats():
    """Filtered counts for every grid of the active version (no geometry)."""
    _known_params(ISSUE_PARAMS - {"limit", "offset", "crs"})
    frame = stats.grid_measures(get_db(), _filter())
    if frame is None:
        return jsonify({"grids": []})
    rows = frame.drop(columns="geometry").to_dict(orient="records")
    return jsonify({"grids": [{k: _json_value(v) for k, v in r.items()} for r in rows]})


@bp.get("/basemap")
@auth.requires("maps.read")
def basemap():
    """The district's own base map (GeoJSON): block polygons (``kind: block``, where a
    blocks layer is loaded) and street outlines (``kind: street``, with ``name``).

    The maps draw it when no tile server is configured; it changes only when grids or
    blocks are imported, so the answer carries an ETag and browsers revalidate it.
    """
    return basemap_response()


def basemap_response():
    """The answer of :func:`basemap` (the citizen's page serves the same, publicly)."""
    _known_params({"crs"})
    db = get_db()
    features = [("block", None, g) for g in blocks.shapes(db).geometry]
    features += [("street", r.name, r.geometry) for r in stats.outlines(db, simplify_m=2.0)
                 .itertuples()]
    gcj = _display_crs() == "gcj02"

    def coords(xy):
        if gcj:
            xy = np.column_stack(crs_mod.wgs84_to_gcj02(xy[:, 0], xy[:, 1]))
        return np.round(xy, 5)

    body = json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"kind": kind, "name": name},
         "geometry": json.loads(shapely.to_geojson(shapely.transform(geom, coords)))}
        for kind, name, geom in features]}, ensure_ascii=False, separators=(",", ":"))
    response = Response(body, mimetype="application/geo+json")
    response.cache_control.no_cache = True  # revalidate: the ETag makes that cheap
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/openapi.json")
@auth.requires("public")  # the description of the API holds no data
def openapi():
    return jsonify(spec())
