"""Benchmark: many users at once on ``civgrid serve``, with Locust (``locustfile.py``).

On a database of N cases (default 1,000,000: ``bench_bulletin.py``'s builder, the demo
district's grids and a year of case history, built once and kept in ``bench-data`` for
the next runs), it adds the accounts the users log in with (command centre, leaders,
grid workers with two grids each, an API token), starts ``civgrid serve`` as deployed
(worker processes under gunicorn), warms it up, then runs Locust headless for the
given time and prints Locust's summary, a table per route (requests/s, p50/p95/p99,
failures), the targets, and the server's memory (RSS of the master and every worker)
before and after, sampled during the run as well, with the machine's load.

Targets (issue 16, at 1,000,000 cases on 2 cores): ≥ 50 requests/s sustained with 0
errors, page p95 ≤ 500 ms, writes p99 ≤ 200 ms, memory flat (± 10 %).

Usage::

    python scripts/bench/bench_serving.py                 # 10 minutes, the real figure
    python scripts/bench/bench_serving.py --short         # 1 minute, for development
    python scripts/bench/bench_serving.py --cases 100000 --minutes 3 --users 300
    python scripts/bench/bench_serving.py --rebuild       # build the database again
"""

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO), str(HERE)]

import bench_bulletin  # noqa: E402
from bench_import import owner_dsn, server  # noqa: E402
from geo.people import tokens, users  # noqa: E402
from geo.store import db as geo_db  # noqa: E402

PASSWORD = "bench-Serving-2026"
TARGET_RPS = 50
TARGET_PAGE_P95_MS = 500
TARGET_WRITE_P99_MS = 200
TARGET_MEMORY = 0.10


def database(workdir, cases, rebuild):
    """The benchmark database: the one a previous run built, or a new one."""
    admin_dsn = server(workdir)
    name = f"bench_bulletin_{cases}"
    exists = False
    with geo_db.Database(admin_dsn, maxconn=1).transaction() as tx:
        exists = bool(tx.fetchval("SELECT 1 FROM pg_database WHERE datname = %s", (name,)))
    if exists and not rebuild:
        dsn = geo_db.with_dbname(admin_dsn, name)
        with geo_db.Database(dsn, maxconn=1).transaction() as tx:
            exists = tx.fetchval("SELECT count(*) FROM issues") > 0
    _dsn, db = bench_bulletin.database(workdir, cases, reuse=exists and not rebuild)
    return owner_dsn(admin_dsn, name), db  # the server connects as civgrid does


def fixtures(db, path, workers=60):
    """Accounts for the users (made once), case numbers, a point in each worker's grids."""
    existing = {u.login for u in users.list_users(db)}
    with db.transaction() as tx:
        grids = tx.fetchall(
            "SELECT g.code, ST_X(ST_PointOnSurface(g.geom)), ST_Y(ST_PointOnSurface(g.geom))"
            " FROM grids g JOIN grid_versions v ON v.id = g.version_id"
            " WHERE v.status = 'active' AND g.level = 'grid' ORDER BY g.code")
        issue_max = tx.fetchval("SELECT max(id) FROM issues")
        categories = [r[0] for r in tx.fetchall("SELECT code FROM categories ORDER BY code")]
        reported = [r[0] for r in tx.fetchall(
            "SELECT id FROM issues WHERE status = 'reported' ORDER BY id DESC LIMIT 2000")]
    out = {"password": PASSWORD, "issue_max": issue_max, "categories": categories,
           "reported": reported, "command": [], "leader": [], "workers": []}
    for role, key, n in (("command", "command", 10), ("leader", "leader", 5)):
        for k in range(n):
            login = f"bench_{role}{k}"
            if login not in existing:
                users.create_user(db, login, login, [role], PASSWORD, actor="bench")
            out[key].append(login)
    for k in range(workers):
        mine = grids[(2 * k) % len(grids):(2 * k) % len(grids) + 2]
        login = f"bench_worker{k}"
        if login not in existing:
            users.create_user(db, login, login, ["grid_worker"], PASSWORD,
                              grids=[g[0] for g in mine], actor="bench")
        with db.transaction() as tx:
            ids = [r[0] for r in tx.fetchall(
                "SELECT i.id FROM issues i JOIN grids g ON g.id = i.grid_id"
                " WHERE g.code = ANY(%s) ORDER BY i.id DESC LIMIT 50",
                ([g[0] for g in mine],))]
        out["workers"].append({"login": login, "point": [mine[0][1], mine[0][2]],
                               "issues": ids})
    if "bench_api" not in existing:
        users.create_user(db, "bench_api", "bench_api", ["viewer"], PASSWORD, actor="bench")
    _id, out["token"] = tokens.create_token(db, "bench_api", "viewer", label="bench",
                                            actor="bench")
    from geo.issues import catalogue

    with db.transaction() as tx:
        out["public_categories"] = [c["code"] for c in catalogue.public_categories(tx)]
    out["places"] = [w["point"] for w in out["workers"]]  # inside the district's grids
    path.write_text(json.dumps(out, ensure_ascii=False), encoding="utf-8")
    return out


