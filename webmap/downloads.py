"""Files the pages send as downloads: always an ``attachment`` named so that every
browser saves it under a useful name, dated with the district's day.

A Chinese name goes in ``filename*=UTF-8''…`` (RFC 5987, RFC 6266) with an ASCII
``filename=`` beside it for clients that read only that one (Werkzeug's own fallback
would strip the Chinese and leave a bare ``.xlsx``).
"""

from urllib.parse import quote

from flask import send_file

from geo.issues.query import district_today


def dated(stem, ext, day=None):
    """``stem-YYYY-MM-DD.ext`` for the district's today (or ``day``).

    >>> import datetime as dt
    >>> dated("一户一档", "xlsx", dt.date(2026, 11, 30))
    '一户一档-2026-11-30.xlsx'
    """
    return f"{stem}-{(day or district_today()).isoformat()}.{ext}"


def disposition(name, ascii_name):
    """The ``Content-Disposition`` of a download named ``name`` (``ascii_name`` for
    clients that cannot read a UTF-8 name; unused when ``name`` is ASCII).

    >>> disposition("一户一档-2026-11-30.xlsx", "toilet-ledger-2026-11-30.xlsx")
    "attachment; filename=toilet-ledger-2026-11-30.xlsx; filename*=UTF-8''%E4%B8%80%E6%88%B7%E4%B8%80%E6%A1%A3-2026-11-30.xlsx"
    """
    if not ascii_name.isascii() or any(c in ascii_name for c in '"\\;, '):
        raise ValueError(f"not a plain ASCII file name: {ascii_name!r}")
    return f"attachment; filename={ascii_name}; filename*=UTF-8''{quote(name, safe='')}"


def attachment(data, name, ascii_name, mimetype):
    """``data`` (bytes or a binary file object) as a download named ``name``."""
    if isinstance(data, bytes):
        from io import BytesIO

        data = BytesIO(data)
    data.seek(0)
    response = send_file(data, as_attachment=True, download_name=name, mimetype=mimetype)
    if not name.isascii():
        response.headers["Content-Disposition"] = disposition(name, ascii_name)
    return response


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def csv_attachment(text, name, ascii_stem):
    """The CSV in ``text`` (a ``StringIO``) as a dated download ``name``; written with a
    byte-order mark, which Excel needs to read UTF-8."""
    return attachment(text.getvalue().encode("utf-8-sig"), dated(name, "csv"),
                      dated(ascii_stem, "csv"), "text/csv; charset=utf-8")
