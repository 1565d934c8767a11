"""Balance suggestion: a new draft whose grids carry a more even load.

The building units are the **blocks** (the areas between roads, :mod:`geo.blocks`) when
a blocks layer is loaded, else the grids cut by a lattice of about ``unit_m`` × ``unit_m``
metres, a stand-in for blocks.

With blocks, the grids' and the blocks' boundaries are noded and polygonized together
(``version_balance_blocks.sql``), so every piece shares its edges exactly with its
neighbours. Each block belongs to the grid holding most of its area, its *home*; the
block's part in its home (its largest connected part there) is the unit that moves. The
rest of a grid — ground in no block, the small parts of blocks whose home is another
grid — never moves: a sliver of a block across a boundary stays where it is, so a draft
grid is always the union of pieces of the source version's grids, gap- and overlap-free.

Each unit has a load: the number of issues of the metric's kind in it, or its area.
The greedy:

1. Take the most loaded grid that can give something away (it keeps at least one
   movable unit of its own, so no grid is emptied).
2. Among its movable units that carry load, move the one that brings its grid's load and
   a less loaded neighbouring grid's closest together, as long as it moves less than their
   difference (so the variance of the loads drops) and the grid stays in one piece. A unit
   that does not border the neighbour takes along the units without load between it and
   the neighbour (the fewest such); otherwise the empty units on a grid's edge would
   shield the loaded ones behind them for good.
3. Repeat until no move lowers the spread (the standard deviation) or ``max_moves``.

A unit moves only to a grid of the same community (``scope='community'``, the default) or,
when asked, of the same street (``scope='street'``); never to another street, as a merge
never crosses one. The parents' rows of the draft keep their outlines: with the community
scope no community or street changes shape, so their rows are copied as they are; with the
street scope the communities that gave or took a unit are re-drawn as the union of their
grids, and the streets stay as they were.

The result is a new draft (a copy of the source version with the re-drawn grids) that
the planner can check with :func:`geo.versions.diff`, edit, activate or delete. Only the
units move: no grid is created, removed or re-coded. The report is stored with the draft
(table ``balance_suggestions``): :func:`balance_of` reads it back, so the draft's page lists
every move.
"""

import json
import statistics
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from geo.grids import assign
from geo.io import units as units_mod
from geo.issues import statuses
from geo.layers import blocks
from geo.people import audit
from geo.store import db as db_mod
from geo.errors import N_, excerpt, InputError, NotFound, Problem, Text
from geo.grids.messages import Lines, codes_text
from geo.grids.store import (
    NOISE_M2, delete_grid, grid_rows, insert_grid, new_draft,
    refresh_parents, version_row)

METRICS = {
    "open_issues": statuses.open_sql("i.status"),
    "recent_issues": "i.reported_at >= %(since)s",
    "issues": "true",
    "area": None,
}


UNIT_KINDS = ("blocks", "lattice")
#: How far a unit may move: to a grid of its own community, or of its own street; the
#: number of leading code digits two grids must share (geo/grids/codes.py).
SCOPES = {"community": 12, "street": 9}
#: The steps :func:`suggest_balance` reports to its ``progress`` callback, in order.
STEPS = ("units", "loads", "moves", "draft")
#: What is balanced, for people.
SCOPE_NAMES = {"community": N_("community"), "street": N_("street")}
SCOPE_LINES = {"community": N_("every block stays in its community: community and street "
                               "outlines are unchanged"),
               "street": N_("blocks may move between communities of one street: the "
                            "communities are re-drawn, the street outlines are unchanged")}
METRIC_NAMES = {"open_issues": N_("open issues"), "recent_issues": N_("issues of the last 30 days"),
                "issues": N_("all issues"), "area": N_("area")}


