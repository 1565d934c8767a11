"""Open311 GeoReport v2: the district's categories and cases as services and requests.

The mapping (README, *Open311*): a service is a category the public may report
(``service_code`` its 5-digit code, ``service_name`` its Chinese name, ``group`` its group); a request is an issue,
``open`` while it is not closed or void (:mod:`geo.issues.statuses`), ``closed`` after;
``status_notes`` is the latest public reply (a ``reply`` step, ``data.public``);
``agency_responsible`` the department the case was dispatched to; ``expected_datetime``
its deadline; ``media_url`` its latest "after" photo, served by the Open311 routes.
Times are on the district's clock, written with their ``+08:00`` offset.

This module knows nothing of HTTP or of XML: it reads and checks parameters (raising
:class:`~geo.errors.InputError` naming the parameter, :class:`~geo.errors.NotFound`
for an unknown service or request) and returns plain records in the specification's
field order. Nothing here ever reads a reporter's name, phone or e-mail, or a note
that is not a public reply.

>>> w3(parse_datetime("start_date", "2026-11-01T08:00:00Z"))
'2026-11-01T16:00:00+08:00'
"""

import dataclasses
import datetime as dt
import re

from geo.cases import photos as case_photos
from geo.errors import N_, InputError, NotFound, Problem, shown
from geo.issues import catalogue
from geo.issues.query import DISTRICT_TZ
from geo.issues.statuses import closed_sql
from geo.params import known_only

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
#: When this endpoint's behaviour last changed (discovery's ``changeset``).
CHANGESET = dt.datetime(2026, 11, 30, tzinfo=DISTRICT_TZ)
#: The formats every resource is offered in, and their content types.
FORMATS = {"xml": "text/xml", "json": "application/json"}
#: The default window of GET requests, and the longest a query may span.
WINDOW = dt.timedelta(days=90)
#: At most this many requests in one answer (the specification's default limit).
MAX_REQUESTS = 1000
#: Parameters GET requests takes (``api_key`` too: clients send it everywhere).
QUERY_PARAMS = ("jurisdiction_id", "api_key", "service_request_id", "service_code",
                "start_date", "end_date", "status")
# The W3C profile of ISO 8601 the specification uses: a date, or a date and time with
# minutes (seconds and fractions optional) and a zone.
_W3_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_W3_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
                      r"(Z|[+-][0-9]{2}:[0-9]{2})")
_LIMIT_UNITS = {"hours": "%(n)s小时", "working_days": "%(n)s个工作日"}


def w3(value):
    """``value`` (an aware datetime) as the specification writes it: seconds, +08:00.

    >>> w3(dt.datetime(2026, 11, 1, 0, 30, tzinfo=dt.timezone.utc))
    '2026-11-01T08:30:00+08:00'
    >>> w3(None) is None
    True
    """
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        raise TypeError("w3() takes a datetime")
    return value.astimezone(DISTRICT_TZ).replace(microsecond=0).isoformat()


def parse_datetime(name, value):
    """Parameter ``name``'s W3C date-time (a zone is required; a bare date is midnight
    on the district's clock); :class:`InputError` naming it otherwise.

    >>> parse_datetime("end_date", "2026-11-30").isoformat()
    '2026-11-30T00:00:00+08:00'
    >>> parse_datetime("end_date", "2026-11-30T10:00")
    Traceback (most recent call last):
    ...
    geo.errors.InputError: parameter 'end_date': '2026-11-30T10:00' is not a W3C date-time with a time zone (e.g. 2026-11-01T00:00:00+08:00)
    """
    text = value.strip()
    try:
        if _W3_DATE.fullmatch(text):
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(),
                                       tzinfo=DISTRICT_TZ)
        if _W3_TIME.fullmatch(text):
            return dt.datetime.fromisoformat(text).astimezone(DISTRICT_TZ)
    except ValueError:  # 2026-02-30, 25:00
        pass
    raise InputError(Problem(
        "open311.bad_date",
        N_("parameter %(name)r: %(value)r is not a W3C date-time with a time zone "
           "(e.g. 2026-11-01T00:00:00+08:00)"), {"name": name, "value": shown(value)}))


