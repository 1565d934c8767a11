"""One record from a form or an API call, read as a one-row import file.

A form's fields become the strings an import file would hold, in a
:class:`~geo.io.readers.Table` of one row, so a record typed in goes through exactly
the checks of an import (:mod:`geo.io.intake`): issues and toilets alike. Names are
matched as import headers are (case, spaces and the aliases of
:data:`geo.io.readers.ALIASES`); a name the record does not know is refused, naming it,
rather than silently dropped. The ``crs`` is parsed as ``--crs`` is
(:func:`geo.io.crs.parse_crs`: an EPSG code, ``gcj02`` or ``bd09``).

Examples
--------
>>> values = form_values({"Category": "07001", "经度": 111.68, "lat": "40.86 "},
...                      ("category", "lon", "lat"))
>>> values
{'category': '07001', 'lon': '111.68', 'lat': '40.86'}
>>> form_table(values, "gcj02", "the issue").crs
'gcj02'
"""

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from geo.errors import InputError
from geo.io import crs as crs_mod
from geo.io import readers

#: The ``path`` of a form's table: messages read "form: …".
FORM = Path("form")


def form_values(fields, known, what="fields"):
    """A form's ``fields`` as the strings an import file would hold.

    ``known`` are the canonical names the record has; an unknown name, or two names
    meaning the same field, raise :class:`~geo.errors.InputError` listing every one.
    Values are typed as :func:`form_text` says; ``what`` names the argument in the
    message when ``fields`` is not a mapping.
    """
    if not isinstance(fields, dict):
        raise InputError(f"form: {what} must map field names to values, "
                         f"not {type(fields).__name__}")
    values, problems = {}, []
    for key, value in fields.items():
        name = str(key).strip().lstrip("\ufeff").lower()
        name = readers.ALIASES.get(name, name)
        if name not in known:
            problems.append(f"form: unknown field {key!r}; known fields: {', '.join(known)}")
        elif name in values:
            problems.append(f"form: {key!r} and another field both mean {name!r}")
        else:
            values[name] = form_text(value)
    if problems:
        raise InputError(problems, source=FORM)
    return values


def form_text(value):
    """A Python value as an import file's text: ``None`` → ``''``, ``True`` → ``'1'``,
    a date → ISO, a list → ``;``-joined, a float → its shortest exact repr; trimmed.

    Examples
    --------
    >>> [form_text(v) for v in (None, False, dt.date(2026, 5, 1), ["a.jpg", " ", "b.jpg"])]
    ['', '0', '2026-05-01', 'a.jpg;b.jpg']
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.date):
        return value.isoformat()[:10]
    if isinstance(value, (list, tuple)):
        return ";".join(str(v).strip() for v in value if str(v).strip())
    if isinstance(value, float):
        return repr(value)
    return str(value).strip()


def form_table(values, crs, label):
    """A one-row :class:`~geo.io.readers.Table` of ``values`` (from :func:`form_values`).

    ``crs`` is the coordinates' CRS as given (``None``: lon/lat in EPSG:4490); ``label``
    names the row in messages (``'the issue'``). The table refuses NUL characters, as
    every table does. A missing or non-numeric ``lon``/``lat`` becomes NaN, which the
    point checks report.
    """
    frame = pd.DataFrame([values], dtype=object)
    x = pd.to_numeric(frame["lon"], errors="coerce").to_numpy(dtype=float) \
        if "lon" in frame.columns else np.array([np.nan])
    y = pd.to_numeric(frame["lat"], errors="coerce").to_numpy(dtype=float) \
        if "lat" in frame.columns else np.array([np.nan])
    return readers.Table(FORM, frame, [label], crs_mod.parse_crs(crs), x, y)