@dataclass
class BalanceReport(Lines):
    """The suggested draft and what the greedy did.

    ``unit_kind`` is ``'blocks'`` (the blocks layer) or ``'lattice'`` (cells of
    ``unit_m`` metres); ``units`` counts the movable units; ``fallback`` says that the
    lattice stands in because no blocks layer is loaded; ``scope`` how far a unit could
    move (``'community'`` or ``'street'``).

    ``moves`` lists every move in the order made, each a dict: ``unit`` (its id in this
    run), ``block`` (the block's ``ref``, None on the lattice), ``from`` and ``to`` (grid
    codes), ``load`` (what it carried), ``with`` (the empty units taken along), ``lon`` and
    ``lat`` (a point in it).
    """

    draft_id: int | None
    source_id: int
    metric: str
    units: int
    unit_kind: str = "lattice"
    unit_m: float = 200.0
    fallback: bool = False
    scope: str = "community"
    moves: list = field(default_factory=list)
    before: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)
    changed: list = field(default_factory=list)

    def units_text(self):
        """Which building units were used, as a :class:`~geo.errors.Text`."""
        params = {"n": self.units, "m": self.unit_m}
        if self.unit_kind == "blocks":
            return Text(N_("%(n)d blocks of the blocks layer as building units"), params)
        if self.fallback:
            return Text(N_("%(n)d lattice cells of %(m)g m as building units — no blocks layer "
                           "is loaded (`civgrid import blocks PATH`)"), params)
        return Text(N_("%(n)d lattice cells of %(m)g m as building units"), params)

    def metric_text(self):
        """What was balanced, as a :class:`~geo.errors.Text`."""
        return Text(METRIC_NAMES[self.metric])

    def summary(self):
        """One line: how many moves, between how many grids, and the spread before and
        after, as a :class:`~geo.errors.Text`."""
        return Text(N_("%(n)d move(s) between %(grids)d grids within one %(scope)s: standard "
                       "deviation of %(metric)s %(sd_before).1f → %(sd_after).1f"),
                    {"n": len(self.moves), "grids": len(self.changed),
                     "scope": Text(SCOPE_NAMES[self.scope]),
                     "metric": Text(METRIC_NAMES[self.metric]),
                     "sd_before": self.before["sd"], "sd_after": self.after["sd"]})

    def lines(self):
        head = Text(N_("balance of %(metric)s over the grids of version %(version)s (%(units)s): "
                       "standard deviation %(sd_before).1f → %(sd_after).1f, max − min "
                       "%(range_before).0f → %(range_after).0f"),
                    {"metric": Text(METRIC_NAMES[self.metric]), "version": self.source_id,
                     "units": self.units_text(), "sd_before": self.before["sd"],
                     "sd_after": self.after["sd"], "range_before": self.before["range"],
                     "range_after": self.after["range"]})
        if self.draft_id is None:
            return [(0, head), (1, Text(N_("no move lowers the spread: no draft made")))]
        blocks_moved = self.unit_kind == "blocks"
        carried = sum(len(m["with"]) for m in self.moves)
        params = {"n": len(self.moves), "carried": carried, "draft": self.draft_id,
                  "codes": codes_text(self.changed, 8)}
        if blocks_moved:
            moved = (N_("%(n)d block(s) moved with %(carried)d empty block(s) on their way; "
                        "draft %(draft)s re-draws %(codes)s") if carried else
                     N_("%(n)d block(s) moved; draft %(draft)s re-draws %(codes)s"))
        else:
            moved = (N_("%(n)d unit(s) moved with %(carried)d empty unit(s) on their way; "
                        "draft %(draft)s re-draws %(codes)s") if carried else
                     N_("%(n)d unit(s) moved; draft %(draft)s re-draws %(codes)s"))
        lines = [(0, head), (1, Text(moved, params))]
        lines.append((1, Text(SCOPE_LINES[self.scope])))
        for m in self.moves:
            params = {"unit": m.get("block") or Text(N_("block") if blocks_moved else N_("unit")),
                      "load": m["load"], "from": m["from"], "to": m["to"],
                      "empty": len(m["with"]), "lon": m["lon"], "lat": m["lat"]}
            if not m["with"]:
                message = N_("%(unit)s (%(load)g) from %(from)s to %(to)s near lon %(lon).6f, "
                             "lat %(lat).6f")
            elif blocks_moved:
                message = N_("%(unit)s (%(load)g) from %(from)s to %(to)s with %(empty)d empty "
                             "block(s) near lon %(lon).6f, lat %(lat).6f")
            else:
                message = N_("%(unit)s (%(load)g) from %(from)s to %(to)s with %(empty)d empty "
                             "unit(s) near lon %(lon).6f, lat %(lat).6f")
            lines.append((1, Text(message, params)))
        return lines


