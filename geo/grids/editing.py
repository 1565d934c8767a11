"""Edits of a draft: move a boundary, split, merge, change leader and departments.

Every edit is one transaction on a draft (an active or retired version is refused with
:class:`~geo.errors.ConflictError`) and never changes a row: the edited grids get new
rows and their old draft rows are deleted. Community and street rows present in the
draft are re-drawn as the union of their grids afterwards. The geometry work happens in
PostGIS (``geo/store/sql/version_edit_*.sql``).
"""

from dataclasses import dataclass, field

import shapely

from geo.io import units
from geo.people import audit
from geo.store import db as db_mod
from geo.grids.codes import CODE_RE, lenient_level, split_departments
from geo.errors import N_, excerpt, InputError, Problem, Text
from geo.grids.messages import FIELDS, Joined, Lines, codes_text
from geo.grids.store import (
    NOISE_M2, SNAP_M, as_shape, check_text, delete_grid, grid_rows, insert_grid,
    invalid_reason, refresh_parents, require_draft)

_UNSET = object()


@dataclass
class EditReport(Lines):
    """What an edit did to a draft: the codes whose rows were replaced, added, removed.

    ``action`` says what was done and ``notes`` what the planner should know, both as
    :class:`~geo.errors.Text`.
    """

    version_id: int
    action: Text
    changed: list = field(default_factory=list)
    added: list = field(default_factory=list)
    removed: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def lines(self):
        head = [Text(N_("%(action)s in draft %(version)s"),
                     {"action": self.action, "version": self.version_id})]
        for message, codes in ((N_("changed %(codes)s"), self.changed),
                               (N_("added %(codes)s"), self.added),
                               (N_("removed %(codes)s"), self.removed)):
            if codes:
                head.append(Text(message, {"codes": codes_text(codes)}))
        return [(0, Joined(head, N_("; ")))] + [(1, note) for note in self.notes]


