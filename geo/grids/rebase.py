"""A draft overtaken by another activation: what changed meanwhile, and carrying it over.

A draft is made from the version active at the time, its parent; :func:`activate`
expects that version still to be active. When another planner activates a version
first, activating the draft as it stands would silently undo their changes. Two sets
of grids decide what can be done, both matched by code against the draft's parent
with the same rule as activation (``version_match.sql``):

* the grids the **draft** changed (reshaped, re-attributed, added or removed);
* the grids the **newly active** version changed.

A grid in both sets is a **conflict**: two planners changed it, and only a person can
say which shape or leader is right. Without a conflict, :func:`rebase` carries the
newly active version's changes into the draft (its own changes stay), makes that
version the draft's parent, and the draft is validated and activated as usual —
validation catches the case where two separately sound changes of neighbouring
grids no longer fit together.
"""

from dataclasses import dataclass, field

from geo.errors import N_, ConflictError, Text
from geo.people import audit
from geo.grids.editing import EditReport
from geo.grids.messages import Lines, codes_text
from geo.grids.store import (delete_grid, grid_rows, insert_grid, refresh_parents,
                             require_draft, version_row)
from geo.store import db as db_mod

#: At most this many codes are named in a sentence.
SHOWN_CODES = 12


@dataclass
class Staleness(Lines):
    """A draft whose parent is no longer the active version.

    ``draft_changes`` and ``active_changes`` map each grid code the draft, respectively
    the newly active version, changed against the draft's parent to the kind of change.
    """

    draft_id: int
    parent_id: int | None
    active_id: int | None
    activated_by: str | None = None
    activated_at: object = None
    draft_changes: dict = field(default_factory=dict)
    active_changes: dict = field(default_factory=dict)

    @property
    def conflicts(self):
        """The grid codes both the draft and the newly active version changed."""
        return sorted(set(self.draft_changes) & set(self.active_changes))

    @property
    def can_rebase(self):
        return self.active_id is not None and not self.conflicts

    def what_happened(self):
        """Which version became active since the draft was made, by whom and when."""
        if self.active_id is None:
            return Text(N_("draft %(draft)s was made from version %(parent)s, but no grid "
                           "version is active now"),
                        {"draft": self.draft_id, "parent": self.parent_id})
        return Text(N_("since draft %(draft)s was made from version %(parent)s, %(who)s "
                       "activated version %(active)s (%(when)s), which changed %(n)d grid(s)"),
                    {"draft": self.draft_id, "parent": self.parent_id or "–",
                     "who": self.activated_by or "?", "active": self.active_id,
                     "when": f"{self.activated_at:%Y-%m-%d %H:%M}" if self.activated_at else "?",
                     "n": len(self.active_changes)})

    def advice(self):
        """What can be done now."""
        if self.active_id is None:
            return Text(N_("activate it again only after a version is active, or discard it"))
        if self.conflicts:
            return Text(N_("both changed grid %(codes)s: the draft cannot take over version "
                           "%(active)s automatically. Make a new draft from version %(active)s "
                           "and redo these edits there, or discard this draft"),
                        {"codes": _some(self.conflicts), "active": self.active_id})
        return Text(N_("the grids this draft changed were not changed by version %(active)s: "
                       "take over its changes, validate again and activate"),
                    {"active": self.active_id})

    def lines(self):
        return [(0, self.what_happened()), (1, self.advice())]


def _some(codes):
    more = len(codes) - SHOWN_CODES
    return codes_text(codes[:SHOWN_CODES]) + (f" (+{more})" if more > 0 else "")


def staleness(db, draft_id):
    """How draft ``draft_id`` stands against the active version.

    Returns None when the draft's parent is still active (or the version is no
    draft), else a :class:`Staleness`.

    Examples
    --------
    >>> s = staleness(db, 9)  # doctest: +SKIP
    >>> s.active_id, s.conflicts  # doctest: +SKIP
    (8, ['150102001002003'])
    """
    with db.transaction() as tx:
        return staleness_in(tx, draft_id)


def staleness_in(tx, draft_id):
    """:func:`staleness` inside the caller's transaction ``tx``."""
    draft = version_row(tx, draft_id)
    if draft["status"] != "draft":
        return None
    active = tx.fetchdicts("SELECT id, activated_by, activated_at FROM grid_versions"
                           " WHERE status = 'active'")
    active = active[0] if active else {"id": None, "activated_by": None, "activated_at": None}
    if active["id"] == draft["parent_id"]:
        return None
    return Staleness(draft_id, draft["parent_id"], active["id"], active["activated_by"],
                     active["activated_at"], _changes(tx, draft["parent_id"], draft_id),
                     _changes(tx, draft["parent_id"], active["id"]))


def _changes(tx, src, dst):
    """``{code: change}`` of every grid that is not identical in versions src and dst."""
    if dst is None:
        return {}
    tx.execute(db_mod.sql("version_match"), {"src": src, "dst": dst})
    return dict(tx.fetchall("SELECT code, change FROM _match WHERE change <> 'identical'"
                            " ORDER BY code"))


def rebase(db, settings, draft_id, actor=None):
    """Carry the changes of the newly active version into an overtaken draft.

    Every grid the active version changed against the draft's parent (and the draft did
    not) gets the active version's row in the draft; the draft's own changes stay; the
    active version becomes the draft's parent, so :func:`activate` expects it. A grid
    both changed refuses the whole with :class:`~geo.errors.ConflictError` naming it.
    Validate the draft again afterwards (the page does).

    Examples
    --------
    >>> print(rebase(db, settings, 9))  # doctest: +SKIP
    took over the changes of version 8 in draft 9; changed 150102001002004
    """
    with db.transaction() as tx:
        require_draft(tx, draft_id)
        stale = staleness_in(tx, draft_id)
        if stale is None:
            return EditReport(draft_id, Text(N_("nothing to take over: the draft's version "
                                                "is still active")))
        if stale.active_id is None:
            raise ConflictError(N_("no grid version is active: there is nothing to take over"),
                                code="grids.no_active_version")
        if stale.conflicts:
            raise ConflictError(N_("draft %(draft)s and version %(active)s both changed grid "
                                   "%(codes)s: nothing was taken over"),
                                {"draft": draft_id, "active": stale.active_id,
                                 "codes": _some(stale.conflicts)}, code="grids.rebase_conflict")
        report = EditReport(draft_id, Text(N_("took over the changes of version %(active)s"),
                                           {"active": stale.active_id}))
        codes = list(stale.active_changes)
        theirs = grid_rows(tx, stale.active_id,
                           [c for c in codes if stale.active_changes[c] != "removed"])
        mine = dict(tx.fetchall("SELECT code, id FROM grids WHERE version_id = %s"
                                " AND level = 'grid' AND code = ANY(%s)", (draft_id, codes)))
        for code in codes:
            if code in mine:
                delete_grid(tx, mine[code])
            if code in theirs:
                insert_grid(tx, draft_id, theirs[code], "(SELECT geom FROM grids WHERE id = %s)",
                            (theirs[code]["id"],))
            {"added": report.added, "removed": report.removed}.get(
                stale.active_changes[code], report.changed).append(code)
        refresh_parents(tx, draft_id, codes)
        tx.execute("UPDATE grid_versions SET parent_id = %s WHERE id = %s",
                   (stale.active_id, draft_id))
        audit.record(tx, actor, "grids.rebase", "grid_version", draft_id,
                     {"parent": stale.parent_id},
                     {"parent": stale.active_id, "changed": report.changed,
                      "added": report.added, "removed": report.removed})
    return report
