"""The case workflow: which step a case may take now, who may take it, and taking it.

A case (an issue) moves through its statuses by *steps* (``file``, ``dispatch``,
``accept``, …). :data:`STEPS` is the one table of them: from which statuses each step
goes, to which status, who may take it and what it needs. :func:`allowed` answers what
an account may do with a case now; :func:`act` takes one step on one case and
:func:`act_many` the same step on many cases, all or nothing.

Every step writes, in its transaction, one ``issue_history`` row (the step's name, the
statuses before and after, the note and the step's data) and one audit entry
(``cases.<step>``). Metrics and bulletins count those rows.

Who may take a step (``who`` in the table):

``command``
    an account with the ``command`` or ``admin`` role, on any case;
``department``
    an account with the ``department`` role whose departments include the case's
    ``department`` (the one it was dispatched to);
``handler``
    such a department, or a ``grid_worker`` whose grids include the case's grid.

Extension and suspension are requests (``case_requests``): the department asks, the
command centre approves or refuses the pending one. A citizen not satisfied with a closed
case asks for it to be reopened (:mod:`geo.public.reports`): approving reopens it (as
``reopen`` does, which also grants a pending request), refusing needs a reason. An approved extension moves the
deadline to the date asked for; an approved suspension stops the clock (``suspended``)
until ``resume``, which moves the deadline later by the time spent suspended (and adds it
to ``suspended_for``, which the traffic light leaves out). ``reopen`` files the case anew:
its filing time is the reopening and its deadline is counted again from it.

Dispatch proposes a department (:func:`propose_department`): the first routing rule by
position whose category matches the case's category or its 2-digit group (or any
category), else the first of the case's grid's departments.

>>> STEPS["file"].sources, STEPS["file"].target, STEPS["file"].who
(('reported',), 'filed', 'command')
>>> [s for s, step in STEPS.items() if "checking" in step.sources and not step.pending]
['close', 'rework', 'reply']
"""

import dataclasses
import datetime as dt
import json

from geo.cases import photos as case_photos
from geo.cases import routing
from geo.errors import N_, InputError, NotFound, Problem, Text
from geo.issues import catalogue
from geo.issues.query import DISTRICT_TZ
from geo.issues import statuses
from geo.issues.statuses import OPEN, STATUSES
from geo.people import audit, permissions
from geo.vocabulary import CASE_ACTIONS, ISSUE_STATUSES


@dataclasses.dataclass(frozen=True)
class Step:
    """One step of the workflow: ``sources`` (statuses it may start from), ``target``
    (the status after it; ``None``: unchanged), ``who`` (``command``, ``department``
    or ``handler``, see the module), ``needs`` (what the step requires: ``reason``,
    ``note``, ``department``, ``deadline``) and ``pending`` (the kind of request that
    must be pending for a decision, or must not be for a new request)."""

    sources: tuple
    target: str | None
    who: str
    needs: frozenset = frozenset()
    pending: str | None = None


_DECIDED = OPEN  # a request is decided while the case is still open
#: The workflow, as data: step → :class:`Step`, in the order pages list them.
STEPS = {
    "file": Step(("reported",), "filed", "command"),
    "void": Step(("reported", "filed"), "void", "command", frozenset({"reason"})),
    "dispatch": Step(("filed", "returned"), "dispatched", "command", frozenset({"department"})),
    "accept": Step(("dispatched", "rework"), "processing", "handler"),
    "return": Step(("dispatched",), "returned", "department", frozenset({"reason"})),
    "feed_back": Step(("processing",), "fed_back", "handler", frozenset({"note"})),
    "send_to_check": Step(("fed_back",), "checking", "command"),
    "close": Step(("checking",), "closed", "command"),
    "rework": Step(("checking",), "rework", "command", frozenset({"reason"})),
    "request_extension": Step(("dispatched", "processing", "rework"), None, "department",
                              frozenset({"reason", "deadline"}), "extension"),
    "approve_extension": Step(_DECIDED, None, "command", pending="extension"),
    "refuse_extension": Step(_DECIDED, None, "command", pending="extension"),
    "request_suspension": Step(("processing",), None, "department", frozenset({"reason"}),
                               "suspension"),
    "approve_suspension": Step(("processing",), "suspended", "command", pending="suspension"),
    "refuse_suspension": Step(_DECIDED, None, "command", pending="suspension"),
    "resume": Step(("suspended",), "processing", "command"),
    "reopen": Step(("closed",), "filed", "command"),
    "approve_reopen": Step(("closed",), "filed", "command", pending="reopen"),
    "refuse_reopen": Step(("closed",), None, "command", frozenset({"reason"}), "reopen"),
    "reply": Step(STATUSES, None, "command", frozenset({"note"})),
}
#: Steps that ask for something (a new request) and steps that decide a pending one.
REQUESTS = {"request_extension": "extension", "request_suspension": "suspension"}
DECISIONS = {"approve_extension": ("extension", "approved"),
             "refuse_extension": ("extension", "refused"),
             "approve_suspension": ("suspension", "approved"),
             "refuse_suspension": ("suspension", "refused"),
             "approve_reopen": ("reopen", "approved"),
             "refuse_reopen": ("reopen", "refused")}
