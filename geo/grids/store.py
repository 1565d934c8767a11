"""Shared helpers of the grid-version modules: locks, version rows, grid rows of drafts.

Grid rows are not edited in place (a trigger of migrations 0002 and 0037 enforces it): an
edit of a draft deletes the draft's row and inserts a new one; active and retired versions
never gain or lose a row, and their grids never change (activation exchanges rows between
the two versions it switches: :mod:`geo.grids.activation`). Everything here runs inside the caller's transaction ``tx``.
"""

import json

import shapely
from shapely.geometry import shape as geojson_shape

from geo.io import crs as crs_mod
from geo.people import audit
from geo.grids.codes import lenient_level
from geo.io.polygons import describe_invalid
from geo.errors import N_, ConflictError, excerpt, InputError, NotFound, Problem
from geo.grids.messages import FIELDS, LEVELS, VERSION_STATUS, codes_text, term

#: Overlaps, gaps, parts and holes smaller than this (m²) are numerical debris of
#: overlay operations (a 10 cm square), not planning errors.
NOISE_M2 = 0.01
#: How far (m) a drawn vertex may lie from an existing vertex or edge and still be
#: snapped onto it, so that a boundary drawn in the browser meets its neighbours.
SNAP_M = 0.5


def lock_versions(tx):
    """Serialise every change of which version is active (activation, rollback, import).

    The point tables are locked too (``SHARE ROW EXCLUSIVE``: readers go on, writers
    wait), so no point is inserted under the old version while the new one takes over.
    """
    tx.execute("LOCK TABLE grid_versions IN SHARE ROW EXCLUSIVE MODE")
    tx.execute("LOCK TABLE issues, toilets IN SHARE ROW EXCLUSIVE MODE")


def version_row(tx, version_id, lock=False):
    """The ``grid_versions`` row as a dict; :class:`NotFound` if there is none."""
    if not isinstance(version_id, int) or isinstance(version_id, bool):
        raise InputError(Problem("parameter.not_whole_number",
                                 N_("%(name)s must be a whole number, not %(value)s"),
                                 {"name": "version_id", "value": excerpt(version_id)}))
    rows = tx.fetchdicts(
        "SELECT id, label, status, parent_id, created_by, created_at, activated_by,"
        " activated_at, retired_at, note FROM grid_versions WHERE id = %s"
        + (" FOR UPDATE" if lock else ""), (version_id,))
    if not rows:
        raise NotFound(N_("grid version %(version)s does not exist"), {"version": version_id},
                       code="grids.version_not_found")
    return rows[0]


def require_draft(tx, version_id):
    """Lock draft ``version_id`` for an edit; :class:`ConflictError` if it is no draft."""
    tx.execute("SET LOCAL jit = off")  # small queries with large estimates: JIT costs more
    row = version_row(tx, version_id, lock=True)
    if row["status"] != "draft":
        raise ConflictError(
            N_("grid version %(version)s is %(status)s: only drafts can be edited "
               "(copy it into a new draft first)"),
            {"version": version_id, "status": term(VERSION_STATUS, row["status"])},
            code="grids.not_a_draft")
    return row


def grid_rows(tx, version_id, codes):
    """``{code: row}`` of grid-level rows; every code must appear exactly once."""
    rows = tx.fetchdicts(
        "SELECT id, code, name, level, parent_code, leader, departments, population"
        " FROM grids WHERE version_id = %s AND code = ANY(%s)", (version_id, list(codes)))
    found = {}
    for row in rows:
        if row["code"] in found:
            raise InputError(Problem(
                "grids.duplicate_code", N_("code %(code)s appears more than once in grid "
                                           "version %(version)s: fix the duplicate first"),
                {"code": row["code"], "version": version_id}))
        found[row["code"]] = row
    missing = [c for c in codes if c not in found]
    if missing:
        raise NotFound(N_("grid version %(version)s has no grid %(codes)s"),
                       {"version": version_id, "codes": codes_text(missing)},
                       code="grids.not_found")
    for row in found.values():
        if row["level"] != "grid":
            raise InputError(Problem(
                "grids.not_grid_level", N_("%(code)s is a %(level)s, not a grid: edit its grids"),
                {"code": row["code"], "level": term(LEVELS, row["level"])}))
    return found


