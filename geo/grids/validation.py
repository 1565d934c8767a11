"""Validation of a grid version: what would be wrong if it became active
(docs/domain.md, *Grid versions*).

Errors block activation; warnings and notes do not.

========================  ========  ==============================================
kind                      severity  what
========================  ========  ==============================================
``invalid_geometry``      error     not a valid polygon (the spot is given)
``overlap``               error     two grids share area (its shape and m²)
``gap``                   error     area inside the district boundary in no grid
``outside``               error     part of a grid outside the district boundary
``sliver``                error     a polygon part smaller than ``settings.sliver_m2``
``thin``                  error     a polygon part narrower than ``settings.min_grid_width_m``
``duplicate_code``        error     one code on several rows of the version
``malformed_code``        error     a code that does not follow the 15-digit scheme
``no_grids``              error     the version holds no grid-level rows
``multipart``             warning   a grid in several separate parts
``no_leader``             warning   a grid without a responsible leader (包片领导)
``no_departments``        warning   a grid without responsible departments (包联单位)
``noise_repaired``        warning   an overlap or gap thinner than ``settings.noise_width_m``
                                    repaired at import (:mod:`geo.grids.noise`)
``fallback_boundary``     note      no district boundary stored: what was used instead
========================  ========  ==============================================

The geometry work happens in shapely on the version's rows as stored (lon/lat), areas in
the district's Gauss–Krüger zone. A valid coverage is recognised with GEOS's coverage
validator in one pass; pairwise intersections are computed only for grids whose edges it
flags, so a clean 1,000-grid draft validates in a fraction of a second.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import mapping

from geo.io import crs as crs_mod
from geo.grids.codes import CODE_RE, level_of
from geo.io.polygons import describe_invalid
from geo.errors import N_, Problem, Text
from geo.grids.messages import VERSION_STATUS, Lines, codes_text, term
from geo.grids.store import NOISE_M2, version_row

ERROR, WARNING, NOTE = "error", "warning", "note"
SEVERITY = {
    "invalid_geometry": ERROR, "overlap": ERROR, "gap": ERROR, "outside": ERROR,
    "sliver": ERROR, "duplicate_code": ERROR, "malformed_code": ERROR, "no_grids": ERROR,
    "multipart": WARNING, "no_leader": WARNING, "no_departments": WARNING,
    "noise_repaired": WARNING, "fallback_boundary": NOTE,
    "thin": ERROR,
}
_RANK = {ERROR: 0, WARNING: 1, NOTE: 2}
#: The kinds and severities as people call them.
KIND_NAMES = {
    "invalid_geometry": N_("Invalid geometry"), "overlap": N_("Overlap"), "gap": N_("Gap"),
    "outside": N_("Outside the district"), "sliver": N_("Sliver"),
    "duplicate_code": N_("Duplicate code"), "malformed_code": N_("Malformed code"),
    "no_grids": N_("No grids"), "multipart": N_("Grid in several parts"),
    "no_leader": N_("No leader"), "no_departments": N_("No departments"),
    "fallback_boundary": N_("No district boundary stored"),
    "noise_repaired": N_("Digitising noise repaired"),
    "thin": N_("Narrow strip"),
}
SEVERITY_NAMES = {ERROR: N_("error"), WARNING: N_("warning"), NOTE: N_("note")}


@dataclass(frozen=True)
class Finding:
    """One problem of a version.

    ``template`` is its English message with ``%(name)s`` placeholders and ``params`` the
    values that fill it (areas in m², the spot's ``lon``/``lat``, grid codes), so that
    :meth:`render` says it in any language. ``codes`` are the grid codes involved;
    ``wkt`` the problem's shape (the overlap, the gap, the sliver, the spot of an invalid
    ring) in lon/lat; ``location`` a point on it as ``(lon, lat)``; ``area_m2`` its area
    where it has one.

    >>> f = Finding("no_leader", N_("grid %(code)s has no leader (包片领导)"),
    ...             {"code": "150102001001004"}, ("150102001001004",))
    >>> f.code, f.severity, f.message
    ('grids.no_leader', 'warning', 'grid 150102001001004 has no leader (包片领导)')
    """

    kind: str
    template: str
    params: Mapping = field(default_factory=dict)
    codes: tuple = ()
    wkt: str | None = None
    area_m2: float | None = None
    location: tuple | None = None

    @property
    def code(self):
        """The stable code of the finding's kind: ``grids.<kind>``."""
        return f"grids.{self.kind}"

    @property
    def severity(self):
        return SEVERITY[self.kind]

    @property
    def label(self):
        """The kind's name, as a :class:`~geo.errors.Text`."""
        return Text(KIND_NAMES[self.kind])

    @property
    def severity_label(self):
        return Text(SEVERITY_NAMES[self.severity])

    def as_problem(self):
        return Problem(self.code, self.template, self.params)

    def render(self, translate=lambda message: message):
        """What the finding says, in the language of ``translate``."""
        return self.as_problem().render(translate)

    @property
    def message(self):
        """What the finding says, in English."""
        return self.render()

    @property
    def geometry(self):
        return None if self.wkt is None else shapely.from_wkt(self.wkt)

    @property
    def geojson(self):
        """The shape as a GeoJSON geometry mapping (or None)."""
        return None if self.wkt is None else mapping(self.geometry)

    def to_dict(self):
        return {"kind": self.kind, "code": self.code, "severity": self.severity,
                "codes": list(self.codes), "message": self.message,
                "params": {k: str(v) if hasattr(v, "render") else v
                           for k, v in self.params.items()},
                "area_m2": self.area_m2,
                "location": list(self.location) if self.location else None,
                "geometry": self.geojson}

    def __str__(self):
        return f"{self.severity}: {self.message}"


