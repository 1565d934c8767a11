"""Messages are data until the edge: every message has its Chinese, every problem code
renders in both languages, and the JSON API and the CLI speak their user's language."""

import ast
import os
import re
import subprocess
import sys

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from geo.errors import Problem
from tests import accounts
from tests.conftest import REPO
from tests.layouts import xy
from webmap.i18n import catalogue

PO = REPO / "webmap" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {"gettext": None, "_": None, "ngettext": (1, 2), "lazy_gettext": None, "N_": None}
CODE_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
PLACEHOLDER_RE = re.compile(r"%\((\w+)\)[#0\- +]*\d*(?:\.\d+)?([a-zA-Z%])")


def _translations():
    with open(PO, "rb") as fh:
        catalog = read_po(fh, locale="zh_CN")
    return {m.id if isinstance(m.id, str) else m.id[0]: m.string for m in catalog if m.id}


def _msgids():
    """Every msgid of geo/ and webmap/ with where it is used, as ``pybabel extract`` finds it."""
    with open(REPO / "webmap" / "babel.cfg") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found = {}
    for package in ("geo", "webmap"):
        for filename, lineno, message, _comments, _context in extract_from_dir(
                str(REPO / package), method_map, options_map, keywords=KEYWORDS):
            msgid = message if isinstance(message, str) else message[0]
            found.setdefault(msgid, f"{package}/{filename}:{lineno}")
    return found


def test_every_msgid_has_its_chinese():
    translated = _translations()
    used = _msgids()
    assert len(used) > 300  # the extraction saw the core and the web layer
    def has_chinese(msgid):
        string = translated.get(msgid)
        return bool(string) if isinstance(string, str) else bool(string) and all(string)

    missing = sorted(f"{where}: {msgid!r}" for msgid, where in used.items()
                     if not has_chinese(msgid))
    assert missing == [], "translate in messages.po:\n" + "\n".join(missing)


# -- every problem code -------------------------------------------------------------------

def _n_templates(node):
    """The English templates marked ``N_("…")`` anywhere under ``node``."""
    return [sub.args[0].value for sub in ast.walk(node)
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name)
            and sub.func.id == "N_" and sub.args and isinstance(sub.args[0], ast.Constant)]