#: Steps that file a case (anew, when reopened): a deadline counted from the step.
FILES = ("file", "reopen", "approve_reopen")
#: Steps a list of cases may take at once (the command centre's bulk actions).
BULK_STEPS = ("file", "dispatch", "void", "close")
assert set(STEPS) == set(CASE_ACTIONS) and set(REQUESTS) | set(DECISIONS) <= set(STEPS)

_COMMAND_ROLES = ("command", "admin")
MAX_TEXT = 2000
MAX_DEPARTMENT = 100


class Refused(InputError):
    """A step that cannot be taken: every case refused, each with why."""

    code = "cases.refused"


class Names:
    """Step names joined for a message, each in the reader's language (``、``-joined
    in Chinese); "no action" when there are none."""

    def __init__(self, steps):
        self.steps = tuple(steps)

    def render(self, translate=lambda s: s):
        if not self.steps:
            return translate(N_("no action"))
        return translate(N_(", ")).join(translate(CASE_ACTIONS[s]) for s in self.steps)

    def __str__(self):
        return self.render()


# --- who may do what ----------------------------------------------------------------

def is_command(principal):
    return any(r in _COMMAND_ROLES for r in principal.roles)


def _is_department(principal, case):
    return ("department" in principal.roles and case.get("department") is not None
            and case["department"] in principal.departments)


def _is_grid_worker(principal, case):
    return ("grid_worker" in principal.roles and case.get("grid_code") is not None
            and case["grid_code"] in principal.grids)


def _may(principal, who, case):
    if who == "command":
        return is_command(principal)
    if who == "department":
        return _is_department(principal, case)
    return _is_department(principal, case) or _is_grid_worker(principal, case)


def allowed(case, principal):
    """The steps ``principal`` may take on ``case`` now, in :data:`STEPS` order.

    ``case`` is a mapping with ``status``, ``department``, ``grid_code`` and
    ``pending`` (the kinds of request pending: ``{"extension"}``…).

    >>> command = permissions.Principal("c", roles=("command",))
    >>> allowed({"status": "reported", "department": None, "grid_code": None}, command)
    ['file', 'void', 'reply']
    >>> dept = permissions.Principal("d", roles=("department",), departments=("城管",))
    >>> allowed({"status": "dispatched", "department": "城管", "grid_code": None}, dept)
    ['accept', 'return', 'request_extension']
    >>> allowed({"status": "dispatched", "department": "环保", "grid_code": None}, dept)
    []
    """
    if principal is None or not permissions.can(principal, "issues.act"):
        return []
    pending = set(case.get("pending") or ())
    out = []
    for name, step in STEPS.items():
        if case["status"] not in step.sources or not _may(principal, step.who, case):
            continue
        if name in REQUESTS and step.pending in pending:
            continue  # one pending request of each kind at a time
        if name in DECISIONS and step.pending not in pending:
            continue
        out.append(name)
    return out


# --- taking a step --------------------------------------------------------------------

_CASE_SQL = """
SELECT i.id, i.ref, i.status, i.category, i.department, i.deadline, i.filed_at,
       i.suspended_at, i.suspended_for, i.closed_at, g.code AS grid_code,
       g.departments AS grid_departments
FROM issues i LEFT JOIN grids g ON g.id = i.grid_id
WHERE i.id = ANY(%(ids)s)
"""

