"""Who may do what: the one map from roles to actions, and the scopes of scoped roles.

Every view and API endpoint of the web layer names one action (``@requires("issues.read")``
in :mod:`webmap.auth`); :func:`can` answers whether an account may take it, and
:func:`scope_for` how far its reach goes. Nothing else in civgrid decides permissions.

Roles (docs: README, *Accounts and permissions*):

==============  ==========================================================================
admin           everything: accounts, and every action below
command         sees everything; files, dispatches, checks and closes every case
planner         grid versions: drafts, edits, validation, activation, rollback
toilet_office   creates and edits toilet records
department      sees and acts on the cases dispatched to its department(s) — :class:`Scope`
grid_worker     sees and acts on the cases and sees the toilets in its grid(s)
leader          sees everything, changes nothing
viewer          maps and issue lists; no records that carry personal data (toilet records)
==============  ==========================================================================

An account may hold several roles; it may take an action when any of them allows it.
When only a scoped role (``department``, ``grid_worker``) allows it, the account's reach
is its :class:`Scope`; when any unscoped role allows it, the reach is everything.

>>> user = Principal(login="w", roles=("grid_worker",), grids=("150102001001001",))
>>> can(user, "issues.read"), can(user, "grids.edit")
(True, False)
>>> scope_for(user, "issues.read").grids
('150102001001001',)
>>> scope_for(Principal(login="l", roles=("leader",)), "issues.read") is None
True
"""

from dataclasses import dataclass

#: Every action a view may require, with what it lets one do.
ACTIONS = {
    "public": "pages anyone may open: login, static assets, favicon",
    "account.self": "one's own account: password change, logout",
    "maps.read": "overview and heat maps, grid search, grid pages, the grids API",
    "issues.read": "issue lists, issue pages, the issues API (scoped)",
    "issues.report": "report a problem in the field (the report page, a before photo)",
    "issues.act": "act on a case: file, dispatch, accept, check, close… (each step checks role and scope)",
    "routing.manage": "the routing table that proposes a department at dispatch",
    "reporters.read": "citizens' names, phones and e-mails on their cases",
    "bulletins.read": "the daily bulletin, its downloads and the metrics page (whole district)",
    "bulletins.compose": "compose supervision bulletins (督查专报) from chosen cases",
    "planner.read": "grid versions: list, drafts, validation and impact",
    "grids.edit": "create, upload, edit, balance and delete draft grid versions",
    "grids.activate": "activate a grid version, roll back to the previous one",
    "toilets.read": "toilet records, coverage, ledger and exports (scoped)",
    "toilets.edit": "create and edit toilet records",
    "users.manage": "accounts, roles, scopes, tokens",
    "audit.read": "the audit log",
    "settings.manage": "the holiday calendar (categories and settings to come)",
}

#: The actions each role may take. ``admin`` may take every action.
ROLE_ACTIONS = {
    "admin": frozenset(ACTIONS),
    "command": frozenset({"account.self", "maps.read", "issues.read", "issues.act",
                          "routing.manage", "reporters.read",
                          "bulletins.read", "bulletins.compose", "planner.read",
                          "toilets.read"}),
    "planner": frozenset({"account.self", "maps.read", "issues.read", "planner.read",
                          "grids.edit", "grids.activate"}),
    "toilet_office": frozenset({"account.self", "maps.read", "toilets.read", "toilets.edit"}),
    "department": frozenset({"account.self", "maps.read", "issues.read", "issues.act"}),
    "grid_worker": frozenset({"account.self", "maps.read", "issues.read", "issues.report",
                              "issues.act", "toilets.read"}),
    "leader": frozenset({"account.self", "maps.read", "issues.read", "bulletins.read",
                         "planner.read", "toilets.read"}),
    "viewer": frozenset({"account.self", "maps.read", "issues.read"}),
}
ROLES = tuple(ROLE_ACTIONS)
#: Roles whose reach is limited to their scope (what the scope holds).
SCOPED_ROLES = {"department": "departments", "grid_worker": "grids"}
#: Actions whose objects lie in grids, and so can be scoped. For any other action a
#: scoped role's permission is plain yes or no.
SCOPED_ACTIONS = frozenset({"issues.read", "issues.report", "issues.act", "toilets.read"})


