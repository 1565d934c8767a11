"""Settings, read from environment variables (README lists every one).

``CIVGRID_DATABASE_URL``  a PostGIS server (``postgresql://…``); unset: the
                          private cluster in the data directory.
``CIVGRID_DATA_DIR``      where the private cluster and other state live
                          (default ``./instance``).
``CIVGRID_TILES``         base map: ``none`` (default: no tiles; the maps draw a light base
                          from the district's own data and send no request outside the
                          server), a tile URL template ``…/{z}/{x}/{y}…`` (e.g. a tile server
                          on the intranet), or a preset: ``osm``, ``tianditu`` (needs
                          ``CIVGRID_TIANDITU_KEY``), ``amap`` (GCJ-02).
``CIVGRID_TILES_ATTR``    attribution text for that tile source.
``CIVGRID_TILES_CRS``     ``wgs84`` (default) or ``gcj02``: the tiles' datum; overlays are
                          shifted onto GCJ-02 tiles so they line up.
``CIVGRID_TIANDITU_KEY``  the Tianditu key for the ``tianditu`` preset.
``CIVGRID_ASSIGN_TOLERANCE_M``  nearest-grid tolerance in metres (default 50).
``CIVGRID_MAX_OUTSIDE_M`` refuse points this far outside the district extent
                          (default 5000).
``CIVGRID_FALLBACK_OWNER`` who owns unassigned issues (属地兜底).
``CIVGRID_SLIVER_M2``     grid polygons (or parts) smaller than this are slivers
                          (default 100).
``CIVGRID_NOISE_WIDTH_M`` overlaps and gaps between grids thinner than this (m) are
                          digitising noise, repaired when a grid file is imported
                          (default 0.5; 0 turns the repair off).
``CIVGRID_MIN_GRID_WIDTH_M`` grid polygons (or parts) narrower than this are strips
                          (default 10; 0 turns the check off).
``CIVGRID_MAX_UNZIPPED_MB`` a zipped Shapefile may unzip to at most this many MB
                          (default 1024); a larger one is refused (a zip bomb guard).
``CIVGRID_MAX_UPLOAD_MB`` the web pages refuse a request (an upload) larger than this many
                          MB (default 50).
``CIVGRID_WORKERS``       ``civgrid serve``: worker processes (default: two per core, fewer
                          when the database's connections would not suffice).
``CIVGRID_THREADS``       ``civgrid serve``: requests each worker answers at once (default 4).
``CIVGRID_CONNECTION_LIMIT`` ``civgrid serve``: open client connections at most (default 500).
``CIVGRID_CHANNEL_TIMEOUT_S`` ``civgrid serve``: a connection idle (or sending nothing)
                          this long is closed (default 30).
``CIVGRID_TRUSTED_PROXY`` ``civgrid serve``: the address of the reverse proxy whose
                          ``X-Forwarded-*`` headers are believed (default: none).
``CIVGRID_ACCESS_LOG``    ``civgrid serve``: a line per request with its time taken, to this
                          file (``-``: standard error; default: unset, no access log).
``CIVGRID_BULLETIN_AT``   ``HH:MM`` on the district clock: the server makes and archives the
                          daily bulletin of the day before at this time (default: unset, off).
"""

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

#: The default base map: no tiles, so no page asks a server outside the intranet for any
#: (and none learns which streets are being looked at); the maps draw the district's
#: streets and blocks instead (``webmap.maps.base.add_base_layer``).
DEFAULT_TILES = "none"
#: preset → (URL template, attribution, datum)
TILE_PRESETS = {
    "osm": ("https://tile.openstreetmap.org/{z}/{x}/{y}.png",
            "&copy; OpenStreetMap contributors", "wgs84"),
    "tianditu": ("https://t0.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
                 "&VERSION=1.0.0&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                 "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}", "&copy; 天地图", "wgs84"),
    "amap": ("https://webrd01.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
             "&x={x}&y={y}&z={z}", "&copy; 高德地图", "gcj02"),
    "none": ("none", "", "wgs84"),
}


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    data_dir: Path = field(default_factory=lambda: Path("instance").resolve())
    tiles: str = DEFAULT_TILES
    tiles_attr: str = ""
    tiles_crs: str = "wgs84"
    assign_tolerance_m: float = 50.0
    max_outside_m: float = 5000.0
    fallback_owner: str = "属地街道兜底"
    sliver_m2: float = 100.0
    noise_width_m: float = 0.5
    min_grid_width_m: float = 10.0
    workers: int = field(default_factory=lambda: WORKERS_PER_CORE * cores())
    #: False when ``workers`` is the default, which ``civgrid serve`` lowers to what the
    #: database's connections allow (an explicit number that does not fit is refused).
    workers_set: bool = False
    threads: int = 4
    connection_limit: int = 500
    channel_timeout_s: int = 30
    trusted_proxy: str | None = None
    access_log: str | None = None
    bulletin_at: dt.time | None = None


#: ``civgrid serve``'s default processes per core, each of ``threads`` (4) threads
#: (README: *Serving in production*).
WORKERS_PER_CORE = 2


