"""Toilet coverage (厕所革命; docs/domain.md, *Toilets*): service areas, unserved area,
renovation figures.

Everything is computed in PostGIS (``geo/store/sql/coverage_*.sql``), in the
district's CGCS2000 Gauss–Krüger zone (:func:`geo.crs.gk_zone_epsg` of the
district's centre, e.g. EPSG:4546), from the grid-level polygons of the active
grid version; their union is the district (until a district boundary table
exists). Plain data comes back: dicts, GeoDataFrames in EPSG:4490 and
GeoJSON-ready dicts, so a Flask page or a click command only has to show them.
Progress over time is in :mod:`geo.coverage_progress`, its chart in
:mod:`geo.coverage_chart`, site suggestions in :mod:`geo.coverage_sites`.

Definitions (every record counts once; ``accepted`` means ``status = accepted``):

- **latrine**: ``original_type = dry_latrine``.
- **demolished / converted / new-built**: accepted with that ``action``.
- **renovated**: a latrine demolished or converted; **remaining** = latrines
  − renovated; **progress** = renovated ÷ latrines (missing for a grid without
  latrines). A latrine whose action is ``new_build`` counts as remaining until
  it is demolished or converted, as the issue defines progress.
- **flush toilet**: ``original_type = flush`` and not demolished, or converted,
  or new-built; it **lacks a facility** when any of heating, power, water,
  sewage, ventilation is false. A **public flush toilet** (the service points)
  is a flush toilet of kind ``public``.
- **service area**: the union of discs of ``radius_m`` (default 300 m; 500 m
  is the evaluators' walking distance) around every public flush toilet,
  wherever it lies. Discs are polygons of ``4 × QUAD_SEGS`` vertices (GEOS's
  buffer with ``quad_segs=16``), whose area is 0.16 % under a true circle's.
- **served area** of a grid: its part inside the service area; **served
  population**: its population × served area ÷ area (people spread evenly over
  the grid). Grids without a population are left out of the population figures.
- District figures add up the grids (grids of one version do not overlap);
  toilet counts of the district include records that lie in no grid
  (``unassigned``).

Land use is not modelled: the unserved part is the part of the district, not of
residential land.

Examples
--------
>>> cov = compute_coverage(db, radius_m=300)  # doctest: +SKIP
>>> round(cov.district["served_pct"], 1), len(cov.behind_target(80))  # doctest: +SKIP
(14.3, 48)
"""

import json
import logging
import math
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.grids import assign
from geo.toilets import progress as coverage_progress
from geo.io import crs as crs_mod
from geo.store import db as db_mod
from geo import params
from geo.errors import N_, NotFound, Text, shown
from geo.toilets.records import ACTIONS, FACILITIES

log = logging.getLogger(__name__)

DEFAULT_RADIUS_M = 300.0
#: Service radii (docs/domain.md, *Toilets*): urban workplaces and crowded places, evaluators' walk.
RADII_M = (300.0, 500.0)
MAX_RADIUS_M = 5000.0
DEFAULT_TARGET_PCT = 80.0
#: Segments per quarter circle of a service disc (GEOS ``quad_segs``).
QUAD_SEGS = 16

_COUNTS = ("toilets", "latrines", "demolished", "converted", "new_built", "renovated",
           "remaining", "flush", "public_flush", "flush_lacking_facility") \
    + tuple(f"lacking_{f}" for f in FACILITIES)


def check_radius(radius_m):
    """``radius_m`` as a float, or :class:`~geo.errors.InputError` naming it."""
    try:
        value = float(radius_m)
    except (TypeError, ValueError):
        raise parameter_error("parameter.not_a_number",
                                N_("%(name)s must be a number of metres, not %(value)r"),
                                "radius_m", radius_m) from None
    if not 1 <= value <= MAX_RADIUS_M:  # (site candidates are at most a radius apart)
        raise parameter_error(
            "parameter.out_of_range",
            N_("%(name)s must be from 1 to %(max)g m (usually 300 or 500), not %(value)r"),
            "radius_m", radius_m, max=MAX_RADIUS_M)
    return value


