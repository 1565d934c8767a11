"""Activation and rollback of grid versions, re-assigning only the points that can change.

Activating version B over the active version A (``_switch``):

1. The grid-level rows of A and B are matched by code (``version_match.sql``).
2. Rows **identical** in both (shape and attributes) exchange their version ids: the row
   the points already reference becomes B's, its twin becomes A's.
3. Rows of a grid that is **reshaped** or has new attributes exchange their contents
   (``version_exchange.sql``): the row the points reference takes B's shape and
   attributes into B, its twin takes A's into A. So both versions keep exactly the grids
   they had, each point's row is always one of the active version, and no point outside
   the changed area is written: an activation's writes grow with the changed area, not
   with the size of the grids it touches. This exchange is the one change of a grid row
   in place that the database allows (migration 0037); ids are only handles, a grid's
   identity across versions is its code.
4. The **changed area** is the symmetric difference of old and new shape of every
   reshaped grid plus the shape of every added or removed grid. A point can get another
   grid, or another method, only if it lies within the 'nearest' tolerance of that area:
   elsewhere it is covered by the same grids (matched by code, so the boundary rule gives
   the same winner) or lies at the same distance from them. Those points are re-assigned
   with the same SQL as every assignment (:func:`geo.assign.compute`).
5. Every point of step 4 is logged with its assignment before and after
   (``grid_assignment_log``); a change of grid or method also goes to the point's
   history (``issue_history``/``toilet_history``, action ``reassigned``).

Rollback undoes the latest activation that is not undone yet: the same switch back (the
exchanged rows exchange again, so each holds what it held before), except that every
logged point gets exactly the grid id, version and method it had before; points created
since are re-assigned.

``grid_version`` on a point is the version its assignment was computed under: a point
outside the changed area keeps it, since that assignment stays valid.
"""

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from geo.grids import assign
from geo.people import audit
from geo.store import db as db_mod
from geo.grids import validation as version_checks
from geo.errors import N_, ConflictError, InputError, NotFound, Problem, Text
from geo.grids.messages import CHANGES, Joined, Lines, term
from geo.grids.store import lock_versions, match_versions, version_row

_HISTORY = {"issues": ("issue_history", "issue_id"), "toilets": ("toilet_history", "toilet_id")}


#: What a switch did to one point table, said per table (the counting words differ).
_TABLE_CHANGE = {
    "issues": N_("issues: %(moved)d changed grid; %(looked_at)d in the changed area "
                 "re-assigned under version %(version)s"),
    "toilets": N_("toilets: %(moved)d changed grid; %(looked_at)d in the changed area "
                  "re-assigned under version %(version)s"),
}


@dataclass
class TableChange:
    """What a switch did to one point table."""

    table: str
    version_id: int
    looked_at: int = 0
    restored: int = 0
    written: int = 0
    moved: int = 0
    history: int = 0

    def text(self):
        """What the switch did to the table, as a :class:`~geo.errors.Text`."""
        params = {"moved": self.moved, "looked_at": self.looked_at, "version": self.version_id,
                  "restored": self.restored,
                  "written": self.written}
        parts = [Text(_TABLE_CHANGE[self.table], params)]
        if self.restored:
            parts.append(Text(N_(", %(restored)d restored exactly"), params))
        parts.append(Text(N_("; %(written)d rows written"), params))
        return Joined(parts, "")

    def __str__(self):
        return self.text().render()


@dataclass
class ActivationReport(Lines):
    """Result of :func:`activate` or :func:`rollback`.

    ``tables`` holds a :class:`TableChange` per point table, ``warnings`` the validation's
    warnings (:class:`~geo.grids.validation.Finding`).
    """

    action: str
    version_id: int
    previous_id: int | None
    activation_id: int
    actor: str
    grids: dict = field(default_factory=dict)
    tables: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    full_reassignment: bool = False
    seconds: float = 0.0

    def lines(self):
        params = {"version": self.version_id, "previous": self.previous_id,
                  "actor": self.actor, "seconds": self.seconds}
        if self.action == "activate":
            verb = (N_("activated grid version %(version)s by %(actor)s in %(seconds).2f s")
                    if self.previous_id is None else
                    N_("activated grid version %(version)s (was %(previous)s) by %(actor)s in "
                       "%(seconds).2f s"))
        else:
            verb = N_("rolled back to grid version %(version)s (was %(previous)s) by %(actor)s "
                      "in %(seconds).2f s")
        parts = [Text(verb, params)]
        if self.grids:
            changes = [Text(N_("%(change)s %(n)d"), {"change": term(CHANGES, k), "n": v})
                       for k, v in sorted(self.grids.items())]
            parts.append(Text(N_("; grids: %(changes)s"), {"changes": Joined(changes)}))
        if self.full_reassignment:
            parts.append(Text(N_("; first version: every point assigned")))
        lines = [(0, Joined(parts, ""))] + [(1, t.text()) for t in self.tables]
        if self.warnings:
            lines.append((1, Text(N_("%(n)d warning(s) of the validation:"),
                                  {"n": len(self.warnings)})))
            lines += [(2, Text(N_("%(severity)s: %(finding)s"),
                               {"severity": w.severity_label, "finding": w}))
                      for w in self.warnings[:20]]
        return lines


