"""Supervision bulletins (督查专报): chosen cases, numbered 第N期 per year, as a record.

A bulletin is composed from chosen cases with a title, a deadline to rectify and a note
(:func:`compose`). Its number is the next of its year (the district's calendar year of
the composition) with no gap and no repeat: it comes from the year's row of
``supervision_counters``, incremented in the composing transaction, so a second
composition of the same year waits on that row until the first commits (and takes the
next number) or rolls back (and takes the same one). A failed composition leaves no gap.

What the bulletin says about each case — its place, grid, responsible departments,
category, description, status and the photos its history records — is taken when it is
composed and stored with it (``cases``), so downloading it again later renders the same
bulletin even after the cases have moved on. An issued bulletin is never edited
(the table is append-only). One audit entry per composition (``bulletins.compose``).

>>> str(issue_label(2026, 12))
'2026, no. 12'
"""

import datetime as dt
import json
import re

from geo.errors import N_, InputError, NotFound, Problem, Text
from geo.issues.query import DISTRICT_TZ
from geo.people import audit

MAX_TITLE = 200
MAX_NOTE = 2000
MAX_CASES = 200
#: A stored case photo's name: the SHA-256 of its JPEG (see the case photos).
PHOTO_NAME = re.compile(r"^[0-9a-f]{64}\.jpg$")
PHOTO_FOLDER = "case_photos"
RECTIFY_BY = N_("the deadline to rectify")

_CASES_SQL = """
SELECT i.id, i.ref, i.category, c.name_zh AS category_zh, c.name_en AS category_en,
       i.status, i.description, i.address, i.reported_at, i.deadline, i.department,
       ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat,
       g.code AS grid_code, g.name AS grid_name, coalesce(g.departments, '{}') AS departments,
       cm.name AS community, st.name AS street
FROM issues i
JOIN categories c ON c.code = i.category
LEFT JOIN grids g ON g.id = i.grid_id
LEFT JOIN grids cm ON cm.version_id = g.version_id AND cm.code = g.parent_code
LEFT JOIN grids st ON st.version_id = g.version_id AND st.code = cm.parent_code
WHERE i.id = ANY(%(ids)s)
"""

_PHOTOS_SQL = """
SELECT h.issue_id, p->>'name' AS name, coalesce(p->>'kind', '') AS kind
FROM issue_history h
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(h.data->'photos') = 'array' THEN h.data->'photos'
         ELSE '[]'::jsonb END) p
WHERE h.issue_id = ANY(%(ids)s)
ORDER BY h.issue_id, h.at, h.id
"""


def issue_label(year, number):
    """How a bulletin names its issue (``2026年第12期`` in Chinese)."""
    return Text(N_("%(year)d, no. %(number)d"), {"year": year, "number": number})


def _text(value, field, limit, required=False):
    text = (value or "").strip()
    if required and not text:
        return None, [Problem("supervision.required", N_("%(field)s is required"),
                              {"field": Text(field)})]
    if len(text) > limit:
        return None, [Problem("supervision.too_long",
                              N_("%(field)s is longer than %(n)d characters"),
                              {"field": Text(field), "n": limit})]
    return text or None, []


def _date(value):
    if value in (None, ""):
        return None, [Problem("supervision.required", N_("%(field)s is required"),
                              {"field": Text(RECTIFY_BY)})]
    if isinstance(value, dt.date):
        return value, []
    try:
        return dt.date.fromisoformat(str(value).strip()), []
    except ValueError:
        return None, [Problem("supervision.bad_date",
                              N_("%(field)s %(value)r is not a date (YYYY-MM-DD)"),
                              {"field": Text(RECTIFY_BY), "value": str(value)[:40]})]


def parse_ids(text):
    """Case ids from text (whitespace-, comma- or 、-separated), in order, once each.

    >>> parse_ids("3, 5 3、 8")
    ([3, 5, 8], [])
    """
    ids, problems = [], []
    for token in re.split(r"[\s,，、;；]+", str(text or "").strip()):
        if not token:
            continue
        if token.isdigit() and len(token) < 19:
            ids.append(int(token))
        else:
            problems.append(Problem("supervision.bad_id", N_("%(value)r is not a case id"),
                                    {"value": token[:40]}))
    return list(dict.fromkeys(ids)), problems


def _snapshot(tx, ids):
    """The chosen cases as the bulletin shows them, in the order chosen."""
    rows = {r["id"]: r for r in tx.fetchdicts(_CASES_SQL, {"ids": ids})}
    for row in rows.values():
        row["departments"] = list(row["departments"] or [])
        row["photos"] = []
    for issue_id, name, kind in tx.fetchall(_PHOTOS_SQL, {"ids": ids}):
        if PHOTO_NAME.match(name or "") and issue_id in rows:
            photo = {"name": name, "kind": kind}
            if photo not in rows[issue_id]["photos"]:
                rows[issue_id]["photos"].append(photo)
    return rows