def insert_grid(tx, version_id, fields, geom_sql, params=()):
    """Insert one grid row; ``geom_sql`` is an SQL expression yielding its geometry.

    ``fields`` holds code, name, leader, departments, population; the level and the
    parent follow from the code. Returns the new row's id.
    """
    code = fields["code"]
    level, parent = lenient_level(code)
    return tx.fetchval(
        "INSERT INTO grids (version_id, code, name, level, parent_code, leader, departments,"
        " population, area_m2, geom)"
        f" SELECT %s, %s, %s, %s, %s, %s, %s::text[], %s, ST_Area(g::geography), g"
        f" FROM (SELECT ST_Multi({geom_sql}) AS g) AS s RETURNING id",
        (version_id, code, fields["name"], level, parent, fields.get("leader"),
         list(fields.get("departments") or []), fields.get("population")) + tuple(params))


def delete_grid(tx, grid_id):
    tx.execute("DELETE FROM grids WHERE id = %s", (grid_id,))


def refresh_parents(tx, version_id, codes, levels=("community", "street")):
    """Re-draw the community and street rows above ``codes`` as the union of their grids.

    Only parents present in the version are re-drawn (as new rows); a version that holds
    grid rows only is left as it is. ``levels`` limits the re-drawing to those levels
    (the balance suggestion, which never moves land across a street, re-draws only
    communities).
    """
    prefixes = sorted({c[:12] for c in codes} | {c[:9] for c in codes})
    parents = tx.fetchdicts(
        "SELECT id, code, name, leader, departments, population, level FROM grids"
        " WHERE version_id = %s AND level = ANY(%s)"
        " AND (left(code, 12) = ANY(%s) AND level = 'community'"
        "      OR left(code, 9) = ANY(%s) AND level = 'street')",
        (version_id, list(levels), prefixes, prefixes))
    for row in parents:
        prefix = row["code"][:12] if row["level"] == "community" else row["code"][:9]
        has_children = tx.fetchval(
            "SELECT count(*) FROM grids WHERE version_id = %s AND level = 'grid'"
            " AND left(code, %s) = %s", (version_id, len(prefix), prefix))
        delete_grid(tx, row["id"])
        if not has_children:
            continue  # every grid of it was merged away: the parent goes too
        insert_grid(
            tx, version_id, row,
            "(SELECT civgrid_clean_polygons(ST_Union(geom), %s) FROM grids"
            " WHERE version_id = %s AND level = 'grid' AND left(code, %s) = %s)",
            (NOISE_M2, version_id, len(prefix), prefix))


def metric_epsg(tx, version_id):
    """The Gauss–Krüger zone (EPSG code) of a version, from the centre of its extent."""
    lon = tx.fetchval("SELECT ST_X(ST_Centroid(ST_Extent(geom)::geometry)) FROM grids"
                      " WHERE version_id = %s", (version_id,))
    if lon is None:
        lon = tx.fetchval("SELECT ST_X(ST_Centroid(ST_Extent(geom)::geometry)) FROM districts")
    if lon is None:
        raise NotFound(N_("grid version %(version)s holds no grids"), {"version": version_id},
                       code="grids.no_grids")
    return crs_mod.gk_zone_epsg(lon)


def as_shape(value, allowed, what):
    """A shapely geometry from shapely, WKT, WKB, a GeoJSON mapping or GeoJSON text.

    ``allowed`` names the accepted geometry types; ``what`` names the argument in
    messages (a :class:`~geo.errors.Text`). Coordinates are lon/lat (EPSG:4490).
    """
    geom = value
    try:
        if isinstance(value, dict):
            geom = geojson_shape(value.get("geometry", value))
        elif isinstance(value, (bytes, bytearray)):
            geom = shapely.from_wkb(bytes(value))
        elif isinstance(value, str):
            text = value.strip()
            geom = (geojson_shape(_geometry_of(json.loads(text))) if text.startswith("{")
                    else shapely.from_wkt(text))
    except (ValueError, TypeError, AttributeError, shapely.errors.GEOSException) as exc:
        raise InputError(Problem("geometry.unreadable", N_("%(what)s: not a geometry (%(reason)s)"),
                                 {"what": what, "reason": str(exc)})) from None
    if not isinstance(geom, shapely.Geometry) or geom.is_empty:
        raise InputError(Problem("geometry.missing", N_("%(what)s: an empty or missing geometry"),
                                 {"what": what}))
    if geom.geom_type not in allowed:
        raise InputError(Problem("geometry.wrong_type",
                                 N_("%(what)s: geometry is %(type)s, expected %(allowed)s"),
                                 {"what": what, "type": geom.geom_type,
                                  "allowed": " or ".join(allowed)}))
    geom = shapely.force_2d(geom)
    xmin, ymin, xmax, ymax = geom.bounds
    if not (-180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90):
        raise InputError(Problem("geometry.not_lonlat",
                                 N_("%(what)s: coordinates are not lon/lat (EPSG:4490)"),
                                 {"what": what}))
    return geom


