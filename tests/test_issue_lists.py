"""The lists the command centre works from (issue 11 §3), through Flask's test client.

Every expected answer comes from SQL written here, not from the code under test:
overdue counts, sort orders, exported rows, grid search matches, communities of a street.
"""

import csv
import datetime as dt
import io
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from geo import settings as settings_mod
from geo.grids import assign
from geo.issues import records
from geo.issues.query import date_shortcut
from geo.store import db as geo_db
from tests import accounts
from tests import layouts

OPEN = "status NOT IN ('closed', 'void')"  # docs/domain.md: closed and void need no work
# Overdue: open, past its deadline, and its clock not stopped by a suspension (a case
# imported as suspended stands still from its import).

#: A row of the issue table: its link cell, after the tick box command and admins get.
ROW = r'<tr>\s*(?:<td><input[^>]*cg-bulk-id[^>]*></td>)?\s*<td><a href="/issues/(\d+)">'


@pytest.fixture
def client(demo_app):
    return accounts.client(demo_app)


@pytest.fixture(scope="module")
def demo(demo_url):
    return geo_db.connect(settings_mod.Settings(database_url=demo_url))


def found(html):
    return int(re.search(r"共 (\d+) 条", html).group(1))


# -- overdue -------------------------------------------------------------------------

def test_overdue_filter_on_page_and_api_counts_open_issues_past_their_deadline(client, demo):
    with demo.transaction() as tx:
        expected = tx.fetchval(f"SELECT count(*) FROM issues WHERE {OPEN} AND deadline < now()"
                                  " AND suspended_at IS NULL")
        ids = {i for (i,) in tx.fetchall(
            f"SELECT id FROM issues WHERE {OPEN} AND deadline < now()"
            " AND suspended_at IS NULL")}
    assert 0 < expected < tx_total(demo)
    html = client.get("/issues?overdue=1&per_page=200").get_data(as_text=True)
    assert found(html) == expected
    assert 'id="f-overdue" name="overdue" value="1" checked' in html
    # every row shown is overdue: a red light, and the id among the overdue ones
    rows = re.findall(ROW + r'(.*?)</tr>', html, re.S)
    assert len(rows) == min(200, expected)
    assert all(int(i) in ids and 'class="light-red"' in row for i, row in rows)
    data = client.get("/api/v1/issues?overdue=1&limit=1000").get_json()
    assert data["numberMatched"] == expected
    assert {f["id"] for f in data["features"]} <= ids
    assert all(f["properties"]["light"] == "red" for f in data["features"])
    # the filter composes with the others and reaches the overview's figures too
    assert client.get("/?overdue=1").status_code == 200
    assert client.get("/api/v1/issues?overdue=2").status_code == 400


def tx_total(db):
    with db.transaction() as tx:
        return tx.fetchval("SELECT count(*) FROM issues")


def test_overdue_query_can_use_the_partial_index_on_open_deadlines(demo):
    from geo.issues.query import IssueFilter

    where, params = IssueFilter(overdue=True).where("i", "g")
    with demo.transaction() as tx:
        tx.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(r[0] for r in tx.fetchall(
            f"EXPLAIN SELECT count(*) FROM issues i WHERE {where}", params))
    assert "issues_open_deadline_idx" in plan, plan


# -- sorting -------------------------------------------------------------------------

@pytest.mark.parametrize("sort", ["deadline", "-deadline", "reported", "-reported", "grid",
                                  "-grid"])
def test_api_sort_orders_every_page_with_an_id_tiebreak(client, demo, sort):
    with demo.transaction() as tx:
        rows = tx.fetchall(
            "SELECT i.id, i.deadline, i.reported_at, g.code FROM issues i"
            f" LEFT JOIN grids g ON g.id = i.grid_id WHERE i.{OPEN}")
    key = {"deadline": 1, "reported": 2, "grid": 3}[sort.lstrip("-")]
    present = sorted((r for r in rows if r[key] is not None),
                     key=lambda r: (r[key], r[0]), reverse=sort.startswith("-"))
    missing = sorted((r for r in rows if r[key] is None), key=lambda r: r[0],
                     reverse=sort.startswith("-"))
    expected = [r[0] for r in present + missing][:600]
    got = []
    for offset in (0, 200, 400):  # pages join up: nothing repeated, nothing skipped
        data = client.get(f"/api/v1/issues?status=open&sort={sort}&limit=200&offset={offset}")
        got += [f["id"] for f in data.get_json()["features"]]
    assert got == expected