def _one(args, name):
    """The parameter's value, ``None`` when absent or empty (the specification treats
    an empty optional parameter as one not sent)."""
    values = args.getlist(name) if hasattr(args, "getlist") else [args.get(name)]
    values = [v for v in values if v not in (None, "")]
    if len(values) > 1:
        raise InputError(Problem("parameter.repeated",
                                 N_("parameter %(name)r is given more than once"),
                                 {"name": name}))
    return values[0] if values else None


def _listed(value):
    """A comma-delimited parameter's items (blank items dropped)."""
    return [item.strip() for item in value.split(",") if item.strip()]


# -- the jurisdiction ------------------------------------------------------------------

def jurisdiction(tx):
    """The district code: the first six digits (the administrative division code) of the
    stored district boundary's code, else of the active grids' codes; ``None`` when
    neither is stored yet."""
    code = tx.fetchval("SELECT code FROM districts ORDER BY loaded_at DESC, code LIMIT 1")
    if code is None:
        code = tx.fetchval("SELECT g.code FROM grids g JOIN grid_versions v"
                           " ON v.id = g.version_id AND v.status = 'active' LIMIT 1")
    return code[:6] if code else None


def check_jurisdiction(tx, value):
    """Accept a missing ``jurisdiction_id`` (this endpoint serves one district) or the
    district's code (six digits, or the stored code in full); :class:`NotFound` else."""
    if value in (None, ""):
        return
    ours = jurisdiction(tx)
    full = tx.fetchval("SELECT code FROM districts ORDER BY loaded_at DESC, code LIMIT 1")
    if value not in {ours, full} - {None}:
        raise NotFound(N_("jurisdiction_id %(value)r was not found; this server serves "
                          "%(ours)s"), {"value": shown(value), "ours": ours or "-"},
                       code="open311.no_jurisdiction")


# -- services ----------------------------------------------------------------------------

def _service(row):
    limit = ("按计划" if row["limit_unit"] == "plan" or row["limit_value"] is None
             else _LIMIT_UNITS[row["limit_unit"]] % {"n": row["limit_value"]})
    hint = row["hint_zh"] or row["name_zh"]
    return {
        "service_code": row["code"],
        "service_name": row["name_zh"],
        "description": f"{hint}（处理时限：{limit}）",
        "metadata": False,
        "type": "batch",
        "keywords": ", ".join([row["name_en"], row["group_zh"], row["group_en"]]),
        "group": row["group_zh"],
    }


def _public_services(tx):
    """The categories the public may report (:mod:`geo.issues.catalogue`), with limits."""
    codes = [c["code"] for c in catalogue.public_categories(tx)]
    return tx.fetchdicts(
        "SELECT code, name_zh, name_en, group_zh, group_en, hint_zh, limit_value, limit_unit"
        " FROM categories WHERE code = ANY(%s) ORDER BY code", (codes,))


def services(db, jurisdiction_id=None):
    """The services: the categories the public may report, by code (a request may be
    posted for these; cases of every category are requests all the same)."""
    with db.transaction() as tx:
        check_jurisdiction(tx, jurisdiction_id)
        return [_service(r) for r in _public_services(tx)]


def _known_code(tx, code, service=False):
    """``code`` if it is a category (``service``: one the public may report)."""
    if not code:
        raise InputError(Problem("open311.no_service_code",
                                 N_("service_code is required (one of GET services' codes)")))
    if service:
        known = code in {c["code"] for c in catalogue.public_categories(tx)}
    else:
        known = tx.fetchval("SELECT EXISTS (SELECT 1 FROM categories WHERE code = %s)",
                            (code,))
    if not known:
        raise NotFound(N_("service_code %(code)r was not found (GET services lists the codes)"),
                       {"code": shown(code)}, code="open311.no_service")
    return code