def set_geometry(db, settings, draft_id, code, geometry, actor=None, snap_m=SNAP_M):
    """Give grid ``code`` of a draft a new shape; its neighbours follow the moved boundary.

    Neighbours lose what the new shape takes from them. Each part the new shape gives up
    goes to the neighbour that shares the longest boundary with it; a part that borders
    no other grid is refused (it would become a gap). A neighbour that would vanish is
    refused too (merge the grids instead), and so is land changing hands with a grid of
    another community or street (a freed part goes to a neighbour of the same community
    where one borders it). Vertices within ``snap_m`` metres of an
    existing vertex or edge are snapped onto it, so a boundary drawn on a map meets its
    neighbours exactly.

    Parameters
    ----------
    geometry : shapely geometry, WKT, WKB or GeoJSON
        The new (Multi)Polygon in lon/lat (EPSG:4490).

    Examples
    --------
    >>> set_geometry(db, settings, 7, "150102001002003", new_polygon)  # doctest: +SKIP
    """
    shape = as_shape(geometry, ("Polygon", "MultiPolygon"), Text(N_("the new shape")))
    reason = invalid_reason(shape)
    if reason:
        raise InputError(Problem("geometry.invalid",
                                 N_("the new shape of grid %(code)s is invalid: %(reason)s"),
                                 {"code": code, "reason": reason}))
    lat = max(abs(shape.bounds[1]), abs(shape.bounds[3]))  # where a degree is shortest
    snap = units.metres_to_degrees(snap_m, lat)
    report = EditReport(draft_id, Text(N_("moved the boundary of %(code)s"), {"code": code}))
    with db.transaction() as tx:
        require_draft(tx, draft_id)
        target = grid_rows(tx, draft_id, [code])[code]
        params = {"draft": draft_id, "target": target["id"], "snap": snap, "noise": NOISE_M2,
                  "new": shapely.to_wkb(shape, hex=True), "eps": units.metres_to_degrees(0.01, lat)}
        area, overlaps = tx.fetchone(
            "SELECT ST_Area(n::geography), ST_Relate(g.geom, n, '2********') FROM grids AS g,"
            " ST_GeomFromWKB(decode(%(new)s, 'hex'), 4490) AS n WHERE g.id = %(target)s",
            params)
        if area < settings.sliver_m2:
            raise InputError(Problem(
                "geometry.sliver",
                N_("geometry: the new shape of grid %(code)s is %(area).1f m² "
                   "(below %(limit)g m²)"),
                {"code": code, "area": area, "limit": settings.sliver_m2}))
        if not overlaps:  # drawn in the wrong place, or meant for another grid
            raise InputError(Problem(
                "grids.shape_elsewhere",
                N_("geometry: the new shape of grid %(code)s does not overlap its current "
                   "one; a geometry edit moves a grid's boundary"), {"code": code}))
        tx.execute(db_mod.sql("version_edit_boundary"), params)
        stray = tx.fetchall(
            "SELECT f.area_m2, ST_X(p), ST_Y(p) FROM _edit_freed f"
            " CROSS JOIN LATERAL ST_PointOnSurface(f.geom) AS p"
            " WHERE f.k NOT IN (SELECT k FROM _edit_gift)")
        if stray:
            raise InputError([Problem(
                "grids.gap",
                N_("the new shape of grid %(code)s gives up %(area).1f m² near lon %(lon).6f, "
                   "lat %(lat).6f that border no other grid: it would become a gap"),
                {"code": code, "area": a, "lon": x, "lat": y}) for a, x, y in stray])
        _require_same_community(tx, code)
        vanished = [c for (c,) in tx.fetchall("SELECT code FROM _edit_result WHERE ST_IsEmpty(geom)"
                                              " ORDER BY code")]
        if vanished:
            raise InputError(Problem(
                "grids.shape_covers_grid",
                N_("the new shape of grid %(code)s covers all of grid %(covered)s: merge the "
                   "grids instead"), {"code": code, "covered": codes_text(vanished)}))
        if tx.fetchval("SELECT ST_IsEmpty(geom) FROM _edit_new"):
            raise InputError(Problem("geometry.missing",
                                     N_("the new shape of grid %(code)s is empty"),
                                     {"code": code}))
        insert_grid(tx, draft_id, target, "(SELECT geom FROM _edit_new)")
        delete_grid(tx, target["id"])
        report.changed.append(code)
        neighbours = tx.fetchall("SELECT id, code FROM _edit_result ORDER BY code")
        rows = grid_rows(tx, draft_id, [c for _, c in neighbours])
        for grid_id, neighbour in neighbours:
            insert_grid(tx, draft_id, rows[neighbour],
                        "(SELECT geom FROM _edit_result WHERE id = %s)", (grid_id,))
            delete_grid(tx, grid_id)
            report.changed.append(neighbour)
        for k, gift, area in tx.fetchall(
                "SELECT gi.k, gi.code, f.area_m2 FROM _edit_gift gi JOIN _edit_freed f"
                " ON f.k = gi.k ORDER BY gi.k"):
            report.notes.append(Text(N_("%(area).0f m² given up by %(code)s went to %(other)s"),
                                     {"area": area, "code": code, "other": gift}))
        refresh_parents(tx, draft_id, report.changed)
        _audit(tx, actor, "grids.geometry", report, {"code": code})
    return report


def _require_same_community(tx, code):
    """Refuse a boundary edit that moves land to or from a grid of another community.

    A grid's code names its community (digits 1-12) and street (digits 1-9): land that
    changes hands between communities silently re-draws their outlines, which
    :func:`merge_grids` refuses for the same reason. ``_edit_result`` holds every
    neighbour that loses land to the new shape or receives land it gives up.
    """
    crossing = [c for (c,) in tx.fetchall(
        "SELECT code FROM _edit_result WHERE left(code, 12) <> %s ORDER BY code", (code[:12],))]
    if crossing:
        message = (N_("the new shape of grid %(code)s takes land from or gives land to grid "
                      "%(codes)s of another street; a boundary edit stays within the community "
                      "of %(code)s, as a merge does: draw the boundary along the street's edge")
                   if any(c[:9] != code[:9] for c in crossing) else
                   N_("the new shape of grid %(code)s takes land from or gives land to grid "
                      "%(codes)s of another community; a boundary edit stays within the "
                      "community of %(code)s, as a merge does: draw the boundary along the "
                      "community's edge"))
        raise InputError(Problem("grids.edit_communities", message,
                                 {"code": code, "codes": codes_text(crossing)}))


