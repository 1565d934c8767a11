"""The toilet office's list of records: filters, search, pages, and the same rows exported.

A :class:`ToiletFilter` is what the office asked to see (street, community, grid, kind,
action, status, a facility lacking, a search in code, name and address); its
:meth:`~ToiletFilter.where` is one parameterised SQL condition that the page
(:func:`list_toilets`) and the exports (:func:`geo.toilets.ledger.write_ledger` and
:func:`geo.toilets.ledger.write_csv` with ``condition=``) share, so a download holds
exactly the rows the page counted.

Examples
--------
>>> flt = ToiletFilter.parse({"status": "in_progress", "lacking": "water", "q": "王家"})
>>> flt.as_args()
{'status': 'in_progress', 'lacking': 'water', 'q': '王家'}
>>> rows, total = list_toilets(db, flt, limit=50)  # doctest: +SKIP
"""

from dataclasses import dataclass

from geo.errors import N_, shown
from geo.issues.query import CODE15, bad_parameter, like_literal, not_one_of
from geo.store import db as db_mod
from geo.toilets.records import ACTIONS, FACILITIES, KINDS, STATUSES

#: ``lacking=any``: lacking at least one of the five facilities.
ANY_FACILITY = "any"
#: ``action=none``: records with no renovation action (e.g. a toilet already flush).
NO_ACTION = "none"
_AREAS = (("street", 9), ("community", 12), ("grid", 15))


@dataclass
class ToiletFilter:
    """What the office asked to see; ``None`` means any."""

    street: str | None = None
    community: str | None = None
    grid: str | None = None
    kind: str | None = None
    action: str | None = None
    status: str | None = None
    lacking: str | None = None
    q: str | None = None

    PARAMS = ("street", "community", "grid", "kind", "action", "status", "lacking", "q")

    @classmethod
    def parse(cls, args):
        """A filter from request parameters (a dict or a Werkzeug ``MultiDict``); a bad
        value raises :class:`~geo.errors.InputError` naming the parameter."""
        f = cls()
        values = {name: (args.get(name) or "").strip() or None for name in cls.PARAMS}
        for name, _width in _AREAS:
            value = values[name]
            if value is not None and not CODE15.match(value):
                raise bad_parameter("parameter.not_a_code",
                                    N_("parameter %(name)r: %(value)r is not a 15-digit grid code"),
                                    name, value=shown(value))
        for name, allowed in (("kind", KINDS), ("action", ACTIONS + (NO_ACTION,)),
                              ("status", STATUSES), ("lacking", FACILITIES + (ANY_FACILITY,))):
            if values[name] is not None and values[name] not in allowed:
                raise not_one_of(name, values[name], allowed)
        for name, value in values.items():
            setattr(f, name, value)
        return f

    def where(self):
        """``(sql, params)``: a condition on ``toilets t LEFT JOIN grids g`` (the record's
        grid); parameters are named ``f_…``."""
        parts, params = [], {}
        for name, width in _AREAS:
            value = getattr(self, name)
            if value:
                parts.append(f"left(g.code, {width}) = %(f_{name})s")
                params[f"f_{name}"] = value[:width]
        for name in ("kind", "status"):
            if getattr(self, name):
                parts.append(f"t.{name} = %(f_{name})s")
                params[f"f_{name}"] = getattr(self, name)
        if self.action == NO_ACTION:
            parts.append("t.action IS NULL")
        elif self.action:
            parts.append("t.action = %(f_action)s")
            params["f_action"] = self.action
        if self.lacking == ANY_FACILITY:
            parts.append("NOT (" + " AND ".join(f"t.{f}" for f in FACILITIES) + ")")
        elif self.lacking:  # one of FACILITIES (checked in parse): a column name
            parts.append(f"NOT t.{self.lacking}")
        if self.q:
            parts.append("(t.code ILIKE %(f_q)s OR t.name ILIKE %(f_q)s"
                         " OR t.address ILIKE %(f_q)s)")
            params["f_q"] = "%" + like_literal(self.q) + "%"
        return (" AND ".join(parts) or "true"), params

    def as_args(self):
        """The filter as request parameters (for links and the export buttons)."""
        return {name: getattr(self, name) for name in self.PARAMS if getattr(self, name)}


def list_toilets(db, flt=None, limit=50, offset=0):
    """Filtered records ordered as the ledger orders them (grid code, then toilet code):
    ``(rows as dicts with the ledger's columns, total count)``."""
    flt = flt or ToiletFilter()
    where, params = flt.where()
    params.update(limit=int(limit), offset=int(offset))
    with db.transaction() as tx:
        rows = tx.fetchdicts(db_mod.sql("toilet_ledger").format(scope=where)
                             + " LIMIT %(limit)s OFFSET %(offset)s", params)
        total = tx.fetchval("SELECT count(*) FROM toilets AS t"
                            f" LEFT JOIN grids AS g ON g.id = t.grid_id WHERE {where}", params)
    return rows, total