def service_definition(db, code, jurisdiction_id=None):
    """A service's definition: its code and its attributes (none: civgrid's categories
    ask for nothing beyond the request's own fields, so every ``metadata`` is false)."""
    with db.transaction() as tx:
        check_jurisdiction(tx, jurisdiction_id)
        return {"service_code": _known_code(tx, code, service=True), "attributes": []}


# -- requests ----------------------------------------------------------------------------

@dataclasses.dataclass
class RequestQuery:
    """What GET requests asks for: ids (which override everything else), or codes,
    statuses and a window of requested times."""

    ids: list = dataclasses.field(default_factory=list)
    codes: list = dataclasses.field(default_factory=list)
    statuses: list = dataclasses.field(default_factory=list)
    start: dt.datetime | None = None
    end: dt.datetime | None = None

    @classmethod
    def parse(cls, args, now):
        """The query of request parameters ``args`` at time ``now`` (see the README for
        the defaults: the 90 days up to ``end_date``, or from ``start_date``, or up to now)."""
        known_only(args, QUERY_PARAMS)
        query = cls()
        ids = _one(args, "service_request_id")
        if ids is not None:
            for item in _listed(ids):
                if not item.isdigit() or len(item) > 18:
                    raise InputError(Problem(
                        "open311.bad_request_id",
                        N_("service_request_id %(value)r is not a request id (a whole number)"),
                        {"value": shown(item)}))
                query.ids.append(int(item))
            query.ids = list(dict.fromkeys(query.ids))[:MAX_REQUESTS]
            return query  # "This overrides all other arguments."
        codes = _one(args, "service_code")
        query.codes = _listed(codes) if codes is not None else []
        for code in query.codes:
            if not re.fullmatch(r"[0-9]{5}", code):
                raise InputError(Problem(
                    "open311.bad_service_code",
                    N_("service_code %(code)r is not a service code (5 digits)"),
                    {"code": shown(code)}))
        status = _one(args, "status")
        query.statuses = _listed(status) if status is not None else []
        for item in query.statuses:
            if item not in ("open", "closed"):
                raise InputError(Problem(
                    "open311.bad_status", N_("status %(value)r is not open or closed"),
                    {"value": shown(item)}))
        start, end = _one(args, "start_date"), _one(args, "end_date")
        start = parse_datetime("start_date", start) if start is not None else None
        end = parse_datetime("end_date", end) if end is not None else None
        if start is not None and end is not None:
            if end < start:
                raise InputError(Problem("open311.dates_reversed",
                                         N_("end_date is before start_date")))
            if end - start > WINDOW:
                raise InputError(Problem(
                    "open311.window_too_long",
                    N_("start_date to end_date spans more than %(days)s days"),
                    {"days": WINDOW.days}))
        elif start is not None:
            end = start + WINDOW
        else:
            end = end if end is not None else now
            start = end - WINDOW
        query.start, query.end = start, end
        return query


def _request_sql(where):
    # status_notes: the latest public reply; updated: the case's latest step after its
    # report (its recording, maybe days later, is no change; a closed case: its closing); media: the latest "after" photo of a feed-back step.
    return f"""
        SELECT i.id, i.status, i.category, c.name_zh, i.description, i.department,
               i.reported_at, i.closed_at, i.deadline, i.address,
               ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat,
               (SELECT h.note FROM issue_history h WHERE h.issue_id = i.id
                  AND h.action = 'reply' AND h.data @> '{{"public": true}}'
                ORDER BY h.at DESC, h.id DESC LIMIT 1) AS status_notes,
               (SELECT max(h.at) FROM issue_history h WHERE h.issue_id = i.id
                  AND h.action <> 'created') AS updated_at,
               (SELECT p->>'name' FROM issue_history h
                  CROSS JOIN LATERAL jsonb_array_elements(
                    CASE WHEN jsonb_typeof(h.data->'photos') = 'array'
                    THEN h.data->'photos' ELSE '[]'::jsonb END) WITH ORDINALITY AS e(p, n)
                WHERE h.issue_id = i.id AND p->>'kind' = 'after'
                ORDER BY h.at DESC, h.id DESC, e.n DESC LIMIT 1) AS after_photo
        FROM issues i JOIN categories c ON c.code = i.category
        WHERE {where}"""