def activate(db, settings, draft_id, expected_active=None, actor=None):
    """Make ``draft_id`` the active grid version, re-assigning only the changed area.

    Parameters
    ----------
    draft_id : int
        A draft (or a retired version) to activate.
    expected_active : int, optional
        The version the caller believes is active (the one the diff was made against).
        Default: the version that was active when the draft was made (its parent). If
        another version is active by now — another planner was faster — nothing changes
        and :class:`~geo.errors.ConflictError` says who activated what, when.
    actor : str, optional
        Who activates (recorded with the activation).

    The draft is validated first (:func:`geo.versions.validate`); any error refuses it
    with :class:`~geo.errors.InputError` listing every error. Everything happens in one
    transaction: versions, assignments, their log and history change together or not
    at all.

    Examples
    --------
    >>> report = activate(db, settings, 7, expected_active=6, actor="王工")  # doctest: +SKIP
    >>> print(report)  # doctest: +SKIP
    activated grid version 7 (was 6) by 王工 in 0.41 s; grids: identical 990, reshaped 10
      issues: 2212 changed grid; 12873 in the changed area re-assigned …
    """
    with db.transaction() as tx:
        return activate_in(tx, settings, draft_id, expected_active, actor)


def activate_in(tx, settings, draft_id, expected_active=None, actor=None):
    """:func:`activate` inside the caller's transaction ``tx``."""
    started = time.perf_counter()
    who, actor = actor, audit.login_of(actor)
    tx.execute("SET LOCAL jit = off")
    lock_versions(tx)
    draft = version_row(tx, draft_id, lock=True)
    if draft["status"] == "active":
        raise ConflictError(N_("grid version %(version)s is already active"),
                            {"version": draft_id}, code="grids.already_active")
    active = tx.fetchdicts("SELECT id, activated_by, activated_at FROM grid_versions"
                           " WHERE status = 'active' FOR UPDATE")
    current = active[0]["id"] if active else None
    expected = expected_active if expected_active is not None else draft["parent_id"]
    if current != expected:
        raise ConflictError(*_conflict_message(draft_id, current, expected, active,
                                               expected_active is None),
                            code="grids.activation_conflict")
    inputs = version_checks.read(tx, draft_id)
    if current is None:  # a full re-assignment: not begun for a draft that is refused
        validation = _valid(draft_id, version_checks.check(inputs, settings))
        activation = _record(tx, draft_id, current, actor, "activate", None, validation)
        report = ActivationReport("activate", draft_id, current, activation,
                                  actor or _user(tx), warnings=validation.warnings)
        _flip(tx, None, draft_id, actor)
        # The first grids are missing from the planner's statistics until autovacuum
        # comes by: the assignment (now, and of the imports that usually follow at once)
        # would expect one grid and test every grid for each point left outside them
        # instead of asking the spatial index. Later versions: see match_versions.
        tx.execute("ANALYZE grids")
        report.full_reassignment = True
        for r in assign.reassign_in(tx, settings, actor=actor):
            report.tables.append(TableChange(r.table, draft_id, looked_at=r.total,
                                             written=r.changed, moved=r.changed))
    else:
        # The draft's geometry is checked in a second thread (shapely lets go of the GIL)
        # while this one writes the switch, mostly waiting on the server: the checks were
        # 0.3 s of an activation's 1.5 s at a million issues. A draft that fails them is
        # refused after the writes, which the refusal rolls back with the transaction.
        with ThreadPoolExecutor(1, thread_name_prefix="civgrid-validate") as pool:
            checking = pool.submit(version_checks.check, inputs, settings)
            try:
                activation = _record(tx, draft_id, current, actor, "activate", None, None)
                report = ActivationReport("activate", draft_id, current, activation,
                                          actor or _user(tx))
                report.grids, report.tables = _switch(tx, settings, current, draft_id,
                                                      activation, actor)
            except Exception:
                _valid(draft_id, checking.result())  # an invalid draft's failure says why
                raise
            validation = _valid(draft_id, checking.result())
        report.warnings = validation.warnings
        tx.execute("UPDATE grid_activations SET validation = %s::jsonb WHERE id = %s",
                   (_summary(validation), activation))
        _flip(tx, current, draft_id, actor)
    _audit(tx, who, report)
    report.seconds = time.perf_counter() - started
    return report


