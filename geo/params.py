"""Parameters of requests and commands: parsed, or refused with a coded problem.

Every page, API endpoint and command that takes a parameter refuses a bad one the
same way: an :class:`~geo.errors.InputError` whose problem has a ``parameter.*``
code, an English template naming the parameter, and the value (cut short).
``args`` is any mapping with ``getlist`` (a Flask ``request.args``) or plain lists.
"""

import datetime as dt
import re

from geo.errors import N_, InputError, Problem, shown

# -- the problems of a request parameter (the JSON API's 400 answers) -----------------

def bad_parameter(code, message, name, **params):
    """The :class:`InputError` of request parameter ``name``: ``code`` is
    ``parameter.<what>``; ``message`` an English template with ``%(name)r`` and ``params``."""
    return InputError(Problem(code, message, {"name": name, **params}))


def not_one_of(name, value, allowed):
    """``parameter 'status': 'done' is not one of open, reported, …``."""
    return bad_parameter("parameter.not_one_of",
                         N_("parameter %(name)r: %(value)r is not one of %(allowed)s"),
                         name, value=shown(value), allowed=", ".join(allowed))


def required(name):
    """``parameter 'bbox' is required``."""
    return bad_parameter("parameter.missing", N_("parameter %(name)r is required"), name)


def unknown(name, allowed):
    """A parameter the endpoint does not take."""
    return bad_parameter("parameter.unknown",
                         N_("parameter %(name)r is not understood here; use %(allowed)s"),
                         shown(name), allowed=", ".join(sorted(allowed)))


def many(args, name):
    """All values of ``name``: repeated parameters or comma-separated."""
    if hasattr(args, "getlist"):
        raw = args.getlist(name)
    else:
        raw = args.get(name, [])
        raw = [raw] if isinstance(raw, str) else list(raw)
    return [v.strip() for item in raw for v in str(item).split(",") if v.strip()]


def one(args, name):
    values = many(args, name)
    if len(values) > 1:
        raise bad_parameter("parameter.many_values",
                            N_("parameter %(name)r: give one value, not %(n)d"), name,
                            n=len(values))
    return values[0] if values else None


def choice_list(args, name, allowed):
    values = many(args, name)
    bad = [v for v in values if v not in allowed]
    if bad:
        raise not_one_of(name, bad[0], allowed)
    return values


def date(args, name):
    value = one(args, name)
    if value is None:
        return None
    try:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            raise ValueError  # fromisoformat also takes 20261101 and 2026-W44
        return dt.date.fromisoformat(value)
    except ValueError:
        raise bad_parameter("parameter.not_a_date",
                            N_("parameter %(name)r: %(value)r is not a date (YYYY-MM-DD)"), name,
                            value=shown(value)) from None


def parse_int(args, name, default, lo, hi):
    """An integer parameter within [lo, hi]."""
    return _parse_number(args, name, default, lo, hi, int,
                         N_("parameter %(name)r: %(value)r is not a whole number"))


def parse_float(args, name, default, lo, hi):
    """A number parameter within [lo, hi]."""
    return _parse_number(args, name, default, lo, hi, float,
                         N_("parameter %(name)r: %(value)r is not a number"))


def _parse_number(args, name, default, lo, hi, kind, not_a_number):
    value = one(args, name)
    if value is None:
        return default
    try:
        if not re.fullmatch(r"[-+]?[0-9.eE+-]+", value):
            raise ValueError  # int() and float() also take '1_0', '١٢٣' and 'nan'
        number = kind(value)
    except ValueError:
        raise bad_parameter("parameter.not_a_number", not_a_number, name,
                            value=shown(value)) from None
    if not lo <= number <= hi:
        raise bad_parameter("parameter.out_of_range",
                            N_("parameter %(name)r: %(value)g is outside %(lo)g…%(hi)g"), name,
                            value=number, lo=lo, hi=hi)
    return number


def parse_bbox(args, name="bbox"):
    """``minlon,minlat,maxlon,maxlat`` → tuple, or None."""
    values = many(args, name)
    if not values:
        return None
    text = ",".join(values)
    try:
        box = tuple(float(v) for v in values)
    except ValueError:
        box = ()
    if len(box) != 4 or not (box[0] < box[2] and box[1] < box[3]) \
            or not all(-180 <= box[i] <= 180 for i in (0, 2)) \
            or not all(-90 <= box[i] <= 90 for i in (1, 3)):
        raise bad_parameter("parameter.not_a_bbox",
                            N_("parameter %(name)r: %(value)r is not minlon,minlat,maxlon,maxlat"),
                            name, value=shown(text))
    return box