def _closed(status):
    return status in ("closed", "void")


def _request(row, media_url):
    closed = _closed(row["status"])
    updated = row["updated_at"] or row["reported_at"]
    if closed and row["closed_at"] is not None:
        updated = row["closed_at"]
    photo = row["after_photo"]
    return {
        "service_request_id": row["id"],
        "status": "closed" if closed else "open",
        "status_notes": row["status_notes"],
        "service_name": row["name_zh"],
        "service_code": row["category"],
        "description": row["description"],
        "agency_responsible": row["department"],
        "service_notice": None,
        "requested_datetime": w3(row["reported_at"]),
        "updated_datetime": w3(max(updated, row["reported_at"])),
        "expected_datetime": w3(row["deadline"]),
        "address": row["address"],
        "address_id": None,
        "zipcode": None,
        "lat": round(row["lat"], 7),
        "long": round(row["lon"], 7),
        "media_url": media_url(row["id"], photo) if photo and media_url else None,
    }


def find_requests(db, query, media_url=None, jurisdiction_id=None):
    """The requests ``query`` (a :class:`RequestQuery`) selects, newest first, at most
    :data:`MAX_REQUESTS`. ``media_url(issue_id, photo_name)`` makes a photo's URL."""
    params = {"limit": MAX_REQUESTS}
    if query.ids:
        where, params["ids"] = "i.id = ANY(%(ids)s)", query.ids
    else:
        parts = ["i.reported_at >= %(start)s", "i.reported_at <= %(end)s"]
        params.update(start=query.start, end=query.end)
        if query.codes:
            parts.append("i.category = ANY(%(codes)s)")
            params["codes"] = query.codes
        if set(query.statuses) == {"open"}:
            parts.append(f"NOT ({closed_sql('i.status')})")
        elif set(query.statuses) == {"closed"}:
            parts.append(closed_sql("i.status"))
        where = " AND ".join(parts)
    with db.transaction() as tx:
        check_jurisdiction(tx, jurisdiction_id)
        if query.codes:
            known = {r[0] for r in tx.fetchall("SELECT code FROM categories WHERE code = ANY(%s)",
                                               (query.codes,))}
            for code in query.codes:
                if code not in known:
                    _known_code(tx, code)
        rows = tx.fetchdicts(_request_sql(where) + " ORDER BY i.reported_at DESC, i.id DESC"
                             " LIMIT %(limit)s", params)
    return [_request(r, media_url) for r in rows]


def get_request(db, issue_id, media_url=None, jurisdiction_id=None):
    """One request by its ``service_request_id``; :class:`NotFound` when there is none."""
    with db.transaction() as tx:
        check_jurisdiction(tx, jurisdiction_id)
        rows = tx.fetchdicts(_request_sql("i.id = %(id)s"), {"id": int(issue_id)})
    if not rows:
        raise NotFound(N_("service_request_id %(id)s was not found"), {"id": issue_id},
                       code="open311.no_request")
    return _request(rows[0], media_url)


def public_photo(db, data_dir, issue_id, name, thumb=False):
    """The file of an "after" photo of request ``issue_id`` (the only photos Open311
    shows); :class:`NotFound` for any other name."""
    if not (isinstance(name, str) and case_photos.photos.is_stored_name(name)):
        raise NotFound(N_("no photo %(name)r"), {"name": shown(name)}, code="photos.not_found")
    with db.transaction() as tx:
        found = tx.fetchval(
            "SELECT EXISTS (SELECT 1 FROM issue_history h CROSS JOIN LATERAL"
            " jsonb_array_elements(CASE WHEN jsonb_typeof(h.data->'photos') = 'array'"
            " THEN h.data->'photos' ELSE '[]'::jsonb END) p WHERE h.issue_id = %s"
            " AND p->>'kind' = 'after' AND p->>'name' = %s)", (int(issue_id), name))
    if not found:
        raise NotFound(N_("no photo %(name)r"), {"name": shown(name)}, code="photos.not_found")
    return case_photos.photos.photo_path(data_dir, name, thumb=thumb, kind="cases")


