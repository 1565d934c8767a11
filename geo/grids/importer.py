"""Import of a grid file as a new grid version (the first one is activated).

Codes and levels are the rules of :mod:`geo.grids.codes`; activation is
:mod:`geo.grids.activation`.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import shapely

from geo.grids import activation, assign, noise
from geo.grids.codes import CODE_RE, lenient_level, level_of, parent_of, split_departments
from geo.io import crs as crs_mod
from geo.io import readers
from geo.io.imports import record_import
from geo.io.polygons import polygon_problems
from geo.people import audit
from geo.errors import N_, excerpt, InputError, Place, Problem, Text
from geo.grids.messages import LEVELS, VERSION_STATUS, Joined, Lines, term
from geo.grids.store import NOISE_M2

@dataclass
class GridImportReport(Lines):
    """What an import of a grid file did (or, with ``dry_run``, would do).

    ``by_level`` counts the rows of each level; ``reassigned`` holds one
    :class:`geo.grids.activation.TableChange` per point table when the import was
    activated.
    """

    path: str
    version_id: int | None = None
    status: str = "draft"
    by_level: dict = field(default_factory=dict)
    dry_run: bool = False
    reassigned: list = field(default_factory=list)
    repairs: list = field(default_factory=list)

    def lines(self):
        levels = [Text(N_("%(level)s %(n)d"), {"level": term(LEVELS, k), "n": v})
                  for k, v in sorted(self.by_level.items())]
        params = {"n": sum(self.by_level.values()), "path": self.path,
                  "levels": Joined(levels),
                  "version": self.version_id, "status": term(VERSION_STATUS, self.status)}
        if self.dry_run:
            head = Text(N_("would import %(n)d rows (%(levels)s) from %(path)s"), params)
        else:
            head = Text(N_("imported %(n)d rows (%(levels)s) from %(path)s as grid version "
                           "%(version)s (%(status)s)"), params)
        lines = [(0, head)]
        if self.repairs:
            lines.append((1, Text(N_("repaired %(n)d overlap(s) and gap(s) thinner than the "
                                     "noise width (%(area).2f m² in all): digitising noise"),
                                  {"n": len(self.repairs),
                                   "area": sum(r.area_m2 for r in self.repairs)})))
        return lines + [(1, change.text()) for change in self.reassigned]


def validate_grid_table(table, sliver_m2):
    """Check every feature; return ``(rows, problems)``.

    ``rows`` holds ``(code, name, level, parent, leader, departments,
    population, wkb)`` for each feature.
    """
    frame = table.frame
    problems = table.require(["code", "name"])
    if problems:
        raise InputError(problems, source=table.path)
    seen = {}
    rows = []
    geoms = table.geometry
    areas = _part_areas(geoms)
    for i in range(len(frame)):
        where = table.place(i, "code")
        code = frame["code"].iat[i]
        if not CODE_RE.match(code):
            problems.append(_not_15_digits(code, where))
            level = parent = None
        else:
            try:
                level, parent = level_of(code), parent_of(code)
            except ValueError:
                problems.append(Problem("grids.malformed_code",
                                        N_("code %(code)s has no street part"),
                                        {"code": code}, where))
                level = parent = None
            if code in seen:
                problems.append(Problem("grids.duplicate_code",
                                        N_("duplicate code %(code)s (also %(other)s)"),
                                        {"code": code, "other": Place(feature=seen[code] + 1)},
                                        where))
            seen.setdefault(code, i)
        name = frame["name"].iat[i]
        if not name:
            problems.append(Problem("grids.name_empty", N_("name is empty"), {}, where))
        geom = geoms[i]
        problems.extend(polygon_problems(geom, table.place(i, "code"), sliver_m2, areas[i]))
        population = _population(frame, i, where, problems)
        rows.append((
            code, name, level, parent,
            frame["leader"].iat[i] if "leader" in frame.columns else None,
            split_departments(frame["departments"].iat[i]) if "departments" in frame.columns else [],
            population,
            None if problems else shapely.to_wkb(shapely.force_2d(geom), hex=True),
        ))
    return rows, problems


def _not_15_digits(code, where):
    return Problem("grids.malformed_code", N_("code %(code)s is not 15 digits"),
                   {"code": excerpt(code)}, where)


def _part_areas(geoms):
    """Area in m² of each polygon part, in the district's Gauss–Krüger zone."""
    valid = [g for g in geoms if g is not None and not g.is_empty]
    if not valid:
        return [[] for _ in geoms]
    zone = crs_mod.gk_zone_epsg(shapely.centroid(shapely.union_all(shapely.envelope(valid))).x)
    out = []
    for g in geoms:
        if g is None or g.is_empty or g.geom_type not in ("Polygon", "MultiPolygon"):
            out.append([])
            continue
        parts = gpd.GeoSeries(list(shapely.get_parts(g)), crs=crs_mod.STORAGE_EPSG).to_crs(zone)
        out.append(list(parts.area))
    return out


