"""Settings, read from environment variables (README lists every one).

``CIVGRID_DATABASE_URL``  a PostGIS server (``postgresql://…``); unset: the
                          private cluster in the data directory.
``CIVGRID_DATA_DIR``      where the private cluster and other state live
                          (default ``./instance``).
``CIVGRID_TILES``         base-map tile URL template, or ``none``.
``CIVGRID_TILES_ATTR``    attribution text for that tile source.
``CIVGRID_ASSIGN_TOLERANCE_M``  nearest-grid tolerance in metres (default 50).
``CIVGRID_MAX_OUTSIDE_M`` refuse points this far outside the district extent
                          (default 5000).
``CIVGRID_FALLBACK_OWNER`` who owns unassigned issues (属地兜底).
``CIVGRID_SLIVER_M2``     grid polygons (or parts) smaller than this are slivers
                          (default 100).
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
DEFAULT_TILES_ATTR = "&copy; OpenStreetMap contributors"


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    data_dir: Path = field(default_factory=lambda: Path("instance").resolve())
    tiles: str = DEFAULT_TILES
    tiles_attr: str = DEFAULT_TILES_ATTR
    assign_tolerance_m: float = 50.0
    max_outside_m: float = 5000.0
    fallback_owner: str = "属地街道兜底"
    sliver_m2: float = 100.0


def _float(env, name, default):
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        from geo.errors import ConfigError

        raise ConfigError(f"{name}={raw!r} is not a number") from None


def from_env(env=None):
    """Build :class:`Settings` from ``env`` (default ``os.environ``)."""
    env = os.environ if env is None else env
    return Settings(
        database_url=env.get("CIVGRID_DATABASE_URL") or None,
        data_dir=Path(env.get("CIVGRID_DATA_DIR") or "instance").resolve(),
        tiles=env.get("CIVGRID_TILES") or DEFAULT_TILES,
        tiles_attr=env.get("CIVGRID_TILES_ATTR") or DEFAULT_TILES_ATTR,
        assign_tolerance_m=_float(env, "CIVGRID_ASSIGN_TOLERANCE_M", 50.0),
        max_outside_m=_float(env, "CIVGRID_MAX_OUTSIDE_M", 5000.0),
        fallback_owner=env.get("CIVGRID_FALLBACK_OWNER") or "属地街道兜底",
        sliver_m2=_float(env, "CIVGRID_SLIVER_M2", 100.0),
    )