def check_target(target_pct):
    """``target_pct`` as a float in 0–100, or :class:`~geo.errors.InputError`."""
    try:
        value = float(target_pct)
    except (TypeError, ValueError):
        raise parameter_error("parameter.not_a_number",
                                N_("%(name)s must be a percentage, not %(value)r"),
                                "target_pct", target_pct) from None
    if not 0 <= value <= 100:
        raise parameter_error("parameter.out_of_range",
                                N_("%(name)s must be between 0 and 100, not %(value)r"),
                                "target_pct", target_pct)
    return value


def district_srid(tx, version):
    """EPSG code of the Gauss–Krüger zone of the district's centre."""
    extent = assign.district_extent(tx, version)
    return crs_mod.gk_zone_epsg((extent.xmin + extent.xmax) / 2)


def classes_sql(relation):
    """``coverage_classes.sql`` over ``relation`` (a table or CTE name)."""
    return db_mod.sql("coverage_classes").format(toilets=relation)


def build_layers(tx, radius_m):
    """Fill the ``_cov_*`` temp tables of ``coverage_layers.sql`` in ``tx``.

    Returns ``(version_id, srid)``. Raises :class:`~geo.errors.NotFound` when
    there are no grids yet.
    """
    version = assign.active_version(tx)
    if version is None:
        raise NotFound(N_("there are no grids yet: import some first"), code="grids.none")
    srid = district_srid(tx, version)
    residential = bool(tx.fetchval("SELECT EXISTS (SELECT 1 FROM landuse WHERE residential)"))
    tx.execute("SET LOCAL jit = off")  # compiling costs more than these queries
    tx.execute(db_mod.sql("coverage_layers").format(classes=classes_sql("public_toilets")),
               {"version": version, "srid": srid, "radius": radius_m, "residential": residential,
                "buffer_style": f"quad_segs={QUAD_SEGS}"})
    # The costliest step of a coverage page: build it once per transaction (see
    # geo.toilets.sites.coverage_and_sites); this line lets that be checked.
    log.debug("coverage layers built: version %s, radius %g m, EPSG:%s", version, radius_m, srid)
    return version, srid


@dataclass
class Coverage:
    """Coverage and renovation figures of the active grids at one radius.

    Attributes
    ----------
    district : dict
        Figures of the district: ``version_id epsg radius_m target_pct grids
        area_m2 served_m2 unserved_m2 served_pct population population_grids
        served_population served_population_pct`` and the toilet counts
        ``toilets unassigned latrines demolished converted new_built renovated
        remaining progress_pct flush public_flush flush_per_km2
        public_flush_per_km2 flush_lacking_facility lacking_<facility>``,
        ``grids_behind_target``.
    grids : GeoDataFrame
        One row per grid (EPSG:4490, ordered by code): ``code name population
        area_m2 served_m2 unserved_m2 served_pct served_population``, the toilet
        counts, ``progress_pct``, ``behind_target``, ``flush_per_km2
        public_flush_per_km2``. Missing values (no population, no latrines) are
        NaN here and null in :meth:`to_geojson`.
    service_points : GeoDataFrame
        The public flush toilets: ``code name grid_code`` (missing for a toilet
        in no grid) and the five facilities (EPSG:4490).
    service_area : shapely geometry
        The union of their discs (EPSG:4490; empty without toilets).
    unserved : GeoDataFrame
        Per grid, its part outside the service area: ``code name unserved_m2``
        (EPSG:4490; grids served in full are left out).
    """

    radius_m: float
    target_pct: float
    epsg: int
    version_id: int
    district: dict
    grids: gpd.GeoDataFrame
    service_points: gpd.GeoDataFrame
    service_area: object
    unserved: gpd.GeoDataFrame = field(repr=False)

    def behind_target(self, target_pct=None):
        """Grids with latrines whose progress is below ``target_pct`` (default: the
        coverage's), least progress first.

        Returns a list of dicts ``code name latrines renovated remaining
        progress_pct needed``; ``needed`` is how many more latrines must be
        demolished or converted to reach the target.
        """
        target = self.target_pct if target_pct is None else check_target(target_pct)
        g = self.grids
        behind = g[(g["latrines"] > 0) & (g["progress_pct"].astype(float) < target)]
        behind = behind.sort_values(["progress_pct", "code"])
        return [
            {"code": r.code, "name": r.name, "latrines": int(r.latrines),
             "renovated": int(r.renovated), "remaining": int(r.remaining),
             "progress_pct": float(r.progress_pct),
             "needed": max(0, math.ceil(target / 100 * r.latrines - 1e-9) - int(r.renovated))}
            for r in behind.itertuples()
        ]

    def to_geojson(self):
        """The map layers as GeoJSON-ready dicts (FeatureCollections, EPSG:4490).

        Keys: ``grids`` (figures as properties), ``service_area`` (one feature
        with ``radius_m``), ``unserved``, ``service_points``.
        """
        area = gpd.GeoDataFrame({"radius_m": [self.radius_m]}, geometry=[self.service_area],
                                crs=4490)
        return {
            "grids": _geo_dict(self.grids),
            "service_area": _geo_dict(area),
            "unserved": _geo_dict(self.unserved),
            "service_points": _geo_dict(self.service_points),
        }