# A step's read, in one round trip of two prepared statements (planned once per session:
# planning the read cost more than running it): the cases are locked first, in id order
# so that two bulk steps never deadlock; then the read - with a snapshot taken after the
# locks were granted, so it sees what the previous holder committed - gives each case
# with its pending requests, the step's time and, for filing (or reopening), the deadline
# it sets.
_STEP_SQL = {
    "civgrid_case_lock": """PREPARE civgrid_case_lock (bigint[]) AS
SELECT 1 FROM issues WHERE id = ANY($1) ORDER BY id FOR UPDATE""",
    "civgrid_case_read": """PREPARE civgrid_case_read (bigint[], timestamptz, boolean) AS
SELECT i.id, i.ref, i.status, i.category, i.department, i.deadline, i.filed_at,
       i.suspended_at, i.suspended_for, i.closed_at, g.code AS grid_code,
       g.departments AS grid_departments, t.now,
       ARRAY(SELECT r.kind FROM case_requests r WHERE r.issue_id = i.id
             AND r.status = 'pending' ORDER BY r.kind) AS pending_kinds,
       ARRAY(SELECT r.id FROM case_requests r WHERE r.issue_id = i.id
             AND r.status = 'pending' ORDER BY r.kind) AS pending_ids,
       ARRAY(SELECT r.deadline_to FROM case_requests r WHERE r.issue_id = i.id
             AND r.status = 'pending' ORDER BY r.kind) AS pending_to,
       CASE WHEN $3 THEN (SELECT civgrid_deadline(t.now, c.limit_value, c.limit_unit)
                          FROM categories c WHERE c.code = i.category) END AS file_deadline
FROM (SELECT coalesce($2, now()) AS now) t
JOIN issues i ON i.id = ANY($1) LEFT JOIN grids g ON g.id = i.grid_id
ORDER BY i.id""",
}


def _label(case):
    """How a message names a case: its reference and id."""
    return f"{case['ref']} (#{case['id']})" if case.get("ref") else f"#{case['id']}"


def _when(value):
    """A time for a message, on the district's clock."""
    return value.astimezone(DISTRICT_TZ).strftime("%Y-%m-%d %H:%M") if value else "—"


def _load(tx, ids, at=None, action=None):
    """The cases ``ids`` locked (``SELECT … FOR UPDATE``, in id order), each with its
    pending requests and ``now`` (``at``, or the transaction's time), in one round trip:
    ``{id: case}``."""
    cases = {}
    ids = list(ids)
    for row in tx.fetch_prepared([("civgrid_case_lock", (ids,)),
                                  ("civgrid_case_read", (ids, at, action in FILES))],
                                 _STEP_SQL):
        row["grid_departments"] = list(row["grid_departments"] or [])
        row["pending"] = {kind: {"id": request_id, "deadline_to": deadline_to}
                          for kind, request_id, deadline_to in zip(
                              row.pop("pending_kinds"), row.pop("pending_ids"),
                              row.pop("pending_to"))}
        cases[row["id"]] = row
    return cases


def _visible(case, principal):
    """Whether ``principal`` may read ``case`` at all (else it is "not found")."""
    reach = permissions.scope_for(principal, "issues.read")
    if not permissions.can(principal, "issues.read"):
        return False
    return reach is None or reach.admits(case["grid_code"], case["department"])


def _problems(case, action, principal, fields):
    """Why ``action`` cannot be taken on ``case`` (an empty list: it can)."""
    label = _label(case)
    if not _visible(case, principal):
        return [Problem("issues.not_found", N_("issue %(id)s does not exist"),
                        {"id": case["id"]})]
    may = allowed(case, principal)
    if action not in may:
        return [Problem("cases.not_allowed",
                        N_("case %(case)s (%(status)s): %(action)s is not allowed now; "
                           "this account may: %(allowed)s"),
                        {"case": label, "status": Text(ISSUE_STATUSES[case["status"]]),
                         "action": Text(CASE_ACTIONS[action]), "allowed": Names(may)})]
    needs, problems = STEPS[action].needs, []
    params = {"case": label, "action": Text(CASE_ACTIONS[action])}
    if ("reason" in needs or "note" in needs) and not fields["note"]:
        problems.append(Problem("cases.reason_required",
                                N_("case %(case)s: %(action)s needs a reason") if "reason" in needs
                                else N_("case %(case)s: %(action)s needs a note"), params))
    if "department" in needs and not fields["department"]:
        problems.append(Problem("cases.department_required",
                                N_("case %(case)s: %(action)s needs a department"), params))
    if "deadline" in needs:
        to, current = fields["deadline_to"], case["deadline"]
        floor = max(current, fields["now"]) if current else fields["now"]
        if to is None:
            problems.append(Problem("cases.deadline_required",
                                    N_("case %(case)s: %(action)s needs the new deadline"),
                                    params))
        elif to <= floor:
            problems.append(Problem("cases.deadline_not_later",
                                    N_("case %(case)s: the new deadline %(to)s is not later "
                                       "than the current deadline %(deadline)s"),
                                    {**params, "to": _when(to), "deadline": _when(floor)}))
    return problems


