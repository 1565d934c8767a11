"""The hardened web layer apart from CSRF (tests/test_csrf.py): the secret key kept in the
data directory, security headers, the request size limit, downloads' file names."""

import io
import re
import stat
from concurrent.futures import ProcessPoolExecutor

import pytest
from PIL import Image

from geo import settings as settings_mod
from geo.errors import ConfigError
from tests import accounts
from tests.conftest import table_snapshot
from tests.layouts import grid_layout, xy
from webmap import security


def make_app(settings, **config):
    from webmap import create_app

    return create_app({"CIVGRID_SETTINGS": settings, "TESTING": True, **config})


# -- the secret key ---------------------------------------------------------------------

def test_apps_on_one_data_dir_share_the_key_and_the_sessions(settings, monkeypatch):
    monkeypatch.delenv("CIVGRID_SECRET_KEY", raising=False)
    first, second = make_app(settings), make_app(settings)
    path = settings.data_dir / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.secret_key == second.secret_key == path.read_bytes()
    assert len(path.read_bytes()) == 32
    # A session cookie made by one process is good in the other (a restart, or a second
    # worker): log in on the first, then open a page on the second with its cookie.
    client = accounts.client(first, "viewer")
    cookie = client.get_cookie("session")
    other = second.test_client()
    other.set_cookie("session", cookie.value)
    assert other.get("/issues").status_code == 200
    # An app on another data directory has another key: the cookie is worthless there.
    elsewhere = make_app(settings_mod.Settings(database_url=settings.database_url,
                                               data_dir=settings.data_dir / "other"))
    assert elsewhere.secret_key != first.secret_key
    stranger = elsewhere.test_client()
    stranger.set_cookie("session", cookie.value)
    assert stranger.get("/issues").status_code == 302


def _key_in_a_process(folder):
    return security.secret_key(folder, env={})


def test_processes_starting_together_agree(tmp_path):
    with ProcessPoolExecutor(4) as pool:
        keys = list(pool.map(_key_in_a_process, [tmp_path / "data"] * 12))
    assert len(set(keys)) == 1 and len(keys[0]) == 32
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["secret_key"]


def test_the_environment_overrides_the_file(tmp_path):
    assert security.secret_key(tmp_path, env={"CIVGRID_SECRET_KEY": "from-env"}) == "from-env"
    assert not (tmp_path / "secret_key").exists()


def test_a_damaged_key_file_is_named(tmp_path):
    (tmp_path / "secret_key").write_bytes(b"short")
    with pytest.raises(ConfigError) as err:
        security.secret_key(tmp_path, env={})
    assert str(tmp_path / "secret_key") in err.value.render(lambda s: s)


def test_the_anonymous_session_cookie_has_the_flags_too(settings, monkeypatch):
    """The login page now starts a session (its CSRF token): that cookie is HttpOnly and
    SameSite=Lax as well, and Secure with CIVGRID_SECURE_COOKIES=1 (test_login.py checks
    the logged-in one)."""
    cookie = make_app(settings).test_client().get("/login").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    monkeypatch.setenv("CIVGRID_SECURE_COOKIES", "1")
    cookie = make_app(settings).test_client().get("/login").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "; Secure" in cookie


# -- headers ----------------------------------------------------------------------------

HEADERS = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "same-origin"}


def directives(response):
    policy = response.headers["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in policy.split("; ")}


def test_every_response_carries_the_security_headers(settings, layout):
    app = make_app(settings)
    client = accounts.client(app, "admin")
    responses = {
        "page": client.get("/grids/" + layout["code"].iloc[0]),
        "api": client.get("/api/v1/grids"),
        "static": client.get("/static/civgrid.js"),
        "not found": client.get("/nowhere"),
        "anonymous redirect": app.test_client().get("/issues"),
        "login page": app.test_client().get("/login"),
    }
    for name, response in responses.items():
        for header, value in HEADERS.items():
            assert response.headers.get(header) == value, (name, header)
        policy = directives(response)
        assert policy["frame-ancestors"] == ["'none'"], name
        assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
        assert policy["img-src"] == ["'self'", "data:"], name  # CIVGRID_TILES=none
        assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
        assert "'unsafe-inline'" not in policy["script-src"] and \
            "'unsafe-eval'" not in policy["script-src"]


def test_inline_scripts_carry_the_requests_nonce(settings, layout):
    app = make_app(settings)
    client = accounts.client(app, "admin")
    nonces = set()
    for _ in range(2):
        response = client.get("/grids/" + layout["code"].iloc[0])
        page = response.get_data(as_text=True)
        [nonce_source] = [s for s in directives(response)["script-src"] if s.startswith("'nonce-")]
        nonce = nonce_source[len("'nonce-"):-1]
        nonces.add(nonce)
        scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page, re.S)
        inline = [attrs for attrs, body in scripts if "src=" not in attrs and body.strip()]
        assert len(inline) >= 2  # Folium's settings in the head, the map's script
        assert all(f'nonce="{nonce}"' in attrs for attrs in inline), inline
    assert len(nonces) == 2  # a new nonce for every request