# -- the server --------------------------------------------------------------

def start_server(dsn, data_dir, port, env_extra):
    # Every Locust user comes from 127.0.0.1: the citizens' per-address limits would refuse
    # them as one client, so they are lifted for the run (as bench_public.py does).
    env = dict(os.environ, CIVGRID_DATABASE_URL=dsn, CIVGRID_DATA_DIR=str(data_dir),
               CIVGRID_PUBLIC_WRITES="100000 per minute",
               CIVGRID_OPEN311_WRITES="100000 per minute",
               CIVGRID_TILES="none", PYTHONPATH=str(REPO), **env_extra)
    log = open(data_dir / "serve.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "webmap.cli", "serve", "--port", str(port)],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json") as r:
                if r.status == 200:
                    return proc
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                sys.exit(f"civgrid serve did not start: see {data_dir / 'serve.log'}")
            time.sleep(0.5)


def log_in_everyone(port, fx, path):
    """Log every account in once, as staff are at the peak (a session lasts while it is
    used): the users share their account's session cookie and CSRF token. Logging 500
    users in during the run would measure Argon2 (64 MB and tens of ms of CPU a login,
    by design) instead of the pages."""
    import re

    import requests

    base = f"http://127.0.0.1:{port}"
    token = re.compile(r'name="csrf_token" value="([^"]+)"')
    logins = fx["command"] + fx["leader"] + [w["login"] for w in fx["workers"]]
    sessions = {}
    for login in logins:
        http = requests.Session()
        csrf = token.search(http.get(f"{base}/login").text).group(1)
        resp = http.post(f"{base}/login", allow_redirects=False,
                         data={"login": login, "password": PASSWORD, "csrf_token": csrf})
        if resp.status_code not in (302, 303):
            sys.exit(f"cannot log {login} in: {resp.status_code}")
        url = (f"{base}/issues?per_page=10" if not login.startswith("bench_worker")
               else f"{base}/queue")
        answer = http.get(url)
        found = token.search(answer.text)
        if answer.status_code != 200 or not found:
            sys.exit(f"{login}: {url} answered {answer.status_code} without a CSRF token:"
                     f" {answer.text[:300]}")
        sessions[login] = {"cookies": http.cookies.get_dict(), "csrf": found.group(1)}
    fx["sessions"] = sessions
    path.write_text(json.dumps(fx, ensure_ascii=False), encoding="utf-8")
    return len(sessions)


def process_tree(pid):
    """``pid`` and its descendants."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def rss_mb(pid):
    """Resident memory of ``pid`` and its children (the master and its workers), MB."""
    total = 0
    for p in process_tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def cpu_s(pid):
    """CPU time (user + system, s) used so far by ``pid`` and its descendants alive now."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total / tick