def _clean_text(value, name, limit):
    text = (value or "").strip()
    if len(text) > limit:
        raise InputError(Problem("cases.too_long", N_("%(field)s is longer than %(n)d characters"),
                                 {"field": Text(name), "n": limit}))
    return text or None


def _aware(value):
    """``value`` (a datetime, or ISO text) as an aware time; a naive one is on the
    district's clock."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip().replace("T", " "))
        except ValueError:
            raise InputError(Problem("cases.bad_deadline",
                                     N_("the new deadline %(value)r is not a date and time "
                                        "(YYYY-MM-DD HH:MM)"), {"value": value[:40]}))
    elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(23, 59))
    return value if value.tzinfo else value.replace(tzinfo=DISTRICT_TZ)


def _json(data):
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"),
                      default=lambda v: v.isoformat() if isinstance(v, dt.datetime) else str(v))


def _apply(tx, case, action, actor, fields):
    """Take ``action`` on the locked ``case`` (already checked): its update, history row
    and audit entry, returned as ``(new status, [(query, params)])`` for the caller to
    send with the other cases' and the commit."""
    step, at = STEPS[action], fields["now"]
    sets, data = {}, {}
    if step.target:
        sets["status"] = step.target
    if action in FILES:  # reopened = filed anew: a new deadline
        sets["filed_at"] = at
        sets["deadline"] = data["deadline"] = case["file_deadline"]
        if action != "file":
            sets["closed_at"] = None
            sets["suspended_for"] = dt.timedelta(0)
            data["deadline_from"] = case["deadline"]
        if action == "reopen" and "reopen" in case["pending"]:
            # Reopened directly: a citizen's pending request for it is granted with it.
            tx.execute("UPDATE case_requests SET status = 'approved', decided_by = %s,"
                       " decided_at = %s, decision_note = %s WHERE id = %s",
                       (audit.login_of(actor), at, fields["note"],
                        case["pending"]["reopen"]["id"]))
            data["request_id"] = case["pending"]["reopen"]["id"]
    elif action == "dispatch":
        sets["department"] = data["department"] = fields["department"]
    elif action == "close":
        sets["closed_at"] = at
    elif action == "resume":
        # (a case suspended before the clock-stopping columns existed has no start)
        held = at - case["suspended_at"] if case["suspended_at"] else dt.timedelta(0)
        sets["suspended_at"] = None
        sets["suspended_for"] = (case["suspended_for"] or dt.timedelta(0)) + held
        if case["deadline"] is not None:
            sets["deadline"] = case["deadline"] + held
        data.update(suspended_at=case["suspended_at"], deadline_from=case["deadline"],
                    deadline_to=sets.get("deadline"))
    elif action == "reply":
        data["public"] = True
    if fields.get("photos"):
        data["photos"] = case_photos.entries(fields["photos"], case_photos.STEP_KINDS[action])
    if action in REQUESTS:
        kind = REQUESTS[action]
        data["request_id"] = tx.fetchval(
            "INSERT INTO case_requests (issue_id, kind, reason, deadline_to, requested_by,"
            " requested_at) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            (case["id"], kind, fields["note"], fields["deadline_to"] if kind == "extension"
             else None, audit.login_of(actor), at))
        if kind == "extension":
            data["deadline_to"] = fields["deadline_to"]
    if action in DECISIONS:
        kind, decision = DECISIONS[action]
        request = case["pending"][kind]
        tx.execute("UPDATE case_requests SET status = %s, decided_by = %s, decided_at = %s,"
                   " decision_note = %s WHERE id = %s",
                   (decision, audit.login_of(actor), at, fields["note"], request["id"]))
        data["request_id"] = request["id"]
        if action == "approve_extension":
            sets["deadline"] = request["deadline_to"]
            data.update(deadline_from=case["deadline"], deadline_to=request["deadline_to"])
        if action == "approve_suspension":
            sets["suspended_at"] = at
    writes = []
    if sets:
        assignments = ", ".join(f"{column} = %({column})s" for column in sets)
        writes.append((f"UPDATE issues SET {assignments} WHERE id = %(id)s",
                       {**sets, "id": case["id"]}))
    new_status = sets.get("status", case["status"])
    writes.append(("INSERT INTO issue_history (issue_id, at, actor, action, from_status,"
                   " to_status, note, data) VALUES (%s, %s, coalesce(%s, current_user), %s,"
                   " %s, %s, %s, %s::jsonb)",
                   (case["id"], at, audit.login_of(actor), action, case["status"], new_status,
                    fields["note"], _json(data) if data else None)))
    before = {"status": case["status"], **{k: case.get(k) for k in sets if k != "status"}}
    after = {"status": new_status, **{k: v for k, v in sets.items() if k != "status"}}
    before, after = audit.changes(before, after)
    after.update({k: v for k, v in data.items() if k not in after})
    if fields["note"]:
        after["note"] = fields["note"]
    writes.append(audit.entry(actor, f"cases.{action}", "issue", case["id"], before, after))
    return new_status, writes


