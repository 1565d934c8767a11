"""Grids and grid versions: import, levels and codes, activation (DESIGN.md §2).

A grid code has 15 digits: 6 of the district + 3 street + 3 community + 3 grid
sequence. Street rows end in six zeros, community rows in three; the level and
the parent follow from the code.
"""

import re
from dataclasses import dataclass, field

import geopandas as gpd
import shapely

from geo import assign, crs as crs_mod, readers
from geo.errors import ConflictError, InputError, NotFound

CODE_RE = re.compile(r"^\d{15}$")
DEPARTMENT_SEP = re.compile(r"[、;；,，]")


def level_of(code):
    """``'street'``, ``'community'`` or ``'grid'`` for a valid 15-digit code.

    >>> level_of("150102001000000"), level_of("150102001002000"), level_of("150102001002003")
    ('street', 'community', 'grid')
    """
    if code[6:9] == "000":
        raise ValueError(f"code {code} has no street part")
    if code[9:] == "000000":
        return "street"
    if code[12:] == "000":
        return "community"
    return "grid"


def parent_of(code):
    """The parent's code: grid → community, community → street, street → None."""
    level = level_of(code)
    if level == "grid":
        return code[:12] + "000"
    if level == "community":
        return code[:9] + "000000"
    return None


def split_departments(value):
    """``'区城管局、区住建局'`` → ``['区城管局', '区住建局']`` (also ``;``)."""
    return [p.strip() for p in DEPARTMENT_SEP.split(value or "") if p.strip()]


@dataclass
class GridImportReport:
    path: str
    version_id: int | None = None
    status: str = "draft"
    by_level: dict = field(default_factory=dict)
    dry_run: bool = False
    reassigned: list = field(default_factory=list)

    def __str__(self):
        levels = ", ".join(f"{k} {v}" for k, v in sorted(self.by_level.items()))
        head = "would import" if self.dry_run else "imported"
        text = f"{head} {sum(self.by_level.values())} rows ({levels}) from {self.path}"
        if not self.dry_run:
            text += f" as grid version {self.version_id} ({self.status})"
        return text + "".join(f"\n  {r}" for r in self.reassigned)


def validate_grid_table(table, sliver_m2):
    """Check every feature; return ``(rows, problems)``.

    ``rows`` holds ``(code, name, level, parent, leader, departments,
    population, wkb)`` for each feature.
    """
    frame = table.frame
    problems = []
    for col in ("code", "name"):
        if col not in frame.columns:
            problems.append(f"{table.path.name}: no {col!r} attribute")
    if problems:
        raise InputError(problems, source=table.path)
    seen = {}
    rows = []
    geoms = table.geometry
    areas = _part_areas(geoms)
    for i in range(len(frame)):
        where = table.where(i, "code")
        code = frame["code"].iat[i]
        if not CODE_RE.match(code):
            problems.append(f"{where}: code {code!r} is not 15 digits")
            level = parent = None
        else:
            try:
                level, parent = level_of(code), parent_of(code)
            except ValueError as exc:
                problems.append(f"{where}: {exc}")
                level = parent = None
            if code in seen:
                problems.append(f"{where}: duplicate code {code} (also {table.labels[seen[code]]})")
            seen.setdefault(code, i)
        name = frame["name"].iat[i]
        if not name:
            problems.append(f"{where}: name is empty")
        geom = geoms[i]
        problems.extend(_geometry_problems(where, geom, areas[i], sliver_m2))
        population = frame["population"].iat[i] if "population" in frame.columns else ""
        if population and not population.isdigit():
            problems.append(f"{where}: population {population!r} is not a whole number ≥ 0")
        rows.append((
            code, name, level, parent,
            frame["leader"].iat[i] if "leader" in frame.columns else None,
            split_departments(frame["departments"].iat[i]) if "departments" in frame.columns else [],
            int(population) if population and population.isdigit() else None,
            None if problems else shapely.to_wkb(shapely.force_2d(geom), hex=True),
        ))
    return rows, problems


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