@dataclass
class ValidationReport(Lines):
    """The findings for one version; ``ok`` when nothing blocks its activation.

    ``boundary`` says what gaps and parts outside were checked against, as a
    :class:`~geo.errors.Text`.
    """

    version_id: int
    status: str
    grids: int
    boundary: Text
    findings: list = field(default_factory=list)

    @property
    def errors(self):
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self):
        return [f for f in self.findings if f.severity == WARNING]

    @property
    def ok(self):
        return not self.errors

    def counts(self):
        out = {}
        for f in self.findings:
            out[f.kind] = out.get(f.kind, 0) + 1
        return out

    def to_dict(self):
        return {"version_id": self.version_id, "status": self.status, "grids": self.grids,
                "boundary": str(self.boundary), "ok": self.ok, "errors": len(self.errors),
                "warnings": len(self.warnings),
                "findings": [f.to_dict() for f in self.findings]}

    def verdict(self):
        """``'… error(s), … warning(s) — can (not) be activated'`` as a :class:`Text`."""
        return Text(N_("%(errors)d error(s), %(warnings)d warning(s) — %(verdict)s"),
                    {"errors": len(self.errors), "warnings": len(self.warnings),
                     "verdict": Text(N_("can be activated") if self.ok
                                     else N_("cannot be activated"))})

    def checked_against(self):
        """What gaps and parts outside were checked against, as a :class:`Text`."""
        return Text(N_("checked against %(boundary)s"), {"boundary": self.boundary})

    def lines(self):
        head = Text(N_("grid version %(version)s (%(status)s, %(grids)d grids): %(verdict)s"),
                    {"version": self.version_id, "status": term(VERSION_STATUS, self.status),
                     "grids": self.grids, "verdict": self.verdict()})
        lines = [(0, head), (1, self.checked_against())]
        return lines + [(1, Text(N_("%(severity)s: %(finding)s"),
                                 {"severity": f.severity_label, "finding": f}))
                        for f in self.findings]


def validate_in(tx, settings, version_id):
    """:func:`geo.versions.validate` inside the caller's transaction."""
    return check(read(tx, version_id), settings)


