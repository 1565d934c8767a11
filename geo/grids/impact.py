"""Impact preview of a draft: which points change grid, and the workload per grid after.

The points are found exactly as activation finds them (:mod:`geo.version_activation`):
only those within the 'nearest' tolerance of the changed area are re-assigned, here
without writing anything. Workload figures per grid of the draft:

* open issues (:func:`geo.issues.statuses.is_open`) and issues reported in the 30 days before
  ``as_of``, counted from the current assignments and moved as the preview says;
* area (m²), population where known;
* Polsby–Popper compactness 4πA/P² in the district's Gauss–Krüger zone
  (:func:`geo.crs.gk_zone_epsg` of the data; EPSG:4546 for the demo district);

each with its deviation from the mean of the draft's grids (``value − mean`` and
``(value − mean) / mean``).
"""

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from geo.grids import assign
from geo.issues import statuses
from geo.store import db as db_mod
from geo.errors import N_, InputError, NotFound, Problem, Text
from geo.grids.messages import CHANGES, TABLES, Joined, Lines, codes_text, term
from geo.grids.store import match_versions, metric_epsg, version_row

METRICS = ("open_issues", "recent_issues", "area_m2", "population", "compactness")
RECENT_DAYS = 30
_LABEL = {"issues": "ref", "toilets": "code"}
#: "N points would change grid", per point table (the counting words differ).
_MOVING = {"issues": N_("%(n)d issues would change grid"),
           "toilets": N_("%(n)d toilets would change grid")}


@dataclass(frozen=True)
class Move:
    """A point that would change grid: ``old_code`` → ``new_code`` (None: no grid)."""

    kind: str
    id: int
    label: str | None
    old_code: str | None
    new_code: str | None
    old_method: str
    new_method: str


@dataclass
class GridWorkload:
    """One grid of the draft after the change, with the figures of the active version."""

    code: str
    name: str
    change: str
    open_issues: int = 0
    recent_issues: int = 0
    area_m2: float = 0.0
    population: int | None = None
    compactness: float | None = None
    before: dict = field(default_factory=dict)
    deviation: dict = field(default_factory=dict)
    relative: dict = field(default_factory=dict)

    @property
    def change_text(self):
        """The kind of change, as a :class:`~geo.errors.Text`."""
        return term(CHANGES, self.change)

    def to_dict(self):
        return {m: getattr(self, m) for m in ("code", "name", "change") + METRICS} | {
            "before": self.before, "deviation": self.deviation, "relative": self.relative}


