"""Citizens' reports (市民留言): submit, the duplicate suggestion, the status by tracking
code, and the citizen's satisfaction with the closed case.

A citizen needs no account. :func:`submit` either creates a case with source
``citizen`` (assigned to its grid, status ``reported``, with its "before" photos, in one
transaction) or, when the citizen chose one of the open cases :func:`nearby` suggested,
makes them a *follower* of that case: no new case, a ``followed`` history row. Either
way the citizen gets a tracking code of their own (``XXXX-XXXX-XXXX``, letters and
digits that cannot be mistaken for each other), which :func:`status` reads back: the
case's status, its public replies and "after" photos, never an internal note or the
name of a member of staff.

Name, phone and e-mail are optional; they are stored with the tracking code
(``citizen_reports``, migration 0025) and only the command centre and admins see
them. Free text is checked for markup: a description with ``<script>`` (or any tag) is
refused, naming the field, rather than stored and escaped later.

Once the case is closed the citizen may say whether they are satisfied (:func:`rate`,
once per closing): not satisfied asks the command centre to reopen it (a ``reopen``
request in ``case_requests``, which :mod:`geo.cases.workflow` approves or refuses).

>>> normalise_code(" abcd efgh-jk2m ")
'ABCD-EFGH-JK2M'
>>> normalise_code("nope") is None
True
"""

import dataclasses
import datetime as dt
import json
import re
import secrets

from geo import photos as photos_mod
from geo.cases import photos as case_photos
from geo.errors import N_, InputError, NotFound, Place, Problem, Text, shown
from geo.io import crs as crs_mod
from geo.issues import catalogue
from geo.issues import records
from geo.issues.query import DISTRICT_TZ
from geo.issues.statuses import CLOSED, open_sql
from geo.people import audit

#: The channels a citizen's report comes through.
CHANNELS = ("web", "open311")
#: The coordinate systems a citizen's position may be given in.
CRSES = {"wgs84": "EPSG:4326", "gcj02": "gcj02"}
#: Each of :data:`CRSES` as :func:`geo.io.crs.to_storage` takes it.
_STORAGE = {"wgs84": "wgs84", "gcj02": "gcj02"}


@dataclasses.dataclass(frozen=True)
class _Source:
    """What the import record of a citizen's case names: a form, as for any case made
    on a page, and the CRS the position was given in."""

    path: str
    crs: str


#: The duplicate suggestion: same category, this close, reported this recently, open.
NEARBY_METRES = 50
NEARBY_DAYS = 30
MAX_PHOTOS = 3
#: Longest text of each field.
LIMITS = {"description": 2000, "address": 500, "name": 100, "phone": 40, "email": 200,
          "note": 2000}
