"""Issue filters and queries shared by the pages and the JSON API.

:class:`IssueFilter` parses request parameters (strings) and raises
:class:`~geo.errors.InputError` naming the bad parameter; :meth:`IssueFilter.where`
turns it into a SQL condition over ``issues i LEFT JOIN grids g`` with bound
parameters (never formatted values). :func:`parse_sort` reads the order of a list,
:func:`date_shortcut` the days of "today" and "this week".
"""

import datetime as dt
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from geo.issues import records as issues_mod
from geo.issues import statuses
from geo import params
from geo.errors import N_, shown

CODE15 = re.compile(r"^[0-9]{15}$")
MAX_PAGE = 1000
#: The district's clock: days and weeks of the filters are days and weeks here.
DISTRICT_TZ = ZoneInfo("Asia/Shanghai")
#: The orders a list of issues can be sorted in (``-`` before a name: descending).
SORT_KEYS = ("reported", "deadline", "grid")
SORTS = tuple(f"{sign}{key}" for key in SORT_KEYS for sign in ("", "-"))
#: The order of a list when none is asked for: newest first.
DEFAULT_SORT = "-reported"
#: The date shortcuts of the lists.
SHORTCUTS = ("today", "week")


def parse_sort(args, name="sort"):
    """The order asked for in ``args``: one of :data:`SORTS`, default :data:`DEFAULT_SORT`.

    >>> parse_sort({"sort": "-deadline"}), parse_sort({})
    ('-deadline', '-reported')
    """
    value = params.one(args, name)
    if value is None:
        return DEFAULT_SORT
    if value not in SORTS:
        raise params.not_one_of(name, value, SORTS)
    return value


def district_today(now=None):
    """Today's date on the district's clock (Asia/Shanghai)."""
    return (now or dt.datetime.now(dt.timezone.utc)).astimezone(DISTRICT_TZ).date()


def date_shortcut(name, today):
    """``(from, to)`` of a shortcut: ``today`` is the day, ``week`` Monday to ``today``.

    >>> date_shortcut("week", dt.date(2026, 11, 26))  # a Thursday
    (datetime.date(2026, 11, 23), datetime.date(2026, 11, 26))
    >>> date_shortcut("week", dt.date(2026, 11, 23))  # a Monday
    (datetime.date(2026, 11, 23), datetime.date(2026, 11, 23))
    """
    if name == "today":
        return today, today
    if name == "week":
        return today - dt.timedelta(days=today.weekday()), today
    raise ValueError(f"shortcut must be one of {SHORTCUTS}, not {name!r}")


