"""Activation and rollback of grid versions, re-assigning only the points that can change.

Activating version B over the active version A (``_switch``):

1. The grid-level rows of A and B are matched by code (``version_match.sql``).
2. Rows **identical** in both (shape and attributes) exchange their version ids: the row
   the points already reference becomes B's, its twin becomes A's. Both versions keep a
   complete, unchanged set of rows and these points need no write at all.
3. The **changed area** is the symmetric difference of old and new shape of every
   reshaped grid plus the shape of every added or removed grid. A point can get another
   grid, or another method, only if it lies within the 'nearest' tolerance of that area:
   elsewhere it is covered by the same grids (matched by code, so the boundary rule gives
   the same winner) or lies at the same distance from them. Those points are re-assigned
   with the same SQL as every assignment (:func:`geo.assign.compute`).
4. The other points of a reshaped or re-attributed grid keep grid and method and move to
   the grid's new row.
5. Every point of steps 3–4 is logged with its assignment before and after
   (``grid_assignment_log``); a change of grid or method also goes to the point's
   history (``issue_history``/``toilet_history``, action ``reassigned``).

Rollback undoes the latest activation that is not undone yet: the same switch back,
except that every logged point gets exactly the grid id, version and method it had
before; points created since are re-assigned.

``grid_version`` on a point is the version its assignment was computed under: a point
outside the changed area keeps it, since that assignment stays valid.
"""

import json
import time
from dataclasses import dataclass, field

from geo.grids import assign
from geo.store import db as db_mod
from geo.grids import validation as version_checks
from geo.errors import ConflictError, InputError, NotFound
from geo.grids.store import lock_versions, match_versions, version_row

_HISTORY = {"issues": ("issue_history", "issue_id"), "toilets": ("toilet_history", "toilet_id")}


@dataclass
class TableChange:
    """What a switch did to one point table."""

    table: str
    version_id: int
    looked_at: int = 0
    remapped: int = 0
    restored: int = 0
    written: int = 0
    moved: int = 0
    history: int = 0

    def __str__(self):
        text = (f"{self.table}: {self.moved} changed grid; {self.looked_at} in the changed "
                f"area re-assigned under version {self.version_id}, {self.remapped} kept "
                f"their grid (new row)")
        if self.restored:
            text += f", {self.restored} restored exactly"
        return text + f"; {self.written} rows written"


@dataclass
class ActivationReport:
    """Result of :func:`activate` or :func:`rollback`."""

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

    def __str__(self):
        verb = "activated" if self.action == "activate" else "rolled back to"
        head = f"{verb} grid version {self.version_id}"
        if self.previous_id is not None:
            head += f" (was {self.previous_id})"
        head += f" by {self.actor} in {self.seconds:.2f} s"
        if self.grids:
            head += "; grids: " + ", ".join(f"{k} {v}" for k, v in sorted(self.grids.items()))
        if self.full_reassignment:
            head += "; first version: every point assigned"
        lines = [head] + [f"  {t}" for t in self.tables]
        if self.warnings:
            lines.append(f"  {len(self.warnings)} warning(s) of the validation:")
            lines += [f"    {w}" for w in self.warnings[:20]]
        return "\n".join(lines)


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
    tx.execute("SET LOCAL jit = off")
    lock_versions(tx)
    draft = version_row(tx, draft_id, lock=True)
    if draft["status"] == "active":
        raise ConflictError(f"grid version {draft_id} is already active")
    active = tx.fetchdicts("SELECT id, activated_by, activated_at FROM grid_versions"
                           " WHERE status = 'active' FOR UPDATE")
    current = active[0]["id"] if active else None
    expected = expected_active if expected_active is not None else draft["parent_id"]
    if current != expected:
        raise ConflictError(_conflict_message(draft_id, current, expected, active,
                                              expected_active is None))
    validation = version_checks.validate_in(tx, settings, draft_id)
    if not validation.ok:
        raise InputError([f"grid version {draft_id} cannot be activated: "
                          f"{len(validation.errors)} error(s)"]
                         + [f.message for f in validation.errors])
    activation = _record(tx, draft_id, current, actor, "activate", None, validation)
    report = ActivationReport("activate", draft_id, current, activation, actor or _user(tx),
                              warnings=validation.warnings)
    if current is None:
        _flip(tx, None, draft_id, actor)
        report.full_reassignment = True
        for r in assign.reassign_in(tx, settings, actor=actor):
            report.tables.append(TableChange(r.table, draft_id, looked_at=r.total,
                                             written=r.changed, moved=r.changed))
    else:
        report.grids, report.tables = _switch(tx, settings, current, draft_id, activation,
                                              actor)
        _flip(tx, current, draft_id, actor)
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
    with db.transaction() as tx:
        tx.execute("SET LOCAL jit = off")
        lock_versions(tx)
        current = tx.fetchval("SELECT id FROM grid_versions WHERE status = 'active' FOR UPDATE")
        if expected_active is not None and current != expected_active:
            raise ConflictError(f"grid version {current} is active now, not {expected_active}: "
                                "someone else activated or rolled back meanwhile; nothing was "
                                "rolled back")
        last = tx.fetchdicts(
            "SELECT a.id, a.version_id, a.previous_version_id FROM grid_activations a"
            " WHERE a.action = 'activate' AND NOT EXISTS"
            " (SELECT 1 FROM grid_activations r WHERE r.undoes = a.id)"
            " ORDER BY a.id DESC LIMIT 1")
        if not last or current is None:
            raise NotFound("there is no activation to roll back")
        last = last[0]
        if last["version_id"] != current:
            raise ConflictError(f"the active version {current} was not made active by the "
                                f"latest activation ({last['id']}, version "
                                f"{last['version_id']}): nothing was rolled back")
        previous = last["previous_version_id"]
        if previous is None:
            raise ConflictError(f"grid version {current} was the first active version: there "
                                "is no earlier version to roll back to")
        activation = _record(tx, previous, current, actor, "rollback", last["id"], None)
        report = ActivationReport("rollback", previous, current, activation,
                                  actor or _user(tx))
        report.grids, report.tables = _switch(tx, settings, current, previous, activation,
                                              actor, restore=last["id"])
        _flip(tx, current, previous, actor)
    report.seconds = time.perf_counter() - started
    return report


def _user(tx):
    return tx.fetchval("SELECT current_user")


def _conflict_message(draft_id, current, expected, active, by_parent):
    if current is None:
        return (f"no grid version is active any more (expected {expected}): nothing was "
                "activated")
    who = f"by {active[0]['activated_by']} at {active[0]['activated_at']:%Y-%m-%d %H:%M:%S}"
    if not by_parent:
        base = f"you expected version {expected} to be active"
    elif expected is None:  # an uploaded draft, or one of a retired version
        base = f"grid version {draft_id} was not made from the active version"
    else:
        base = f"grid version {draft_id} was made from version {expected}"
    return (f"grid version {current} was activated {who}; {base}. Nothing was activated: "
            f"review the changes against version {current} (diff) and activate again "
            f"expecting version {current}")


def _record(tx, version_id, previous, actor, action, undoes, validation):
    summary = None
    if validation is not None:
        summary = json.dumps({"boundary": validation.boundary, "counts": validation.counts()})
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
        tx.execute(db_mod.sql("version_remap").format(table=table, log_changes=log_changes),
                   params)
        change.remapped = tx.rowcount
        history, key = _HISTORY[table]
        change.written, change.moved, change.history = tx.fetchone(
            db_mod.sql("version_history").format(table=table, history=history, key=key),
            params)
        tables.append(change)
    return grids, tables