@dataclass(frozen=True)
class Principal:
    """Who asks: an account's login, roles and scope (a token acts with one role)."""

    login: str
    roles: tuple = ()
    grids: tuple = ()
    departments: tuple = ()


@dataclass(frozen=True)
class Scope:
    """The reach of a scoped account: cases dispatched to its departments, and objects
    lying in its grids.

    A department's cases are the issues whose ``department`` (set when the command
    centre dispatches a case, :mod:`geo.cases.workflow`) is one of its departments: it
    sees a case only once the case has been dispatched to it. A grid worker's are the
    issues and toilets lying in its grids (by grid code, in whichever grid version the
    object was assigned). Toilet records have no department, so a department's reach
    over them is nothing. This class is the only place that says so: lists filter with
    :meth:`condition`, single objects are checked with it too (an object outside the
    scope is "not found"), and :meth:`admits` states the same rule for an object in hand.
    """

    grids: tuple = ()
    departments: tuple = ()

    def condition(self, grid_alias="g", issue_alias=None, prefix="scope"):
        """``(sql, params)``: the rule as a condition over ``grids {grid_alias}`` joined to
        the object by its ``grid_id`` (a LEFT JOIN: an unassigned object is outside) and,
        for issues, the issue row ``{issue_alias}`` (its ``department``). Without an issue
        alias (toilets) only the grids count; without departments the condition names
        the grid alone, so the grid and cell tallies can answer it.

        >>> Scope(("150102001001001",), ("城管",)).condition("g", "i")[0]
        '(g.code = ANY(%(scope_grids)s) OR i.department = ANY(%(scope_departments)s))'
        >>> Scope(("150102001001001",), ()).condition("g", "i")[0]
        '(g.code = ANY(%(scope_grids)s))'
        """
        parts = [f"{grid_alias}.code = ANY(%({prefix}_grids)s)"]
        params = {f"{prefix}_grids": list(self.grids)}
        if issue_alias is not None and self.departments:
            parts.append(f"{issue_alias}.department = ANY(%({prefix}_departments)s)")
            params[f"{prefix}_departments"] = list(self.departments)
        return "(" + " OR ".join(parts) + ")", params

    def admits(self, grid_code, department=None):
        """The same rule for an object whose grid code and (for a case) department are
        known.

        >>> Scope(departments=("城管",)).admits("150102001001001", "城管")
        True
        >>> Scope(departments=("城管",)).admits("150102001001001", None)
        False
        >>> Scope(grids=("150102001001001",)).admits(None)
        False
        """
        if department is not None and department in self.departments:
            return True
        return grid_code is not None and grid_code in self.grids


def actions_of(principal):
    """Every action ``principal``'s roles allow."""
    allowed = set()
    for role in principal.roles:
        allowed |= ROLE_ACTIONS.get(role, frozenset())
    return allowed


def scope_for(principal, action):
    """How far ``principal`` may take ``action``: ``None`` for everywhere, else a
    :class:`Scope` (possibly empty). Call :func:`can` first."""
    if action not in SCOPED_ACTIONS:
        return None
    granting = [r for r in principal.roles if action in ROLE_ACTIONS.get(r, ())]
    if any(r not in SCOPED_ROLES for r in granting):
        return None
    return Scope(grids=tuple(principal.grids) if "grid_worker" in granting else (),
                 departments=tuple(principal.departments) if "department" in granting else ())


def can(principal, action, obj=None):
    """Whether ``principal`` may take ``action`` (on ``obj``, when given).

    ``principal`` is ``None`` for an anonymous visitor, who may only take ``public``.
    ``obj`` is an object lying in a grid: a mapping with ``grid_code`` and, for a
    case, ``department`` (where it was dispatched), checked against the scope.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if action == "public":
        return True
    if principal is None or action not in actions_of(principal):
        return False
    scope = scope_for(principal, action)
    if obj is None or scope is None:
        return True
    return scope.admits(obj.get("grid_code"), obj.get("department"))