FIELDS = ("category", "description", "lon", "lat", "crs", "address", "name", "phone", "email")
#: Who the history and audit log name for a citizen without an account.
PUBLIC = audit.Actor("public")
#: Tracking codes: 12 characters of 32 (no 0/O, 1/I), 60 bits, in three groups of four.
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_CODE = re.compile(r"^[0-9A-Z]{12}$")
_MARKUP = re.compile(r"<\s*[a-zA-Z/!?]|javascript\s*:", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PHONE = re.compile(r"^\+?[0-9][0-9 -]{4,30}$")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
#: History steps the public page shows (when, never who or the note).
MILESTONES = ("created", "file", "dispatch", "feed_back", "close", "void", "reopen",
              "approve_reopen")

#: The stage the public page shows for each workflow status (labels:
#: :data:`geo.vocabulary.PUBLIC_STAGES`): no internal step is told apart.
STAGES = {"reported": "received", "filed": "accepted", "dispatched": "in_hand",
          "processing": "in_hand", "rework": "in_hand", "returned": "in_hand",
          "suspended": "in_hand", "fed_back": "checking", "checking": "checking",
          "closed": "done", "void": "declined"}

_FIELD_NAMES = {"category": N_("category"), "description": N_("description"),
                "lon": N_("longitude"), "lat": N_("latitude"), "crs": N_("coordinate system"),
                "address": N_("address"), "name": N_("name"), "phone": N_("phone"),
                "email": N_("e-mail"), "note": N_("note"), "follow": N_("case followed"),
                "photos": N_("photos"), "channel": N_("channel")}


@dataclasses.dataclass(frozen=True)
class Receipt:
    """What the citizen gets back: the case, their tracking code, and whether they
    follow an existing case (``True``) or reported a new one."""

    issue_id: int
    code: str
    followed: bool


def new_code():
    """A fresh random tracking code ``XXXX-XXXX-XXXX``."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalise_code(text):
    """A tracking code as typed (any case, spaces or hyphens) in its stored form, or
    ``None`` when it cannot be one."""
    raw = re.sub(r"[\s-]", "", str(text or "")).upper()
    if not _CODE.match(raw):
        return None
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


# --- checks -------------------------------------------------------------------------------

def _problem(field, code, message, params=None):
    """A problem placed at ``field`` (named in the reader's language; ``params["field"]``
    keeps its name for programs, e.g. an API's error list)."""
    return Problem(code, message, {**(params or {}), "field": field},
                   Place(Text(_FIELD_NAMES[field])))


def clean_text(field, value, problems, required=False):
    """``value`` stripped, or ``None`` when empty; a problem naming ``field`` when it is
    too long, holds markup or control characters, or is required and missing."""
    text = str(value if value is not None else "").strip()
    if not text:
        if required:
            problems.append(_problem(field, "public.required", N_("this field is required")))
        return None
    if len(text) > LIMITS[field]:
        problems.append(_problem(field, "public.too_long",
                                 N_("longer than %(n)d characters"), {"n": LIMITS[field]}))
    elif _MARKUP.search(text):
        problems.append(_problem(field, "public.markup",
                                 N_("may not contain HTML or script (%(text)r)"),
                                 {"text": shown(_MARKUP.search(text).group(0))}))
    elif _CONTROL.search(text):
        problems.append(_problem(field, "public.control",
                                 N_("contains control characters")))
    return text


def _check_contact(values, problems):
    phone, email = values.get("phone"), values.get("email")
    if (phone and len(phone) <= LIMITS["phone"] and not _MARKUP.search(phone)
            and not _PHONE.match(phone)):
        problems.append(_problem("phone", "public.bad_phone",
                                 N_("%(value)r is not a phone number"), {"value": shown(phone)}))
    if (email and len(email) <= LIMITS["email"] and not _MARKUP.search(email)
            and not _EMAIL.match(email)):
        problems.append(_problem("email", "public.bad_email",
                                 N_("%(value)r is not an e-mail address"),
                                 {"value": shown(email)}))


def _position(fields, problems):
    """``(lon, lat, crs)`` of the fields (floats and a key of :data:`CRSES`), or
    ``None`` with problems."""
    crs = str(fields.get("crs") or "wgs84").strip().lower()
    if crs not in CRSES:
        problems.append(_problem("crs", "public.bad_crs",
                                 N_("%(value)r is not a coordinate system; use wgs84 or gcj02"),
                                 {"value": shown(crs)}))
    out = []
    for field, low, high in (("lon", -180, 180), ("lat", -90, 90)):
        raw = str(fields.get(field) if fields.get(field) is not None else "").strip()
        if not raw:
            problems.append(_problem(field, "public.no_position",
                                     N_("no position: use the phone's position or tap the map "
                                        "where the problem is")))
            continue
        try:
            value = float(raw)
        except ValueError:
            value = None
        if value is None or not (low <= value <= high):
            problems.append(_problem(field, "public.bad_coordinate",
                                     N_("%(value)r is not a coordinate between %(low)d and "
                                        "%(high)d"),
                                     {"value": shown(raw), "low": low, "high": high}))
            continue
        out.append(value)
    return (out[0], out[1], crs) if len(out) == 2 and crs in CRSES else None


def _check_category(tx, code, problems):
    """``code`` if it is a category the public may report
    (:func:`geo.issues.catalogue.public_categories`), else a problem."""
    code = str(code or "").strip()
    if not code:
        problems.append(_problem("category", "public.required", N_("this field is required")))
    elif code not in {c["code"] for c in catalogue.public_categories(tx)}:
        problems.append(_problem("category", "public.unknown_category",
                                 N_("%(category)r is not a category the public may report"),
                                 {"category": shown(code)}))
    return code


def _prepared(photos):
    """The photos as :class:`geo.photos.Photo`: already prepared, or ``(bytes,
    filename)`` pairs checked and re-encoded here."""
    photos = list(photos or ())
    if len(photos) > MAX_PHOTOS:
        raise InputError(_problem("photos", "public.too_many_photos",
                                  N_("at most %(n)d photos"), {"n": MAX_PHOTOS}))
    raw = [p for p in photos if not isinstance(p, photos_mod.Photo)]
    ready = [p for p in photos if isinstance(p, photos_mod.Photo)]
    return ready + (photos_mod.prepare_many(raw) if raw else [])


# --- submit ---------------------------------------------------------------------------------

def submit(db, settings, fields, photos=(), follow=None, channel="web", actor=None):
    """Take a citizen's report; return a :class:`Receipt`.

    ``fields``: ``category`` (5-digit code), ``description``, ``lon``, ``lat``, ``crs``
    (``"wgs84"`` or ``"gcj02"``), and optional ``address``, ``name``, ``phone``,
    ``email``. ``photos``: :class:`geo.photos.Photo` or ``(bytes, filename)`` pairs (at
    most :data:`MAX_PHOTOS`). ``follow``: the id of an open case the citizen chose from
    :func:`nearby` — they become its follower and no case is created. ``channel``:
    ``"web"`` or ``"open311"``, recorded in the history and the audit log. ``actor``:
    who the log names (default ``public``; an Open311 client's API account).

    Raises :class:`~geo.errors.InputError` naming every bad field; nothing is stored.
    A new case must lie in one of the district's grids.

    Examples
    --------
    >>> submit(db, settings, {"category": "06010", "description": "垃圾", "lon": 111.686,
    ...        "lat": 40.816, "crs": "gcj02"})  # doctest: +SKIP
    Receipt(issue_id=42, code='7KQ2-M9XD-4TPA', followed=False)
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    fields = dict(fields or {})
    unknown = [k for k in fields if k not in FIELDS]
    problems = [Problem("public.unknown_field", N_("unknown field %(field)r"),
                        {"field": shown(k)}) for k in unknown]
    values = {f: clean_text(f, fields.get(f), problems) for f in
              ("description", "address", "name", "phone", "email")}
    _check_contact(values, problems)
    actor = actor or PUBLIC
    if follow not in (None, ""):
        try:
            follow = int(follow)
        except (TypeError, ValueError):
            problems.append(_problem("follow", "public.bad_follow",
                                     N_("%(value)r is not a case number"),
                                     {"value": shown(follow)}))
        if problems:
            raise InputError(problems)
        return _follow(db, settings, follow, values, _prepared(photos), channel, actor)
    position = _position(fields, problems)
    if problems:  # before the database: a report with bad fields costs nothing there
        with db.transaction() as tx:
            _check_category(tx, fields.get("category"), problems)
        raise InputError(problems)
    before = _prepared(photos)
    lon, lat, crs = position
    (x,), (y,) = crs_mod.to_storage([lon], [lat], _STORAGE[crs])
    with db.transaction() as tx:
        category = _check_category(tx, fields.get("category"), problems)
        if problems:
            raise InputError(problems)
        issue_id, method = records.create_checked(
            tx, settings, {"category": category, "source": "citizen",
                           "reported_at": dt.datetime.now(DISTRICT_TZ),
                           "description": values["description"] or "",
                           "address": values["address"] or "",
                           "raw_x": lon, "raw_y": lat, "lon": float(x), "lat": float(y)},
            _Source("form", CRSES[crs]), actor=actor, photos=before,
            history={"channel": channel, "contact": _contact_given(values)},
            audit_action="public.report")
        if method == "none":
            raise InputError(Problem("public.outside", N_(
                "the place lies outside the district's grids: check the position on the map")))
        code = _new_report(tx, issue_id, False, values, channel)
        case_photos.store(settings.data_dir, before)
    return Receipt(issue_id, code, False)


def _contact_given(values):
    """Which contact fields were given (the log says so without copying them)."""
    return [k for k in ("name", "phone", "email") if values.get(k)]


def _new_report(tx, issue_id, follows, values, channel):
    """Insert the citizen's row with a fresh tracking code; return the code."""
    while True:  # 60 random bits: a collision is all but impossible, but cheap to retry
        code = new_code()
        if tx.fetchval("INSERT INTO citizen_reports (code, issue_id, follows, channel, name,"
                       " phone, email) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                       " ON CONFLICT (code) DO NOTHING RETURNING id",
                       (code, issue_id, follows, channel, values.get("name"),
                        values.get("phone"), values.get("email"))):
            return code


def _follow(db, settings, issue_id, values, before, channel, actor):
    with db.transaction() as tx:
        status = tx.fetchval("SELECT status FROM issues WHERE id = %s FOR UPDATE", (issue_id,))
        if status is None or status in CLOSED:
            raise InputError(_problem("follow", "public.follow_closed",
                                      N_("case %(id)s is not open any more; report the "
                                         "problem as a new one"), {"id": issue_id}))
        code = _new_report(tx, issue_id, True, values, channel)
        data = {"channel": channel}
        if before:
            data["photos"] = case_photos.entries(before, "before")
        tx.execute("INSERT INTO issue_history (issue_id, actor, action, from_status, to_status,"
                   " note, data) VALUES (%s, %s, 'followed', %s, %s, %s, %s::jsonb)",
                   (issue_id, audit.login_of(actor), status, status, values["description"],
                    json.dumps(data, ensure_ascii=False)))
        audit.record(tx, actor, "public.follow", "issue", issue_id, None,
                     {**data, "contact": _contact_given(values)})
        case_photos.store(settings.data_dir, before)
    return Receipt(issue_id, code, True)


# --- the duplicate suggestion ---------------------------------------------------------------

_NEARBY_SQL = f"""
WITH p AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4490) AS g)
SELECT i.id, i.category, left(coalesce(i.description, ''), 80) AS description,
       i.address, i.reported_at, i.status,
       ST_Distance(i.geom::geography, p.g::geography) AS distance_m
FROM issues i, p
WHERE i.category = %(category)s AND {open_sql('i.status')}
  AND i.reported_at >= %(since)s AND i.reported_at <= %(now)s
  AND i.geom && ST_Expand(p.g, %(degrees)s)
  AND ST_DWithin(i.geom::geography, p.g::geography, %(metres)s)
ORDER BY distance_m, i.id LIMIT 10
"""


def nearby(db, category, lon, lat, crs="wgs84", now=None):
    """Open cases (not closed or void) of ``category`` within :data:`NEARBY_METRES` of
    the point, reported in the last :data:`NEARBY_DAYS` days before ``now``, nearest
    first: dicts with ``id``, ``category``, ``description`` (its first 80 characters),
    ``address``, ``status``, ``distance_m`` (on the ellipsoid) and ``reported_at``.
    A bad position or category gives ``[]``: the suggestion is a help, not a check."""
    crs = str(crs or "wgs84").lower()
    try:
        lon, lat = float(lon), float(lat)
    except (TypeError, ValueError):
        return []
    if crs not in CRSES or not (-180 <= lon <= 180 and -90 <= lat <= 90):
        return []
    x, y = crs_mod.to_storage([lon], [lat], CRSES[crs] if crs == "gcj02" else None)
    now = now or dt.datetime.now(dt.timezone.utc)
    with db.transaction() as tx:
        return tx.fetchdicts(_NEARBY_SQL, {
            "lon": float(x[0]), "lat": float(y[0]), "category": str(category or ""),
            "since": now - dt.timedelta(days=NEARBY_DAYS), "now": now,
            # A box safely wider than the radius up to 70° of latitude, for the index.
            "degrees": NEARBY_METRES / 111_000 * 3, "metres": NEARBY_METRES})


# --- status by tracking code ------------------------------------------------------------------

def _report(tx, code, lock=False):
    code = normalise_code(code)
    if code is None:
        return None
    rows = tx.fetchdicts(
        "SELECT r.id AS report_id, r.code, r.issue_id, r.follows, r.satisfied, r.rated_at,"
        " r.created_at, i.status, i.reported_at, i.closed_at, i.category,"
        " c.name_zh AS category_zh, c.name_en AS category_en"
        " FROM citizen_reports r JOIN issues i ON i.id = r.issue_id"
        " JOIN categories c ON c.code = i.category WHERE r.code = %s"
        + (" FOR UPDATE OF r, i" if lock else ""), (code,))
    return rows[0] if rows else None


def _may_rate(row):
    return row["status"] == "closed" and (row["rated_at"] is None
                                          or row["rated_at"] < row["closed_at"])


def status(db, code):
    """The public view of the case behind tracking code ``code``, or ``None``.

    A dict: ``code``, ``issue_id``, ``status``, ``stage`` (:data:`STAGES`), ``category``, ``category_zh``,
    ``category_en``, ``reported_at``, ``closed_at``, ``reply`` and ``reply_at`` (the
    latest public reply), ``replies`` (all of them, oldest first: ``note``, ``at``),
    ``after_photos`` (names), ``timeline`` (``action``, ``at`` of the public milestones
    :data:`MILESTONES`), ``follows``, ``satisfied`` and ``rated_at`` (this citizen's
    latest answer) and ``may_rate``. No actor, no internal note, no contact."""
    with db.transaction() as tx:
        row = _report(tx, code)
        if row is None:
            return None
        history = tx.fetchdicts(
            "SELECT action, at, note, data FROM issue_history WHERE issue_id = %s"
            " ORDER BY at, id", (row["issue_id"],))
    replies = [{"note": h["note"], "at": h["at"]} for h in history
               if h["action"] == "reply" and (h["data"] or {}).get("public") is True]
    out = {k: row[k] for k in ("code", "issue_id", "status", "category", "category_zh",
                               "category_en", "reported_at", "closed_at", "follows",
                               "satisfied", "rated_at")}
    out.update(stage=STAGES[row["status"]], replies=replies, reply=replies[-1]["note"] if replies else None,
               reply_at=replies[-1]["at"] if replies else None,
               after_photos=case_photos.of_history(history)["after"],
               timeline=[{"action": h["action"], "at": h["at"]} for h in history
                         if h["action"] in MILESTONES],
               may_rate=_may_rate(row))
    return out


def photo_file(db, data_dir, code, name, thumb=False):
    """The file of an "after" photo of the case behind ``code`` (the only photos the
    public page shows); :class:`~geo.errors.NotFound` otherwise."""
    found = status(db, code)
    if found is None or name not in found["after_photos"]:
        raise NotFound(N_("no photo %(name)r"), {"name": shown(name)}, code="photos.not_found")
    return photos_mod.photo_path(data_dir, name, thumb=thumb, kind="cases")


# --- satisfaction -----------------------------------------------------------------------------

def rate(db, code, satisfied, note="", actor=None):
    """The citizen's answer to "are you satisfied?" for the closed case behind ``code``,
    once per closing. Not satisfied needs a note (what is still wrong) and asks the
    command centre to reopen the case: a pending ``reopen`` request (one per case; a
    second unsatisfied citizen joins the pending one). Returns ``{"satisfied",
    "request_id"}``; raises :class:`~geo.errors.InputError` (unknown code, a case not
    closed or already rated, a bad note) with nothing stored."""
    problems = []
    satisfied = bool(satisfied)
    note = clean_text("note", note, problems, required=not satisfied)
    if problems:
        raise InputError(problems)
    actor = actor or PUBLIC
    with db.transaction() as tx:
        row = _report(tx, code, lock=True)
        if row is None:
            raise NotFound(N_("no report with the tracking code %(code)r"),
                           {"code": shown(code)}, code="public.unknown_code")
        if not _may_rate(row):
            raise InputError(Problem("public.not_ratable", N_(
                "the case can be rated once it is closed, once each time it is closed")))
        now = tx.fetchval("SELECT now()")
        tx.execute("UPDATE citizen_reports SET satisfied = %s, rated_at = %s, rating_note = %s"
                   " WHERE id = %s", (satisfied, now, note, row["report_id"]))
        request_id = None
        if not satisfied:
            request_id = tx.fetchval(
                "INSERT INTO case_requests (issue_id, kind, reason, requested_by, requested_at)"
                " VALUES (%s, 'reopen', %s, %s, %s)"
                " ON CONFLICT (issue_id, kind) WHERE status = 'pending' DO NOTHING"
                " RETURNING id", (row["issue_id"], note, audit.login_of(actor), now))
            if request_id is None:
                request_id = tx.fetchval(
                    "SELECT id FROM case_requests WHERE issue_id = %s AND kind = 'reopen'"
                    " AND status = 'pending'", (row["issue_id"],))
        data = {"satisfied": satisfied, "report_id": row["report_id"]}
        if request_id is not None:
            data["request_id"] = request_id
        tx.execute("INSERT INTO issue_history (issue_id, at, actor, action, from_status,"
                   " to_status, note, data) VALUES (%s, %s, %s, 'rated', %s, %s, %s, %s::jsonb)",
                   (row["issue_id"], now, audit.login_of(actor), row["status"], row["status"],
                    note, json.dumps(data)))
        audit.record(tx, actor, "public.rate", "issue", row["issue_id"],
                     {"satisfied": row["satisfied"]}, {**data, "note": note})
    return {"satisfied": satisfied, "request_id": request_id}


def reporters(db, issue_id):
    """The citizens behind case ``issue_id`` (for the command centre and admins only):
    dicts with ``code``, ``follows``, ``channel``, ``name``, ``phone``, ``email``,
    ``created_at``, ``satisfied``, ``rated_at``, ``rating_note``, oldest first."""
    with db.transaction() as tx:
        return tx.fetchdicts(
            "SELECT code, follows, channel, name, phone, email, created_at, satisfied,"
            " rated_at, rating_note FROM citizen_reports WHERE issue_id = %s ORDER BY id",
            (int(issue_id),))