#: More people than any grid (or city) holds: a larger number is a typo.
MAX_POPULATION = 100_000_000


def _population(frame, i, where, problems):
    """Row ``i``'s population as an int (None if empty); a bad one is added to ``problems``."""
    value = frame["population"].iat[i] if "population" in frame.columns else ""
    if not value:
        return None
    if not re.fullmatch(r"[0-9]+", value) or int(value) > MAX_POPULATION:
        problems.append(Problem(
            "grids.population_invalid",
            N_("population %(value)s is not a whole number from 0 to %(max)s"),
            {"value": excerpt(value), "max": f"{MAX_POPULATION:,}"}, where))
        return None
    return int(value)


def draft_grid_rows(table):
    """Rows of a grid file for a draft that skips the checks: ``(rows, problems)``.

    Only what the database cannot store is a problem (no code or name attribute, a code
    that is not 15 digits, a geometry that is no polygon, a population that is no whole
    number). Invalid geometry, slivers, duplicate and malformed codes go into the draft,
    where :func:`geo.versions.validate` reports them.
    """
    frame = table.frame
    problems = table.require(["code", "name"])
    if problems:
        raise InputError(problems, source=table.path)
    rows = []
    for i in range(len(frame)):
        where = table.place(i, "code")
        code = frame["code"].iat[i]
        geom = table.geometry[i]
        if not CODE_RE.match(code):
            problems.append(_not_15_digits(code, where))
        if geom is None or geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
            problems.extend(polygon_problems(geom, where))
            continue
        population = _population(frame, i, where, problems)
        level, parent = lenient_level(code)
        departments = frame["departments"].iat[i] if "departments" in frame.columns else ""
        rows.append((
            code, frame["name"].iat[i], level, parent,
            frame["leader"].iat[i] if "leader" in frame.columns else None,
            split_departments(departments), population,
            shapely.to_wkb(shapely.force_2d(geom), hex=True),
        ))
    return rows, problems


def import_grids(db, settings, path, crs=None, dry_run=False, activate=False, actor=None,
                 validate=True, expected_active=None):
    """Import a grid file as a new version, whole or not at all.

    The first import into a database with no active version creates and activates
    it; later imports create a draft, activated with ``activate=True`` (or later with
    :func:`geo.versions.activate`). Activation validates the version
    (:func:`geo.versions.validate`: overlaps, gaps, …) and refuses it with every error
    listed; the import is then rolled back too.

    ``validate=False`` stores what the checks would refuse (invalid geometry, slivers,
    duplicate codes) as a draft, never activated, so that a planner can see the defects
    with :func:`geo.versions.validate` and mend them with the edit functions.

    Overlaps and gaps between the grids thinner than ``settings.noise_width_m`` are
    digitising noise: they are repaired before the rows are stored
    (:func:`geo.grids.noise.repair`), recorded in ``grid_repairs`` and listed in the
    report (and by validation, as warnings).
    """
    if not validate and activate:
        raise ValueError("activate=True needs validate=True: a grid file imported without "
                         "checks becomes a draft and is validated before activation")
    table = readers.read_polygons(path, crs)
    if validate:
        rows, problems = validate_grid_table(table, settings.sliver_m2)
    else:
        rows, problems = draft_grid_rows(table)
    if problems:
        raise InputError(problems, source=table.path)
    report = GridImportReport(Path(path).name, dry_run=dry_run)  # no server paths in messages
    for row in rows:
        report.by_level[row[2]] = report.by_level.get(row[2], 0) + 1
    if dry_run:
        return report
    with db.transaction() as tx:
        tx.execute("LOCK TABLE grid_versions IN SHARE ROW EXCLUSIVE MODE")
        active = assign.active_version(tx)
        import_id = record_import(tx, "grids", table, len(rows), actor)
        version = tx.fetchval(
            "INSERT INTO grid_versions (label, import_id, parent_id, created_by)"
            " VALUES (%s, %s, %s, coalesce(%s, current_user)) RETURNING id",
            (table.path.name, import_id, active, audit.login_of(actor)),
        )
        rows, report.repairs = _repair_noise(tx, settings, rows)
        _insert_grid_rows(tx, version, rows)
        _record_repairs(tx, version, report.repairs)
        report.version_id = version
        audit.record(tx, actor, "grids.import", "grid_version", version, None,
                     {"file": table.path.name, "import": import_id, "rows": report.by_level,
                      "repairs": len(report.repairs)})
        if validate and (active is None or activate):
            activated = activation.activate_in(
                tx, settings, version, expected_active=expected_active, actor=actor)
            report.reassigned = activated.tables
            report.status = "active"
    return report


