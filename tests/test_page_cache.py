"""The unfiltered overview and heatmap keep their built map while the data is unchanged
(webmap.pagecache): served again as it was, built anew after a new issue, a status change
or a grid activation (issues' changes after a few seconds, grids' at once), and kept
apart by language and by the visitor's reach."""

import json
import re

import pytest

from geo.cases import workflow
from geo.grids import importer as grids_importer
from geo.issues import records as issues
from geo.people.permissions import Principal
from tests import accounts
from tests.layouts import code, grid_layout, xy
from webmap import create_app, pagecache
from webmap.pagecache import PageCache

OURS, THEIRS = code(2), code(1)
#: Hand-placed issues: three in OURS (unit square 2–4 × 2–4), one in THEIRS (4–6 × 2–4).
POINTS = {OURS: [(2.5, 2.5), (3, 3), (3.5, 3.5)], THEIRS: [(5, 3)]}
NONCE = re.compile(r'nonce="([^"]+)"')


@pytest.fixture
def world(db, settings, layout):
    made = {grid: [issues.create_issue(db, settings, {
        "ref": f"C-{grid[-3:]}-{k}", "category": "07001", "lon": xy(*p)[0], "lat": xy(*p)[1],
        "reported_at": "2026-11-25 09:00"}) for k, p in enumerate(points)]
        for grid, points in POINTS.items()}
    app = create_app({"CIVGRID_SETTINGS": settings, "TESTING": True})
    return {"db": db, "settings": settings, "app": app, "made": made,
            "cache": pagecache.for_app(app), "client": accounts.client(app, "command")}


def page(client, url):
    resp = client.get(url)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    html = resp.get_data(as_text=True)
    header_nonce = re.search(r"'nonce-([^']+)'", resp.headers["Content-Security-Policy"])[1]
    # Every script tag carries this request's nonce, none a kept one, and Leaflet loads.
    assert set(NONCE.findall(html)) == {header_nonce}
    assert "&lt;script" not in html
    assert (f'<script nonce="{header_nonce}" src="/static/node_modules/leaflet/dist/leaflet.js">'
            in html)
    return html, header_nonce


def same_but_tokens(html, nonce):
    """The page without what each request makes anew: its nonce and its CSRF token
    (signed with a timestamp)."""
    html = html.replace(nonce, "N")
    return re.sub(r'(name="csrf[-_]token" (?:content|value)=")[^"]+', r"\1T", html)


def matching(html):
    return int(re.search(r"(\d+) issues match the filters", html)[1])


def grid_feature(html, grid):
    """``(name, value)`` of ``grid``'s GeoJSON feature on the overview (the value is the
    measure it is coloured by)."""
    found = re.search(rf'"code": "{grid}", "fill": "[^"]*", "name": ("[^"]*"), '
                      r'"popup": "(?:[^"\\]|\\.)*", "value": ([0-9.]+)', html)
    return json.loads(found[1]), float(found[2])


def grid_value(html, grid):
    return grid_feature(html, grid)[1]


def test_a_kept_page_is_served_again_unchanged(world):
    client, cache = world["client"], world["cache"]
    for url in ("/?lang=en", "/heatmap?lang=en"):
        first, nonce1 = page(client, url)
        second, nonce2 = page(client, url)
        assert nonce1 != nonce2
        # Folium names its elements at random when it builds a map: equal pages (with the
        # nonces set aside) are one build served twice.
        assert same_but_tokens(first, nonce1) == same_but_tokens(second, nonce2)
    assert cache.builds == 2
    # A filter is the visitor's own: built for the request, not kept.
    page(client, "/?lang=en&status=open")
    page(client, "/?lang=en&status=open")
    assert cache.builds == 2


def test_a_new_issue_a_status_change_and_an_activation_show(world):
    """With no window for issues' changes, each change shows on the next request."""
    client, db, settings = world["client"], world["db"], world["settings"]
    world["cache"].windows = pagecache.Windows(max_age_s=60, stale_s=0)
    html, _n = page(client, "/?lang=en&measure=open")
    assert matching(html) == 4
    assert grid_value(html, OURS) == 3 and grid_value(html, THEIRS) == 1

    lon, lat = xy(3.2, 2.8)
    issues.create_issue(db, settings, {"ref": "C-new", "category": "07001", "lon": lon,
                                       "lat": lat, "reported_at": "2026-11-26 10:00"})
    html, _n = page(client, "/?lang=en&measure=open")
    assert matching(html) == 5 and grid_value(html, OURS) == 4

    workflow.act(db, world["made"][THEIRS][0], "void", "t_command",
                 Principal("t_command", roles=("command",)), note="重复上报")
    html, _n = page(client, "/?lang=en&measure=open")
    assert matching(html) == 5 and grid_value(html, THEIRS) == 0

    renamed = grid_layout()
    renamed.loc[renamed["code"] == OURS, "name"] = "新名网格"
    path = settings.data_dir / "renamed.geojson"
    renamed.to_file(path, driver="GeoJSON")
    grids_importer.import_grids(db, settings, path, activate=True)
    html, _n = page(client, "/?lang=en&measure=open")
    assert grid_feature(html, OURS)[0] == "新名网格"
    assert world["cache"].builds == 4


