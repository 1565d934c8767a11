"""The daily bulletin on the hand-made history of tests/test_metrics.py: its 30-day trend,
the page, the Excel workbook (its numbers equal the page's), the PDF (rendered to PNG
pages with pdftoppm, its text read back with pdftotext), the CLI, and the page in Chromium
at a phone's width and a desktop's."""

import datetime as dt
import re
import shutil
import subprocess
from html.parser import HTMLParser

import openpyxl
import pytest

from geo.cases import bulletin
from tests import accounts
from tests import browser as br
from tests.test_metrics import build_history

DAY = "2026-11-30"
NEXT = "2026-12-01"


@pytest.fixture
def history(db, settings, tmp_path):
    return build_history(db, settings, tmp_path)


def test_trend_counts_each_day(history):
    series = bulletin.trend(history, dt.date(2026, 12, 1))
    days = [d.isoformat() for d in series["days"]]
    assert len(days) == 30 and days[0] == "2026-11-02" and days[-1] == NEXT
    by_day = {d: {k: series[k][i] for k in bulletin.TREND_SERIES} for i, d in enumerate(days)}
    # 11-30 (tests/test_metrics.py, one day): new 6, filed 5, closed A N = 2, overdue E K = 2
    assert by_day[DAY] == {"new": 6, "filed": 5, "closed": 2, "overdue": 2}
    # 12-01: new I J = 2; filed I = 1; closed B C G I = 4; overdue at 12-02 00:00: E H K = 3
    assert by_day[NEXT] == {"new": 2, "filed": 1, "closed": 4, "overdue": 3}
    # 11-21: K reported 11-20 with deadline 11-21 09:00 → overdue from 11-21 on; N (deadline
    # 11-28, closed 11-30) overdue 11-28 and 11-29; D (suspended) never; M closed early.
    assert by_day["2026-11-21"]["overdue"] == 1
    assert by_day["2026-11-28"]["overdue"] == 2 and by_day["2026-11-29"]["overdue"] == 2
    # 11-20: K reported and filed; nothing overdue yet
    assert by_day["2026-11-20"] == {"new": 1, "filed": 1, "closed": 0, "overdue": 0}


class Tables(HTMLParser):
    """The figures tables of a page: ``{grouping: {row header: [cell texts]}}``."""

    def __init__(self):
        super().__init__()
        self.tables, self.grouping, self.row, self.cell = {}, None, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and "cg-figures-table" in (attrs.get("class") or ""):
            self.grouping = attrs["data-grouping"]
            self.tables[self.grouping] = {}
        elif tag == "tr" and self.grouping and "data-key" in attrs:
            self.row = [attrs["data-key"]]
        elif tag in ("td", "th") and self.row is not None:
            self.cell = ""

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append(self.cell.strip())
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.tables[self.grouping][self.row[0]] = self.row[2:]
            self.row = None
        elif tag == "table":
            self.grouping = None


def page_number(text):
    """A page cell as a number: ``'5/6 = 83.33 %'`` → 5/6, ``'0/0'`` → None, ``'12'`` → 12."""
    m = re.fullmatch(r"(\d+)/(\d+)(?: = [\d.]+ %)?", text)
    if m:
        return int(m[1]) / int(m[2]) if int(m[2]) else None
    return None if text == "–" else float(text)


@pytest.fixture
def app(history, settings):
    from webmap import create_app

    return create_app({"CIVGRID_SETTINGS": settings, "TESTING": True})


