"""Benchmark: what logins and permission checks cost the pages, on a million issues.

The demo district's grids with N issues (the resampled demo issues of
``bench_pages.py``). Server time only: each request goes through the Flask app in
this process (the WSGI call, no network and no browser), so the figures are the
time the server spends on a page. Compared, in the same run, alternating request
by request so that both sides see the same caches:

* **checked**: an admin logged in through ``POST /login``; every request loads the
  session's account from the database, checks the endpoint's declared action and
  narrows the page with the account's scope (none for an admin);
* **unchecked**: the same views with the permission layer taken out (no account is
  loaded, every action allowed, no scope): what the page costs without people.

Then the scoped views, where the checks do change the queries: a grid worker (one
grid) and a department (the grids naming it). And the login itself (argon2id).

Usage: ``python scripts/bench/bench_permissions.py [--issues 1000000] [--repeat 15]``.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO), str(HERE)]

import geopandas as gpd  # noqa: E402

from bench_import import server  # noqa: E402
from bench_pages import demo_district, make_issues  # noqa: E402
from geo.demo import DEMO_DIR  # noqa: E402
from geo.people import users  # noqa: E402
from geo.store import db as geo_db  # noqa: E402

PASSWORD = "bench-password-1"
PAGES = ["/", "/issues", "/issues?status=open&page=50"]


class Switch:
    """Takes the permission layer out of ``app`` while ``on`` is False."""

    def __init__(self, app, stand_in):
        from webmap import auth

        self.on = True
        self._auth = auth
        self._account = auth.account
        funcs = app.before_request_funcs[None]
        checked = auth.check_request
        funcs[funcs.index(checked)] = lambda: checked() if self.on else None
        auth.account = lambda: self._account() if self.on else stand_in

    def close(self):
        self._auth.account = self._account


def timed(client, path):
    start = time.perf_counter()
    response = client.get(path)
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, (path, response.status_code)
    response.close()
    return elapsed


def log_in(app, login):
    client = app.test_client()
    start = time.perf_counter()
    response = client.post("/login", data={"login": login, "password": PASSWORD})
    elapsed = time.perf_counter() - start
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client, elapsed


def figures(samples):
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--workdir", type=Path, default=REPO / "bench-data")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    admin_dsn = server(args.workdir)
    csv_path = make_issues(args.workdir / f"page_issues_{args.issues}.v2.csv", args.issues)
    settings, db = demo_district(admin_dsn, "bench_permissions", csv_path)
    layout = gpd.read_file(DEMO_DIR / "grids.geojson")
    cells = layout[~layout["code"].str.endswith("000")]  # grid level, not street or community
    grid_code = cells["code"].iloc[0]
    department = str(cells["departments"].iloc[0]).split("、")[0]
    users.create_user(db, "bench_admin", "bench_admin", ["admin"], PASSWORD, actor="bench")
    users.create_user(db, "bench_worker", "bench_worker", ["grid_worker"], PASSWORD,
                      grids=[grid_code], actor="bench")
    users.create_user(db, "bench_dept", "bench_dept", ["department"], PASSWORD,
                      departments=[department], actor="bench")
    # A department sees the cases dispatched to it: the generated cases past dispatch in
    # the grids naming it count as dispatched there.
    with db.transaction() as tx:
        tx.execute("UPDATE issues i SET department = %s FROM grids g WHERE g.id = i.grid_id"
                   " AND %s = ANY(g.departments) AND i.status NOT IN ('reported', 'filed')"
                   " AND i.department IS NULL", (department, department))

    from webmap import create_app

    app = create_app({"CIVGRID_SETTINGS": settings})
    admin, _ = log_in(app, "bench_admin")
    logins = [log_in(app, "bench_admin")[1] for _ in range(5)]
    worker, _ = log_in(app, "bench_worker")
    dept, _ = log_in(app, "bench_dept")
    anonymous = app.test_client()
    switch = Switch(app, users.get_user(db, "bench_admin"))
    print(f"{args.issues:,} issues, {len(layout)} grids; server time per request "
          f"(median / p95 of {args.repeat}, ms)", flush=True)
    rows = []
    try:
        for path in PAGES:
            for client in (admin, anonymous):  # warm both: the first build fills caches
                switch.on = client is admin
                timed(client, path)
            checked, unchecked = [], []
            for _ in range(args.repeat):
                switch.on = True
                checked.append(timed(admin, path))
                switch.on = False
                unchecked.append(timed(anonymous, path))
            switch.on = True
            scoped = {name: [timed(c, path) for _ in range(args.repeat)]
                      for name, c in (("grid worker", worker), ("department", dept))}
            rows.append((path, figures(checked), figures(unchecked),
                         {k: figures(v) for k, v in scoped.items()}))
    finally:
        switch.close()

    print(f"\n{'page':<28}{'checked':>16}{'unchecked':>16}{'overhead':>12}"
          f"{'grid worker':>16}{'department':>16}")
    for path, (c50, c95), (u50, u95), scoped in rows:
        w50, w95 = scoped["grid worker"]
        d50, d95 = scoped["department"]
        print(f"{path:<28}{c50 * 1e3:>8.1f} /{c95 * 1e3:>6.1f}{u50 * 1e3:>8.1f} /{u95 * 1e3:>6.1f}"
              f"{(c50 - u50) * 1e3:>+9.1f} ms{w50 * 1e3:>8.1f} /{w95 * 1e3:>6.1f}"
              f"{d50 * 1e3:>8.1f} /{d95 * 1e3:>6.1f}")
    for path, (c50, _), (u50, _), _ in rows:
        print(f"{path}: checked / unchecked median = {c50 / u50:.3f} "
              f"(the checks add {(c50 - u50) * 1e3:+.1f} ms)")
    l50, l95 = figures(logins)
    print(f"login (POST /login, argon2id verify and session): median {l50 * 1e3:.0f} ms, "
          f"max {max(logins) * 1e3:.0f} ms of {len(logins)}")
    geo_db.forget(settings.database_url)


if __name__ == "__main__":
    main()
