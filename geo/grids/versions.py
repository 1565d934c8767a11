"""Grid versions for planners: drafts, validation, impact preview, activation, rollback.

Versions work like boundary generations (docs/domain.md, *Grid versions*): one active
version, any number of drafts, older versions kept and queryable. A draft gets a new row
for every edited grid, and an active or retired version never changes (a trigger of
migrations 0002 and 0037 refuses it; activation moves rows between the two versions it
switches, keeping each version's grids as they were: :mod:`geo.grids.activation`).

The planner's cycle, every step a function of this module:

1. make a draft — :func:`geo.grids.import_grids` (a file) or :func:`create_draft` (a copy
   of the active version);
2. edit it — :func:`set_geometry` (move a boundary; the neighbours follow),
   :func:`split_grid`, :func:`merge_grids`, :func:`set_attributes`, or let
   :func:`suggest_balance` draw a balanced draft;
3. check it — :func:`validate` (errors block activation, warnings do not) and
   :func:`diff` (which points change grid, the workload per grid after the change;
   :func:`move_locations` places the moving points on a map);
4. :func:`activate` it (only the points in the changed area are re-assigned), or
   :func:`delete_draft`; :func:`rollback` returns to the previous version exactly
   (:func:`rollback_target` says to which, if any). When another version was activated
   first, :func:`staleness` says what changed and whether :func:`rebase` can carry it
   into the draft.

:func:`grid_at` answers "which grid owned this spot on 1 March?"; :func:`assignment_history`
lists what every activation and rollback did to one issue or toilet.

Every function takes the :class:`geo.db.Database` and returns plain data or a report:
data whose ``lines()`` the planner pages and the command line render in their user's
language (:mod:`geo.grids.messages`); ``str()`` is English.
"""

from pathlib import Path

from geo.grids import assign
from geo.people import audit
from geo.io import readers
from geo.io.polygons import polygon_problems
from geo.errors import N_, ConflictError, excerpt, InputError, NotFound, Problem, Text
from geo.grids.messages import VERSION_STATUS, term
from geo.grids.activation import (  # noqa: F401
    ActivationReport, activate, rollback, rollback_target)
from geo.grids.balance import (  # noqa: F401
    BalanceReport, balance_of, default_units, suggest_balance)
from geo.grids.validation import Finding, ValidationReport, validate_in
from geo.grids.impact import DiffReport, diff, move_locations  # noqa: F401
from geo.grids.editing import (  # noqa: F401
    EditReport, merge_grids, set_attributes, set_geometry, split_grid)
from geo.grids.rebase import Staleness, rebase, staleness  # noqa: F401
from geo.grids.store import new_draft, version_row

__all__ = [
    "ActivationReport", "BalanceReport", "DiffReport", "EditReport", "Finding",
    "ValidationReport", "activate", "assignment_history", "balance_of", "create_draft", "default_units",
    "delete_draft", "diff", "grid_at", "list_versions", "load_district", "merge_grids",
    "move_locations", "rebase", "rollback", "rollback_target", "Staleness", "staleness",
    "set_attributes", "set_geometry", "split_grid", "suggest_balance", "validate",
]


def validate(db, version_id, settings):
    """Check a version (usually a draft) for everything that would make it a bad grid map.

    Returns a :class:`ValidationReport` whose findings carry kind, severity, grid codes,
    message, shape (WKT; ``.geojson`` for GeoJSON) and area in m². The kinds are listed
    in :mod:`geo.version_checks`. Gaps and parts outside are checked against the stored
    district boundary (:func:`load_district`); without one, against the active
    version's outline, and a note says so.

    Examples
    --------
    >>> report = validate(db, 7, settings)  # doctest: +SKIP
    >>> report.ok, [f.kind for f in report.errors]  # doctest: +SKIP
    (False, ['overlap'])
    """
    with db.transaction() as tx:
        return validate_in(tx, settings, version_id)


