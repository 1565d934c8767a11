"""Figures for maps and pages: per-grid counts, binned heat weights."""

import geopandas as gpd
import pandas as pd
import shapely

from geo import assign, db as db_mod


def grid_overview(db, simplify_m=2.0):
    """Active grids (grid level) with issue counts as a GeoDataFrame (EPSG:4490)."""
    with db.transaction() as tx:
        version = assign.active_version(tx)
        if version is None:
            return None
        rows = tx.fetchall(db_mod.sql("grid_overview"),
                           {"version": version, "tolerance_deg": simplify_m / 111_000})
        columns = tx.columns()
    data = pd.DataFrame(rows, columns=columns)
    geometry = shapely.from_wkb([bytes(b) for b in data.pop("wkb")])
    return gpd.GeoDataFrame(data, geometry=geometry, crs=4490)


def heat_bins(db, cell_m=50.0):
    """``[(lat, lon, count), …]`` of issues binned on a lattice of about ``cell_m``."""
    with db.transaction() as tx:
        return tx.fetchall(db_mod.sql("heat_bins"), {"cell_deg": cell_m / 111_000})