def _json(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"),
                      default=lambda v: v.isoformat() if isinstance(v, (dt.date, dt.datetime))
                      else str(v))


def compose(db, case_ids, title, rectify_by, note=None, actor=None, at=None):
    """Compose and store a bulletin of ``case_ids`` (ids, or text of ids); returns
    ``{"id", "year", "number"}``. Refused as a whole (nothing stored, no number used)
    with every problem: no case, an unknown case, no title, a bad deadline.

    ``at`` is the composition's time (default: now); its year on the district's clock
    is the bulletin's year.
    """
    problems = []
    if isinstance(case_ids, str):
        case_ids, problems = parse_ids(case_ids)
    else:
        case_ids = list(dict.fromkeys(int(i) for i in case_ids))
    title, p = _text(title, N_("the title"), MAX_TITLE, required=True)
    problems += p
    note, p = _text(note, N_("the note"), MAX_NOTE)
    problems += p
    rectify_by, p = _date(rectify_by)
    problems += p
    if not case_ids and not problems:
        problems.append(Problem("supervision.no_cases", N_("no case was chosen")))
    if len(case_ids) > MAX_CASES:
        problems.append(Problem("supervision.too_many",
                                N_("a bulletin holds at most %(n)d cases"), {"n": MAX_CASES}))
    with db.transaction() as tx:
        cases = _snapshot(tx, case_ids) if case_ids else {}
        problems += [Problem("issues.not_found", N_("issue %(id)s does not exist"), {"id": i})
                     for i in case_ids if i not in cases]
        if problems:
            raise InputError(problems)
        when = at or tx.fetchval("SELECT now()")
        year = when.astimezone(DISTRICT_TZ).year
        # The year's counter row: taken and locked until this transaction ends.
        number = tx.fetchval(
            "INSERT INTO supervision_counters AS c (year, last) VALUES (%s, 1)"
            " ON CONFLICT (year) DO UPDATE SET last = c.last + 1 RETURNING c.last", (year,))
        login = audit.login_of(actor)
        bulletin_id = tx.fetchval(
            "INSERT INTO supervision_bulletins (year, number, title, note, rectify_by,"
            " created_by, created_at, case_ids, cases) VALUES (%s, %s, %s, %s, %s,"
            " coalesce(%s, current_user), %s, %s, %s::jsonb) RETURNING id",
            (year, number, title, note, rectify_by, login, when, case_ids,
             _json([cases[i] for i in case_ids])))
        audit.record(tx, actor, "bulletins.compose", "supervision_bulletin", bulletin_id, None,
                     {"year": year, "number": number, "title": title,
                      "rectify_by": rectify_by, "cases": case_ids})
    return {"id": bulletin_id, "year": year, "number": number}


def listing(db, limit=500):
    """The bulletins, newest first: dicts with id, year, number, title, rectify_by,
    created_by, created_at and the number of cases."""
    with db.transaction() as tx:
        return tx.fetchdicts(
            "SELECT id, year, number, title, rectify_by, created_by, created_at,"
            " cardinality(case_ids) AS n_cases FROM supervision_bulletins"
            " ORDER BY year DESC, number DESC LIMIT %s", (int(limit),))


def get(db, bulletin_id):
    """One bulletin with its stored cases; :class:`~geo.errors.NotFound` if none."""
    with db.transaction() as tx:
        rows = tx.fetchdicts(
            "SELECT id, year, number, title, note, rectify_by, created_by, created_at,"
            " case_ids, cases FROM supervision_bulletins WHERE id = %s", (int(bulletin_id),))
    if not rows:
        raise NotFound(N_("supervision bulletin %(id)s does not exist"), {"id": bulletin_id},
                       code="supervision.not_found")
    row = rows[0]
    for case in row["cases"]:
        for key in ("reported_at", "deadline"):
            if case.get(key):
                case[key] = dt.datetime.fromisoformat(case[key]).astimezone(DISTRICT_TZ)
    return row


def photo_file(data_dir, name, thumb=True):
    """The stored file of a case photo (its thumbnail when there is one and ``thumb``),
    or ``None`` when it is not on disk (the bulletin then names it missing)."""
    from pathlib import Path

    if not PHOTO_NAME.match(name or ""):
        return None
    folder = Path(data_dir, PHOTO_FOLDER)
    for path in ((folder / "thumbs" / name) if thumb else None, folder / name):
        if path is not None and path.is_file():
            return path
    return None