def compute_coverage(db, radius_m=DEFAULT_RADIUS_M, target_pct=DEFAULT_TARGET_PCT):
    """Service areas, served area and population, renovation figures: a :class:`Coverage`.

    Parameters
    ----------
    db : geo.db.Database
    radius_m : float
        Service radius in metres (default 300; 500 for the walking test).
    target_pct : float
        Renovation target in percent (default 80) for ``behind_target``.

    Examples
    --------
    >>> cov = compute_coverage(db, radius_m=500)  # doctest: +SKIP
    >>> cov.grids[["code", "served_pct", "progress_pct"]].head()  # doctest: +SKIP
    """
    radius_m = check_radius(radius_m)
    target_pct = check_target(target_pct)
    with db.transaction() as tx:
        version, srid = build_layers(tx, radius_m)
        return coverage_from_layers(tx, version, srid, radius_m, target_pct)


def coverage_from_layers(tx, version, srid, radius_m, target_pct):
    """The :class:`Coverage` read from the ``_cov_*`` tables :func:`build_layers` filled
    in ``tx`` (``radius_m`` and ``target_pct`` already checked)."""
    grid_rows = tx.fetchall(
        "SELECT c.id, c.code, c.name, c.population, c.area_m2, u.area_m2, c.grid_area_m2,"
        " ST_AsBinary(g.geom) FROM _cov_grids AS c JOIN _cov_unserved AS u USING (id)"
        " JOIN grids AS g ON g.id = c.id ORDER BY c.code")
    unserved_rows = tx.fetchall(
        "SELECT c.code, c.name, u.area_m2, ST_AsBinary(ST_Transform(u.geom, 4490))"
        " FROM _cov_unserved AS u JOIN _cov_grids AS c USING (id)"
        " WHERE NOT ST_IsEmpty(u.geom) ORDER BY c.code")
    area_wkb = tx.fetchval("SELECT ST_AsBinary(ST_Transform(geom, 4490)) FROM _cov_union")
    residential = bool(tx.fetchval("SELECT EXISTS (SELECT 1 FROM landuse WHERE residential)"))
    point_rows = tx.fetchall(
        "SELECT p.code, p.name, g.code, p.heating, p.power, p.water, p.sewage,"
        " p.ventilation, p.lon, p.lat FROM _cov_points AS p"
        " LEFT JOIN _cov_grids AS g ON g.id = p.grid_id ORDER BY p.code")
    count_rows = tx.fetchall(
        db_mod.sql("coverage_counts").format(classes=classes_sql("toilet_groups")))
    counts = {row[0]: dict(zip(_COUNTS, map(int, row[1:]))) for row in count_rows}
    grids = _grid_frame(grid_rows, counts, target_pct)
    district = _district(grids, counts, version, srid, radius_m, target_pct)
    district["measured_on"] = "residential land" if residential else "the district"
    unserved = gpd.GeoDataFrame(
        {"code": [r[0] for r in unserved_rows], "name": [r[1] for r in unserved_rows],
         "unserved_m2": [r[2] for r in unserved_rows]},
        geometry=_from_wkb([r[3] for r in unserved_rows]), crs=4490)
    names = ("code", "name", "grid_code") + FACILITIES
    points = gpd.GeoDataFrame(
        {n: [r[i] for r in point_rows] for i, n in enumerate(names)},
        geometry=gpd.points_from_xy([r[8] for r in point_rows], [r[9] for r in point_rows]),
        crs=4490)
    return Coverage(radius_m, target_pct, srid, version, district, grids, points,
                    shapely.from_wkb(bytes(area_wkb)), unserved)