@dataclass
class IssueFilter:
    """What the user asked to see. Empty lists mean 'any'."""

    category: list = field(default_factory=list)
    group: list = field(default_factory=list)
    status: list = field(default_factory=list)  # may include the pseudo-status 'open'
    source: list = field(default_factory=list)
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    street: str | None = None
    community: str | None = None
    grid: str | None = None
    q: str | None = None
    bbox: tuple | None = None
    overdue: bool = False  # open and past the deadline
    #: The asker's reach (a :class:`geo.people.permissions.Scope`; ``None``: everything).
    #: Set by the web layer from the account, never from request parameters.
    scope: object = None

    PARAMS = ("category", "group", "status", "source", "from", "to", "street", "community",
              "grid", "q", "bbox", "overdue")

    @classmethod
    def parse(cls, args, categories=None, groups=None):
        """Build a filter from request parameters; ``categories``/``groups`` are the known codes."""
        f = cls()
        f.category = (params.choice_list(args, "category", sorted(categories))
                      if categories is not None else params.many(args, "category"))
        f.group = (params.choice_list(args, "group", sorted(groups))
                   if groups is not None else params.many(args, "group"))
        f.status = params.choice_list(args, "status", ("open",) + statuses.STATUSES)
        f.source = params.choice_list(args, "source", issues_mod.SOURCES)
        f.date_from, f.date_to = params.date(args, "from"), params.date(args, "to")
        if f.date_from and f.date_to and f.date_from > f.date_to:
            raise params.bad_parameter("parameter.date_order",
                                N_("parameter %(name)r: it is after %(other)r"), "from",
                                other="to")
        for name in ("street", "community", "grid"):
            value = params.one(args, name)
            if value is not None and not CODE15.match(value):
                raise params.bad_parameter("parameter.not_a_code",
                                    N_("parameter %(name)r: %(value)r is not a 15-digit grid code"),
                                    name, value=shown(value))
            setattr(f, name, value)
        f.q = params.one(args, "q")
        f.bbox = params.parse_bbox(args)
        f.overdue = params.parse_flag(args, "overdue")
        return f

    def where(self, alias="i", grid_alias="g"):
        """``(sql, params)``: a condition for ``issues {alias} LEFT JOIN grids {grid_alias}``."""
        i, g = alias, grid_alias
        parts, params = [], {}
        if self.category:
            parts.append(f"{i}.category = ANY(%(f_category)s)")
            params["f_category"] = list(self.category)
        if self.group:
            parts.append(f"left({i}.category, 2) = ANY(%(f_group)s)")
            params["f_group"] = list(self.group)
        if self.status:
            named = [s for s in self.status if s != "open"]
            cond = [f"{i}.status = ANY(%(f_status)s)"] if named else []
            if "open" in self.status:
                cond.append(statuses.open_sql(f"{i}.status"))
            parts.append("(" + " OR ".join(cond) + ")")
            params["f_status"] = named
        if self.overdue:
            # The predicate of the partial index issues_open_deadline_idx, so it may be used;
            # a suspended case's clock stands still: it is not overdue.
            parts.append(f"{statuses.open_sql(f'{i}.status')} AND {i}.deadline < now()"
                         f" AND {i}.suspended_at IS NULL")
        if self.source:
            parts.append(f"{i}.source = ANY(%(f_source)s)")
            params["f_source"] = list(self.source)
        if self.date_from:
            parts.append(f"{i}.reported_at >= %(f_from)s::date::timestamp AT TIME ZONE 'Asia/Shanghai'")
            params["f_from"] = self.date_from.isoformat()
        if self.date_to:
            parts.append(f"{i}.reported_at < (%(f_to)s::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai'")
            params["f_to"] = self.date_to.isoformat()
        for name, width in (("street", 9), ("community", 12), ("grid", 15)):
            value = getattr(self, name)
            if value:
                parts.append(f"left({g}.code, {width}) = %(f_{name})s")
                params[f"f_{name}"] = value[:width]
        if self.q:
            parts.append(f"({i}.ref ILIKE %(f_q)s OR {i}.description ILIKE %(f_q)s"
                         f" OR {i}.address ILIKE %(f_q)s)")
            params["f_q"] = "%" + like_literal(self.q) + "%"
        if self.bbox:
            parts.append(f"{i}.geom && ST_MakeEnvelope(%(f_x1)s, %(f_y1)s, %(f_x2)s, %(f_y2)s, 4490)")
            params.update(zip(("f_x1", "f_y1", "f_x2", "f_y2"), self.bbox))
        if self.scope is not None:
            condition, scope_params = self.scope.condition(g, i)
            parts.append(condition)
            params.update(scope_params)
        return (" AND ".join(parts) or "true"), params

    def fields(self):
        """Names of the fields that are set (``date_from``/``date_to`` as ``date``)."""
        names = {name for name in ("category", "group", "status", "source", "street",
                                   "community", "grid", "q", "bbox", "overdue")
                 if getattr(self, name)}
        if self.scope is not None:
            # A department's reach is a condition on the issue itself (where it was
            # dispatched), which no tally keeps; a grid worker's is one on the grid.
            names.add("scope_departments" if self.scope.departments else "scope")
        return names | ({"date"} if self.date_from or self.date_to else set())

    def needs_grid_join(self):
        return bool(self.street or self.community or self.grid or self.scope is not None)

    def as_args(self):
        """The filter as request parameters (for links and forms)."""
        out = {}
        for name in ("category", "group", "status", "source"):
            if getattr(self, name):
                out[name] = ",".join(getattr(self, name))
        if self.date_from:
            out["from"] = self.date_from.isoformat()
        if self.date_to:
            out["to"] = self.date_to.isoformat()
        for name in ("street", "community", "grid", "q"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        if self.overdue:
            out["overdue"] = "1"
        return out


def like_literal(text):
    """``text`` escaped for LIKE/ILIKE, so ``%`` and ``_`` in a search match themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def order_by(sort, alias="i", grid_alias="g"):
    """The ``ORDER BY`` text of ``sort`` (one of :data:`SORTS`), ties broken by id.

    Issues without a deadline or a grid come last in either direction.

    >>> order_by("-deadline")
    'i.deadline DESC NULLS LAST, i.id DESC'
    """
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {SORTS}, not {sort!r}")
    key = sort.lstrip("-")
    column = {"reported": f"{alias}.reported_at", "deadline": f"{alias}.deadline",
              "grid": f"{grid_alias}.code"}[key]
    direction = "DESC" if sort.startswith("-") else "ASC"
    # reported_at is never NULL: without NULLS LAST the order matches the index
    # issues_reported_id_idx in both directions.
    nulls = "" if key == "reported" else " NULLS LAST"
    return f"{column} {direction}{nulls}, {alias}.id {direction}"