@dataclass
class Inputs:
    """What validating a version reads from the database (:func:`read`); :func:`check`
    then needs no connection, so it can run beside other work of the same transaction
    (an activation checks its draft while it writes the new assignments)."""

    version_id: int
    status: str
    #: ``(code, level, leader, number of departments, WKB)`` of every row, by code.
    rows: list
    #: ``(code, name, WKB)`` of the stored district boundaries.
    district: list
    #: Without a district boundary: the active version's id and its grids' WKB.
    active: int | None
    active_grids: list
    #: The noise repaired at import: rows of table grid_repairs.
    repairs: list


def read(tx, version_id):
    """Everything :func:`check` needs about version ``version_id`` (a few queries)."""
    version = version_row(tx, version_id)
    rows = tx.fetchall(
        "SELECT code, level, leader, cardinality(departments), ST_AsBinary(geom)"
        " FROM grids WHERE version_id = %s ORDER BY code, id", (version_id,))
    district = tx.fetchall("SELECT code, name, ST_AsBinary(geom) FROM districts ORDER BY code")
    active, active_grids = None, []
    if not district:
        active = tx.fetchval("SELECT id FROM grid_versions WHERE status = 'active'")
        if active is not None and active != version_id:
            active_grids = [bytes(r[0]) for r in tx.fetchall(
                "SELECT ST_AsBinary(geom) FROM grids WHERE version_id = %s"
                " AND level = 'grid'", (active,))]
    repairs = tx.fetchall(
        "SELECT kind, codes, given_to, area_m2, width_m, ST_AsText(geom),"
        " ST_X(p), ST_Y(p) FROM grid_repairs, ST_PointOnSurface(geom) AS p"
        " WHERE version_id = %s ORDER BY id", (version_id,))
    return Inputs(version_id, version["status"], rows, district, active, active_grids,
                  repairs)


def check(inputs, settings):
    """The :class:`ValidationReport` of what :func:`read` found (no database needed)."""
    version_id, rows, district = inputs.version_id, inputs.rows, inputs.district
    grid_level = [r for r in rows if r[1] == "grid"]
    report = ValidationReport(version_id, inputs.status, len(grid_level), Text(""))
    findings = _code_findings([r[0] for r in rows], [d[0] for d in district])
    if not grid_level:
        findings.append(Finding("no_grids", N_("grid version %(version)s holds no grids"),
                                {"version": version_id}))
        report.boundary = Text(N_("nothing (no grids)"))
        report.findings = _sorted(findings)
        return report
    codes = [r[0] for r in grid_level]
    geoms = shapely.from_wkb([bytes(r[4]) for r in grid_level])
    xmin, _, xmax, _ = shapely.total_bounds(geoms)
    metric = _Metric(crs_mod.gk_zone_epsg((xmin + xmax) / 2))
    work, geometry_findings = _geometry_findings(codes, geoms, metric, settings.sliver_m2)
    findings += geometry_findings
    findings += _thin_findings(codes, work, metric, settings.min_grid_width_m,
                               settings.sliver_m2)
    # GEOS's coverage validator flags every edge that does not match its neighbour's:
    # grids with no flagged edge overlap nothing and union cheaply.
    suspect = ~shapely.is_empty(shapely.coverage_invalid_edges(work))
    findings += _overlap_findings(codes, work, metric, suspect)
    union = _union(work, suspect)
    boundary, report.boundary = _boundary(inputs, union)
    if not district:
        findings.append(Finding(
            "fallback_boundary",
            N_("no district boundary is stored: gaps and parts outside were checked against "
               "%(boundary)s (store the district's boundary with `civgrid import district "
               "PATH`)"), {"boundary": report.boundary}))
    findings += _boundary_findings(codes, work, union, boundary, metric)
    for code, _level, leader, departments, _wkb in grid_level:
        if not (leader or "").strip():
            findings.append(Finding("no_leader", N_("grid %(code)s has no leader (包片领导)"),
                                    {"code": code}, (code,)))
        if not departments:
            findings.append(Finding(
                "no_departments", N_("grid %(code)s has no responsible department (包联单位)"),
                {"code": code}, (code,)))
    findings += _repair_findings(inputs.repairs)
    report.findings = _sorted(findings)
    return report