def test_kept_apart_by_language_and_reach(world):
    app, cache = world["app"], world["cache"]
    english, _n = page(world["client"], "/?lang=en")
    chinese, _n = page(world["client"], "/?lang=zh")
    assert cache.builds == 2
    assert "Open the grid page" in english and "Open the grid page" not in chinese
    worker = accounts.client(app, "grid_worker", grids=(OURS,))
    mine, _n = page(worker, "/?lang=en")
    assert cache.builds == 3
    assert matching(mine) == len(POINTS[OURS]) and matching(english) == 4
    page(world["client"], "/?lang=en")  # the command centre's page is still kept
    assert cache.builds == 3


def test_issues_changes_show_after_the_window_grids_at_once(world):
    client, db, settings, cache = world["client"], world["db"], world["settings"], world["cache"]
    now = [1_000_000.0]
    cache.clock = lambda: now[0]
    before, _n = page(client, "/?lang=en&measure=open")
    lon, lat = xy(3.2, 2.8)
    issues.create_issue(db, settings, {"ref": "C-new", "category": "07001", "lon": lon,
                                       "lat": lat, "reported_at": "2026-11-26 10:00"})
    now[0] += pagecache.STALE_S - 1
    html, _n = page(client, "/?lang=en&measure=open")
    assert matching(html) == 4  # within the window: the kept map
    now[0] += 2
    html, _n = page(client, "/?lang=en&measure=open")
    assert matching(html) == 5 and grid_value(html, OURS) == 4
    renamed = grid_layout()
    renamed.loc[renamed["code"] == OURS, "name"] = "新名网格"
    path = settings.data_dir / "renamed.geojson"
    renamed.to_file(path, driver="GeoJSON")
    grids_importer.import_grids(db, settings, path, activate=True)
    html, _n = page(client, "/?lang=en&measure=open")  # no time has passed
    assert grid_feature(html, OURS)[0] == "新名网格"
    assert cache.builds == 3


def test_processes_share_kept_values_and_old_ones_lapse(tmp_path):
    """Two caches on one folder stand for two worker processes."""
    now = [1000.0]
    one = PageCache(tmp_path, max_age_s=60, stale_s=10, clock=lambda: now[0])
    other = PageCache(tmp_path, max_age_s=60, stale_s=10, clock=lambda: now[0])
    assert one.get("k", [1, 7], lambda: {"map_html": "a"}) == {"map_html": "a"}
    assert other.get("k", [1, 7], lambda: {"map_html": "b"}) == {"map_html": "a"}
    assert (one.builds, other.builds) == (1, 0)
    now[0] += 9  # issues moved (7 → 8) within the window: the kept value
    assert other.get("k", [1, 8], lambda: {"map_html": "c"}) == {"map_html": "a"}
    now[0] += 2  # past the window
    assert other.get("k", [1, 8], lambda: {"map_html": "c"}) == {"map_html": "c"}
    assert one.get("k", [1, 8], lambda: {"map_html": "d"}) == {"map_html": "c"}
    assert one.get("k", [2, 8], lambda: {"map_html": "e"}) == {"map_html": "e"}  # grids moved
    now[0] += 61  # too old, whatever the version says (overdue counts follow the clock)
    assert one.get("k", [2, 8], lambda: {"map_html": "f"}) == {"map_html": "f"}
    assert (one.builds, other.builds) == (3, 1)


def test_the_bulletins_map_is_kept_with_its_figures(world):
    """The daily bulletin's hotspot map is built once and served again (Folium names its
    elements at random: equal pages are one build), apart by day and language."""
    client, cache = world["client"], world["cache"]
    first, nonce1 = page(client, "/bulletin?date=2026-11-25&lang=en")
    builds = cache.builds
    second, nonce2 = page(client, "/bulletin?date=2026-11-25&lang=en")
    assert same_but_tokens(first, nonce1) == same_but_tokens(second, nonce2)
    assert cache.builds == builds
    page(client, "/bulletin?date=2026-11-24&lang=en")
    chinese, _n = page(client, "/bulletin?date=2026-11-25&lang=zh")
    assert cache.builds == builds + 2
    assert "当日新增问题" in chinese