def rollback(db, settings, actor=None, expected_active=None):
    """Undo the latest activation: its previous version is active again, exactly.

    Every point the activation re-assigned gets back the grid id, grid version and
    method it had before; points created since are assigned under the restored
    version. Repeated, it walks back one activation at a time. ``expected_active`` (the
    version the caller sees as active) guards against two planners rolling back at
    once: if it is given and no longer active, :class:`~geo.errors.ConflictError`.

    Examples
    --------
    >>> print(rollback(db, settings, actor="王工"))  # doctest: +SKIP
    rolled back to grid version 6 (was 7) by 王工 in 0.35 s; …
    """
    started = time.perf_counter()
    who, actor = actor, audit.login_of(actor)
    with db.transaction() as tx:
        tx.execute("SET LOCAL jit = off")
        lock_versions(tx)
        current = tx.fetchval("SELECT id FROM grid_versions WHERE status = 'active' FOR UPDATE")
        if expected_active is not None and current != expected_active:
            raise ConflictError(
                N_("grid version %(current)s is active now, not %(expected)s: someone else "
                   "activated or rolled back meanwhile; nothing was rolled back"),
                {"current": current, "expected": expected_active},
                code="grids.rollback_conflict")
        last = _last_activation(tx)
        if last is None or current is None:
            raise NotFound(N_("there is no activation to roll back"),
                           code="grids.nothing_to_roll_back")
        if last["version_id"] != current:
            raise ConflictError(
                N_("the active version %(current)s was not made active by the latest "
                   "activation (%(activation)s, version %(version)s): nothing was rolled back"),
                {"current": current, "activation": last["id"], "version": last["version_id"]},
                code="grids.rollback_conflict")
        previous = last["previous_version_id"]
        if previous is None:
            raise ConflictError(
                N_("grid version %(current)s was the first active version: there is no "
                   "earlier version to roll back to"), {"current": current},
                code="grids.rollback_first_version")
        activation = _record(tx, previous, current, actor, "rollback", last["id"], None)
        report = ActivationReport("rollback", previous, current, activation,
                                  actor or _user(tx))
        report.grids, report.tables = _switch(tx, settings, current, previous, activation,
                                              actor, restore=last["id"])
        _flip(tx, current, previous, actor)
        _audit(tx, who, report)
    report.seconds = time.perf_counter() - started
    return report


def rollback_target(db):
    """The version :func:`rollback` would make active again, or None when a rollback
    would be refused (nothing activated, or the first version is active).

    Examples
    --------
    >>> rollback_target(db)  # doctest: +SKIP
    6
    """
    with db.transaction() as tx:
        current = tx.fetchval("SELECT id FROM grid_versions WHERE status = 'active'")
        last = _last_activation(tx)
    if current is None or last is None or last["version_id"] != current:
        return None
    return last["previous_version_id"]


def _last_activation(tx):
    """The latest activation not undone yet (a dict), or None."""
    rows = tx.fetchdicts(
        "SELECT a.id, a.version_id, a.previous_version_id FROM grid_activations a"
        " WHERE a.action = 'activate' AND NOT EXISTS"
        " (SELECT 1 FROM grid_activations r WHERE r.undoes = a.id)"
        " ORDER BY a.id DESC LIMIT 1")
    return rows[0] if rows else None


def _audit(tx, actor, report):
    """The audit entry of an activation or rollback: which version was active before and
    after, and how many grids and points changed (not the points themselves)."""
    audit.record(tx, actor, "grids." + report.action, "grid_version", report.version_id,
                 {"active": report.previous_id},
                 {"active": report.version_id, "activation": report.activation_id,
                  "grids": report.grids, "moved": {t.table: t.moved for t in report.tables}})


def _user(tx):
    return tx.fetchval("SELECT current_user")


