"""Benchmark: new citizen reports while the command centre reads its pages.

The demo grids with ``--issues`` issues (resampled from the demo's, as bench_pages.py
does) are served by ``civgrid serve`` itself, in its own process, as in production (the
web server it runs — waitress or gunicorn — is printed). Then, for ``--seconds``:

* reports arrive at ``--rate`` per second (default 20) on an open-loop schedule — the
  n-th is sent at start + n/rate whether or not the earlier ones were answered, so a slow
  server meets a growing queue, as it would with real citizens — alternating between
  the citizen page's form (``POST /citizen/``, with its CSRF token) and Open311
  (``POST /open311/v2/requests.json`` with an API key); each at a random point inside a
  random grid, a random public category, a short description;
* ``--readers`` command-centre clients (logged in) read the overview ``/`` and the
  issue list ``/issues`` in turn.

Two runs, with the same reports:

* *saturating*: each reader asks for its next page as soon as the last arrived. The
  readers then take every cycle the reports leave (60–90 pages/s here, more than a whole
  district's morning peak), so this run measures how the server shares two busy cores.
* *paced* (``--read-rate``, default 10 pages/s in all: ten command-centre desks each
  opening a page every second): each reader reads on a fixed schedule, a read counting
  from when it was due. The target is judged on this run; ``--read-rate 0`` skips it and
  judges the saturating one.

A report's latency runs from its scheduled time to its answer (waiting for a free
sender counts: no coordinated omission); printed per endpoint as p50/p95/p99, with the
page reads' latencies beside. Target: report p99 ≤ 100 ms at 20 reports/s. The rate
limits of the public routes are lifted for the run (they would refuse one address
sending 20 reports a second).

Usage: ``python scripts/bench/bench_public.py [--issues 100000] [--seconds 30]``.
"""

import argparse
import concurrent.futures as cf
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO), str(HERE)]

import numpy as np  # noqa: E402
import requests  # noqa: E402

from bench_import import server  # noqa: E402
from bench_pages import demo_district, make_issues  # noqa: E402
from geo.people import tokens, users  # noqa: E402
from geo.store import db as geo_db  # noqa: E402

LOGIN, PASSWORD = "bench", "bench-password-1"
WORDS = ("路边", "垃圾", "堆放", "小广告", "井盖", "破损", "占道", "经营", "积水", "噪音",
         "树枝", "倒伏", "车辆", "乱停", "墙面", "涂鸦")