def postmaster_pid(workdir):
    """The bench cluster's PostgreSQL server process, or None (a configured server)."""
    if os.environ.get("CIVGRID_DATABASE_URL"):
        return None
    try:
        return int((workdir / "instance" / "pgdata" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class CpuMeter:
    """Where the two cores went during the measured part: the server, PostgreSQL, Locust."""

    def __init__(self, **pids):
        self.pids = {k: v for k, v in pids.items() if v}
        self.start = self.wall = None

    def begin(self):
        self.start = {k: cpu_s(p) for k, p in self.pids.items()}
        self.wall = time.perf_counter()

    def end(self):
        if self.start is None:
            return None
        wall = time.perf_counter() - self.wall
        return wall, {k: (cpu_s(p) - self.start[k]) / wall for k, p in self.pids.items()}


class MemorySampler(threading.Thread):
    def __init__(self, pid, every_s=10):
        super().__init__(daemon=True)
        self.pid, self.every_s, self.samples = pid, every_s, []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(self.every_s):
            self.samples.append(rss_mb(self.pid))


# -- Locust -------------------------------------------------------------------

def run_locust(port, users, spawn_rate, seconds, fixtures_path, csv_prefix):
    """Locust headless for ``seconds``, its figures from when every user is in."""
    env = dict(os.environ, CIVGRID_BENCH_FIXTURES=str(fixtures_path),
               CIVGRID_BENCH_RESENT=f"{csv_prefix}_resent.json")
    cmd = [sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"), "--headless",
           "-u", str(users), "-r", str(spawn_rate), "-t", f"{seconds}s", "--reset-stats",
           "--host", f"http://127.0.0.1:{port}", "--csv", str(csv_prefix), "--only-summary",
           "--stop-timeout", "30", "--exit-code-on-error", "0", "--loglevel", "WARNING"]
    return subprocess.Popen(cmd, env=env)


def table(csv_prefix, _seconds):
    """Rows of Locust's stats CSV (one per route, and the aggregate)."""
    with open(f"{csv_prefix}_stats.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for r in rows:
        n = int(r["Request Count"])
        out.append({"name": r["Name"] if r["Name"] != "Aggregated" else "ALL",
                    "kind": r["Name"].split(" ", 1)[0], "n": n, "fail": int(r["Failure Count"]),
                    "rps": float(r["Requests/s"]), "p50": _ms(r["50%"]), "p95": _ms(r["95%"]),
                    "p99": _ms(r["99%"]), "max": _ms(r["Max Response Time"])})
    return out


def _ms(value):
    try:
        return float(value)
    except ValueError:
        return float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--short", action="store_true", help="1 minute, 20 s warm-up")
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--spawn-rate", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=60.0,
                        help="seconds not counted (at least the users' ramp-up)")
    parser.add_argument("--port", type=int, default=5077)
    parser.add_argument("--workers", type=int, help="CIVGRID_WORKERS (default: two per core)")
    parser.add_argument("--threads", type=int, help="CIVGRID_THREADS (default 4)")
    parser.add_argument("--workdir", type=Path, default=REPO / "bench-data")
    parser.add_argument("--rebuild", action="store_true", help="build the database again")
    args = parser.parse_args()
    seconds = 60 if args.short else int(args.minutes * 60)
    warmup = 20 if args.short else int(args.warmup)

    dsn, db = database(args.workdir, args.cases, args.rebuild)
    run_dir = args.workdir / "serving"
    run_dir.mkdir(parents=True, exist_ok=True)
    fx = fixtures(db, run_dir / "fixtures.json")
    geo_db.forget()
    env_extra = {k: str(v) for k, v in (("CIVGRID_WORKERS", args.workers),
                                         ("CIVGRID_THREADS", args.threads)) if v}
    print(f"\nserving {args.cases:,} cases ({fx['issue_max']:,} issue ids): {len(fx['workers'])}"
          f" grid workers, {len(fx['command'])} command, {len(fx['leader'])} leaders, an API "
          f"token; {args.users} users, {seconds} s after {warmup} s of warm-up", flush=True)
    proc = start_server(dsn, run_dir, args.port, env_extra)
    try:
        start = time.perf_counter()
        n = log_in_everyone(args.port, fx, run_dir / "fixtures.json")
        print(f"logged {n} accounts in ({time.perf_counter() - start:.0f} s)", flush=True)
        started_mb = rss_mb(proc.pid)
        print(f"server up: {len(process_tree(proc.pid))} processes, {started_mb:.0f} MB; "
              f"load average {os.getloadavg()[0]:.1f} (2 cores shared with other work)",
              flush=True)
        # Locust's figures start once every user is in (--reset-stats), after the warm-up.
        ramp = max(warmup, int(args.users / args.spawn_rate) + 10)
        marks = {}
        sampler = MemorySampler(proc.pid)

        def mark_before():
            marks["before"] = rss_mb(proc.pid)
            marks["load_before"] = os.getloadavg()
            sampler.start()
            print(f"\nwarmed up ({ramp} s, every user in): server RSS "
                  f"{marks['before']:.0f} MB; load average "
                  f"{' '.join(f'{x:.1f}' for x in marks['load_before'])}\n", flush=True)

        locust = run_locust(args.port, args.users, args.spawn_rate, ramp + seconds,
                            run_dir / "fixtures.json", run_dir / "run")
        cpu = CpuMeter(server=proc.pid, postgres=postmaster_pid(args.workdir),
                       locust=locust.pid)
        timer = threading.Timer(ramp, lambda: (mark_before(), cpu.begin()))
        timer.start()
        try:  # until the run's end, before Locust stops its users
            locust.wait(timeout=ramp + seconds - 1)
        except subprocess.TimeoutExpired:
            pass
        used = cpu.end()
        locust.wait()
        timer.cancel()
        sampler.stop.set()
        after = rss_mb(proc.pid)
        load_after = os.getloadavg()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    before = marks.get("before", started_mb)
    report(table(run_dir / "run", seconds), before, after, sampler.samples,
           marks.get("load_before", (0, 0, 0)), load_after, resent(run_dir / "run"), used)


def resent(csv_prefix):
    """Requests the users sent again as browsers do (``locustfile._Resend``), by cause."""
    try:
        return json.loads(Path(f"{csv_prefix}_resent.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def report(rows, before, after, samples, load_before, load_after, resends=None, used=None):
    print(f"\n{'route':<34} {'reqs':>7} {'fail':>5} {'req/s':>7} {'p50':>6} {'p95':>6} "
          f"{'p99':>6} {'max':>7}  (ms)")
    for r in sorted(rows, key=lambda r: (r["name"] == "ALL", r["kind"], r["name"])):
        print(f"{r['name'][:34]:<34} {r['n']:>7} {r['fail']:>5} {r['rps']:>7.1f} "
              f"{r['p50']:>6.0f} {r['p95']:>6.0f} {r['p99']:>6.0f} {r['max']:>7.0f}")
    total = next(r for r in rows if r["name"] == "ALL")
    pages = [r for r in rows if r["kind"] == "page"]
    writes = [r for r in rows if r["kind"] == "write" and r["name"] != "write login"]
    worst_page = max(pages, key=lambda r: r["p95"])
    worst_write = max(writes, key=lambda r: r["p99"]) if writes else None
    drift = (after - before) / before if before else 0.0
    checks = [
        (f"throughput {total['rps']:.1f} req/s (≥ {TARGET_RPS})", total["rps"] >= TARGET_RPS),
        (f"failures {total['fail']} (0)", total["fail"] == 0),
        (f"worst page p95 {worst_page['p95']:.0f} ms, {worst_page['name']} "
         f"(≤ {TARGET_PAGE_P95_MS})", worst_page["p95"] <= TARGET_PAGE_P95_MS),
    ]
    if worst_write:
        checks.append((f"worst write p99 {worst_write['p99']:.0f} ms, {worst_write['name']} "
                       f"(≤ {TARGET_WRITE_P99_MS})", worst_write["p99"] <= TARGET_WRITE_P99_MS))
    checks.append((f"server memory {before:.0f} → {after:.0f} MB ({100 * drift:+.1f} %; "
                   f"sampled {min(samples, default=after):.0f}–{max(samples, default=after):.0f}"
                   f" MB) (± {100 * TARGET_MEMORY:.0f} %)", abs(drift) <= TARGET_MEMORY))
    print("\ntargets:")
    for text, ok in checks:
        print(f"  {'meets ' if ok else 'MISSES'}  {text}")
    if samples:
        # Every sixth sample of ten seconds: a level that keeps rising is a leak, one that
        # flattens is caches filling.
        print("server memory by minute of the measured part (MB): "
              + " ".join(f"{m:.0f}" for m in samples[5::6]))
    if resends is not None:
        print(f"requests sent again on a new connection, as a browser does, after the server "
              f"had closed the idle kept-alive one they went out on: {sum(resends.values())}"
              f" ({', '.join(f'{k} {v}' for k, v in sorted(resends.items())) or 'none'};"
              f" counted over the whole run, warm-up included)")
    if used:
        wall, cores = used
        print(f"cores busy over the measured {wall:.0f} s (of 2): "
              + ", ".join(f"{k} {v:.2f}" for k, v in cores.items())
              + f", together {sum(cores.values()):.2f}")
    print(f"load average before {' '.join(f'{x:.1f}' for x in load_before)}, after "
          f"{' '.join(f'{x:.1f}' for x in load_after)} (1, 5, 15 min; 2 cores)")


if __name__ == "__main__":
    main()