def cores():
    """The cores this process may run on (``CIVGRID_WORKERS`` defaults to twice as
    many)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _float(env, name, default):
    raw = env.get(name)
    if raw in (None, ""):
        return default
    from geo.errors import N_, ConfigError, shown

    params = {"name": name, "value": shown(raw)}
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(N_("%(name)s=%(value)r is not a number"), params,
                          code="config.not_a_number") from None
    if not 0 <= value < float("inf"):  # also refuses nan: every such setting is a size
        raise ConfigError(N_("%(name)s=%(value)r must be a number ≥ 0"), params,
                          code="config.out_of_range")
    return value


def _count(env, name, default):
    """A whole number ≥ 1 from ``env[name]``."""
    raw = env.get(name)
    if raw in (None, ""):
        return default
    from geo.errors import N_, ConfigError, shown

    try:
        value = int(raw.strip())
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(N_("%(name)s=%(value)r must be a whole number ≥ 1"),
                          {"name": name, "value": shown(raw)}, code="config.out_of_range")
    return value


#: Default of ``CIVGRID_MAX_UNZIPPED_MB``.
MAX_UNZIPPED_MB = 1024.0


def max_unzipped_mb(env=None):
    """How many MB a zipped Shapefile may unzip to (``CIVGRID_MAX_UNZIPPED_MB``).

    Read when a zip is opened, not with :func:`from_env`: the readers take no settings.
    """
    return _float(os.environ if env is None else env, "CIVGRID_MAX_UNZIPPED_MB",
                  MAX_UNZIPPED_MB)


#: Default of ``CIVGRID_MAX_UPLOAD_MB``.
MAX_UPLOAD_MB = 50.0


def max_upload_mb(env=None):
    """How many MB a request to the web pages may carry (``CIVGRID_MAX_UPLOAD_MB``, above 0).

    Read when the app is built (Flask's ``MAX_CONTENT_LENGTH``).
    """
    from geo.errors import N_, ConfigError, shown

    env = os.environ if env is None else env
    value = _float(env, "CIVGRID_MAX_UPLOAD_MB", MAX_UPLOAD_MB)
    if value == 0:
        raise ConfigError(N_("%(name)s=%(value)r must be above 0: nothing could be sent"),
                          {"name": "CIVGRID_MAX_UPLOAD_MB",
                           "value": shown(env["CIVGRID_MAX_UPLOAD_MB"])},
                          code="config.out_of_range")
    return value


def _tiles(env):
    from geo.errors import N_, ConfigError, shown

    value = env.get("CIVGRID_TILES") or DEFAULT_TILES
    url, attr, datum = TILE_PRESETS.get(value.lower(), (value, "", "wgs84"))
    if "{key}" in url:
        key = env.get("CIVGRID_TIANDITU_KEY")
        if not key:
            raise ConfigError(N_("CIVGRID_TILES=tianditu needs CIVGRID_TIANDITU_KEY"),
                              code="config.tiles")
        url = url.replace("{key}", key)
    if url != "none" and not all(p in url for p in ("{x}", "{y}", "{z}")):
        raise ConfigError(N_("CIVGRID_TILES=%(value)r is neither a preset (%(presets)s) nor a "
                             "URL template with {x}, {y}, {z}"),
                          {"value": shown(value, 80), "presets": ", ".join(TILE_PRESETS)},
                          code="config.tiles")
    datum = (env.get("CIVGRID_TILES_CRS") or datum).lower()
    if datum not in ("wgs84", "gcj02"):
        raise ConfigError(N_("CIVGRID_TILES_CRS=%(value)r: use wgs84 or gcj02"),
                          {"value": shown(datum)}, code="config.tiles")
    return {"tiles": url, "tiles_attr": env.get("CIVGRID_TILES_ATTR") or attr,
            "tiles_crs": datum}


def _time_of_day(env, name):
    """``HH:MM`` from ``env[name]`` as a time (unset or empty: ``None``)."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    from geo.errors import N_, ConfigError, shown

    try:
        hours, minutes = raw.split(":")
        return dt.time(int(hours), int(minutes))
    except ValueError:
        raise ConfigError(N_("%(name)s=%(value)r is not a time of day HH:MM (e.g. 08:00)"),
                          {"name": name, "value": shown(raw)}, code="config.not_a_time") from None


def from_env(env=None):
    """Build :class:`Settings` from ``env`` (default ``os.environ``)."""
    env = os.environ if env is None else env
    return Settings(
        database_url=env.get("CIVGRID_DATABASE_URL") or None,
        data_dir=Path(env.get("CIVGRID_DATA_DIR") or "instance").resolve(),
        **_tiles(env),
        assign_tolerance_m=_float(env, "CIVGRID_ASSIGN_TOLERANCE_M", 50.0),
        max_outside_m=_float(env, "CIVGRID_MAX_OUTSIDE_M", 5000.0),
        fallback_owner=env.get("CIVGRID_FALLBACK_OWNER") or "属地街道兜底",
        sliver_m2=_float(env, "CIVGRID_SLIVER_M2", 100.0),
        noise_width_m=_float(env, "CIVGRID_NOISE_WIDTH_M", 0.5),
        min_grid_width_m=_float(env, "CIVGRID_MIN_GRID_WIDTH_M", 10.0),
        workers=_count(env, "CIVGRID_WORKERS", WORKERS_PER_CORE * cores()),
        workers_set=env.get("CIVGRID_WORKERS") not in (None, ""),
        threads=_count(env, "CIVGRID_THREADS", 4),
        connection_limit=_count(env, "CIVGRID_CONNECTION_LIMIT", 500),
        channel_timeout_s=_count(env, "CIVGRID_CHANNEL_TIMEOUT_S", 30),
        trusted_proxy=env.get("CIVGRID_TRUSTED_PROXY") or None,
        access_log=env.get("CIVGRID_ACCESS_LOG") or None,
        bulletin_at=_time_of_day(env, "CIVGRID_BULLETIN_AT"),
    )
