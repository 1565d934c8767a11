"""The archive of daily bulletins (日通报) made every day at a configured time.

At the configured time ``HH:MM`` of day T (district clock) the bulletin of the day before,
T − 1, is made: its workbook and its PDF are stored in ``bulletin_archive`` (one row per
day, append-only) and downloaded from there unchanged ever after.

Exactly one bulletin per day, whichever process makes it: :func:`make` takes a
transaction-level advisory lock for the day (another process asking for the same day
meanwhile gets ``"busy"`` and renders nothing), looks whether the day is archived
(``"exists"``), and only then renders and inserts it with its audit entry
(``bulletins.archive``) in the same transaction. The day's primary key backs this up.
A process that dies mid-way holds no lock and leaves no row, so the next run makes it.

Missed runs are caught up (:func:`due_days`): every day after the last archived one,
at most :data:`CATCH_UP_DAYS` back, whose time has passed; with nothing archived yet,
only the latest due day (turning the schedule on does not back-fill history).

>>> import datetime as dt
>>> due_days(dt.datetime(2026, 11, 30, 9, 0), dt.time(8, 0), dt.date(2026, 11, 27))
[datetime.date(2026, 11, 28), datetime.date(2026, 11, 29)]
>>> due_days(dt.datetime(2026, 11, 30, 7, 59), dt.time(8, 0), None)
[datetime.date(2026, 11, 28)]
"""

import datetime as dt

from geo.errors import N_, NotFound
from geo.people import audit

#: How many days back a missed run is caught up at most.
CATCH_UP_DAYS = 7
#: The advisory lock's first key (``"bu"``); the second is the day's ordinal.
LOCK_KEY = 0x6275
KINDS = ("xlsx", "pdf")


def latest_due(now, at):
    """The latest day whose bulletin is due at ``now`` (a naive or aware datetime on
    the district clock) when bulletins are made at ``at`` (a time) the day after."""
    today = now.date()
    return today - dt.timedelta(days=1 if now.time().replace(tzinfo=None) >= at else 2)


def due_days(now, at, last_archived, catch_up=CATCH_UP_DAYS):
    """The days to make now, oldest first (see the module)."""
    latest = latest_due(now, at)
    if last_archived is None:
        return [latest]
    first = max(last_archived + dt.timedelta(days=1), latest - dt.timedelta(days=catch_up - 1))
    return [first + dt.timedelta(days=n) for n in range((latest - first).days + 1)]


def last_archived(db):
    with db.transaction() as tx:
        return tx.fetchval("SELECT max(day) FROM bulletin_archive")


def make(db, day, render, actor):
    """Archive the bulletin of ``day`` unless it is (or is being) archived.

    ``render(day)`` returns ``(xlsx_bytes, pdf_bytes)``; it is called only by the one
    caller that holds the day. Returns ``"made"``, ``"exists"`` or ``"busy"``."""
    with db.transaction() as tx:
        if not tx.fetchval("SELECT pg_try_advisory_xact_lock(%s, %s)",
                           (LOCK_KEY, day.toordinal())):
            return "busy"
        if tx.fetchval("SELECT EXISTS (SELECT 1 FROM bulletin_archive WHERE day = %s)", (day,)):
            return "exists"
        xlsx, pdf = render(day)
        login = audit.login_of(actor)
        tx.execute("INSERT INTO bulletin_archive (day, made_by, xlsx, pdf)"
                   " VALUES (%s, coalesce(%s, current_user), %s, %s)",
                   (day, login, bytes(xlsx), bytes(pdf)))
        audit.record(tx, actor, "bulletins.archive", "daily_bulletin", day.isoformat(), None,
                     {"day": day, "xlsx_bytes": len(xlsx), "pdf_bytes": len(pdf)})
        return "made"


def run_due(db, now, at, render, actor):
    """Make every bulletin due at ``now`` (:func:`due_days`): ``{day: outcome}``."""
    return {day: make(db, day, render, actor)
            for day in due_days(now, at, last_archived(db))}


def listing(db):
    """The archived bulletins, newest first: dicts with day, made_at, made_by and the
    sizes of the two files."""
    with db.transaction() as tx:
        return tx.fetchdicts("SELECT day, made_at, made_by, octet_length(xlsx) AS xlsx_bytes,"
                             " octet_length(pdf) AS pdf_bytes FROM bulletin_archive"
                             " ORDER BY day DESC")


def get(db, day, kind):
    """The stored file (``kind``: ``xlsx`` or ``pdf``) of the bulletin of ``day``."""
    assert kind in KINDS
    with db.transaction() as tx:
        data = tx.fetchval(f"SELECT {kind} FROM bulletin_archive WHERE day = %s", (day,))
    if data is None:
        raise NotFound(N_("no archived bulletin of %(day)s"), {"day": day.isoformat()},
                       code="bulletins.not_archived")
    return bytes(data)