def _repair_findings(rows):
    """The digitising noise repaired when the version was imported (table grid_repairs)."""
    findings = []
    for kind, codes, given_to, area, width, wkt, lon, lat in rows:
        params = {"area": area, "width": width, "codes": codes_text(codes), "to": given_to,
                  "lon": lon, "lat": lat}
        message = (N_("an overlap of %(area).2f m² (at most %(width).2f m wide) between "
                      "%(codes)s near lon %(lon).6f, lat %(lat).6f was digitising noise: it "
                      "was left to %(to)s") if kind == "overlap" else
                   N_("a gap of %(area).2f m² (at most %(width).2f m wide) between %(codes)s "
                      "near lon %(lon).6f, lat %(lat).6f was digitising noise: it was given "
                      "to %(to)s"))
        findings.append(Finding("noise_repaired", message, params, tuple(codes), wkt, area,
                                (round(lon, 7), round(lat, 7))))
    return findings


def _sorted(findings):
    return sorted(findings, key=lambda f: (_RANK[f.severity], f.kind, f.codes, f.message))


class _Metric:
    """Areas in the Gauss–Krüger zone; lon/lat geometries go in, m² come out."""

    def __init__(self, epsg):
        self.epsg = epsg
        self._fwd = Transformer.from_crs(crs_mod.STORAGE_EPSG, epsg, always_xy=True)

    def project(self, geoms):
        def fwd(xy):
            x, y = self._fwd.transform(xy[:, 0], xy[:, 1])
            return np.column_stack([x, y])
        return shapely.transform(geoms, fwd)

    def areas(self, geoms):
        return shapely.area(self.project(np.asarray(geoms, dtype=object)))


def _where(geom):
    """A point on ``geom``: ``((lon, lat) rounded, {"lon": …, "lat": …})``."""
    p = geom.representative_point() if geom.geom_type != "Point" else geom
    return (round(p.x, 7), round(p.y, 7)), {"lon": p.x, "lat": p.y}


def _wkt(geom):
    return shapely.to_wkt(geom, rounding_precision=-1)


# -- codes -------------------------------------------------------------------------

def _code_findings(codes, district_codes):
    findings = []
    seen = {}
    for code in codes:
        seen[code] = seen.get(code, 0) + 1
    for code, n in sorted(seen.items()):
        if n > 1:
            findings.append(Finding("duplicate_code", N_("code %(code)s is used by %(n)d rows"),
                                    {"code": code, "n": n}, (code,)))
    prefixes = {c[:6] for c in district_codes}
    if prefixes:
        expected = Text(N_("its district part %(part)s is not district %(expected)s"),
                        {"expected": " or ".join(sorted(prefixes))})
    else:
        common = max(((sum(c[:6] == p for c in codes), p) for p in {c[:6] for c in codes}),
                     default=(0, None))[1]
        prefixes = {common} if common else set()
        expected = Text(N_("its district part %(part)s is not district %(expected)s, the part "
                           "most codes use"), {"expected": common})
    for code in sorted(seen):
        reason = _code_problem(code)
        if reason is None and prefixes and code[:6] not in prefixes:
            reason = Text(expected.message, {**expected.params, "part": code[:6]})
        if reason:
            findings.append(Finding("malformed_code", N_("code %(code)s: %(reason)s"),
                                    {"code": code, "reason": reason}, (code,)))
    return findings


def _code_problem(code):
    """What is wrong with ``code`` on its own, as a :class:`Text`, or None."""
    if not CODE_RE.match(code):
        return Text(N_("not 15 digits"))
    try:
        level = level_of(code)
    except ValueError:
        return Text(N_("has no street part"))
    if level == "grid" and code[9:12] == "000":
        return Text(N_("a grid code with no community part"))
    return None


# -- single geometries ------------------------------------------------------------