def _coded_templates(path):
    """``[(code, [templates], where)]`` for each literal code in ``path``: the first string
    of a call (``Problem("io.x", N_(...))``, ``bad_parameter("parameter.x", …)``) or tuple,
    or a ``code="…"`` keyword. Templates are the ``N_`` calls among the arguments; when the
    template is a variable, those of the enclosing function or of the helper it calls."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    functions = {f.name: f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)}
    constants = {target.id: node.value for node in tree.body if isinstance(node, ast.Assign)
                 for target in node.targets if isinstance(target, ast.Name)}
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            items = list(node.args) + [k.value for k in node.keywords]
            literal = [k.value.value for k in node.keywords if k.arg == "code"
                       and isinstance(k.value, ast.Constant)]
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if node.args and isinstance(node.args[0], ast.Constant) and (
                    name == "Problem" or any(_n_templates(item) for item in node.args[1:])):
                literal.append(node.args[0].value)
        elif isinstance(node, ast.Tuple) and len(node.elts) > 1 \
                and isinstance(node.elts[0], ast.Constant) and _n_templates(node.elts[1]):
            items, literal = node.elts, [node.elts[0].value]
        else:
            continue
        codes = [c for c in literal if isinstance(c, str) and CODE_RE.match(c)]
        if not codes:
            continue
        templates = [t for item in items for t in _n_templates(item)]
        if not templates:  # a module-level constant: _NO_TOILET = N_("…")
            templates = [t for item in items if isinstance(item, ast.Name)
                         and item.id in constants for t in _n_templates(constants[item.id])]
        if not templates:
            helpers = [sub.func.id for item in items for sub in ast.walk(item)
                       if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name)]
            templates = [t for name in helpers if name in functions
                         for t in _n_templates(functions[name])]
        if not templates:
            outer = node
            while outer in parents and not isinstance(outer, ast.FunctionDef):
                outer = parents[outer]
            templates = _n_templates(outer) if isinstance(outer, ast.FunctionDef) else []
        where = f"{path.relative_to(REPO)}:{node.lineno}"
        found += [(code, templates, where) for code in codes]
    return found


def _all_codes():
    found = []
    for path in sorted((REPO / "geo").rglob("*.py")):
        found += _coded_templates(path)
    return found


def _dummy(conversion, name):
    """A value for a placeholder: a number for %d/%g/%f, a word otherwise."""
    if conversion in "dixXo":
        return 7
    if conversion in "eEfFgG":
        return 12.5
    return f"V{name}"


def test_the_code_walker_sees_the_codes():
    codes = {code for code, _templates, _where in _all_codes()}
    assert {"io.no_column", "geometry.invalid", "geometry.sliver", "parameter.not_one_of",
            "issues.unknown_category", "database.schema_newer", "config.tiles"} <= codes


def test_every_problem_code_renders_in_chinese_and_english():
    zh = catalogue("zh").gettext
    failures = []
    for code, templates, where in _all_codes():
        if not templates:
            failures.append(f"{where}: {code} has no N_() template (an f-string sentence?)")
        for template in templates:
            placeholders = PLACEHOLDER_RE.findall(template)
            params = {name: _dummy(conv, name) for name, conv in placeholders if conv != "%"}
            problem = Problem(code, template, params)
            english, chinese = problem.render(), problem.render(zh)
            names = {name for name, conv in placeholders if conv != "%"}
            if zh(template) == template or chinese == english:
                failures.append(f"{where}: {code}: no Chinese for {template!r}")
            elif not re.search(r"[\u4e00-\u9fff]", chinese):
                failures.append(f"{where}: {code}: {chinese!r} is not Chinese")
            elif names != {n for n, c in PLACEHOLDER_RE.findall(zh(template)) if c != "%"}:
                failures.append(f"{where}: {code}: the Chinese of {template!r} lacks or adds "
                                "a placeholder")
    assert failures == [], "\n".join(failures)


def test_a_placeholder_missing_from_the_chinese_would_be_caught():
    """The walker's check on a hand-made bad pair: the Chinese drops %(row)s."""
    english = "row %(row)s is bad"
    chinese = "这一行有误"
    assert {n for n, _c in PLACEHOLDER_RE.findall(english)} != \
        {n for n, _c in PLACEHOLDER_RE.findall(chinese)}


# -- the JSON API ---------------------------------------------------------------------------

@pytest.fixture
def client(demo_app):
    return accounts.client(demo_app)  # a fresh cookie jar: no remembered language


def test_a_bad_parameter_is_a_coded_localized_400(client):
    zh = client.get("/api/v1/issues?status=done")
    assert zh.status_code == 400
    body = zh.get_json()
    assert body["error"] == "parameter.not_one_of"
    assert body["message"].startswith("参数 'status'：'done' 不在可选值 open, reported")
    assert body["params"]["name"] == "status" and body["params"]["value"] == "done"
    assert "reported" in body["params"]["allowed"].split(", ")
    assert [p["code"] for p in body["problems"]] == ["parameter.not_one_of"]

    en = client.get("/api/v1/issues?status=done&lang=en").get_json()
    assert en["error"] == "parameter.not_one_of" and en["params"] == body["params"]
    assert en["message"].startswith("parameter 'status': 'done' is not one of open, reported")


@pytest.mark.parametrize("url,code,fragment", [
    ("/api/v1/issues/clusters?bbox=111,40,112,41", "parameter.missing", "缺少参数 'zoom'"),
    ("/api/v1/heat?cell=1", "parameter.out_of_range", "参数 'cell'：1 超出 20…5000 的范围"),
    ("/api/v1/issues?nonsense=1", "parameter.unknown", "此处不支持参数 'nonsense'"),
    ("/api/v1/issues?from=2026-11-02&to=2026-11-01", "parameter.date_order",
     "参数 'from'：晚于 'to'"),
    ("/api/v1/issues?q=a%00b", "parameter.nul_character", "参数 'q' 含有空字符"),
    ("/api/v1/grids/150102999999999", "grids.not_found", "当前生效版本中没有网格 150102999999999"),
])
def test_api_errors_have_stable_codes_and_chinese_by_default(client, url, code, fragment):
    body = client.get(url).get_json()
    assert body["error"] == code and fragment in body["message"], body