@pytest.mark.parametrize("tiles, source", [
    ("https://{s}.tile.example/{z}/{x}/{y}.png", "https://*.tile.example"),
    ("osm", "https://tile.openstreetmap.org"),
    ("http://10.1.2.3:8080/tiles/{z}/{x}/{y}.png", "http://10.1.2.3:8080"),
])
def test_the_tile_source_is_allowed_for_images_only(db_url, tmp_path, tiles, source):
    settings = settings_mod.from_env({"CIVGRID_DATABASE_URL": db_url,
                                      "CIVGRID_DATA_DIR": str(tmp_path), "CIVGRID_TILES": tiles})
    response = make_app(settings).test_client().get("/login")
    policy = directives(response)
    assert policy["img-src"] == ["'self'", "data:", source]
    assert all(source not in values for name, values in policy.items() if name != "img-src")


# -- the size limit ---------------------------------------------------------------------

def _jpeg(size_bytes):
    """A real JPEG padded with a comment segment up to about ``size_bytes``."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buffer, "JPEG")
    data = buffer.getvalue()
    padding = b"\xff\xfe" + (65533).to_bytes(2, "big") + b"x" * 65531
    return data[:2] + padding * (size_bytes // len(padding) + 1) + data[2:]


@pytest.fixture
def small_limit(settings, layout, monkeypatch):
    monkeypatch.setenv("CIVGRID_MAX_UPLOAD_MB", "1")
    app = make_app(settings)
    assert app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024
    return app


def test_an_oversize_grid_file_is_refused_and_nothing_stored(small_limit, db, tmp_path):
    client = accounts.client(small_limit, "admin")
    path = tmp_path / "big.geojson"
    gdf = grid_layout()
    gdf["name"] = gdf["name"] + "x" * 300_000  # a real grid file, well over 1 MB
    gdf.to_file(path, driver="GeoJSON")
    assert path.stat().st_size > 1024 * 1024
    before = table_snapshot(db)
    response = client.post("/planner/upload", data={"file": (open(path, "rb"), "grids.geojson")})
    page = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "超过了 1 MB 的上限" in page and "CIVGRID_MAX_UPLOAD_MB" in page
    assert table_snapshot(db) == before
    english = client.post("/planner/upload?lang=en",
                          data={"file": (open(path, "rb"), "grids.geojson")},
                          headers={"Accept": "application/json"})
    assert english.status_code == 413
    assert english.get_json()["error"] == "web.too_large"
    assert "limit of 1 MB" in english.get_json()["message"]


def test_an_oversize_photo_is_refused_and_nothing_stored(small_limit, db, settings):
    client = accounts.client(small_limit, "admin")
    photo = _jpeg(1_200_000)
    Image.open(io.BytesIO(photo)).verify()  # a valid photo: only its size is wrong
    lon, lat = xy(3, 3)
    before = table_snapshot(db)
    response = client.post("/toilets/new", data={
        "code": "BIG-1", "kind": "household", "lon": str(lon), "lat": str(lat),
        "original_type": "dry_latrine", "status": "planned",
        "upload": (io.BytesIO(photo), "big.jpg")})
    assert response.status_code == 413 and "1 MB" in response.get_data(as_text=True)
    assert table_snapshot(db) == before
    assert not list(settings.data_dir.rglob("*.jpg"))
    # The same record with a small photo goes through: the limit, not the form, refused it.
    small = client.post("/toilets/new", data={
        "code": "BIG-1", "kind": "household", "lon": str(lon), "lat": str(lat),
        "original_type": "dry_latrine", "status": "planned",
        "upload": (io.BytesIO(_jpeg(100_000)), "small.jpg")})
    assert small.status_code == 302 and len(list(settings.data_dir.rglob("*.jpg"))) >= 1


def test_the_limit_must_be_a_positive_number():
    for raw in ("0", "-3", "lots"):
        with pytest.raises(ConfigError):
            settings_mod.max_upload_mb({"CIVGRID_MAX_UPLOAD_MB": raw})
    assert settings_mod.max_upload_mb({}) == 50
    assert settings_mod.max_upload_mb({"CIVGRID_MAX_UPLOAD_MB": "0.5"}) == 0.5


# -- downloads --------------------------------------------------------------------------

def test_every_download_is_an_attachment_with_a_proper_name(settings, layout):
    """The exports save under their name with the day; a Chinese name also in ASCII."""
    from geo.issues.query import district_today

    today = district_today().isoformat()
    client = accounts.client(make_app(settings), "admin")
    expected = {
        "/toilets/ledger.xlsx": ("toilet-ledger", "一户一档", "xlsx"),
        "/toilets/list.csv": ("toilet-records", "厕所台账记录", "csv"),
        "/toilets/list.xlsx": ("toilet-records", "厕所台账记录", "xlsx"),
        "/issues/export.csv": ("issues", "问题", "csv"),
        "/issues/export.xlsx": ("issues", "问题", "xlsx"),
    }
    for url, (ascii_stem, stem, ext) in expected.items():
        header = client.get(url).headers["Content-Disposition"]
        quoted = "".join(f"%{b:02X}" for b in stem.encode())
        assert header == (f"attachment; filename={ascii_stem}-{today}.{ext};"
                          f" filename*=UTF-8''{quoted}-{today}.{ext}"), url
    assert client.get("/toilets/toilets.geojson").headers["Content-Disposition"] == \
        f"attachment; filename=toilets-{today}.geojson"
    english = client.get("/issues/export.csv?lang=en").headers["Content-Disposition"]
    assert english == f"attachment; filename=Issues-{today}.csv"