def split_grid(db, settings, draft_id, code, line, new_codes=None, names=None, actor=None):
    """Cut grid ``code`` of a draft along a drawn line (``ST_Split``).

    The line must cross the grid from edge to edge. The largest piece keeps the code
    (with any part of a multi-part grid the line does not touch); every other piece
    becomes a new grid with the same leader and departments, coded ``new_codes`` or,
    by default, with the next free sequence numbers of the community, numbered west to
    east, north to south. Names default to the old name with ``-2``, ``-3`` … (the first
    numbers no grid of the draft is named yet); the
    population of every piece is unknown afterwards (set it with :func:`set_attributes`).

    Examples
    --------
    >>> line = "LINESTRING(111.60 40.80, 111.61 40.79)"
    >>> split_grid(db, settings, 7, "150102001002003", line)  # doctest: +SKIP
    """
    blade = as_shape(line, ("LineString", "MultiLineString"), Text(N_("the cutting line")))
    report = EditReport(draft_id, Text(N_("split %(code)s"), {"code": code}))
    with db.transaction() as tx:
        require_draft(tx, draft_id)
        target = grid_rows(tx, draft_id, [code])[code]
        pieces = tx.fetchall(
            "SELECT ST_AsBinary(d.geom), ST_Area(d.geom::geography),"
            " EXISTS (SELECT 1 FROM ST_Dump(g.geom) p WHERE ST_Equals(p.geom, d.geom)),"
            " ST_X(ST_Centroid(d.geom)), ST_Y(ST_Centroid(d.geom))"
            " FROM grids g, ST_Dump(ST_CollectionExtract(ST_Split(g.geom,"
            " ST_GeomFromWKB(decode(%s, 'hex'), 4490)), 3)) d WHERE g.id = %s",
            (shapely.to_wkb(blade, hex=True), target["id"]))
        cut = [p for p in pieces if not p[2]]
        if len(cut) < 2:
            raise InputError(Problem(
                "grids.split_no_cut",
                N_("the line does not cut grid %(code)s into pieces: draw it across the grid "
                   "from one edge to another"), {"code": code}))
        small = [p for p in cut if p[1] < settings.sliver_m2]
        if small:
            raise InputError(Problem(
                "geometry.sliver",
                N_("the line cuts a sliver of %(area).1f m² off grid %(code)s "
                   "(below %(limit)g m²)"),
                {"area": small[0][1], "code": code, "limit": settings.sliver_m2}))
        cut.sort(key=lambda p: -p[1])
        keep = [p[0] for p in pieces if p[2]] + [cut[0][0]]
        others = sorted(cut[1:], key=lambda p: (-round(p[4], 5), p[3]))
        codes = _new_codes(tx, draft_id, code, len(others), new_codes)
        if names is not None and len(names) != len(others):
            raise InputError(Problem(
                "grids.split_names_count",
                N_("names: %(n)d new grid(s) need %(n)d name(s), got %(given)d"),
                {"n": len(others), "given": len(names)}))
        names = names or _new_names(tx, draft_id, target["name"], len(others))
        base = {**target, "population": None}
        insert_grid(tx, draft_id, base, "ST_Union(ARRAY(SELECT ST_GeomFromWKB(w, 4490)"
                    " FROM unnest(%s::bytea[]) AS w))", ([bytes(w) for w in keep],))
        for piece, new_code, name in zip(others, codes, names):
            insert_grid(tx, draft_id, {**base, "code": new_code, "name": name},
                        "ST_GeomFromWKB(%s, 4490)", (bytes(piece[0]),))
        delete_grid(tx, target["id"])
        report.changed.append(code)
        report.added.extend(codes)
        report.notes.append(Text(N_("the population of the pieces is unknown: set it with "
                                    "set_attributes")))
        refresh_parents(tx, draft_id, [code] + codes)
        _audit(tx, actor, "grids.split", report, {"code": code})
    return report