def suggest_balance(db, settings, metric="open_issues", source=None, units=None,
                    unit_m=200.0, max_moves=200, as_of=None, label=None, actor=None,
                    scope="community", progress=None):
    """Propose boundary moves that even out ``metric`` over the grids, as a new draft.

    Parameters
    ----------
    metric : {'open_issues', 'recent_issues', 'issues', 'area'}
        What to balance: open issues (not closed or void), issues of the 30 days before
        ``as_of``, all issues, or area.
    source : int, optional
        The version to start from (default: the active one).
    units : {'blocks', 'lattice'}, optional
        The building units: whole blocks of the blocks layer, or lattice cells. Default:
        blocks when a blocks layer is loaded, else the lattice.
    unit_m : float
        Side of the lattice cells that cut grids into movable units, in metres.
    max_moves : int
        Upper bound on the number of units moved.
    scope : {'community', 'street'}
        How far a unit may move: to a grid of its own community (the default: no
        community or street outline changes), or of its own street (communities are
        re-drawn, streets are not). Never to another street.
    progress : callable, optional
        Called as ``progress(step, moves)`` when each step of :data:`STEPS` begins and
        after each move (``step='moves'``), so that a caller can show that work goes on.

    Returns a :class:`BalanceReport`; its ``draft_id`` is None when no move helps.

    Examples
    --------
    >>> print(suggest_balance(db, settings, metric="open_issues"))  # doctest: +SKIP
    balance of open_issues over the grids of version 3 (1878 blocks of the blocks layer …
    """
    if metric not in METRICS:
        raise InputError(_not_one_of("metric", METRICS, metric))
    if units is not None and units not in UNIT_KINDS:
        raise InputError(_not_one_of("units", UNIT_KINDS, units))
    if scope not in SCOPES:
        raise InputError(_not_one_of("scope", SCOPES, scope))
    progress = progress or (lambda step, moves: None)
    if not unit_m or unit_m <= 0:
        raise InputError(Problem("parameter.not_positive",
                                 N_("%(name)s must be a positive number of metres, not %(value)s"),
                                 {"name": "unit_m", "value": excerpt(unit_m)}))
    as_of = as_of or datetime.now(timezone.utc)
    with db.transaction() as tx:
        tx.execute("SET LOCAL jit = off")
        if source is None:
            source = assign.active_version(tx)
            if source is None:
                raise NotFound(N_("there is no active grid version to balance"),
                               code="grids.no_active_version")
        version_row(tx, source)
        progress("units", 0)
        kind, fallback = _make_units(tx, source, units, unit_m)
        unit_rows = {u: (code, grid, area) for u, code, grid, area in tx.fetchall(
            "SELECT unit_id, code, grid_id, area_m2 FROM _units")}
        if not unit_rows:
            raise NotFound(N_("grid version %(version)s holds no grids"), {"version": source},
                           code="grids.no_grids")
        movable = {u for (u,) in tx.fetchall("SELECT unit_id FROM _units WHERE movable")}
        progress("loads", 0)
        unit_load, base = _loads(tx, metric, unit_rows, as_of)
        touch = tx.fetchall(db_mod.sql("version_balance_touch"))
        greedy = _Greedy(unit_rows, movable, unit_load, base, touch, SCOPES[scope])
        report = BalanceReport(None, source, metric, len(movable), kind, unit_m, fallback,
                               scope, before=greedy.spread())
        progress("moves", 0)
        report.moves = greedy.run(max_moves, progress)
        report.after = greedy.spread()
        if not report.moves:
            return report
        where = {u: (x, y, block) for u, x, y, block in tx.fetchall(
            "SELECT unit_id, ST_X(p), ST_Y(p), block FROM _units,"
            " ST_PointOnSurface(geom) AS p WHERE unit_id = ANY(%s)",
            ([m["unit"] for m in report.moves],))}
        for m in report.moves:
            m["lon"], m["lat"], m["block"] = where[m["unit"]]
        report.changed = sorted({m["from"] for m in report.moves} | {m["to"] for m in report.moves})
        progress("draft", len(report.moves))
        draft = new_draft(tx, source, label or f"balanced {metric} from version {source}", actor,
                          note=f"suggested by the balance of {metric} on {kind}")
        rows = grid_rows(tx, draft, report.changed)
        for code in report.changed:
            mine = [u for u, owner in greedy.owner.items() if owner == code]
            insert_grid(tx, draft, {**rows[code], "population": None},
                        "(SELECT civgrid_clean_polygons(ST_Union(geom), %s) FROM _units"
                        " WHERE unit_id = ANY(%s))", (NOISE_M2, mine))
            delete_grid(tx, rows[code]["id"])
        across = [c for m in report.moves if m["from"][:12] != m["to"][:12]
                  for c in (m["from"], m["to"])]
        if across:  # only communities that gave or took land change shape; streets never
            refresh_parents(tx, draft, across, levels=("community",))
        report.draft_id = draft
        _store(tx, report)
        audit.record(tx, actor, "grids.balance", "grid_version", draft, None,
                     {"source": source, "metric": metric, "scope": scope, "units": kind,
                      "moves": len(report.moves), "changed": report.changed})
    return report