def _from_wkb(blobs):
    return shapely.from_wkb([bytes(b) for b in blobs]) if blobs else []


def _grid_frame(grid_rows, counts, target_pct):
    zero = dict.fromkeys(_COUNTS, 0)
    area = np.array([r[4] for r in grid_rows], dtype=float)
    unserved = np.array([r[5] for r in grid_rows], dtype=float)
    served = np.clip(area - unserved, 0.0, None)
    population = np.array([np.nan if r[3] is None else r[3] for r in grid_rows], dtype=float)
    data = {"code": [r[1] for r in grid_rows], "name": [r[2] for r in grid_rows],
            "population": population, "area_m2": area, "served_m2": served,
            "unserved_m2": unserved}
    with np.errstate(divide="ignore", invalid="ignore"):
        data["served_pct"] = 100.0 * served / area
        data["served_population"] = population * served / area
        for name in _COUNTS:
            data[name] = np.array([counts.get(r[0], zero)[name] for r in grid_rows], dtype=int)
        progress = np.where(data["latrines"] > 0, 100.0 * data["renovated"] / data["latrines"],
                            np.nan)
    data["progress_pct"] = progress
    data["behind_target"] = (data["latrines"] > 0) & (np.nan_to_num(progress) < target_pct)
    # Densities are per km² of the whole grid, whatever land the coverage is measured on.
    grid_area = np.array([r[6] for r in grid_rows], dtype=float)
    data["grid_area_m2"] = grid_area
    data["flush_per_km2"] = data["flush"] / (grid_area / 1e6)
    data["public_flush_per_km2"] = data["public_flush"] / (grid_area / 1e6)
    return gpd.GeoDataFrame(data, geometry=_from_wkb([r[7] for r in grid_rows]), crs=4490)


def _district(grids, counts, version, srid, radius_m, target_pct):
    area = float(grids["area_m2"].sum())
    served = float(grids["served_m2"].sum())
    known = grids["population"].notna()
    population = int(grids.loc[known, "population"].sum())
    served_population = float(grids.loc[known, "served_population"].sum())
    out = {
        "version_id": version, "epsg": srid, "radius_m": radius_m, "target_pct": target_pct,
        "grids": len(grids), "area_m2": area, "served_m2": served,
        "unserved_m2": float(grids["unserved_m2"].sum()),
        "served_pct": 100.0 * served / area if area else None,
        "population": population, "population_grids": int(known.sum()),
        "served_population": served_population,
        "served_population_pct": 100.0 * served_population / population if population else None,
    }
    out.update({k: int(sum(c[k] for c in counts.values())) for k in _COUNTS})
    out["unassigned"] = out["toilets"] - int(grids["toilets"].sum())
    out["progress_pct"] = (100.0 * out["renovated"] / out["latrines"]) if out["latrines"] else None
    grid_area = float(grids["grid_area_m2"].sum())
    out["grid_area_m2"] = grid_area
    out["flush_per_km2"] = out["flush"] / (grid_area / 1e6) if grid_area else None
    out["public_flush_per_km2"] = out["public_flush"] / (grid_area / 1e6) if grid_area else None
    out["grids_behind_target"] = int(grids["behind_target"].sum())
    return out