def _geometry_problems(where, geom, part_areas, sliver_m2):
    if geom is None or geom.is_empty:
        return [f"{where}: has no geometry"]
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        return [f"{where}: geometry is {geom.geom_type}, expected Polygon or MultiPolygon"]
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        m = re.match(r"(.*)\[([-\d.e]+) ([-\d.e]+)\]", reason)
        if m:
            reason = f"{m.group(1).lower()} at lon {float(m.group(2)):.6f}, lat {float(m.group(3)):.6f}"
        return [f"{where}: invalid geometry: {reason}"]
    problems = []
    for k, area in enumerate(part_areas):
        if area < sliver_m2:
            part = f"part {k + 1} " if len(part_areas) > 1 else ""
            problems.append(
                f"{where}: {part}is a sliver of {area:.1f} m² (below {sliver_m2:g} m²)"
            )
    return problems


def import_grids(db, settings, path, crs=None, dry_run=False, activate=False, actor=None):
    """Import a grid file as a new version, whole or not at all.

    The first import into an empty database creates and activates version 1;
    later imports create a draft, activated with ``activate=True`` (or later
    with :func:`activate_version`).
    """
    table = readers.read_polygons(path, crs)
    rows, problems = validate_grid_table(table, settings.sliver_m2)
    if problems:
        raise InputError(problems, source=table.path)
    report = GridImportReport(str(path), dry_run=dry_run)
    for row in rows:
        report.by_level[row[2]] = report.by_level.get(row[2], 0) + 1
    if dry_run:
        return report
    with db.transaction() as tx:
        tx.execute("LOCK TABLE grid_versions IN SHARE ROW EXCLUSIVE MODE")
        first = tx.fetchval("SELECT count(*) FROM grid_versions") == 0
        import_id = tx.fetchval(
            "INSERT INTO imports (kind, source_file, rows, crs, imported_by)"
            " VALUES ('grids', %s, %s, %s, coalesce(%s, current_user)) RETURNING id",
            (str(path), len(rows), crs_mod.crs_label(table.crs), actor),
        )
        version = tx.fetchval(
            "INSERT INTO grid_versions (label, import_id, parent_id, created_by)"
            " VALUES (%s, %s, (SELECT id FROM grid_versions WHERE status = 'active'),"
            " coalesce(%s, current_user)) RETURNING id",
            (table.path.name, import_id, actor),
        )
        _insert_grid_rows(tx, version, rows)
        report.version_id = version
    if first or activate:
        report.reassigned = activate_version(db, settings, version, actor=actor)
        report.status = "active"
    return report


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


def activate_version(db, settings, version_id, actor=None):
    """Make ``version_id`` the active version and re-assign every point.

    Atomic: the old version is retired, the new one activated and every issue
    and toilet re-assigned in one transaction, or nothing changes.
    """
    with db.transaction() as tx:
        tx.execute("LOCK TABLE grid_versions IN SHARE ROW EXCLUSIVE MODE")
        status = tx.fetchval("SELECT status FROM grid_versions WHERE id = %s", (version_id,))
        if status is None:
            raise NotFound(f"grid version {version_id} does not exist")
        if status == "active":
            raise ConflictError(f"grid version {version_id} is already active")
        tx.execute(
            "UPDATE grid_versions SET status = 'retired', retired_at = now()"
            " WHERE status = 'active'"
        )
        tx.execute(
            "UPDATE grid_versions SET status = 'active', activated_at = now(),"
            " activated_by = coalesce(%s, current_user) WHERE id = %s",
            (actor, version_id),
        )
        tx.execute(
            "INSERT INTO grid_activations (version_id, activated_by)"
            " VALUES (%s, coalesce(%s, current_user))",
            (version_id, actor),
        )
        return assign.reassign_in(tx, settings, actor=actor)


def versions(db):
    """Every grid version, newest first, with its grid count."""
    with db.transaction() as tx:
        return tx.fetchdicts(
            "SELECT v.id, v.label, v.status, v.created_at, v.created_by, v.activated_at,"
            " v.activated_by, (SELECT count(*) FROM grids g WHERE g.version_id = v.id) AS grids"
            " FROM grid_versions v ORDER BY v.id DESC"
        )


def version_at(db, when):
    """The version that was active at ``when`` (a timestamp), or None."""
    with db.transaction() as tx:
        return tx.fetchval(
            "SELECT version_id FROM grid_activations WHERE activated_at <= %s"
            " ORDER BY activated_at DESC, id DESC LIMIT 1",
            (when,),
        )