# -- POST requests -----------------------------------------------------------------------

#: The POST parameters a request may carry (others are refused, naming them).
POST_PARAMS = ("api_key", "jurisdiction_id", "service_code", "lat", "long", "address_string",
               "address_id", "email", "device_id", "account_id", "first_name", "last_name",
               "phone", "description", "media_url")
_ATTRIBUTE = re.compile(r"attribute\[([^\]]*)\](\[\])?")


def _text(form, name):
    value = _one(form, name)
    return value.strip() or None if value is not None else None


def _coordinate(form, name, lo, hi, problems):
    value = _one(form, name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        number = None
    if number is None or not lo <= number <= hi:
        problems.append(Problem(
            "open311.bad_coordinate",
            N_("%(name)s %(value)r is not a WGS84 coordinate between %(lo)s and %(hi)s"),
            {"name": name, "value": shown(value), "lo": lo, "hi": hi}))
        return None
    return number


def submission(db, form):
    """Check a POST's parameters (``form``: a mapping with ``getlist``) and return the
    fields of :func:`geo.public.reports.submit`, which checks the texts (length, markup,
    the phone and e-mail) as it does a citizen's; :class:`InputError` listing every
    problem, :class:`NotFound` for an unknown service or jurisdiction.

    ``device_id`` and ``account_id`` are taken and not kept."""
    problems = []
    for name in form:
        match = _ATTRIBUTE.fullmatch(name)
        if match:
            problems.append(Problem(
                "open311.unknown_attribute",
                N_("attribute[%(code)s]: this service defines no attribute %(code)s "
                   "(its definition lists none)"), {"code": shown(match.group(1))}))
        elif name not in POST_PARAMS:
            problems.append(Problem("parameter.unknown",
                                    N_("parameter %(name)r is not understood here; use %(allowed)s"),
                                    {"name": shown(name), "allowed": ", ".join(POST_PARAMS)}))
    with db.transaction() as tx:
        check_jurisdiction(tx, _one(form, "jurisdiction_id"))
        code = _known_code(tx, _one(form, "service_code"), service=True)
    lat = _coordinate(form, "lat", -90, 90, problems)
    lon = _coordinate(form, "long", -180, 180, problems)
    address = _text(form, "address_string")
    if (lat is None) != (lon is None) and not problems:
        problems.append(Problem("open311.half_location",
                                N_("lat and long must be sent together")))
    elif lat is None and lon is None and not problems:
        problems.append(Problem(
            "open311.no_location",
            N_("lat and long are required: this server places a request on its grid by "
               "its coordinates and looks up no address (address_string alone or "
               "address_id cannot be located)")))
    if _one(form, "media_url") is not None:
        problems.append(Problem(
            "open311.media_url",
            N_("media_url is not accepted: this server fetches nothing from other sites; "
               "send the photo itself as the multipart file field media")))
    first, last = _text(form, "first_name"), _text(form, "last_name")
    if problems:
        raise InputError(problems)
    # Chinese names are written family name first, without a space.
    name = "".join(p for p in (last, first) if p) if any(
        "\u4e00" <= ch <= "\u9fff" for ch in (last or "") + (first or "")) \
        else " ".join(p for p in (first, last) if p)
    return {"category": code, "description": _text(form, "description"), "lon": lon,
            "lat": lat, "crs": "wgs84", "address": address, "name": name or None,
            "phone": _text(form, "phone"), "email": _text(form, "email")}


def token_request(db, token, jurisdiction_id=None):
    """``{service_request_id, token}`` of a tracking code; :class:`NotFound` for any other."""
    from geo.public import reports

    with db.transaction() as tx:
        check_jurisdiction(tx, jurisdiction_id)
    found = reports.status(db, token) if len(token) <= 64 else None
    if not found:
        raise NotFound(N_("token %(token)r was not found"), {"token": shown(token)},
                       code="open311.no_token")
    return {"service_request_id": found["issue_id"], "token": found["code"]}