def act_many(db, ids, action, actor, principal, note=None, department=None, deadline_to=None,
             propose=False, at=None, photos=(), data_dir=None):
    """Take ``action`` on every case of ``ids`` in one transaction, all or nothing.

    ``principal`` is the account whose roles and scope decide (an account is its own
    ``actor``, who the history and the audit log name). ``note`` is the note or reason;
    ``department`` the department of a dispatch (``propose=True``: each case's proposed
    department when none is given); ``deadline_to`` the deadline an extension asks for
    (a datetime or ``YYYY-MM-DD HH:MM`` on the district's clock); ``at`` the step's time
    (default: now). ``photos`` (checked :class:`geo.photos.Photo`, only for a step of
    :data:`geo.cases.photos.STEP_KINDS`: the "after" photo of ``feed_back``) are written
    under ``data_dir`` once every case is accepted, and named in each history row and
    audit entry. Raises :class:`Refused` naming every case refused and why.
    Returns ``{id: new status}``.
    """
    if action not in STEPS:
        raise InputError(Problem("cases.unknown_action",
                                 N_("unknown case action %(action)r; use one of: %(known)s"),
                                 {"action": str(action)[:40], "known": Names(STEPS)}))
    ids = list(dict.fromkeys(int(i) for i in ids))
    if not ids:
        raise InputError(Problem("cases.no_cases", N_("no case was chosen")))
    actor = actor if actor is not None else principal
    photos = list(photos or ())
    if photos and action not in case_photos.STEP_KINDS:
        raise InputError(Problem("cases.no_photos_here",
                                 N_("%(action)s takes no photo; add the after photo when "
                                    "feeding back"), {"action": Text(CASE_ACTIONS[action])}))
    fields = {"note": _clean_text(note, N_("the note or reason"), MAX_TEXT),
              "department": _clean_text(department, N_("department"), MAX_DEPARTMENT),
              "deadline_to": _aware(deadline_to), "photos": photos}
    at = _aware(at)
    # Two round trips for a step: BEGIN, lock and read; then every case's update,
    # history row and audit entry, and COMMIT.
    with db.transaction(batched=True) as tx:
        cases = _load(tx, ids, at, action)
        fields["now"] = at or next((c["now"] for c in cases.values()), None)
        problems = [Problem("issues.not_found", N_("issue %(id)s does not exist"), {"id": i})
                    for i in ids if i not in cases]
        per_case = {}
        for issue_id in ids:
            if issue_id not in cases:
                continue
            case, own = cases[issue_id], dict(fields)
            if action == "dispatch" and propose and not own["department"]:
                own["department"] = propose_department(tx, case)
            per_case[issue_id] = own
            problems += _problems(case, action, principal, own)
        if problems:
            raise Refused(problems)
        done, writes = {}, []
        for i in ids:
            done[i], own_writes = _apply(tx, cases[i], action, actor, per_case[i])
            writes += own_writes
        # Written before the commit: a stored case never names a missing file (a file
        # left by a failed commit is unnamed and harmless, and the same photo reuses it).
        case_photos.store(data_dir, photos)
        tx.execute_all(writes, commit=True)
        return done