def _conflict_message(draft_id, current, expected, active, by_parent):
    """``(template, params)`` of the conflict: who activated what, and what to do now."""
    if current is None:
        return (N_("no grid version is active any more (expected %(expected)s): nothing was "
                   "activated"), {"expected": expected})
    params = {"draft": draft_id, "current": current, "expected": expected,
              "who": active[0]["activated_by"],
              "when": f"{active[0]['activated_at']:%Y-%m-%d %H:%M:%S}"}
    if not by_parent:
        base = Text(N_("you expected version %(expected)s to be active"), params)
    elif expected is None:  # an uploaded draft, or one of a retired version
        base = Text(N_("grid version %(draft)s was not made from the active version"), params)
    else:
        base = Text(N_("grid version %(draft)s was made from version %(expected)s"), params)
    return (N_("grid version %(current)s was activated by %(who)s at %(when)s; %(base)s. "
               "Nothing was activated: review the changes against version %(current)s (diff) "
               "and activate again expecting version %(current)s"), {**params, "base": base})


def _valid(draft_id, validation):
    """``validation`` of a draft that may be activated; refuse one with errors."""
    if not validation.ok:
        raise InputError(
            [Problem("grids.activation_refused",
                     N_("grid version %(version)s cannot be activated: %(n)d error(s)"),
                     {"version": draft_id, "n": len(validation.errors)})]
            + [f.as_problem() for f in validation.errors], code="grids.activation_refused")
    return validation


def _summary(validation):
    """What the activation's history keeps of its validation (JSON)."""
    return json.dumps({"boundary": str(validation.boundary), "counts": validation.counts()})


def _record(tx, version_id, previous, actor, action, undoes, validation):
    summary = None if validation is None else _summary(validation)
    return tx.fetchval(
        "INSERT INTO grid_activations (version_id, activated_by, activated_at, action,"
        " previous_version_id, undoes, validation)"
        " VALUES (%s, coalesce(%s, current_user), clock_timestamp(), %s, %s, %s, %s::jsonb)"
        " RETURNING id", (version_id, actor, action, previous, undoes, summary))


def _flip(tx, old, new, actor):
    if old is not None:
        tx.execute("UPDATE grid_versions SET status = 'retired', retired_at = clock_timestamp()"
                   " WHERE id = %s", (old,))
    tx.execute("UPDATE grid_versions SET status = 'active', activated_at = clock_timestamp(),"
               " activated_by = coalesce(%s, current_user), retired_at = NULL WHERE id = %s",
               (actor, new))


def _switch(tx, settings, src, dst, activation, actor, restore=None):
    """Move every point from version ``src`` to ``dst``; see the module docstring.

    Returns ``(grid change counts, [TableChange])``.
    """
    grids, band, extent = match_versions(tx, settings, src, dst)
    params = {"src": src, "dst": dst, "activation": activation, "restore": restore,
              "version": dst, "actor": actor, "band": band}
    tx.execute("UPDATE grids SET version_id = CASE WHEN version_id = %(src)s THEN %(dst)s"
               " ELSE %(src)s END WHERE id IN (SELECT src_id FROM _match WHERE change ="
               " 'identical' UNION ALL SELECT dst_id FROM _match WHERE change = 'identical')",
               params)
    # The grids that differ exchange their rows' contents (migration 0037 lets only this
    # statement do so): the points outside the changed area keep their row.
    tx.execute("SET LOCAL civgrid.grid_exchange = 'on'")
    tx.execute(db_mod.sql("version_exchange"), params)
    tx.execute("SET LOCAL civgrid.grid_exchange = 'off'")
    tx.execute("UPDATE grid_activations SET changed_area = (SELECT ST_Multi(ST_Union(geom))"
               " FROM _changed) WHERE id = %s", (activation,))
    tolerance = settings.assign_tolerance_m
    tables = []
    for table in assign.ASSIGNED_TABLES:
        change = TableChange(table, dst)
        log_changes = assign.log_changes_sql(table)
        if restore is not None:
            tx.execute(db_mod.sql("version_restore").format(table=table, log_changes=log_changes),
                       params)
            change.restored = tx.rowcount
        tx.execute(db_mod.sql("version_candidates").format(table=table), params)
        change.looked_at = tx.fetchval("SELECT count(*) FROM _candidates")
        assign.compute(tx, "_candidates", dst, tolerance, extent)
        tx.execute(db_mod.sql("version_apply").format(table=table, log_changes=log_changes),
                   params)
        history, key = _HISTORY[table]
        change.written, change.moved, change.history = tx.fetchone(
            db_mod.sql("version_history").format(table=table, history=history, key=key),
            params)
        tables.append(change)
    return grids, tables