def list_versions(db):
    """Every grid version, newest first: id, label, status, parent, who and when, grids."""
    with db.transaction() as tx:
        return tx.fetchdicts(
            "SELECT v.id, v.label, v.status, v.parent_id, v.created_by, v.created_at,"
            " v.activated_by, v.activated_at, v.retired_at, v.note,"
            " (SELECT count(*) FROM grids g WHERE g.version_id = v.id AND g.level = 'grid')"
            " AS grids FROM grid_versions v ORDER BY v.id DESC")


#: A draft's label when the planner gives none.
DEFAULT_LABEL = N_("copy of version %(source)s")


def create_draft(db, source=None, label=None, actor=None, note=None, translate=None):
    """A new draft holding a copy of every row of ``source`` (default: the active version).

    The draft's parent is the version active now: activating it later expects that
    version still to be active (see :func:`activate`). Returns the draft's id. Without a
    ``label`` the draft is called :data:`DEFAULT_LABEL`, said by ``translate`` (a gettext
    function: the planner's language; default English).

    Examples
    --------
    >>> draft = create_draft(db, label="2027 redraw", actor="王工")  # doctest: +SKIP
    """
    with db.transaction() as tx:
        if source is None:
            source = assign.active_version(tx)
            if source is None:
                raise NotFound(N_("there is no active grid version to copy: import grids first"),
                               code="grids.no_active_version")
        if not label:
            default = Text(DEFAULT_LABEL, {"source": source})
            label = default.render(translate) if translate else str(default)
        draft = new_draft(tx, source, label, actor, note)
        audit.record(tx, actor, "grids.create_draft", "grid_version", draft, None,
                     {"source": source, "label": label})
        return draft


def delete_draft(db, draft_id, actor=None):
    """Discard a draft and its rows. Active and retired versions cannot be deleted."""
    with db.transaction() as tx:
        row = version_row(tx, draft_id, lock=True)
        if row["status"] != "draft":
            raise ConflictError(
                N_("grid version %(version)s is %(status)s: only drafts can be deleted"),
                {"version": draft_id, "status": term(VERSION_STATUS, row["status"])},
                code="grids.not_a_draft")
        tx.execute("UPDATE grid_versions SET parent_id = %s WHERE parent_id = %s",
                   (row["parent_id"], draft_id))
        tx.execute("DELETE FROM grids WHERE version_id = %s", (draft_id,))
        tx.execute("DELETE FROM grid_versions WHERE id = %s", (draft_id,))
        audit.record(tx, actor, "grids.delete_draft", "grid_version", draft_id,
                     {"label": row["label"], "status": "draft", "parent": row["parent_id"]},
                     None)


def load_district(db, path, crs=None, actor=None, dry_run=False):
    """Store the district boundary from a polygon file (features with ``code``, ``name``).

    Features sharing a code are united. A district already stored under the same code
    is replaced. Validation checks gaps and parts outside against this boundary.
    Returns the stored codes (with ``dry_run``: the codes it would store, storing nothing).

    Examples
    --------
    >>> load_district(db, "data/demo/district.geojson")  # doctest: +SKIP
    ['150102000000000']
    """
    import shapely

    table = readers.read_polygons(path, crs)
    frame = table.frame
    problems = table.require(["code", "name"])
    if problems:
        raise InputError(problems, source=table.path)
    parts = {}
    for i, geom in enumerate(table.geometry):
        place = table.place(i, "code")
        invalid = polygon_problems(geom, place)
        if invalid:
            problems.extend(invalid)
        elif not frame["code"].iat[i]:
            problems.append(Problem("io.empty_value", N_("%(column)s is empty"),
                                    {"column": "code"}, place))
        else:
            code = frame["code"].iat[i]
            parts.setdefault(code, (frame["name"].iat[i] or code, []))[1].append(geom)
    if problems:
        raise InputError(problems, source=table.path)
    if dry_run:
        return sorted(parts)
    with db.transaction() as tx:
        for code, (name, geoms) in parts.items():
            merged = shapely.force_2d(shapely.union_all(geoms))
            tx.execute(
                "INSERT INTO districts (code, name, geom, source_file, loaded_by)"
                " VALUES (%s, %s, ST_Multi(ST_GeomFromWKB(decode(%s, 'hex'), 4490)), %s,"
                " coalesce(%s, current_user)) ON CONFLICT (code) DO UPDATE SET"
                " name = EXCLUDED.name, geom = EXCLUDED.geom, source_file = EXCLUDED.source_file,"
                " loaded_by = EXCLUDED.loaded_by, loaded_at = now()",
                (code, name, shapely.to_wkb(merged, hex=True), str(path), audit.login_of(actor)))
            audit.record(tx, actor, "district.load", "district", code, None,
                         {"name": name, "file": Path(str(path)).name})
    return sorted(parts)