@dataclass
class DiffReport(Lines):
    """Result of :func:`diff`.

    ``grids`` maps every code that is not identical in both versions to its change
    (``reshaped``, ``attributes``, ``added``, ``removed``); ``moves`` lists the moving
    issues and toilets; ``matrix[kind][(old, new)]`` counts them; ``workload`` holds a
    :class:`GridWorkload` per grid of the draft; ``means`` the district means.
    """

    draft_id: int
    base_id: int
    as_of: datetime
    grids: dict = field(default_factory=dict)
    moves: dict = field(default_factory=dict)
    matrix: dict = field(default_factory=dict)
    workload: list = field(default_factory=list)
    means: dict = field(default_factory=dict)
    spread: dict = field(default_factory=dict)

    def counts(self):
        return {kind: len(moves) for kind, moves in self.moves.items()}

    def to_dict(self):
        return {
            "draft_id": self.draft_id, "base_id": self.base_id, "as_of": self.as_of.isoformat(),
            "grids": self.grids, "counts": self.counts(),
            "moves": {k: [m.__dict__ for m in v] for k, v in self.moves.items()},
            "matrix": {k: [{"from": a, "to": b, "count": n} for (a, b), n in sorted(
                v.items(), key=lambda kv: -kv[1])] for k, v in self.matrix.items()},
            "workload": [w.to_dict() for w in self.workload], "means": self.means,
            "spread": self.spread}

    def kind_text(self, kind):
        """A point table's name (``issues``, ``toilets``) as a :class:`~geo.errors.Text`."""
        return term(TABLES, kind)

    def lines(self):
        kinds = {}
        for code, change in self.grids.items():
            kinds.setdefault(change, []).append(code)
        counts = [Text(N_("%(n)d %(change)s"), {"n": len(v), "change": term(CHANGES, k)})
                  for k, v in sorted(kinds.items())]
        summary = Joined(counts) if counts else Text(N_("no grid changes"))
        lines = [(0, Text(N_("draft %(draft)s against active version %(base)s: %(summary)s"),
                          {"draft": self.draft_id, "base": self.base_id, "summary": summary}))]
        for change, codes in sorted(kinds.items()):
            lines.append((1, Text(N_("%(change)s: %(codes)s"),
                                  {"change": term(CHANGES, change),
                                   "codes": codes_text(sorted(codes), 30)})))
        none = Text(N_("(none)"))
        for kind, moves in self.moves.items():
            lines.append((0, Text(_MOVING.get(kind, "%(n)d"), {"n": len(moves)})))
            for (old, new), n in sorted(self.matrix[kind].items(), key=lambda kv: -kv[1])[:15]:
                lines.append((1, Text(N_("%(old)s → %(new)s: %(n)d"),
                                      {"old": old or none, "new": new or none, "n": n})))
        sd = self.spread.get("open_issues")
        if sd:
            lines.append((0, Text(N_("open issues per grid: mean %(mean).1f, standard deviation "
                                     "%(before).1f → %(after).1f"),
                                  {"mean": self.means["open_issues"], "before": sd["before"],
                                   "after": sd["after"]})))
        touched = [w for w in self.workload if w.change != "identical"]
        if touched:
            lines.append((0, Text(N_("changed grids (value, deviation from the mean):"))))
            for w in touched[:40]:
                params = {"code": w.code, "change": w.change_text, "open": w.open_issues,
                          "open_dev": w.deviation["open_issues"], "recent": w.recent_issues,
                          "recent_dev": w.deviation["recent_issues"], "ha": w.area_m2 / 1e4,
                          "area_pct": 100 * (w.relative["area_m2"] or 0),
                          "compactness": w.compactness}
                line = Text(N_("%(code)s %(change)s: open %(open)d (%(open_dev)+.1f), 30 days "
                               "%(recent)d (%(recent_dev)+.1f), %(ha).1f ha (%(area_pct)+.0f%%)"),
                            params)
                if w.compactness is not None:
                    line = Text(N_("%(line)s, compactness %(compactness).2f"),
                                {"line": line, "compactness": w.compactness})
                lines.append((1, line))
        return lines


def diff(db, draft_id, settings, against=None, as_of=None):
    """Preview what activating ``draft_id`` would change, against the active version.

    Nothing is written. ``against`` compares with another version; ``as_of`` (a
    timezone-aware datetime, default now) ends the 30-day window of recent issues.

    Examples
    --------
    >>> report = diff(db, 7, settings)  # doctest: +SKIP
    >>> report.counts(), report.matrix["issues"]  # doctest: +SKIP
    ({'issues': 212, 'toilets': 3}, {('150102001002003', '150102001002004'): 180, …})
    """
    as_of = as_of or datetime.now(timezone.utc)
    if as_of.tzinfo is None:
        raise InputError(Problem("parameter.naive_time",
                                 N_("as_of: give a timezone-aware time")))
    with db.transaction() as tx:
        version_row(tx, draft_id)
        base = against if against is not None else assign.active_version(tx)
        if base is None:
            raise NotFound(N_("there is no active grid version to compare with"),
                           code="grids.no_active_version")
        version_row(tx, base)
        if base == draft_id:
            raise InputError(Problem(
                "grids.diff_with_itself",
                N_("grid version %(version)s is the version it would be compared with"),
                {"version": draft_id}))
        report = DiffReport(draft_id, base, as_of)
        tx.execute("SET LOCAL jit = off")
        _counts, band, extent = match_versions(tx, settings, base, draft_id)
        report.grids = dict(tx.fetchall("SELECT code, change FROM _match"
                                        " WHERE change <> 'identical' ORDER BY code"))
        since = as_of - timedelta(days=RECENT_DAYS)
        for table in assign.ASSIGNED_TABLES:
            tx.execute(db_mod.sql("version_candidates").format(table=table),
                       {"band": band, "restore": None})
            assign.compute(tx, "_candidates", draft_id, settings.assign_tolerance_m, extent)
            is_issue = table == "issues"
            rows = tx.fetchall(db_mod.sql("version_moves").format(
                table=table, label=_LABEL[table],
                open_expr=statuses.open_sql("t.status") if is_issue else "false",
                recent_expr="t.reported_at >= %(since)s" if is_issue else "false"),
                {"since": since})
            report.moves[table] = [Move(table, *r[:6]) for r in rows]
            matrix = {}
            for r in rows:
                matrix[(r[2], r[3])] = matrix.get((r[2], r[3]), 0) + 1
            report.matrix[table] = matrix
            if is_issue:
                moved_issues = rows
        current = {c: (o, r) for c, o, r in tx.fetchall(db_mod.sql("version_workload").format(
            open_expr=statuses.open_sql("i.status")), {"since": since})}
        epsg = metric_epsg(tx, draft_id)
        after = tx.fetchall(db_mod.sql("version_shapes"), {"version": draft_id, "epsg": epsg})
        before = {r[0]: r for r in tx.fetchall(db_mod.sql("version_shapes"),
                                               {"version": base, "epsg": epsg})}
    _workload(report, after, before, current, moved_issues)
    return report