def _geometry_of(obj):
    if obj.get("type") == "Feature":
        return obj["geometry"]
    if obj.get("type") == "FeatureCollection":
        if len(obj["features"]) != 1:
            raise ValueError("a FeatureCollection must hold exactly one feature")
        return obj["features"][0]["geometry"]
    return obj


def invalid_reason(geom):
    """``'self-intersection at lon 111.507812, lat 40.757812'`` or None for a valid one."""
    if geom.is_valid:
        return None
    return describe_invalid(shapely.is_valid_reason(geom))


def match_versions(tx, settings, src, dst):
    """Match the grids of version ``src`` and ``dst`` and find the changed area.

    Fills the temp tables ``_match`` (code, src_id, dst_id, change) and ``_changed``
    (the changed area in small pieces). Returns ``(counts of each change, band, extent)``:
    ``band`` is the 'nearest' tolerance in degrees (at least the tolerance everywhere in
    the district) and ``extent`` that of ``dst``, as :func:`geo.assign.compute` wants.
    """
    from geo.grids import assign
    from geo.store import db as db_mod

    params = {"src": src, "dst": dst}
    # A version made minutes ago is missing from the statistics: the planner would expect
    # one row and join the assignment's grids by a filter over all of them. Cheap.
    tx.execute("ANALYZE grids")
    tx.execute(db_mod.sql("version_match"), params)
    counts = dict(tx.fetchall("SELECT change, count(*) FROM _match GROUP BY 1"))
    tx.execute(db_mod.sql("version_changed_area"), params)
    extent = assign.district_extent(tx, dst)
    tolerance = settings.assign_tolerance_m
    band = extent.tolerance_degrees(tolerance) if extent and tolerance > 0 else 0.0
    return counts, band, extent


#: The longest label, name, leader or department: one line of a list, not a document.
MAX_TEXT_CHARS = 200


def check_text(field, value, limit=MAX_TEXT_CHARS):
    """Refuse a one-line text field that is longer than ``limit`` or spans lines.

    ``field`` is the field's name (``'label'``, ``'name'``, ``'leader'``, ``'departments'``).
    """
    if value is None:
        return
    if len(value) > limit:
        raise InputError(Problem("text.too_long",
                                 N_("%(field)s: %(length)d characters, at most %(limit)d"),
                                 {"field": term(FIELDS, field), "length": len(value),
                                  "limit": limit}))
    if "\n" in value or "\r" in value:
        raise InputError(Problem("text.not_one_line", N_("%(field)s: must be one line"),
                                 {"field": term(FIELDS, field)}))


def new_draft(tx, source, label, actor=None, note=None):
    """A new draft holding a copy of every row of version ``source``; returns its id.

    Its parent is the version active now, the one its activation will expect.
    """
    check_text("label", label)
    version_row(tx, source)
    draft = tx.fetchval(
        "INSERT INTO grid_versions (label, parent_id, created_by, note)"
        " VALUES (%s, (SELECT id FROM grid_versions WHERE status = 'active'),"
        " coalesce(%s, current_user), %s) RETURNING id", (label, audit.login_of(actor), note))
    tx.execute(
        "INSERT INTO grids (version_id, code, name, level, parent_code, leader, departments,"
        " population, area_m2, geom)"
        " SELECT %s, code, name, level, parent_code, leader, departments, population,"
        " area_m2, geom FROM grids WHERE version_id = %s ORDER BY id", (draft, source))
    return draft
