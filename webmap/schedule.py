"""The server's schedule: the daily bulletin made and archived at ``CIVGRID_BULLETIN_AT``.

One server process runs an APScheduler background scheduler with one cron job at the
configured time (district clock) and one run at start-up, which catches up what was missed
while no server ran (:mod:`geo.cases.archive`). Nothing about the schedule is kept in
APScheduler's own store: the schedule is configuration and what has been made is the
archive table, so a restart rebuilds the one and reads the other.

Which process: ``civgrid serve`` starts the schedule in each worker as it starts (never in
gunicorn's master, whose threads and connections must not cross a fork), and the first
worker to take the lock file ``<data dir>/run/bulletin-scheduler.lock`` runs it; the lock
goes with that process, so the worker the master starts in place of a dead one takes it
over. Should two processes ever both run it (another WSGI server, two servers on one
database), the archive's lock and key still let one make each day.
"""

import datetime as dt
import fcntl
import io
import logging
import os
import threading

from geo.cases import archive
from geo.issues.query import DISTRICT_TZ
from geo.people.audit import Actor

log = logging.getLogger(__name__)
ACTOR = Actor("scheduler")
#: The district's language, that of the archived files.
LANGUAGE = "zh"
_started = {}  # pid → scheduler: one per process, also after a fork
_lock = threading.Lock()


def render(app, day):
    """``(xlsx, pdf)`` of the bulletin of ``day``, in :data:`LANGUAGE`."""
    from flask_babel import gettext

    from geo.cases import bulletin
    from webmap.db import get_db
    from webmap.views import bulletins

    with app.test_request_context(f"/?lang={LANGUAGE}"):
        db = get_db()
        b = bulletin.daily(db, day)
        xlsx = io.BytesIO()
        bulletin.write_xlsx(bulletin.bulletin_sheets(b), xlsx, gettext, False)
        pdf = bulletins.pdf_bytes(bulletins.print_html(db, b))
    return xlsx.getvalue(), pdf


def run(app, now=None):
    """Make every bulletin due now; a failure is logged, and tried again next time."""
    from webmap.db import get_db

    at = app.config["CIVGRID_SETTINGS"].bulletin_at
    now = now or dt.datetime.now(DISTRICT_TZ)
    try:
        with app.app_context():
            done = archive.run_due(get_db(), now, at, lambda day: render(app, day), ACTOR)
        for day, outcome in done.items():
            log.info("daily bulletin %s: %s", day.isoformat(), outcome)
        return done
    except Exception:  # a scheduler thread has no one else to tell
        log.exception("the daily bulletin could not be made")
        return None


def start(app):
    """Start the schedule in this process if ``CIVGRID_BULLETIN_AT`` is set and no other
    process runs it (its lock file); once per process. Returns the scheduler, or ``None``
    when off or run elsewhere."""
    settings = app.config["CIVGRID_SETTINGS"]
    at = settings.bulletin_at
    if at is None:
        return None
    with _lock:
        if os.getpid() in _started:
            return _started[os.getpid()]
        if not _take_lock(settings.data_dir):
            _started[os.getpid()] = None
            return None
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.cron import CronTrigger

        scheduler = BackgroundScheduler(
            timezone=DISTRICT_TZ,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600})
        scheduler.add_job(run, CronTrigger(hour=at.hour, minute=at.minute, timezone=DISTRICT_TZ),
                          args=[app], id="daily-bulletin")
        scheduler.add_job(run, args=[app], id="daily-bulletin-catch-up")  # now
        scheduler.start()
        _started[os.getpid()] = scheduler
        return scheduler


_held = {}  # lock file → (pid, open file) this process holds


def _take_lock(data_dir):
    """Whether this process holds (or now takes) the schedule's lock file under
    ``data_dir``. The lock lasts as long as the process: the kernel lets it go with it."""
    path = os.path.join(str(data_dir), "run", "bulletin-scheduler.lock")
    held = _held.get(path)
    if held is not None and held[0] == os.getpid():
        return True
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handle = open(path, "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return False
    _held[path] = (os.getpid(), handle)
    return True


def init_app(app):
    """Start the schedule with the first request of a process too, for WSGI servers other
    than ``civgrid serve`` that build the app before forking their workers (a thread does
    not survive a fork); the lock file keeps it to one of them."""
    if app.config["CIVGRID_SETTINGS"].bulletin_at is None:
        return

    @app.before_request
    def _schedule():
        if os.getpid() not in _started:
            start(app)