def test_issue_page_sorts_by_clicked_column_and_keeps_the_filter(client, demo):
    html = client.get("/issues?status=open&sort=deadline&per_page=10").get_data(as_text=True)
    with demo.transaction() as tx:
        first = tx.fetchall(f"SELECT id FROM issues WHERE {OPEN}"
                            " ORDER BY deadline NULLS LAST, id LIMIT 10")
    shown = [int(i) for i in re.findall(ROW, html)]
    assert shown == [i for (i,) in first]
    # the deadline header now sorts descending; the others ascending; the filter stays
    assert re.search(r'href="/issues\?sort=-deadline&amp;status=open"[^>]*data-sort="deadline"'
                     r' aria-sort="ascending"', html)
    assert 'href="/issues?sort=grid&amp;status=open"' in html
    assert '<input type="hidden" name="sort" value="deadline">' in html
    assert client.get("/issues?sort=colour").status_code == 400


# -- date shortcuts --------------------------------------------------------------------

def test_today_and_this_week_shortcuts_are_shanghai_days_and_weeks_from_monday(client):
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    monday = today - dt.timedelta(days=today.isoweekday() - 1)
    html = client.get("/issues?status=open").get_data(as_text=True)
    links = {label: parse_qs(urlsplit(unescape(href)).query) for href, label in re.findall(
        r'<a class="btn btn-outline-secondary[^"]*" href="([^"]+)"[^>]*>(今天|本周)</a>', html)}
    assert links["今天"] == {"from": [str(today)], "to": [str(today)], "status": ["open"],
                             "sort": ["-reported"]}
    assert links["本周"]["from"] == [str(monday)] and links["本周"]["to"] == [str(today)]
    html = client.get(f"/issues?from={monday}&to={today}").get_data(as_text=True)
    assert re.search(r'aria-current="true">本周</a>', html)
    sunday = dt.date(2026, 11, 29)
    assert date_shortcut("week", sunday) == (dt.date(2026, 11, 23), sunday)
    assert date_shortcut("today", sunday) == (sunday, sunday)


# -- exports -------------------------------------------------------------------------