def _geo_dict(gdf):
    """A GeoDataFrame as a GeoJSON FeatureCollection dict (JSON-safe: NaN → None).

    Geometries go through GEOS's GeoJSON writer and properties through pandas'
    JSON writer: about ten times faster than ``GeoDataFrame.to_geo_dict``.
    """
    attrs = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    props = json.loads(attrs.to_json(orient="records", force_ascii=False, double_precision=15))
    geoms = shapely.to_geojson(np.asarray(gdf.geometry.values))
    geoms = json.loads("[" + ",".join("null" if g is None else g for g in geoms) + "]")
    return {"type": "FeatureCollection",
            "features": [{"type": "Feature", "properties": p, "geometry": g}
                         for p, g in zip(props, geoms)]}


# -- the report ----------------------------------------------------------------


#: What the coverage was measured on (``district["measured_on"]``), as a phrase.
MEASURED_ON = {"residential land": Text(N_("residential land")),
               "the district": Text(N_("the district"))}


@dataclass
class CoverageReport:
    """Coverage, renovation and progress figures, for the command line.

    The data are the fields (``coverage``, ``progress``, ``behind``);
    :meth:`lines` says them as translatable :class:`~geo.errors.Text` lines
    (numbers as numbers), :meth:`render` in a language (``translate``: a
    gettext function), ``str()`` in English.
    """

    coverage: Coverage
    progress: dict
    behind: list
    show_grids: int = 20

    def lines(self):
        """``[(indent, Text), …]``: the report's lines, an indent of 1 for a grid's line."""
        d = self.coverage.district
        lines = [
            Text(N_("toilet coverage under grid version %(version)s: service radius "
                    "%(radius)g m, measured in EPSG:%(epsg)s"),
                 {"version": d["version_id"], "radius": d["radius_m"], "epsg": d["epsg"]}),
            Text(N_("district: %(grids)d grids, %(grid_km2).2f km², coverage measured on "
                    "%(measured_on)s (%(km2).2f km²), population %(population)d "
                    "(%(population_grids)d grids with a population)"),
                 {"grids": d["grids"], "grid_km2": d["grid_area_m2"] / 1e6,
                  "measured_on": MEASURED_ON.get(d["measured_on"], d["measured_on"]),
                  "km2": d["area_m2"] / 1e6, "population": d["population"],
                  "population_grids": d["population_grids"]}),
            Text(N_("public flush toilets: %(public_flush)d (%(per_km2)s per km²); served "
                    "area %(served_km2).2f km² (%(served_pct)s), unserved %(unserved_km2).2f km²"),
                 {"public_flush": d["public_flush"], "per_km2": _num(d["public_flush_per_km2"]),
                  "served_km2": d["served_m2"] / 1e6, "served_pct": _pct(d["served_pct"]),
                  "unserved_km2": d["unserved_m2"] / 1e6}),
            Text(N_("population within %(radius)g m of a public flush toilet: %(served).0f "
                    "(%(pct)s)"),
                 {"radius": d["radius_m"], "served": d["served_population"],
                  "pct": _pct(d["served_population_pct"])}),
            Text(N_("dry latrines: %(latrines)d; demolished %(demolished)d, converted "
                    "%(converted)d, remaining %(remaining)d (progress %(progress)s); new flush "
                    "toilets built %(new_built)d"),
                 {"latrines": d["latrines"], "demolished": d["demolished"],
                  "converted": d["converted"], "remaining": d["remaining"],
                  "progress": _pct(d["progress_pct"]), "new_built": d["new_built"]}),
            Text(N_("flush toilets: %(flush)d (%(per_km2)s per km²), lacking a facility: "
                    "%(lacking)d (heating %(heating)d, power %(power)d, water %(water)d, "
                    "sewage %(sewage)d, ventilation %(ventilation)d)"),
                 {"flush": d["flush"], "per_km2": _num(d["flush_per_km2"]),
                  "lacking": d["flush_lacking_facility"],
                  **{f: d["lacking_" + f] for f in FACILITIES}}),
        ]
        if d["unassigned"]:
            lines.append(Text(N_("records in no grid: %(n)d (counted in the district only)"),
                              {"n": d["unassigned"]}))
        with_latrines = int((self.coverage.grids["latrines"] > 0).sum())
        lines.append(Text(N_("grids behind the %(target)g %% target: %(behind)d of %(grids)d "
                             "with latrines"),
                          {"target": d["target_pct"], "behind": len(self.behind),
                           "grids": with_latrines}))
        lines = [(0, line) for line in lines]
        for g in self.behind[:self.show_grids]:
            lines.append((1, Text(N_("%(code)s %(name)s: %(progress).1f %% (%(renovated)d of "
                                     "%(latrines)d; %(needed)d more needed)"),
                                  {"code": g["code"], "name": g["name"],
                                   "progress": g["progress_pct"], "renovated": g["renovated"],
                                   "latrines": g["latrines"], "needed": g["needed"]})))
        if len(self.behind) > self.show_grids:
            lines.append((1, Text(N_("… and %(n)d more"),
                                  {"n": len(self.behind) - self.show_grids})))
        months = self.progress["months"]
        if months:
            cum = self.progress["cumulative"]
            lines.append((0, Text(N_("accepted by %(last)s (cumulative since %(first)s): "
                                     "demolish %(demolish)d, convert %(convert)d, new_build "
                                     "%(new_build)d"),
                                  {"last": months[-1], "first": months[0],
                                   **{a: cum[a][-1] for a in ACTIONS}})))
        undated = sum(self.progress["undated"].values())
        if undated:
            lines.append((0, Text(N_("accepted without an accepted_at date: %(n)d"),
                                  {"n": undated})))
        return lines

    def render(self, translate=None):
        """The report as text in ``translate``'s language (English without one)."""
        return render_lines(self.lines(), translate)

    def __str__(self):
        return self.render()