def test_an_input_problem_list_names_code_message_and_place(db, settings, layout):
    """A form with four problems through the one error handler: each problem keeps its
    code, its message in the request's language, its raw parameters and its place."""
    from geo.issues import records as issues
    from webmap import auth, create_app
    from webmap.db import get_db

    app = create_app({"CIVGRID_SETTINGS": settings, "TESTING": True})

    @app.post("/api/v1/issues")  # the route a JSON create would have: the core's checks
    @auth.requires("issues.report")
    def create():
        from flask import request

        issues.create_issue(get_db(), settings, request.get_json())
        return {}

    resp = accounts.client(app).post("/api/v1/issues", json={"category": "99999", "lat": "四十"})
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["error"] == "input"  # several problems: the error is bad input as a whole
    assert sorted(p["code"] for p in body["problems"]) == [
        "io.missing_value", "io.missing_value", "io.not_a_number", "issues.unknown_category"]
    problems = {p["code"]: p for p in body["problems"]}
    unknown = problems["issues.unknown_category"]
    assert unknown["message"] == "表单：该问题: 未知问题类别 '99999'"
    assert unknown["params"] == {"category": "99999"} and unknown["file"] == "form: the issue"
    assert problems["io.not_a_number"]["params"] == {"column": "lat", "value": "四十"}

    english = accounts.client(app).post("/api/v1/issues?lang=en", json={"category": "99999"})
    messages = [p["message"] for p in english.get_json()["problems"]]
    assert "form: the issue: unknown category '99999'" in messages


# -- the command line -----------------------------------------------------------------------

def _cli(settings, lang, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES")}
    env.update(LANG=lang, CIVGRID_DATABASE_URL=settings.database_url)
    return subprocess.run([sys.executable, "-m", "webmap.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def bad_csv(tmp_path):
    lon, lat = xy(3, 3)
    path = tmp_path / "bad.csv"
    path.write_text("ref,category,lon,lat,reported_at,status\n"
                    f"N-1,06010,{lon},{lat},2026-11-02T09:30:00,reported\n"
                    f"N-2,99999,{lon},{lat},2026-11-02T09:30:00,done\n", encoding="utf-8")
    return path


def test_cli_import_problems_in_chinese(db, settings, layout, bad_csv):
    out = _cli(settings, "zh_CN.UTF-8", "import", "issues", str(bad_csv))
    assert out.returncode == 1
    assert "错误：未做任何更改；输入有以下问题：" in out.stderr
    assert "bad.csv: 第 3 行 (ref N-2): 未知问题类别 '99999'" in out.stderr
    assert "bad.csv: 第 3 行 (ref N-2): status 'done' 不在可选值" in out.stderr


def test_cli_import_problems_in_english(db, settings, layout, bad_csv):
    out = _cli(settings, "C.UTF-8", "import", "issues", str(bad_csv))
    assert out.returncode == 1
    assert "bad.csv: row 3 (ref N-2): unknown category '99999'" in out.stderr
    assert "bad.csv: row 3 (ref N-2): status 'done' is not one of" in out.stderr


def test_cli_import_summary_in_the_environments_language(db, settings, layout, tmp_path):
    lon, lat = xy(3, 3)
    path = tmp_path / "good.csv"
    path.write_text(f"ref,category,lon,lat,reported_at\nG-1,06010,{lon},{lat},2026-11-02\n",
                    encoding="utf-8")
    zh = _cli(settings, "zh_CN.UTF-8", "import", "--dry-run", "issues", str(path))
    assert zh.returncode == 0, zh.stderr
    assert f"将从 {path.name} 导入 1 条问题" in zh.stdout and "网格内 1" in zh.stdout
    en = _cli(settings, "C.UTF-8", "import", "issues", str(path))
    assert en.returncode == 0, en.stderr
    assert f"imported 1 issues from {path.name}" in en.stdout and "inside 1" in en.stdout