def _new_names(tx, draft_id, base, n):
    """``n`` names ``base-2``, ``base-3`` … not yet used by a grid of the draft (a second
    split of the same grid goes on counting instead of repeating ``base-2``)."""
    taken = {name for (name,) in tx.fetchall(
        "SELECT name FROM grids WHERE version_id = %s AND level = 'grid'", (draft_id,))}
    names, k = [], 2
    while len(names) < n:
        if f"{base}-{k}" not in taken:
            names.append(f"{base}-{k}")
        k += 1
    return names


def _new_codes(tx, draft_id, code, n, given):
    if given is not None:
        given = [str(c) for c in given]
        if len(given) != n:
            raise InputError(Problem(
                "grids.split_codes_count",
                N_("new_codes: the cut makes %(n)d new grid(s), got %(given)d code(s)"),
                {"n": n, "given": len(given)}))
        taken = {c for (c,) in tx.fetchall(
            "SELECT code FROM grids WHERE version_id = %s AND code = ANY(%s)", (draft_id, given))}
        for c in given:
            if not CODE_RE.match(c) or lenient_level(c)[0] != "grid":
                raise InputError(Problem(
                    "grids.malformed_code", N_("new_codes: %(code)s is not a 15-digit grid code"),
                    {"code": excerpt(c)}))
            if c in taken or given.count(c) > 1:
                raise InputError(Problem(
                    "grids.duplicate_code", N_("new_codes: %(code)s is already used in draft "
                                               "%(version)s"), {"code": c, "version": draft_id}))
        return given
    prefix = code[:12]
    top = tx.fetchval("SELECT max(right(code, 3)::int) FROM grids WHERE version_id = %s"
                      " AND left(code, 12) = %s AND code ~ '^[0-9]{15}$'", (draft_id, prefix))
    start = (top or 0) + 1
    if start + n - 1 > 999:
        raise InputError(Problem(
            "grids.no_free_code",
            N_("community %(community)s has no free grid numbers left: give new_codes"),
            {"community": f"{prefix}000"}))
    return [f"{prefix}{k:03d}" for k in range(start, start + n)]


def merge_grids(db, settings, draft_id, codes, keep=None, name=None, actor=None):
    """Merge adjacent grids of a draft into one (``ST_Union``).

    The grids must be of one community and form one connected group (each sharing a
    boundary line, not just a corner, with another). The merged grid keeps the code
    ``keep`` (default: the first of ``codes``) with its name (or ``name``) and leader, the
    departments of all of them and the sum of their populations when every one is known.

    Examples
    --------
    >>> merge_grids(db, settings, 7, ["150102001002003", "150102001002004"])  # doctest: +SKIP
    """
    codes = list(dict.fromkeys(str(c) for c in codes))
    if len(codes) < 2:
        raise InputError(Problem("grids.merge_too_few",
                                 N_("codes: give at least two different grids to merge")))
    keep = str(keep) if keep is not None else codes[0]
    if keep not in codes:
        raise InputError(Problem("grids.merge_keep",
                                 N_("keep: %(keep)s is not one of the grids to merge"),
                                 {"keep": excerpt(keep)}))
    # A grid's code names its community (digits 1-12): a merged grid must stay in one,
    # or the community and street outlines would silently change.
    other = [c for c in codes if c[:12] != keep[:12]]
    if other:
        raise InputError(Problem(
            "grids.merge_communities",
            N_("codes: %(codes)s lie in another community than %(keep)s; merge grids of one "
               "community (or move the boundary with a geometry edit)"),
            {"codes": codes_text(other), "keep": keep}))
    report = EditReport(draft_id, Text(N_("merged %(codes)s into %(keep)s"),
                                       {"codes": codes_text(codes), "keep": keep}))
    with db.transaction() as tx:
        require_draft(tx, draft_id)
        rows = grid_rows(tx, draft_id, codes)
        ids = [rows[c]["id"] for c in codes]
        touching = tx.fetchall(
            "SELECT a.code, b.code FROM grids a JOIN grids b ON a.id < b.id AND a.geom && b.geom"
            " CROSS JOIN LATERAL ST_Intersection(a.geom, b.geom) AS shared"
            " WHERE a.id = ANY(%s) AND b.id = ANY(%s)"
            " AND NOT ST_IsEmpty(shared) AND ST_Dimension(shared) >= 1", (ids, ids))
        _require_connected(codes, touching)
        kept = rows[keep]
        departments = list(dict.fromkeys(d for c in [keep] + codes for d in rows[c]["departments"]))
        populations = [rows[c]["population"] for c in codes]
        merged = {**kept, "name": name or kept["name"], "departments": departments,
                  "population": None if None in populations else sum(populations)}
        insert_grid(tx, draft_id, merged,
                    "(SELECT civgrid_clean_polygons(ST_Union(geom), %s) FROM grids"
                    " WHERE id = ANY(%s))", (NOISE_M2, ids))
        for grid_id in ids:
            delete_grid(tx, grid_id)
        report.changed.append(keep)
        report.removed.extend(c for c in codes if c != keep)
        refresh_parents(tx, draft_id, codes)
        _audit(tx, actor, "grids.merge", report, {"codes": codes, "keep": keep})
    return report