def act(db, issue_id, action, actor, principal, note=None, department=None, deadline_to=None,
        at=None, photos=(), data_dir=None):
    """Take ``action`` on case ``issue_id`` (see :func:`act_many`); returns its new status."""
    return act_many(db, [issue_id], action, actor, principal, note=note, department=department,
                    deadline_to=deadline_to, at=at, photos=photos,
                    data_dir=data_dir)[int(issue_id)]


def case_state(db, issue_id, principal):
    """What a page needs to offer the steps: the case's status, department, deadline,
    pending requests, the steps ``principal`` may take and the proposed department."""
    with db.transaction() as tx:
        case = _load_unlocked(tx, issue_id)
        if case is None:
            raise NotFound(N_("issue %(id)s does not exist"), {"id": issue_id},
                           code="issues.not_found")
        case["allowed"] = allowed(case, principal)
        case["proposed"] = propose_department(tx, case) if "dispatch" in case["allowed"] else None
        return case


def _load_unlocked(tx, issue_id):
    rows = tx.fetchdicts(_CASE_SQL, {"ids": [int(issue_id)]})
    if not rows:
        return None
    case = rows[0]
    case["grid_departments"] = list(case["grid_departments"] or [])
    case["pending"] = {kind: {"id": rid, "deadline_to": to, "reason": reason, "by": by}
                       for kind, rid, to, reason, by in tx.fetchall(
                           "SELECT kind, id, deadline_to, reason, requested_by FROM case_requests"
                           " WHERE issue_id = %s AND status = 'pending'", (case["id"],))}
    return case


# --- routing ----------------------------------------------------------------------------

def propose_department(tx, case):
    """The department a dispatch of ``case`` proposes: the first routing rule by position
    whose category is the case's category, its 2-digit group, or any (NULL); else the
    first of its grid's departments; else ``None``."""
    return tx.fetchval("SELECT " + routing.proposal_sql("%(c)s::text", "%(d)s::text[]"),
                       {"c": case["category"], "d": list(case.get("grid_departments") or [])})


def list_rules(db):
    """The routing rules in order: dicts with id, position, category (and its Chinese and
    English names), department."""
    with db.transaction() as tx:
        return tx.fetchdicts(
            "SELECT r.id, r.position, r.category, r.department,"
            " coalesce(c.name_zh, gr.group_zh) AS category_zh,"
            " coalesce(c.name_en, gr.group_en) AS category_en FROM routing_rules r"
            " LEFT JOIN categories c ON length(r.category) = 5 AND c.code = r.category"
            " LEFT JOIN LATERAL (SELECT group_zh, group_en FROM categories"
            "   WHERE length(r.category) = 2 AND group_code = r.category LIMIT 1) gr ON true"
            " ORDER BY r.position")


def add_rule(db, category, department, actor):
    """Append a rule (``category``: a 5-digit category, a 2-digit group, or empty for
    any) routing to ``department``; returns its id."""
    category = (category or "").strip() or None
    department = _clean_text(department, N_("department"), MAX_DEPARTMENT)
    problems = []
    if not department:
        problems.append(Problem("routing.department_required",
                                N_("a routing rule needs a department")))
    with db.transaction() as tx:
        if category is not None:
            catalogue.ensure_loaded(tx)
            column = "code" if len(category) == 5 else "group_code"
            known = category.isdigit() and len(category) in (2, 5) and tx.fetchval(
                f"SELECT count(*) FROM categories WHERE {column} = %s", (category,))
            if not known:
                problems.append(Problem("routing.unknown_category",
                                        N_("%(category)r is neither a category nor a category "
                                           "group"), {"category": category[:40]}))
        if problems:
            raise InputError(problems)
        tx.execute("LOCK TABLE routing_rules IN SHARE ROW EXCLUSIVE MODE")
        rule_id, position = tx.fetchone(
            "INSERT INTO routing_rules (position, category, department)"
            " SELECT coalesce(max(position), 0) + 1, %s, %s FROM routing_rules"
            " RETURNING id, position", (category, department))
        audit.record(tx, actor, "routing.add", "routing_rule", rule_id, None,
                     {"position": position, "category": category, "department": department})
        return rule_id


def _rule(tx, rule_id):
    row = tx.fetchdicts("SELECT id, position, category, department FROM routing_rules"
                        " WHERE id = %s FOR UPDATE", (int(rule_id),))
    if not row:
        raise NotFound(N_("routing rule %(id)s does not exist"), {"id": rule_id},
                       code="routing.not_found")
    return row[0]