PAGES = ("/", "/issues")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(settings, workdir):
    """``civgrid serve`` of this checkout in a child process; ``(process, base URL, the
    web server it runs: its Server header)`` once it answers."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "CIVGRID_DATABASE_URL": settings.database_url,
           "CIVGRID_DATA_DIR": str(workdir / "public_instance"),
           "CIVGRID_PUBLIC_WRITES": "100000 per minute",
           "CIVGRID_OPEN311_WRITES": "100000 per minute"}
    log = open(workdir / "bench_public_server.log", "w")
    proc = subprocess.Popen([sys.executable, "-c", "from webmap.cli import main; main()",
                             "serve", "--port", str(port)], cwd=REPO, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            software = requests.get(base + "/login", timeout=2).headers.get("Server", "?")
            break
        except requests.RequestException:
            if proc.poll() is not None:
                sys.exit(f"civgrid serve stopped: see {log.name}")
            time.sleep(0.2)
    return proc, base, software


def _csrf(session, url):
    page = session.get(url).text
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def logged_in(base):
    session = requests.Session()
    token = _csrf(session, base + "/login")
    answer = session.post(base + "/login", data={"login": LOGIN, "password": PASSWORD,
                                                 "csrf_token": token}, allow_redirects=False)
    assert answer.status_code == 302, answer.text[:300]
    return session


def places(db, n, seed=7):
    """``n`` random points inside the active grids (WGS84 ≈ CGCS2000 here)."""
    with db.transaction() as tx:
        tx.execute("SELECT setseed(%s)", (seed / 100,))
        return tx.fetchall(
            "SELECT ST_X(p.geom), ST_Y(p.geom) FROM (SELECT (ST_Dump(ST_GeneratePoints("
            " g.geom, 3))).geom FROM grids g JOIN grid_versions v ON v.id = g.version_id"
            " WHERE v.status = 'active' AND g.level = 'grid') p ORDER BY random() LIMIT %s",
            (n,))


class Reporter:
    """Sends one report on one endpoint, from a session of its sender thread."""

    def __init__(self, base, key, codes, spots):
        self.base, self.key, self.codes, self.spots = base, key, codes, spots
        self.local = threading.local()

    def _session(self):
        if not hasattr(self.local, "session"):
            session = requests.Session()
            self.local.token = _csrf(session, self.base + "/citizen/")
            self.local.session = session
        return self.local.session

    def send(self, kind, n):
        rng = random.Random(n)
        lon, lat = self.spots[n % len(self.spots)]
        text = "".join(rng.choice(WORDS) for _ in range(6))
        code = rng.choice(self.codes)
        session = self._session()
        if kind == "page":
            answer = session.post(self.base + "/citizen/", allow_redirects=False, data={
                "csrf_token": self.local.token, "category": code, "description": text,
                "lon": repr(lon), "lat": repr(lat), "crs": "wgs84"})
            return answer.status_code == 302
        answer = session.post(self.base + "/open311/v2/requests.json", data={
            "api_key": self.key, "service_code": code, "lat": repr(lat), "long": repr(lon),
            "description": text})
        return answer.status_code == 200


def run(base, reporter, rate, seconds, readers, read_rate=None):
    """The load: reports on schedule, pages read meanwhile (``read_rate`` pages/s in
    all, paced; ``None``: each reader as soon as its last page arrived). ``(reports,
    reads, elapsed)``: the first two lists of ``(kind, seconds, ok)``."""
    reports, reads, stop = [], [], threading.Event()

    interval = readers / read_rate if read_rate else None

    def read_pages(i):
        session = logged_in(base)
        k = i
        due = time.perf_counter() + (interval or 0) * random.random()
        while not stop.is_set():
            path = PAGES[k % len(PAGES)]
            k += 1
            if interval:  # paced: a read counts from when it was due
                wait = due - time.perf_counter()
                if wait > 0 and stop.wait(wait):
                    break
                start, due = due, due + interval
            else:
                start = time.perf_counter()
            answer = session.get(base + path)
            reads.append((path, time.perf_counter() - start, answer.status_code == 200))

    reading = [threading.Thread(target=read_pages, args=(i,), daemon=True)
               for i in range(readers)]
    for thread in reading:
        thread.start()
    total = int(rate * seconds)
    pool = cf.ThreadPoolExecutor(max_workers=64)

    def one(kind, n, due):
        ok = reporter.send(kind, n)
        reports.append((kind, time.perf_counter() - due, ok))

    for n in range(min(64, total)):  # each sender's session gets its CSRF token first
        pool.submit(reporter._session)
    time.sleep(1)
    start = time.perf_counter()
    futures = []
    for n in range(total):
        due = start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        futures.append(pool.submit(one, "page" if n % 2 == 0 else "open311", n, due))
    cf.wait(futures)
    elapsed = time.perf_counter() - start
    stop.set()
    for thread in reading:
        thread.join()
    pool.shutdown()
    for future in futures:
        future.result()  # a sender's exception is a failed benchmark
    return reports, reads, elapsed


def _summary(label, seconds):
    ms = np.asarray(seconds) * 1000
    return (f"{label:<34} {len(ms):>6} {np.percentile(ms, 50):>8.1f} {np.percentile(ms, 95):>8.1f}"
            f" {np.percentile(ms, 99):>8.1f} {ms.max():>8.1f}")


def show(title, reports, reads, elapsed):
    """Print one run's figures; returns its report p99 (ms)."""
    failed = [r for r in reports + reads if not r[2]]
    print(f"\n{title}\nsent {len(reports)} reports in {elapsed:.1f} s"
          f" ({len(reports) / elapsed:.1f}/s); {len(reads)} page reads"
          f" ({len(reads) / elapsed:.1f}/s); failed: {len(failed)}")
    print(f"{'endpoint (ms)':<34} {'n':>6} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}")
    names = {"page": "POST /citizen/ (citizen page)",
             "open311": "POST /open311/v2/requests.json"}
    for kind, name in names.items():
        print(_summary(name, [s for k, s, _ in reports if k == kind]))
    print(_summary("reports, both", [s for _, s, _ in reports]))
    for path in PAGES:
        done = [s for k, s, _ in reads if k == path]
        if done:
            print(_summary(f"GET {path} (command centre)", done))
    return np.percentile([s for _, s, _ in reports], 99) * 1000, bool(failed)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rate", type=float, default=20, help="reports per second")
    parser.add_argument("--readers", type=int, default=4, help="command-centre clients")
    parser.add_argument("--read-rate", type=float, default=10,
                        help="pages per second the readers read in all, paced (0: only "
                             "the run with readers that never pause)")
    parser.add_argument("--workdir", type=Path, default=REPO / "bench-data")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    admin = server(args.workdir)
    csv_path = make_issues(args.workdir / f"page_issues_{args.issues}.v2.csv", args.issues)
    settings, db = demo_district(admin, f"bench_public_{args.issues}", csv_path)
    users.create_user(db, LOGIN, LOGIN, ["admin"], PASSWORD, actor="bench")
    users.create_user(db, "bench_hotline", "热线", ["open311"], PASSWORD, actor="bench")
    _, key = tokens.create_token(db, "bench_hotline", "open311", label="bench")
    from geo.issues import catalogue

    with db.transaction() as tx:
        codes = [c["code"] for c in catalogue.public_categories(tx)]
    spots = places(db, 2000)
    proc, base, software = start_server(settings, args.workdir)
    try:
        print(f"{args.issues:,} issues; civgrid serve runs {software}"
              f" (CIVGRID_WORKERS={os.environ.get('CIVGRID_WORKERS', 'default')},"
              f" CIVGRID_THREADS={os.environ.get('CIVGRID_THREADS', 'default')});"
              f" {args.rate:g} reports/s for {args.seconds:g} s per run,"
              f" {args.readers} page readers", flush=True)
        reporter = Reporter(base, key, codes, spots)
        saturated, failed = show(
            f"saturating: {args.readers} readers, each reading its next page as soon as the"
            " last arrived", *run(base, reporter, args.rate, args.seconds, args.readers))
        paced = None
        if args.read_rate:
            paced, paced_failed = show(
                f"paced: {args.readers} readers, {args.read_rate:g} pages/s in all",
                *run(base, reporter, args.rate, args.seconds, args.readers, args.read_rate))
            failed = failed or paced_failed
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        geo_db.forget(settings.database_url)
    judged = paced if paced is not None else saturated
    print(f"\nreport p99 {judged:.0f} ms {'with paced readers ' if paced is not None else ''}"
          f"(target ≤ 100 ms at {args.rate:g} reports/s): "
          f"{'met' if judged <= 100 and not failed else 'NOT met'}; with readers that never"
          f" pause: {saturated:.0f} ms")


if __name__ == "__main__":
    main()
