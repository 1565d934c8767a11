"""The toilet office's Excel ledger (一户一档): one row per toilet, every attribute.

Headers and coded values are in Chinese, as the office files them; dates are
Excel dates, the five facilities 是/否, coordinates CGCS2000 lon/lat. Each row
names the toilet's grid and that grid's community and street (of the grid
version it was assigned under). Rows are ordered by grid code, then toilet
code; toilets in no grid come last. A second sheet (说明) records when and for
what area the ledger was made.

Written with openpyxl's write-only mode, so memory stays flat for any number
of rows.

Examples
--------
>>> write_ledger(db, "一户一档.xlsx")  # doctest: +SKIP
680
>>> write_ledger(db, "街道.xlsx", area_code="150102004000000")  # one street  # doctest: +SKIP
"""

import datetime as dt
from pathlib import Path

from geo.grids import assign
from geo.toilets import progress as coverage_progress
from geo.store import db as db_mod
from geo.errors import N_, NotFound

SHEET = "一户一档"

KIND_ZH = {"household": "户厕", "public": "公厕"}
ORIGINAL_TYPE_ZH = {"dry_latrine": "旱厕", "flush": "水冲厕", "none": "无"}
ACTION_ZH = {"demolish": "拆除", "convert": "改造", "new_build": "新建"}
STATUS_ZH = {"planned": "计划", "in_progress": "施工中", "accepted": "已验收"}
SANITARY_TYPE_ZH = {  # GB 19379 household sanitary toilet types
    "three_compartment": "三格化粪池式", "double_urn": "双瓮漏斗式",
    "biogas": "三联通沼气池式", "urine_diverting": "粪尿分集式",
    "double_pit": "双坑交替式", "sewer_flush": "完整下水道水冲式",
}
METHOD_ZH = {"inside": "网格内", "boundary": "边界(取编码最小)", "nearest": "就近归属",
             "none": "未归属"}
YES_NO = {True: "是", False: "否"}

#: (header, query column, how to show the value, column width)
COLUMNS = [
    ("编号", "code", None, 18),
    ("类别", "kind", KIND_ZH, 6),
    ("名称", "name", None, 20),
    ("地址", "address", None, 28),
    ("经度", "lon", None, 12),
    ("纬度", "lat", None, 12),
    ("原厕所类型", "original_type", ORIGINAL_TYPE_ZH, 10),
    ("改造方式", "action", ACTION_ZH, 8),
    ("状态", "status", STATUS_ZH, 8),
    ("计划日期", "planned_at", None, 11),
    ("开工日期", "started_at", None, 11),
    ("验收日期", "accepted_at", None, 11),
    ("取暖", "heating", YES_NO, 5),
    ("供电", "power", YES_NO, 5),
    ("供水", "water", YES_NO, 5),
    ("排污", "sewage", YES_NO, 5),
    ("通风", "ventilation", YES_NO, 5),
    ("卫生厕所类型", "sanitary_type", SANITARY_TYPE_ZH, 16),
    ("照片", "photos", None, 30),
    ("街道", "street_name", None, 12),
    ("社区", "community_name", None, 14),
    ("网格编码", "grid_code", None, 17),
    ("网格名称", "grid_name", None, 14),
    ("归属方式", "assign_method", METHOD_ZH, 10),
    ("网格版本", "grid_version", None, 8),
    ("原始X", "raw_x", None, 14),
    ("原始Y", "raw_y", None, 14),
    ("原始坐标系", "raw_crs", None, 11),
    ("录入时间", "created_at", None, 19),
]


def ledger_rows(db, area_code=None):
    """The ledger's rows as dicts keyed by the Chinese headers of :data:`COLUMNS`.

    ``area_code`` keeps the toilets of one grid, community or street of the
    active version (raises :class:`~geo.errors.NotFound` when it names none).
    """
    condition, params = coverage_progress.area_filter(area_code)
    with db.transaction() as tx:
        version = assign.active_version(tx)
        params["version"] = version
        if area_code is None:
            scope = "true"
        else:
            if not tx.fetchval(f"SELECT count(*) FROM grids AS g WHERE g.version_id ="
                               f" %(version)s AND {condition}", params):
                raise NotFound(N_("no grid, community or street with code %(code)r in the "
                                  "active grid version"), {"code": area_code},
                               code="grids.area_not_found")
            scope = ("t.grid_id IN (SELECT g.id FROM grids AS g"
                     f" WHERE g.version_id = %(version)s AND {condition})")
        rows = tx.fetchdicts(db_mod.sql("toilet_ledger").format(scope=scope), params)
    return [{header: _cell(row[col], shown) for header, col, shown, _ in COLUMNS}
            for row in rows]


def _cell(value, shown):
    if value is None:
        return None
    if shown is not None:
        return shown.get(value, value)
    if isinstance(value, list):
        return ";".join(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone(dt.timedelta(hours=8))).replace(tzinfo=None)
    return value


def write_ledger(db, path, area_code=None):
    """Write the ledger to ``path`` (.xlsx); return the number of toilets written.

    Parameters
    ----------
    db : geo.db.Database
    path : str, Path or binary file object (e.g. ``io.BytesIO`` for a web response)
    area_code : str, optional
        A grid, community or street code of the active version: only its toilets.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    rows = ledger_rows(db, area_code)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(SHEET)
    for i, (_, _, _, width) in enumerate(COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "B2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{len(rows) + 1}"
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    header = []
    for title, *_ in COLUMNS:
        cell = WriteOnlyCell(ws, value=title)
        cell.font, cell.fill, cell.alignment = bold, fill, Alignment(horizontal="center")
        header.append(cell)
    ws.append(header)
    for row in rows:  # dates get Excel date formats from openpyxl itself
        ws.append(list(row.values()))
    about = wb.create_sheet("说明")
    about.append(["台账", "厕所革命一户一档"])
    about.append(["范围", area_code or "全区"])
    about.append(["记录数", len(rows)])
    about.append(["生成时间", dt.datetime.now().replace(microsecond=0)])
    about.append(["坐标", "CGCS2000 经纬度 (EPSG:4490)"])
    wb.save(path if hasattr(path, "write") else Path(path))
    return len(rows)