def test_the_workbook_holds_the_numbers_of_the_page(app):
    client = accounts.client(app, "command")
    page = client.get(f"/bulletin?date={DAY}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    parser = Tables()
    parser.feed(html)
    assert set(parser.tables) == {"street", "community", "grid", "department"}
    # a figure worked out by hand (tests/test_metrics.py, one day): dispatch 5 of 6
    assert "5/6 = 83.33 %" in html and "日通报" in html

    response = client.get(f"/bulletin.xlsx?date={DAY}")
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    assert "attachment" in disposition and f"bulletin-{DAY}.xlsx" in disposition
    assert "filename*=UTF-8''" in disposition
    path = app.config["CIVGRID_SETTINGS"].data_dir / "b.xlsx"
    path.write_bytes(response.data)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["全区", "街道", "社区", "网格", "承办部门"]
    compared = 0
    for grouping, sheet in zip(("street", "community", "grid", "department"), wb.sheetnames[1:]):
        rows = list(wb[sheet].iter_rows(values_only=True))
        assert rows[0][:4] == ("编码", "单位", "新增", "立案")
        assert len(rows) - 1 == len(parser.tables[grouping])
        for row in rows[1:]:
            cells = parser.tables[grouping][row[0] or ""]
            for got, shown in zip(row[2:], cells):
                want = page_number(shown)
                assert (got is None and want is None) or got == pytest.approx(want), (row, cells)
                compared += 1
        for cell in list(wb[sheet].iter_rows(min_row=2, max_row=2))[0][2:8]:
            assert cell.data_type == "n"  # counts are numbers
        rate_cell = list(wb[sheet].iter_rows(min_row=2, max_row=2))[0][8]
        assert rate_cell.number_format == "0.00%"
    assert compared > 100
    district = list(wb["全区"].iter_rows(values_only=True))[1]
    # the district on 11-30: new 6, filed 5, closed 2, open 8, overdue 2, due 2; closure ½
    assert district[2:8] == (6, 5, 2, 8, 2, 2) and district[8] == pytest.approx(0.5)


def test_the_pdf_renders_with_chinese_text(app, tmp_path):
    if not shutil.which("pdftoppm"):
        pytest.fail("poppler-utils is not installed: scripts/install-system-deps.sh test")
    client = accounts.client(app, "leader")
    response = client.get(f"/bulletin.pdf?date={DAY}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert f"bulletin-{DAY}.pdf" in response.headers["Content-Disposition"]
    pdf = tmp_path / "b.pdf"
    pdf.write_bytes(response.data)
    subprocess.run(["pdftoppm", "-r", "80", "-png", str(pdf), str(tmp_path / "page")],
                   check=True)
    pages = sorted(tmp_path.glob("page*.png"))
    assert len(pages) >= 1
    br.ARTIFACTS.mkdir(exist_ok=True)
    for old in br.ARTIFACTS.glob("bulletin-pdf-page*.png"):
        old.unlink()
    for n, png in enumerate(pages, start=1):  # to look at
        shutil.copy(png, br.ARTIFACTS / f"bulletin-pdf-page{n}.png")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    assert f"日通报 {DAY}" in text
    assert "5/6 = 83.33 %" in text and "派遣准确率" in text


def test_the_cli_writes_each_format(app, settings, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from webmap import cli

    monkeypatch.setenv("CIVGRID_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    runner = CliRunner()
    for fmt in ("xlsx", "html", "pdf"):
        out = tmp_path / f"b.{fmt}"
        result = runner.invoke(cli.main, ["bulletin", "--date", DAY, "--format", fmt,
                                          "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 1000 and str(out) in result.output
    assert "日通报 2026-11-30" in (tmp_path / "b.html").read_text()
    assert (tmp_path / "b.pdf").read_bytes().startswith(b"%PDF")
    wb = openpyxl.load_workbook(tmp_path / "b.xlsx")
    assert list(wb["全区"].iter_rows(values_only=True))[1][2] == 6
    result = runner.invoke(cli.main, ["bulletin", "--date", "2026-13-01", "--format", "xlsx",
                                      "-o", str(tmp_path / "x.xlsx")])
    assert result.exit_code != 0


def test_the_metrics_page_sorts_and_exports(app):
    client = accounts.client(app, "leader")
    response = client.get(f"/metrics?from={DAY}&to={NEXT}&group=department&sort=new&order=desc")
    assert response.status_code == 200
    parser = Tables()
    parser.feed(response.get_data(as_text=True))
    keys = list(parser.tables["department"])
    # new in the two days: 区城管局 A B F G H I = 6, not dispatched J L = 2, 区住建局 0
    assert keys == ["区城管局", "", "区住建局"]
    assert [parser.tables["department"][k][0] for k in keys] == ["6", "2", "0"]
    export = client.get(f"/metrics.xlsx?from={DAY}&to={NEXT}&group=department&sort=new")
    path = app.config["CIVGRID_SETTINGS"].data_dir / "m.xlsx"
    path.write_bytes(export.data)
    rows = list(openpyxl.load_workbook(path).active.iter_rows(values_only=True))
    assert [r[1] for r in rows[1:]] == ["区城管局", "未派遣", "区住建局"]
    assert client.get("/metrics?group=planet").status_code == 400
    assert client.get(f"/metrics?from={NEXT}&to={DAY}").status_code == 400


@pytest.mark.browser
def test_the_bulletin_in_chromium_on_a_phone_and_a_desktop(app, chromium):
    login = accounts.ensure(accounts.database(app), "command")
    server = br.LiveServer(app)
    page = br.Page(chromium)
    try:
        page.login(server.url, login, accounts.PASSWORD)
        for size, shot in (({"width": 390, "height": 844}, "bulletin-phone.png"),
                           ({"width": 1280, "height": 900}, "bulletin-desktop.png")):
            page.page.set_viewport_size(size)
            p = page.open(f"{server.url}/bulletin?date={DAY}", screenshot=shot)
            p.wait_for_selector(".cg-bulletin-map .leaflet-overlay-pane path")
            # the grid outlines and the heat canvas drew
            assert p.locator(".cg-bulletin-map .leaflet-overlay-pane path").count() >= 6
            assert p.locator(".cg-bulletin-map canvas.leaflet-heatmap-layer").count() == 1
            assert p.locator("table.cg-figures-table").count() == 4
            assert p.locator("img.cg-trend").evaluate("i => i.naturalWidth") > 0
            # no sideways scroll of the page: wide tables scroll in their own box
            width = p.evaluate("document.documentElement.scrollWidth")
            assert width <= size["width"], width
            assert "5/6 = 83.33 %" in p.locator(".cg-summary").inner_text()
        assert page.errors == [], page.errors
        assert page.outside == [], page.outside
    finally:
        page.close()
        server.stop()