def move_locations(db, moves):
    """Where the moving points are: ``[(lat, lon, move), …]`` in the order of ``moves``.

    ``moves`` are :class:`Move` s of :func:`diff` (issues and toilets); a point
    deleted since is left out. Coordinates are EPSG:4490 lon/lat, as stored.

    Examples
    --------
    >>> report = diff(db, 7, settings)  # doctest: +SKIP
    >>> move_locations(db, report.moves["issues"][:1])  # doctest: +SKIP
    [(40.8612, 111.6803, Move(kind='issues', id=17, …))]
    """
    ids = {table: [m.id for m in moves if m.kind == table] for table in assign.ASSIGNED_TABLES}
    where = {}
    with db.transaction() as tx:
        for table, keys in ids.items():
            if keys:
                for i, x, y in tx.fetchall(f"SELECT id, ST_X(geom), ST_Y(geom) FROM {table}"
                                           " WHERE id = ANY(%s)", (keys,)):
                    where[(table, i)] = (y, x)
    return [(*where[(m.kind, m.id)], m) for m in moves if (m.kind, m.id) in where]


def _workload(report, after, before, current, moved):
    counts = {c: list(v) for c, v in current.items()}
    for _id, _label, old, new, _om, _nm, is_open, is_recent in moved:
        for code, sign in ((old, -1), (new, 1)):
            if code is not None:
                entry = counts.setdefault(code, [0, 0])
                entry[0] += sign * int(is_open)
                entry[1] += sign * int(is_recent)
    for code, name, area, population, compactness in after:
        was = before.get(code)
        open_now, recent_now = current.get(code, (0, 0))
        w = GridWorkload(code, name, report.grids.get(code, "identical"),
                         counts.get(code, [0, 0])[0], counts.get(code, [0, 0])[1],
                         float(area), population, compactness)
        w.before = {"open_issues": open_now, "recent_issues": recent_now,
                    "area_m2": float(was[2]) if was else None,
                    "population": was[3] if was else None,
                    "compactness": was[4] if was else None}
        report.workload.append(w)
    for metric in METRICS:
        values = [getattr(w, metric) for w in report.workload if getattr(w, metric) is not None]
        mean = statistics.fmean(values) if values else None
        report.means[metric] = mean
        for w in report.workload:
            value = getattr(w, metric)
            if value is None or mean is None:
                w.deviation[metric] = w.relative[metric] = None
                continue
            w.deviation[metric] = value - mean
            w.relative[metric] = (value - mean) / mean if mean else None
    for k, metric in enumerate(("open_issues", "recent_issues")):
        now = [current.get(code, (0, 0))[k] for code in before]
        later = [getattr(w, metric) for w in report.workload]
        if now and later:
            report.spread[metric] = {"before": statistics.pstdev(now),
                                     "after": statistics.pstdev(later)}