def _polygonal(geom):
    """The polygonal part of ``geom`` made valid (for the checks that need valid input)."""
    if geom.is_valid:
        return geom
    fixed = shapely.make_valid(geom)
    parts = [p for p in shapely.get_parts(fixed) if p.geom_type in ("Polygon", "MultiPolygon")]
    for sub in shapely.get_parts(fixed):
        if sub.geom_type == "GeometryCollection":
            parts += [p for p in shapely.get_parts(sub) if p.geom_type == "Polygon"]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _geometry_findings(codes, geoms, metric, sliver_m2):
    findings = []
    valid = shapely.is_valid(geoms)
    work = np.array([g if ok else _polygonal(g) for g, ok in zip(geoms, valid)], dtype=object)
    for i in np.flatnonzero(~valid):
        reason = shapely.is_valid_reason(geoms[i])
        m = re.match(r"(.*)\[([-\d.e]+) ([-\d.e]+)\]", reason)
        spot = shapely.Point(float(m.group(2)), float(m.group(3))) if m else geoms[i]
        location, _ = _where(spot)
        findings.append(Finding(
            "invalid_geometry", N_("grid %(code)s: invalid geometry: %(reason)s"),
            {"code": codes[i], "reason": describe_invalid(reason)}, (codes[i],), _wkt(spot),
            None, location))
    parts, index = shapely.get_parts(work, return_index=True)
    areas = metric.areas(parts) if len(parts) else np.array([])
    count = np.bincount(index, minlength=len(codes))
    for k, (part, i, area) in enumerate(zip(parts, index, areas)):
        if area < sliver_m2:
            location, near = _where(part)
            findings.append(Finding(
                "sliver", N_("grid %(code)s: a part of %(area).1f m² is a sliver (below "
                             "%(limit)g m²) near lon %(lon).6f, lat %(lat).6f"),
                {"code": codes[i], "area": float(area), "limit": sliver_m2, **near},
                (codes[i],), _wkt(part), float(area), location))
    for i in np.flatnonzero(count > 1):
        mine = areas[index == i]
        location, near = _where(parts[index == i][int(np.argmin(mine))])
        findings.append(Finding(
            "multipart", N_("grid %(code)s has %(parts)d separate parts (smallest %(smallest).0f "
                            "m² near lon %(lon).6f, lat %(lat).6f)"),
            {"code": codes[i], "parts": int(count[i]), "smallest": float(mine.min()), **near},
            (codes[i],), _wkt(work[i]), float(mine.sum()), location))
    return work, findings


#: A part that keeps less than this share of its area when eroded by half the minimum
#: width is a strip: a 2 m wide strip vanishes, a 12 m one keeps a sixth, a 30 m one
#: two thirds (at 10 m).
THIN_KEEP = 0.1


def _thin_findings(codes, work, metric, min_width_m, sliver_m2):
    """Grid parts narrower than ``min_width_m`` (e.g. the 2 m strip a split left behind).

    Each part is eroded by half the width in the metric CRS (a negative buffer): a part
    no wider anywhere than ``min_width_m`` vanishes or keeps less than :data:`THIN_KEEP`
    of its area. Parts already reported as slivers are left out.
    """
    if min_width_m <= 0:
        return []
    parts, index = shapely.get_parts(work, return_index=True)
    if not len(parts):
        return []
    projected = metric.project(parts)
    areas = shapely.area(projected)
    kept = shapely.area(shapely.buffer(projected, -min_width_m / 2, quad_segs=2))
    findings = []
    for part, i, area, left in zip(parts, index, areas, kept):
        if area < sliver_m2 or left >= THIN_KEEP * area:
            continue
        location, near = _where(part)
        findings.append(Finding(
            "thin", N_("grid %(code)s: a part of %(area).0f m² is a strip narrower than "
                       "%(width)g m near lon %(lon).6f, lat %(lat).6f"),
            {"code": codes[i], "area": float(area), "width": min_width_m, **near},
            (codes[i],), _wkt(part), float(area), location))
    return findings


# -- overlaps ---------------------------------------------------------------------