def test_xlsx_export_holds_every_filtered_issue_with_chinese_headers(client, demo):
    with demo.transaction() as tx:
        street = tx.fetchval(
            "SELECT left(g.code, 9) FROM issues i JOIN grids g ON g.id = i.grid_id"
            f" WHERE i.{OPEN} AND i.deadline < now() AND i.suspended_at IS NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
        street += "000000"
        expected = tx.fetchall(
            "SELECT i.id, i.ref, i.category, c.name_zh, g.code, g.name,"
            " to_char(i.reported_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI')"
            " FROM issues i JOIN categories c ON c.code = i.category"
            " JOIN grids g ON g.id = i.grid_id"
            f" WHERE i.{OPEN} AND i.deadline < now() AND i.suspended_at IS NULL AND g.code LIKE %s"
            " ORDER BY i.deadline DESC, i.id DESC", (street[:9] + "%",))
    resp = client.get(f"/issues/export.xlsx?overdue=1&street={street}&sort=-deadline")
    assert resp.status_code == 200
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    assert resp.mimetype.endswith("spreadsheetml.sheet")
    sheet = openpyxl.load_workbook(io.BytesIO(resp.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:8] == ("问题ID", "问题编号", "类别代码", "问题类别", "状态", "来源渠道",
                           "上报时间", "办理时限")
    assert "时限亮灯" in rows[0] and "网格编码" in rows[0] and "经度" in rows[0]
    assert len(rows) - 1 == len(expected) > 0
    head = dict(zip(rows[0], rows[1]))
    i, ref, category, name_zh, grid_code, grid_name, reported = expected[0]
    assert (head["问题ID"], head["问题编号"], head["类别代码"], head["问题类别"],
            head["网格编码"], head["网格名称"]) == (i, ref, category, name_zh, grid_code, grid_name)
    assert head["上报时间"].strftime("%Y-%m-%d %H:%M") == reported
    assert head["时限亮灯"] == "红灯（超期）"
    assert [r[0] for r in rows[1:]] == [e[0] for e in expected]


def test_csv_export_in_english_and_unbounded_by_the_page_size(client, demo):
    with demo.transaction() as tx:
        expected = tx.fetchval(f"SELECT count(*) FROM issues WHERE {OPEN}")
    resp = client.get("/issues/export.csv?status=open&lang=en")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    assert resp.data.startswith(b"\xef\xbb\xbf")  # a BOM: Excel reads the UTF-8
    table = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert table[0][:4] == ["Issue id", "Reference", "Category code", "Category"]
    assert len(table) - 1 == expected > 200
    assert client.get("/issues/export.pdf").status_code == 400
    assert client.get("/issues/export.csv?per_page=10").status_code == 400  # not a list page


def test_export_keeps_formula_like_text_as_text(db, settings, layout):
    from geo.issues import sheet
    from geo.issues.query import IssueFilter

    lon, lat = layouts.xy(3, 3)
    records.create_issue(db, settings, {
        "ref": "=HYPERLINK(\"http://x\")", "category": "07001", "lon": lon, "lat": lat,
        "reported_at": "2026-11-27 10:00", "description": "-1+2", "address": "@A1"})
    table = sheet.issue_table(db, IssueFilter())
    row = dict(zip(table[0], table[1]))
    assert row["Reference"] == "'=HYPERLINK(\"http://x\")"
    assert row["Description"] == "'-1+2" and row["Address"] == "'@A1"
    assert row["Longitude"] == pytest.approx(lon)  # numbers stay numbers


# -- grid search ---------------------------------------------------------------------

def search_all(client, q):
    """Every grid code the search page lists for ``q``, over all its pages."""
    codes, page = [], 1
    while True:
        resp = client.get("/grids", query_string={"q": q, "page": page})
        if resp.status_code == 302:  # one match opens its page
            return [resp.headers["Location"].rsplit("/", 1)[1]]
        html = resp.get_data(as_text=True)
        codes += re.findall(r'<li class="list-group-item"><a href="/grids/(\d{15})"', html)
        if 'rel="next"' not in html:
            return codes
        page += 1


def matching_grids(demo, q):
    """Grids of the active version whose code starts with q or whose name, leader or a
    department contains it: computed in Python over every row."""
    with demo.transaction() as tx:
        rows = tx.fetchall("SELECT code, name, coalesce(leader, ''), departments FROM grids"
                           " WHERE version_id = (SELECT id FROM grid_versions"
                           " WHERE status = 'active')")
    return sorted(code for code, name, leader, departments in rows
                  if code.startswith(q) or q in name or q in leader
                  or any(q in d for d in departments or []))


def test_grid_search_finds_leaders_and_departments(client, demo):
    with demo.transaction() as tx:
        leader = tx.fetchval("SELECT leader FROM grids WHERE level = 'grid' AND leader <> ''"
                             " ORDER BY code LIMIT 1")
        department = tx.fetchval("SELECT d FROM grids, unnest(departments) d WHERE"
                                 " level = 'grid' GROUP BY d ORDER BY count(*), d LIMIT 1")
    for q in (leader, leader[:2], department):
        expected = matching_grids(demo, q)
        assert expected, q
        assert sorted(search_all(client, q)) == expected, q
    # before, a leader's name found nothing: names and codes alone do not hold it
    with demo.transaction() as tx:
        assert tx.fetchval("SELECT count(*) FROM grids WHERE name LIKE %s OR code LIKE %s",
                           (f"%{leader}%", f"{leader}%")) == 0


def test_grid_search_says_when_results_are_cut_and_pages_on(client, demo):
    with demo.transaction() as tx:
        street = tx.fetchval("SELECT left(code, 9) FROM grids WHERE level = 'grid'"
                             " GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
        total = tx.fetchval("SELECT count(*) FROM grids WHERE code LIKE %s AND version_id ="
                            " (SELECT id FROM grid_versions WHERE status = 'active')",
                            (street + "%",))
    assert total > 20
    html = client.get(f"/grids?q={street}").get_data(as_text=True)
    assert f"显示第 1–20 个，共 {total} 个网格" in html
    assert html.count('class="list-group-item"') == 20
    last = -(-total // 20)
    html = client.get(f"/grids?q={street}&page={last}").get_data(as_text=True)
    assert html.count('class="list-group-item"') == total - 20 * (last - 1)
    assert f"共 {total} 个网格" in html and 'rel="next"' not in html


# -- street → community --------------------------------------------------------------

def test_chosen_street_narrows_the_community_choices(client, demo):
    with demo.transaction() as tx:
        street, name = tx.fetchone("SELECT code, name FROM grids WHERE level = 'street'"
                                   " ORDER BY code DESC LIMIT 1")
        mine = {c for (c,) in tx.fetchall(
            "SELECT code FROM grids WHERE level = 'community' AND parent_code = %s", (street,))}
        every = tx.fetchval("SELECT count(*) FROM grids WHERE level = 'community' AND"
                            " version_id = (SELECT id FROM grid_versions WHERE status = 'active')")
    html = client.get(f"/issues?street={street}").get_data(as_text=True)
    select = re.search(r'<select[^>]* id="f-community".*?</select>', html, re.S).group(0)
    assert set(re.findall(r'<option value="(\d{15})"', select)) == mine
    assert len(mine) < every
    assert select.count("&#34;1501") == every  # every community for the script, in data-
    assert '<script src="/static/filters.js" defer></script>' in html
    everything = client.get("/issues").get_data(as_text=True)
    select = re.search(r'<select[^>]* id="f-community".*?</select>', everything, re.S).group(0)
    assert len(re.findall(r'<option value="(\d{15})"', select)) == every


# -- unknown parameters --------------------------------------------------------------

@pytest.mark.parametrize("url,name", [
    ("/issues?overdu=1", "overdu"), ("/?colour=red", "colour"), ("/heatmap?x=1", "x"),
    ("/grids?q=1&limit=50", "limit"), ("/grids/150102001001001?tab=2", "tab"),
    ("/issues/1?full=1", "full"), ("/issues/export.csv?page=2", "page")])
def test_pages_refuse_unknown_parameters_naming_them(client, url, name):
    resp = client.get(url)
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert f"此处不支持参数 &#39;{name}&#39;" in html and '<html lang="zh-CN">' in html
    english = client.get(url + "&lang=en" if "?" in url else url + "?lang=en")
    assert f"parameter &#39;{name}&#39; is not understood here" in english.get_data(as_text=True)


def test_pages_take_their_own_parameters(client):
    for url in ["/issues?sort=grid&overdue=1&page=1&per_page=20&lang=zh", "/?measure=open",
                "/heatmap?period=day", "/grids?q=1&page=1"]:
        assert client.get(url).status_code in (200, 302), url


# -- issue history --------------------------------------------------------------------

def test_history_names_the_imported_file_and_the_grids_of_a_reassignment(db, settings, layout,
                                                                          tmp_path, demo_app):
    from webmap import create_app

    lon, lat = layouts.xy(3, 3)  # inside 丙网格, code(2)
    folder = tmp_path / "收件" / "十一月"
    folder.mkdir(parents=True)
    (folder / "issues.csv").write_text(
        "ref,category,lon,lat,reported_at,status\n"
        f"H-1,07001,{lon},{lat},2026-11-27T10:00:00+08:00,filed\n", encoding="utf-8")
    records.import_issues(db, settings, folder / "issues.csv")
    with db.transaction() as tx:
        issue_id = tx.fetchval("SELECT id FROM issues WHERE ref = 'H-1'")
        # put it in the wrong grid, as an old grid version might have
        tx.execute("UPDATE issues SET grid_id = (SELECT id FROM grids WHERE code = %s)"
                   " WHERE id = %s", (layouts.code(4), issue_id))
    assign.reassign(db, settings, actor="tester")
    client = accounts.client(create_app({"CIVGRID_SETTINGS": settings, "TESTING": True}))
    html = client.get(f"/issues/{issue_id}").get_data(as_text=True)
    assert "由 issues.csv 导入" in html and "收件" not in html and str(tmp_path) not in html
    row = re.search(r"<td>tester</td><td>(.*?)</td>", html, re.S).group(1)
    assert "重新分配网格" in row
    assert f"己网格 ({layouts.code(4)}) → 丙网格 ({layouts.code(2)})" in row
    assert row.endswith(", 网格内</span>")