def _store(tx, report):
    tx.execute(
        "INSERT INTO balance_suggestions (version_id, source_id, metric, scope, unit_kind,"
        " units, unit_m, fallback, before, after, moves)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (report.draft_id, report.source_id, report.metric, report.scope, report.unit_kind,
         report.units, report.unit_m, report.fallback, json.dumps(report.before),
         json.dumps(report.after), json.dumps(report.moves)))


def balance_of(db, version_id):
    """The :class:`BalanceReport` that made version ``version_id``, or None when the
    balance suggestion did not make it."""
    with db.transaction() as tx:
        rows = tx.fetchdicts(
            "SELECT source_id, metric, scope, unit_kind, units, unit_m, fallback, before,"
            " after, moves FROM balance_suggestions WHERE version_id = %s", (version_id,))
    if not rows:
        return None
    r = rows[0]
    moves = r["moves"]
    return BalanceReport(version_id, r["source_id"], r["metric"], r["units"], r["unit_kind"],
                         r["unit_m"], r["fallback"], r["scope"], moves, r["before"], r["after"],
                         sorted({m["from"] for m in moves} | {m["to"] for m in moves}))


def _not_one_of(name, allowed, value):
    return Problem("parameter.not_one_of", N_("%(name)s must be one of %(allowed)s, not %(value)s"),
                   {"name": name, "allowed": ", ".join(allowed), "value": excerpt(value)})


def default_units(db):
    """The units :func:`suggest_balance` uses when not told: ``'blocks'`` when a blocks
    layer is loaded, else ``'lattice'``."""
    with db.transaction() as tx:
        return "blocks" if blocks.is_loaded(tx) else "lattice"


def _make_units(tx, source, units, unit_m):
    """Fill the temp table ``_units`` with the building units.

    Returns ``(kind, fallback)``: fallback when the lattice stands in for missing blocks.
    """
    loaded = blocks.is_loaded(tx)
    if units == "blocks" and not loaded:
        raise InputError(Problem(
            "grids.no_blocks_layer",
            N_("units 'blocks': no blocks layer is loaded (import one with `civgrid import "
               "blocks PATH`), or use the lattice")))
    if units == "blocks" or (units is None and loaded):
        tx.execute(db_mod.sql("version_balance_blocks"), {"version": source})
        return "blocks", False
    lat = tx.fetchval("SELECT ST_YMax(ST_Extent(geom)::geometry) FROM grids"
                      " WHERE version_id = %s", (source,)) or 45.0
    lon_m, lat_m = units_mod.metres_per_degree(lat)
    tx.execute(db_mod.sql("version_balance_units"),
               {"version": source, "dx": unit_m / float(lon_m), "dy": unit_m / float(lat_m),
                "noise": NOISE_M2})
    return "lattice", not loaded