def test_a_value_late_in_its_window_is_renewed_for_the_next_visitors(tmp_path):
    """A visitor served a value in the last quarter of its window gets it at once and
    starts one rebuild (``later``); the visitors after get the rebuilt value. Here
    ``later`` only collects the rebuilds, run when the test says."""
    now = [1000.0]
    cache = PageCache(tmp_path, max_age_s=60, stale_s=10, clock=lambda: now[0])
    pending = []
    built = iter(f"v{n}" for n in range(1, 10))

    def get(version):
        return cache.get("k", version, lambda: {"map_html": next(built)}, later=pending.append)

    assert get([1, 7]) == {"map_html": "v1"}  # nothing kept: this visitor waits
    now[0] += 44  # 44 s of 60: not yet due
    assert get([1, 7]) == {"map_html": "v1"} and pending == []
    now[0] += 2  # 46 s ≥ 0.75 × 60: served, and renewed once however many come
    assert get([1, 7]) == {"map_html": "v1"}
    assert get([1, 7]) == {"map_html": "v1"}
    assert len(pending) == 1 and cache.builds == 1
    pending.pop()()
    assert cache.builds == 2

    # Issues moved (7 → 8): the kept value is served for the stale window, renewed in its
    # last quarter (7.5 s of 10) under the new version.
    now[0] += 1
    assert get([1, 8]) == {"map_html": "v2"} and pending == []
    now[0] += 7
    assert get([1, 8]) == {"map_html": "v2"} and len(pending) == 1
    pending.pop()()
    assert get([1, 8]) == {"map_html": "v3"}
    now[0] += 2
    assert get([1, 9]) == {"map_html": "v3"}  # moved again: the window starts at v3's build
    now[0] += 16  # 72 s after the first build: no visitor waited since it
    assert get([1, 8]) == {"map_html": "v3"} and pending == [] and cache.builds == 3

    # Another process (a second cache on the folder) renewed meanwhile: its file is taken,
    # nothing is built twice.
    other = PageCache(tmp_path, max_age_s=60, stale_s=10, clock=lambda: now[0])
    now[0] += 30  # v3 is 48 s old
    assert get([1, 8]) == {"map_html": "v3"} and len(pending) == 1
    assert other.get("k", [1, 8], lambda: {"map_html": "elsewhere"}) == {"map_html": "v3"}
    now[0] += 15  # v3 is past its age: the other process rebuilds before this one's thread ran
    assert other.get("k", [1, 8], lambda: {"map_html": "elsewhere"}) == {"map_html": "elsewhere"}
    builds = cache.builds
    pending.pop()()
    assert cache.builds == builds
    assert get([1, 8]) == {"map_html": "elsewhere"} and pending == []


def test_a_failed_renewal_leaves_the_kept_value_and_a_later_one_may_try_again(tmp_path,
                                                                             caplog):
    now = [1000.0]
    cache = PageCache(None, max_age_s=60, stale_s=10, clock=lambda: now[0])
    pending = []
    assert cache.get("k", [1, 1], lambda: {"n": 1}) == {"n": 1}
    now[0] += 50

    def broken():
        raise RuntimeError("database went away")

    assert cache.get("k", [1, 1], broken, later=pending.append) == {"n": 1}
    pending.pop()()
    assert "renewing the kept value k failed" in caplog.text
    assert cache.get("k", [1, 1], broken, later=pending.append) == {"n": 1}
    assert len(pending) == 1  # the lock was given back: another renewal may start
    pending.pop()()
    now[0] += 11  # past the age limit: the next visitor builds, and waits for it
    assert cache.get("k", [1, 1], lambda: {"n": 2}, later=pending.append) == {"n": 2}