def remove_rule(db, rule_id, actor):
    """Delete a routing rule."""
    with db.transaction() as tx:
        rule = _rule(tx, rule_id)
        tx.execute("DELETE FROM routing_rules WHERE id = %s", (rule["id"],))
        audit.record(tx, actor, "routing.remove", "routing_rule", rule["id"], rule, None)


def move_rule(db, rule_id, up, actor):
    """Swap a rule with the one before it (``up``) or after it; at either end nothing
    moves."""
    with db.transaction() as tx:
        tx.execute("LOCK TABLE routing_rules IN SHARE ROW EXCLUSIVE MODE")
        rule = _rule(tx, rule_id)
        other = tx.fetchdicts(
            "SELECT id, position FROM routing_rules WHERE position "
            + ("< %s ORDER BY position DESC" if up else "> %s ORDER BY position")
            + " LIMIT 1", (rule["position"],))
        if not other:
            return
        other = other[0]
        # Positions are unique: park one on a free value while swapping.
        tx.execute("UPDATE routing_rules SET position = -1 WHERE id = %s", (rule["id"],))
        tx.execute("UPDATE routing_rules SET position = %s WHERE id = %s",
                   (rule["position"], other["id"]))
        tx.execute("UPDATE routing_rules SET position = %s WHERE id = %s",
                   (other["position"], rule["id"]))
        audit.record(tx, actor, "routing.move", "routing_rule", rule["id"],
                     {"position": rule["position"]}, {"position": other["position"]})


# --- work queues --------------------------------------------------------------------------

#: The command centre's queues: (key, title, condition on the case ``i``).
COMMAND_QUEUES = (
    ("to_file", N_("To file"), "i.status = 'reported'"),
    ("to_dispatch", N_("To dispatch"), "i.status IN ('filed', 'returned')"),
    ("to_check", N_("To check"), "i.status IN ('fed_back', 'checking')"),
    ("requests", N_("Pending requests"),
     "EXISTS (SELECT 1 FROM case_requests r WHERE r.issue_id = i.id AND r.status = 'pending')"),
    ("overdue", N_("Overdue"), f"{statuses.open_sql('i.status')} AND i.deadline < now()"
                               " AND i.suspended_at IS NULL"),
)


def queues(db, principal, limit=50):
    """"我的待办": ``[(key, title, rows, total)]``. For the command centre its queues
    (:data:`COMMAND_QUEUES`); for a department or a grid worker one queue, its open cases
    in scope. Rows are ordered by deadline (none last), each with its traffic light and
    the steps ``principal`` may take (``allowed``)."""
    if principal is None or not permissions.can(principal, "issues.act"):
        return []
    if is_command(principal):
        wanted = [(key, title, cond, {}) for key, title, cond in COMMAND_QUEUES]
    else:
        reach = permissions.scope_for(principal, "issues.act") or permissions.Scope()
        cond, params = reach.condition("g", "i")
        wanted = [("mine", N_("My open cases"),
                   f"{statuses.open_sql('i.status')} AND {cond}", params)]
    out = []
    with db.transaction() as tx:
        for key, title, cond, params in wanted:
            rows = tx.fetchdicts(
                f"SELECT i.id, i.ref, i.status, i.category, c.name_zh AS category_zh,"
                f" c.name_en AS category_en, i.deadline, {statuses.light_sql('i')} AS light,"
                f" i.department, g.code AS grid_code, g.name AS grid_name, i.description"
                f" FROM issues i JOIN categories c ON c.code = i.category"
                f" LEFT JOIN grids g ON g.id = i.grid_id WHERE {cond}"
                f" ORDER BY i.deadline NULLS LAST, i.id LIMIT %(limit)s",
                {**params, "limit": int(limit)})
            total = tx.fetchval(f"SELECT count(*) FROM issues i LEFT JOIN grids g"
                                f" ON g.id = i.grid_id WHERE {cond}", params)
            pending = {}
            for issue_id, kind in tx.fetchall(
                    "SELECT issue_id, kind FROM case_requests WHERE status = 'pending'"
                    " AND issue_id = ANY(%s)", ([r["id"] for r in rows],)):
                pending.setdefault(issue_id, {})[kind] = {}
            for row in rows:
                row["pending"] = pending.get(row["id"], {})
                row["allowed"] = allowed(row, principal)
            out.append((key, title, rows, total))
    return out