def _overlap_findings(codes, work, metric, suspect):
    """Pairs of grids whose interiors overlap by more than the noise floor."""
    if not suspect.any():
        return []
    tree = shapely.STRtree(work)
    left, right = tree.query(work, predicate="intersects")
    keep = (left < right) & (suspect[left] | suspect[right])
    left, right = left[keep], right[keep]
    shared = shapely.intersection(work[left], work[right])
    findings = []
    for a, b, geom in zip(left, right, shared):
        polys = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon"]
        for sub in shapely.get_parts(geom):
            if sub.geom_type in ("MultiPolygon", "GeometryCollection"):
                polys += [p for p in shapely.get_parts(sub) if p.geom_type == "Polygon"]
        if not polys:
            continue
        overlap = shapely.union_all(polys)
        area = float(metric.areas([overlap])[0])
        if area < NOISE_M2:
            continue
        pair = tuple(sorted((codes[a], codes[b])))
        location, near = _where(overlap)
        findings.append(Finding(
            "overlap", N_("grids %(a)s and %(b)s overlap by %(area).1f m² near lon %(lon).6f, "
                          "lat %(lat).6f"),
            {"a": pair[0], "b": pair[1], "area": area, **near}, pair, _wkt(overlap), area,
            location))
    return findings


# -- the district boundary: gaps and parts outside ----------------------------------

def _union(work, suspect):
    """The union of ``work``: a coverage union of the grids with matching edges, then an
    overlay with the others (far cheaper than an overlay of everything)."""
    clean = [g for g, bad in zip(work, suspect) if not bad and not g.is_empty]
    others = [g for g, bad in zip(work, suspect) if bad and not g.is_empty]
    union = shapely.coverage_union_all(clean) if clean else shapely.Polygon()
    return shapely.union_all([union] + others) if others else union


def _outline(geoms):
    geoms = np.array([g for g in geoms if not g.is_empty], dtype=object)
    return _union(geoms, ~shapely.is_empty(shapely.coverage_invalid_edges(geoms)))


def _boundary(inputs, union):
    """The boundary to check against and a phrase (:class:`Text`) saying what it is."""
    district = inputs.district
    if district:
        geom = shapely.union_all(shapely.from_wkb([bytes(d[2]) for d in district]))
        names = ", ".join(f"{d[1]} ({d[0]})" for d in district)
        return geom, Text(N_("the district boundary of %(names)s"), {"names": names})
    if inputs.active_grids:
        return (_outline(shapely.from_wkb(inputs.active_grids)),
                Text(N_("the outline of the active version %(version)s"),
                     {"version": inputs.active}))
    filled = shapely.union_all([shapely.Polygon(p.exterior) for p in shapely.get_parts(union)
                                if p.geom_type == "Polygon"])
    return filled, Text(N_("the outline of version %(version)s itself (only holes are gaps)"),
                        {"version": inputs.version_id})


def _boundary_findings(codes, work, union, boundary, metric):
    tree = shapely.STRtree(work)
    findings = []
    gaps = [p for p in shapely.get_parts(shapely.difference(boundary, union))
            if p.geom_type == "Polygon"]
    for gap, area in zip(gaps, metric.areas(gaps) if gaps else []):
        if area < NOISE_M2:
            continue
        around = tuple(sorted({codes[i] for i in tree.query(gap, predicate="intersects")}))
        location, near = _where(gap)
        params = {"area": float(area), "codes": codes_text(around[:6]), **near}
        findings.append(Finding(
            "gap", N_("a gap of %(area).1f m² in no grid near lon %(lon).6f, lat %(lat).6f "
                      "(between %(codes)s)") if around else
            N_("a gap of %(area).1f m² in no grid near lon %(lon).6f, lat %(lat).6f"),
            params, around, _wkt(gap), float(area), location))
    outside = [p for p in shapely.get_parts(shapely.difference(union, boundary))
               if p.geom_type == "Polygon"]
    for part, area in zip(outside, metric.areas(outside) if outside else []):
        if area < NOISE_M2:
            continue
        owners = tuple(sorted(codes[i] for i in tree.query(part, predicate="intersects")
                              if shapely.intersection(work[i], part).area > 0))
        location, near = _where(part)
        findings.append(Finding(
            "outside", N_("%(area).1f m² of grid %(codes)s lie outside the district boundary "
                          "near lon %(lon).6f, lat %(lat).6f"),
            {"area": float(area), "codes": codes_text(owners) or "?", **near}, owners,
            _wkt(part), float(area), location))
    return findings