def render_lines(lines, translate=None):
    """``[(indent, Text), …]`` as text, two spaces per indent."""
    return "\n".join("  " * indent + (text.render(translate) if translate else text.render())
                     for indent, text in lines)


def _pct(value):
    # A number's format is the same in every language: not a message id.
    return Text(N_("n/a")) if value is None else Text("%(pct).1f %%", {"pct": value})


def _num(value):
    return Text(N_("n/a")) if value is None else Text("%(n).2f", {"n": value})


def coverage_report(db, settings, radius_m=DEFAULT_RADIUS_M, target_pct=DEFAULT_TARGET_PCT):
    """Coverage, renovation and progress figures as a :class:`CoverageReport`.

    ``settings`` is accepted for the command line's sake (a district boundary
    setting may come later). ``print(coverage_report(db, settings))`` shows the
    figures in English and ``report.render(gettext)`` in another language; the
    report's ``coverage``, ``progress`` and ``behind`` hold the data.
    """
    coverage = compute_coverage(db, radius_m, target_pct)
    return CoverageReport(coverage, coverage_progress.progress_over_time(db),
                          coverage.behind_target())


def parameter_error(code, message, name, value, **values):
    """A bad parameter ``name`` of the coverage figures (its value quoted short)."""
    if not isinstance(value, (int, float)):
        value = shown(value)
    return params.bad_parameter(code, message, name, value=value, **values)