def test_pages_and_figures_are_renewed_in_background_threads(world, monkeypatch):
    """Through the app, with real threads: a kept overview late in its window is rebuilt
    by a thread with the visitor's request (language, reach), and the bulletin's figures
    by one that needs no request."""
    app = create_app({"CIVGRID_SETTINGS": world["settings"], "TESTING": True,
                      "CIVGRID_RENEW_IN_BACKGROUND": True})
    client = accounts.client(app, "command")
    cache, figures = pagecache.for_app(app), app.extensions["civgrid_long_figures_cache"]
    started = []
    real = pagecache.in_thread

    def tracked(fn):
        import threading

        done = threading.Event()

        def run():
            try:
                fn()
            finally:
                done.set()

        started.append(done)
        real(run)

    monkeypatch.setattr(pagecache, "in_thread", tracked)
    now = [1000.0]
    cache.clock = figures.clock = lambda: now[0]
    first, nonce = page(client, "/?lang=en")
    assert cache.builds == 1 and started == []
    now[0] += 50  # 50 s of 60
    again, nonce2 = page(client, "/?lang=en")
    assert same_but_tokens(again, nonce2) == same_but_tokens(first, nonce)
    assert len(started) == 1 and started[0].wait(30)
    assert cache.builds == 2
    renewed, nonce3 = page(client, "/?lang=en")
    # Folium names its elements at random: a rebuilt page differs from the first, and it
    # is still the English page of the whole district.
    assert same_but_tokens(renewed, nonce3) != same_but_tokens(first, nonce)
    assert matching(renewed) == 4 and "Overview" in renewed

    assert client.get("/bulletin?date=2026-11-25&lang=en").status_code == 200
    assert figures.builds >= 1
    built = figures.builds
    now[0] += pagecache.FIGURES_MAX_AGE_S * 0.5
    assert client.get("/bulletin?date=2026-11-25&lang=en").status_code == 200
    assert len(started) >= 2 and all(done.wait(30) for done in started)
    assert figures.builds > built


def test_processes_share_kept_objects_through_pickled_files(tmp_path):
    """The bulletin's and the metrics' figures are objects (dates, dataclasses): two
    caches with the pickle codec on one folder share them; a torn file is only a miss."""
    import datetime as dt
    import pickle

    from geo.cases.metrics import Rate

    now = [1000.0]
    one = PageCache(tmp_path, clock=lambda: now[0], codec=pickle)
    other = PageCache(tmp_path, clock=lambda: now[0], codec=pickle)
    value = {"day": dt.date(2026, 11, 25), "rate": Rate(3, 4)}
    assert one.get("k", [1, 1], lambda: value) == value
    assert other.get("k", [1, 1], lambda: {"built": "again"}) == value
    assert (one.builds, other.builds) == (1, 0)
    for path in tmp_path.glob("*.pickle"):
        path.write_bytes(b"\x80\x05torn")
    third = PageCache(tmp_path, clock=lambda: now[0], codec=pickle)
    assert third.get("k", [1, 1], lambda: {"built": "again"}) == {"built": "again"}


def _session_in_other_slot(db, taken):
    """A raw connection of ``db`` whose session raises another slot (backend pid modulo
    64) than the pid ``taken``."""
    import psycopg2

    for _ in range(64):
        conn = psycopg2.connect(db.dsn)
        with conn.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            if cur.fetchone()[0] % 64 != taken % 64:
                return conn
        conn.close()
    raise AssertionError("no session in another slot")


def test_the_issues_version_moves_with_each_commit_and_writers_do_not_queue_on_it(db, settings,
                                                                                  layout):
    """Two sessions step two cases at once: the second does not wait for the first's
    commit (it would, on the one row of migration 0030), and the version read by a third
    moves by one at each commit — not before it, not at a rollback."""
    import psycopg2

    first = issues.create_issue(db, settings, {"category": "07001", "lon": xy(3, 3)[0],
                                               "lat": xy(3, 3)[1],
                                               "reported_at": "2026-11-25 09:00"})
    second = issues.create_issue(db, settings, {"category": "07001", "lon": xy(5, 3)[0],
                                                "lat": xy(5, 3)[1],
                                                "reported_at": "2026-11-25 09:00"})
    start = pagecache.data_version(db)
    one = psycopg2.connect(db.dsn)
    with one.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        other = _session_in_other_slot(db, cur.fetchone()[0])
        cur.execute("UPDATE issues SET description = 'a' WHERE id = %s", (first,))
    with other.cursor() as cur:
        cur.execute("SET lock_timeout = '2s'")
        cur.execute("UPDATE issues SET description = 'b' WHERE id = %s", (second,))
    assert pagecache.data_version(db) == start  # nothing committed yet
    other.commit()
    assert pagecache.data_version(db) == [start[0], start[1] + 1]
    one.rollback()
    assert pagecache.data_version(db) == [start[0], start[1] + 1]
    with one.cursor() as cur:
        cur.execute("UPDATE issues SET description = 'c' WHERE id = %s", (first,))
    one.commit()
    assert pagecache.data_version(db) == [start[0], start[1] + 2]
    one.close()
    other.close()