def _require_connected(codes, touching):
    linked = {c: set() for c in codes}
    for a, b in touching:
        linked[a].add(b)
        linked[b].add(a)
    seen, todo = set(), [codes[0]]
    while todo:
        c = todo.pop()
        if c not in seen:
            seen.add(c)
            todo.extend(linked[c] - seen)
    apart = [c for c in codes if c not in seen]
    if apart:
        raise InputError(Problem(
            "grids.merge_apart",
            N_("grid %(codes)s does not border the other grids to merge (a shared boundary "
               "line is needed, a corner is not enough)"), {"codes": codes_text(apart)}))


def set_attributes(db, draft_id, code, name=_UNSET, leader=_UNSET, departments=_UNSET,
                   population=_UNSET, actor=None):
    """Change the name, leader, departments or population of grid ``code`` in a draft.

    Only the given arguments change; ``departments`` is a list or a string separated by
    ``、`` or ``;``; ``population`` a whole number ≥ 0 or None (unknown).

    Examples
    --------
    >>> set_attributes(db, 7, "150102001002003", leader="李四（区住建局局长）")  # doctest: +SKIP
    """
    changes = {}
    if name is not _UNSET:
        if not (name or "").strip():
            raise InputError(Problem("grids.name_empty", N_("name: a grid needs a name")))
        changes["name"] = name.strip()
        check_text("name", changes["name"])
    if leader is not _UNSET:
        changes["leader"] = (leader or "").strip() or None
        check_text("leader", changes["leader"])
    if departments is not _UNSET:
        if isinstance(departments, str) or departments is None:
            departments = split_departments(departments)
        changes["departments"] = [str(d).strip() for d in departments if str(d).strip()]
        for d in changes["departments"]:
            check_text("departments", d)
    if population is not _UNSET:
        if population is not None and (not isinstance(population, int) or population < 0):
            raise InputError(Problem("grids.population_invalid",
                                     N_("population: %(value)s is not a whole number ≥ 0"),
                                     {"value": excerpt(population)}))
        changes["population"] = population
    if not changes:
        raise InputError(Problem(
            "grids.nothing_to_change",
            N_("nothing to change: give name, leader, departments or population")))
    fields = Joined([Text(FIELDS[k]) for k in changes])
    report = EditReport(draft_id, Text(N_("changed %(fields)s of %(code)s"),
                                       {"fields": fields, "code": code}))
    with db.transaction() as tx:
        require_draft(tx, draft_id)
        row = grid_rows(tx, draft_id, [code])[code]
        insert_grid(tx, draft_id, {**row, **changes},
                    "(SELECT geom FROM grids WHERE id = %s)", (row["id"],))
        delete_grid(tx, row["id"])
        report.changed.append(code)
        before, after = audit.changes({k: row[k] for k in changes}, changes)
        audit.record(tx, actor, "grids.attributes", "grid_version", draft_id,
                     {"code": code, **before}, {"code": code, **after})
    return report


def _audit(tx, actor, action, report, given):
    """The audit entry of a shape edit: what was asked, and which grids it changed."""
    after = {**given, **{k: v for k, v in (("changed", report.changed), ("added", report.added),
                                           ("removed", report.removed)) if v}}
    audit.record(tx, actor, action, "grid_version", report.version_id, None, after)