def grid_at(db, settings, lon, lat, when=None):
    """Which grid owned the spot ``lon, lat`` at time ``when`` (default: now)?

    The version active at ``when`` (from the activation log, rollbacks included) and the
    assignment rule (docs/domain.md, *Assignment rule*) applied to it. Returns a dict with
    ``version_id``, ``code``, ``name``, ``leader``, ``method`` — ``code`` is None when no grid
    owned it — or None when no version was active then.

    Examples
    --------
    >>> grid_at(db, settings, 111.68, 40.82, "2026-03-01T12:00+08:00")  # doctest: +SKIP
    {'version_id': 3, 'code': '150102001002003', 'name': …, 'method': 'inside'}
    """
    lon, lat = _number("lon", lon), _number("lat", lat)
    with db.transaction() as tx:
        if when is None:
            version = assign.active_version(tx)
        else:
            version = tx.fetchval(
                "SELECT version_id FROM grid_activations WHERE activated_at <= %s::timestamptz"
                " ORDER BY activated_at DESC, id DESC LIMIT 1", (when,))
        if version is None:
            return None
        tx.execute("DROP TABLE IF EXISTS _probe")
        tx.execute("CREATE TEMP TABLE _probe ON COMMIT DROP AS SELECT 1::bigint AS key,"
                   " ST_SetSRID(ST_MakePoint(%s, %s), 4490) AS geom", (lon, lat))
        assign.compute(tx, "_probe", version, settings.assign_tolerance_m,
                       assign.district_extent(tx, version))
        row = tx.fetchdicts(
            "SELECT g.code, g.name, g.leader, a.method FROM _assigned a"
            " JOIN grids g ON g.id = a.grid_id")
    found = row[0] if row else {"code": None, "name": None, "leader": None, "method": "none"}
    return {"version_id": version, **found}


def _number(name, value):
    """``value`` as a float; an :class:`InputError` naming parameter ``name`` if it is none."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(Problem("parameter.not_a_number",
                                 N_("%(name)s must be a number, not %(value)s"),
                                 {"name": name, "value": excerpt(value)})) from None


def assignment_history(db, kind, row_id):
    """What every activation and rollback did to one issue or toilet, oldest first.

    Each entry: ``activation_id``, ``action`` (``activate``/``rollback``), ``at``,
    ``actor``, ``version_id`` (the version made active) and the point's grid code,
    grid version and method before and after.

    Examples
    --------
    >>> assignment_history(db, "issues", 4711)  # doctest: +SKIP
    [{'action': 'activate', 'version_id': 7, 'old_code': '150102001002003', …}]
    """
    if kind not in assign.ASSIGNED_TABLES:
        raise InputError(Problem(
            "parameter.not_one_of", N_("%(name)s must be one of %(allowed)s, not %(value)s"),
            {"name": "kind", "allowed": ", ".join(assign.ASSIGNED_TABLES),
             "value": excerpt(kind)}))
    with db.transaction() as tx:
        return tx.fetchdicts(
            "SELECT a.id AS activation_id, a.action, a.activated_at AS at,"
            " a.activated_by AS actor, a.version_id, o.code AS old_code,"
            " l.old_grid_version, l.old_method, n.code AS new_code, l.new_grid_version,"
            " l.new_method FROM grid_assignment_log l"
            " JOIN grid_activations a ON a.id = l.activation_id"
            " LEFT JOIN grids o ON o.id = l.old_grid_id LEFT JOIN grids n ON n.id = l.new_grid_id"
            " WHERE l.kind = %s AND l.row_id = %s ORDER BY a.id", (kind, row_id))