def _loads(tx, metric, units, as_of):
    """``(load of each unit, load of each grid outside its units)``."""
    codes = {grid: code for code, grid, _ in units.values()}
    if metric == "area":
        return {u: area for u, (_, _, area) in units.items()}, {c: 0.0 for c in codes.values()}
    unit_load = {u: 0 for u in units}
    base = {c: 0 for c in codes.values()}
    rows = tx.fetchall(db_mod.sql("version_balance_loads").format(filter=METRICS[metric]),
                       {"since": as_of - timedelta(days=30)})
    for grid, unit, n in rows:
        if unit is None:
            base[codes[grid]] += n
        else:
            unit_load[unit] = n
    return unit_load, base


class _Greedy:
    def __init__(self, units, movable, unit_load, base, touch, shared_digits):
        self.shared = shared_digits  # a unit moves only between codes sharing these
        self.owner = {u: code for u, (code, _, _) in units.items()}
        self.movable = movable
        self.unit_load = unit_load
        self.adj = {u: set() for u in units}
        for a, b in touch:
            self.adj[a].add(b)
            self.adj[b].add(a)
        self.units_of = {}
        for u, code in self.owner.items():
            self.units_of.setdefault(code, set()).add(u)
        self.load = {code: base.get(code, 0) + sum(unit_load[u] for u in us)
                     for code, us in self.units_of.items()}
        self.pieces = {code: self._pieces(us) for code, us in self.units_of.items()}

    def spread(self):
        values = list(self.load.values())
        return {"sd": statistics.pstdev(values) if len(values) > 1 else 0.0,
                "range": max(values) - min(values), "mean": statistics.fmean(values)}

    def _pieces(self, units):
        seen, pieces = set(), 0
        for start in units:
            if start in seen:
                continue
            pieces += 1
            todo = [start]
            while todo:
                u = todo.pop()
                if u not in seen:
                    seen.add(u)
                    todo.extend(v for v in self.adj[u] if v in units and v not in seen)
        return pieces

    def _candidates(self, code):
        """Moves of ``code``'s loaded units to lighter neighbours, best first.

        A move is a path of units: the loaded unit, then the units without load that lead
        from it to the neighbour (none when it borders the neighbour). Each neighbour is
        searched breadth first from ``code``'s units on its edge, through empty units only,
        so the path is the shortest one and carries the load of its first unit alone.
        """
        mine = self.units_of[code] & self.movable
        out = []
        for target in sorted({self.owner[v] for u in mine for v in self.adj[u]} - {code}):
            if target[:self.shared] != code[:self.shared]:
                continue  # another community (or street): the move would re-draw it
            gap = self.load[code] - self.load[target]
            if gap <= 0:
                continue
            edge = sorted(u for u in mine if any(self.owner[v] == target for v in self.adj[u]))
            after = dict.fromkeys(edge)  # unit -> the next unit on its way to the target
            todo = deque(edge)
            while todo:
                u = todo.popleft()
                x = self.unit_load[u]
                if x > 0:  # a loaded unit ends its path: the load moves, not more
                    if x < gap:
                        path = [u]
                        while after[path[-1]] is not None:
                            path.append(after[path[-1]])
                        out.append((x * (gap - x), -len(path), -u, path, target))
                    continue
                for v in sorted(self.adj[u] & mine):
                    if v not in after:
                        after[v] = u
                        todo.append(v)
        return sorted(out, reverse=True)

    def run(self, max_moves, progress):
        moves = []
        while len(moves) < max_moves:
            move = None
            for code in sorted(self.load, key=lambda c: (-self.load[c], c)):
                left = len(self.units_of[code] & self.movable)
                if left < 2:
                    continue  # its last movable unit stays: no grid is emptied
                for _gain, _, _, path, target in self._candidates(code):
                    rest = self.units_of[code] - set(path)
                    if left > len(path) and self._pieces(rest) <= self.pieces[code]:
                        move = (path, code, target)
                        break
                if move:
                    break
            if move is None:
                break
            path, code, target = move
            x = self.unit_load[path[0]]
            for u in path:
                self.units_of[code].discard(u)
                self.units_of[target].add(u)
                self.owner[u] = target
            self.load[code] -= x
            self.load[target] += x
            self.pieces[code] = self._pieces(self.units_of[code])
            self.pieces[target] = self._pieces(self.units_of[target])
            moves.append({"unit": path[0], "with": path[1:], "from": code, "to": target,
                          "load": x})
            progress("moves", len(moves))
        return moves