def _repair_noise(tx, settings, rows):
    """``rows`` with the noise overlaps and gaps of their grids repaired, and the repairs."""
    at = [i for i, r in enumerate(rows) if r[2] == "grid" and r[7] is not None]
    geoms = shapely.from_wkb([rows[i][7] for i in at])
    valid = shapely.is_valid(geoms) if len(at) else []
    at = [i for i, ok in zip(at, valid) if ok]  # an invalid one is validation's to report
    if len(at) < 2 or settings.noise_width_m <= 0:
        return rows, []
    geoms = shapely.from_wkb([rows[i][7] for i in at])
    zone = crs_mod.gk_zone_epsg(shapely.centroid(shapely.envelope(
        shapely.union_all(shapely.envelope(geoms)))).x)
    project = noise.projector(zone)
    district = tx.fetchval("SELECT ST_AsBinary(ST_Union(geom)) FROM districts")
    boundary = shapely.from_wkb(bytes(district)) if district is not None else None
    fixed, repairs = noise.repair([rows[i][0] for i in at], geoms, project,
                                  settings.noise_width_m, boundary, floor_m2=NOISE_M2)
    rows = list(rows)
    for i, old, new in zip(at, geoms, fixed):
        if new is not old:
            rows[i] = rows[i][:7] + (shapely.to_wkb(new, hex=True),)
    return rows, repairs


def _record_repairs(tx, version, repairs):
    if repairs:
        tx.execute_values(
            "INSERT INTO grid_repairs (version_id, kind, codes, given_to, area_m2, width_m,"
            " geom) SELECT v.version_id, v.kind, v.codes, v.given_to, v.area_m2, v.width_m,"
            " ST_GeomFromText(v.wkt, 4490)"
            " FROM (VALUES %s) AS v (version_id, kind, codes, given_to, area_m2, width_m, wkt)",
            [(version, r.kind, list(r.codes), r.given_to, r.area_m2, r.width_m,
              shapely.to_wkt(r.geom, rounding_precision=-1)) for r in repairs],
            template="(%s, %s, %s::text[], %s, %s, %s, %s)")


def _insert_grid_rows(tx, version, rows):
    tx.execute_values(
        "INSERT INTO grids (version_id, code, name, level, parent_code, leader,"
        " departments, population, area_m2, geom)"
        " SELECT v.version_id, v.code, v.name, v.level, v.parent_code, v.leader,"
        " v.departments, v.population, ST_Area(g::geography), g"
        " FROM (VALUES %s) AS v (version_id, code, name, level, parent_code, leader,"
        " departments, population, wkb)"
        " CROSS JOIN LATERAL ST_Multi(ST_GeomFromWKB(decode(v.wkb, 'hex'), 4490)) AS g",
        [(version,) + row for row in rows],
        template="(%s, %s, %s, %s, %s, %s, %s::text[], %s::integer, %s)",
        page_size=500,
    )
