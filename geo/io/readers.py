"""Read grid, issue and toilet files into frames, with errors that name the file and row.

Supported: GeoJSON, GeoPackage, zipped Shapefile (read through pyogrio) and
CSV with lon/lat columns in UTF-8, UTF-8 with BOM or GBK (what Excel writes on
a Chinese Windows). Rows are numbered as a spreadsheet shows them (the header
is row 1); features from 1.
"""

import re
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.io import crs as crs_mod
from geo.errors import N_, InputError, Place, Problem, Text, shown

POINT_SUFFIXES = {".csv", ".txt", ".geojson", ".json", ".gpkg", ".zip", ".shp"}
VECTOR_SUFFIXES = {".geojson", ".json", ".gpkg", ".zip", ".shp"}

#: Header aliases (lower-cased) → canonical column names (DESIGN.md §10).
ALIASES = {
    "longitude": "lon", "lng": "lon", "x": "lon", "经度": "lon",
    "latitude": "lat", "y": "lat", "纬度": "lat",
    "编号": "ref", "id": "ref", "类别": "category", "类别代码": "category", "问题类别": "category",
    "描述": "description", "问题描述": "description", "地址": "address",
    "上报时间": "reported_at", "时间": "reported_at", "来源": "source", "状态": "status",
    "结案时间": "closed_at", "网格编码": "code", "编码": "code", "名称": "name",
    "负责人": "leader", "包片领导": "leader", "责任单位": "departments",
    "包联单位": "departments", "人口": "population",
    # Shapefile (dBase) field names are cut to 10 characters.
    "reported_a": "reported_at", "descriptio": "description", "department": "departments",
    "original_t": "original_type", "accepted_a": "accepted_at", "sanitary_t": "sanitary_type",
    "ventilatio": "ventilation",
}


#: What a required column may be called or hold, for the problem of its absence.
COLUMN_HINTS = {
    "lon": N_("accepted: lon/lat, longitude/latitude, x/y, 经度/纬度"),
    "lat": N_("accepted: lon/lat, longitude/latitude, x/y, 经度/纬度"),
    "kind": N_("e.g. residential, R2, 居住用地"),
}


@dataclass
class Table:
    """Attributes of a file's rows plus, for point files, their raw coordinates."""

    path: Path
    frame: pd.DataFrame  # all values as str ('' when empty)
    labels: "RowLabels"  # "row 5" / "feature 3" for each row, for messages
    crs: object  # 'gcj02' / 'bd09' / pyproj CRS / None (lon/lat)
    x: np.ndarray | None = None
    y: np.ndarray | None = None
    geometry: object = None  # GeoSeries for polygon files

    def __post_init__(self):
        """Refuse NUL characters: PostgreSQL cannot store them in text."""
        problems = []
        for col in self.frame.columns:
            values = self.frame[col]
            if not pd.api.types.is_string_dtype(values):
                continue
            bad = values.str.contains("\x00", regex=False, na=False).to_numpy(dtype=bool)
            for i in np.flatnonzero(bad)[:50]:
                problems.append(Problem(
                    "io.nul_character", N_("%(column)s contains a NUL character (0x00), which "
                                           "cannot be stored as text (a binary or UTF-16 file?)"),
                    {"column": col}, self.place(i)))
        if problems:
            raise InputError(problems[:50], source=self.path)

    def require(self, columns):
        """The problems of the ``columns`` this table lacks (empty: it has them all).

        The one definition of "a required column is missing": a CSV lacks a column, a
        polygon or point file an attribute, a form a field. :data:`COLUMN_HINTS` says
        what some columns may be called or hold.

        >>> table = Table(Path("a.csv"), pd.DataFrame({"ref": ["A"]}), RowLabels(1), None)
        >>> [p.render() for p in table.require(["ref", "category"])]
        ['a.csv: no category column']
        """
        missing = [c for c in columns if c not in self.frame.columns]
        hints = {c: Text(COLUMN_HINTS[c]) for c in missing if c in COLUMN_HINTS}
        if not isinstance(self.labels, RowLabels):  # a form: a field was not filled in
            return [missing_value(self, 0, c) for c in missing]
        feature = self.labels.word == "feature"
        messages = {(False, False): N_("no %(column)s column"),
                    (False, True): N_("no %(column)s column (%(hint)s)"),
                    (True, False): N_("no %(column)s attribute"),
                    (True, True): N_("no %(column)s attribute (%(hint)s)")}
        return [Problem("io.no_column", messages[feature, c in hints],
                        {"column": c, **({"hint": hints[c]} if c in hints else {})},
                        Place(self.path.name)) for c in missing]

    def no_column(self, column):
        """The problem of a missing column (see :meth:`require`)."""
        return self.require([column])[0]

    def place(self, i, key=None):
        """Where row ``i`` is: the file, its row or feature number and the value of its key.

        ``key`` names the identifying column; by default ``ref`` or ``code``; ``False``:
        none (when the key's value is what is wrong with the row).

        >>> table = Table(Path("issues.csv"), pd.DataFrame({"ref": ["XC-1"]}), RowLabels(1), None)
        >>> table.place(0).render()
        'issues.csv: row 2 (ref XC-1)'
        """
        labels = self.labels
        if not isinstance(labels, RowLabels):  # a form holds one record, named by its label
            label = labels[i]
            return Place(label if hasattr(label, "render") else f"{self.path.name}: {label}")
        number = {labels.word: labels.number(i)}
        for col in (key,) if key else () if key is False else ("ref", "code"):
            if col in self.frame.columns:
                value = self.frame[col].iat[i]
                if value:
                    return Place(self.path.name, key=col, value=printable(value), **number)
        return Place(self.path.name, **number)

    def where(self, i, key=None):
        """'issues.csv: row 5 (ref XC-1)' in English: :meth:`place` rendered.

        Kept for callers that still glue sentences; new code uses :meth:`place`.
        """
        return self.place(i, key).render()


def printable(value, limit=40):
    r"""A user's value shown without quotes (a row's key): control characters escaped, cut.

    >>> printable("坏\x00数据")
    '坏\\x00数据'
    """
    return shown(re.sub(r"[\x00-\x1f\x7f]", lambda m: repr(m.group())[1:-1], str(value)), limit)


def normalise_columns(frame, path):
    renamed = {}
    for col in frame.columns:
        key = str(col).strip().lstrip("\ufeff")
        canon = ALIASES.get(key.lower(), key.lower())
        if canon in renamed.values():
            raise InputError(Problem(
                "io.duplicate_column", N_("columns %(column)r and another both mean %(meaning)r"),
                {"column": shown(col), "meaning": canon}, Place(path.name)))
        renamed[col] = canon
    return frame.rename(columns=renamed)


class RowLabels:
    """``labels[i]`` is 'row N' or 'feature N', computed on demand.

    Rows are numbered as a spreadsheet shows them: the header is row 1, a
    record whose quoted value spans several lines is still one row, and a
    blank line (which the reader skips) still takes a row number: ``numbers``
    then gives each record's.
    """

    def __init__(self, n, word="row", first=2, numbers=None):
        self.n, self.word, self.first, self.numbers = n, word, first, numbers

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return f"{self.word} {self.number(i)}"

    def number(self, i):
        """The row or feature number of record ``i``."""
        return int(self.numbers[i]) if self.numbers else int(i) + self.first


def _decode(path):
    """The file's bytes as UTF-8 (BOM removed; GBK re-encoded)."""
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        data.decode("utf-8")
        return data
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        return data.decode("gb18030").encode("utf-8")
    except UnicodeDecodeError:
        pass
    line = data[: utf8_error.start].count(b"\n") + 1
    raise InputError(Problem(
        "io.encoding", N_("text is neither UTF-8 nor GBK (undecodable byte 0x%(byte)02x at "
                          "offset %(offset)d)"),
        {"byte": data[utf8_error.start], "offset": utf8_error.start}, Place(path.name, row=line)))


def read_csv(path):
    """Read a CSV file, every value a string; rows labelled as a spreadsheet numbers them.

    Parsed by Arrow's multi-threaded reader. A row with fewer fields than the
    header (a truncated file) is an error naming the row.
    """
    import csv
    import io

    import pyarrow as pa
    import pyarrow.csv as pacsv

    data = _decode(path)
    if not data.strip():
        raise InputError(Problem("io.empty_file", N_("the file is empty"), {}, Place(path.name)))
    if b"\n" not in data:  # classic Mac line ends (CR only)
        data = data.replace(b"\r", b"\n")
    header = next(csv.reader(io.StringIO(data[: data.find(b"\n") + 1 or len(data)].decode())))
    invalid = []

    def on_invalid(row):
        invalid.append(row)
        return "skip"

    def parse(block_size):
        return pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1,
                                           block_size=block_size),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid,
                                              newlines_in_values=b'"' in data),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=False, quoted_strings_can_be_null=False),
        )

    try:
        try:
            table = parse(1 << 20)  # Arrow parses 1 MB blocks in parallel ...
        except pa.ArrowInvalid as exc:
            if "straddling" not in str(exc):
                raise
            invalid.clear()
            table = parse(len(data) + 1)  # ... but a row longer than a block needs one block
    except pa.ArrowInvalid as exc:
        raise InputError(Problem(
            "io.unreadable", N_("cannot parse CSV (%(reason)s); is the file truncated or a "
                                "quote left open?"),
            {"reason": str(exc)}, Place(path.name))) from None
    if invalid:
        raise InputError(_short_rows(path, data, len(header)), source=path)
    import pyarrow.compute as pc

    if table.num_rows == 0:
        raise InputError(Problem("io.no_rows", N_("the file holds no rows, only a header"), {},
                                 Place(path.name)))
    table = pa.table([pc.utf8_trim_whitespace(col) for col in table.columns], names=header)
    frame = normalise_columns(table.to_pandas(), path)
    blank = re.search(rb"\n\r?\n.", data, re.S)  # not just at the end
    return frame, RowLabels(len(frame), numbers=_row_numbers(data) if blank else None)


def _row_numbers(data):
    """The spreadsheet row of each non-blank record (slow path: files with blank lines)."""
    import csv
    import io

    reader = csv.reader(io.StringIO(data.decode("utf-8")))
    next(reader, None)
    return [number for number, row in enumerate(reader, start=2) if row]


def _short_rows(path, data, width):
    """Messages for rows with fewer fields than the header (slow path, errors only)."""
    import csv
    import io

    reader = csv.reader(io.StringIO(data.decode("utf-8")))
    next(reader, None)
    problems = []
    for number, row in enumerate(reader, start=2):  # a blank line is a row too
        if row and len(row) != width:
            message = (N_("has %(fields)d fields, the header has %(width)d (file truncated?)")
                       if len(row) < width else
                       N_("has %(fields)d fields, the header has %(width)d (an unquoted comma?)"))
            problems.append(Problem("io.field_count", message,
                                    {"fields": len(row), "width": width},
                                    Place(path.name, row=number)))
            if len(problems) >= 50:
                break
    return problems or [Problem("io.field_count", N_("some rows do not match the header"), {},
                                Place(path.name))]


def read_vector(path):
    """Read a GeoJSON/GeoPackage/Shapefile (zipped or not) into a GeoDataFrame."""
    import pyogrio

    target = str(path)
    if path.suffix.lower() == ".zip":
        target = f"/vsizip/{path}"
    try:
        layers = pyogrio.list_layers(target)
        if len(layers) > 1:  # read_file would take the first and drop the rest unsaid
            raise InputError(Problem(
                "io.many_layers", N_("holds %(n)d layers (%(layers)s); put one layer in each file"),
                {"n": len(layers), "layers": ", ".join(shown(name) for name in layers[:, 0])},
                Place(path.name)))
        frame = gpd.read_file(target, engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        # GDAL names the file by its full path (a temporary folder for uploads) and
        # suggests driver prefixes; say neither.
        reason = str(exc).replace(target, path.name).split("; It might help")[0].rstrip(".")
        raise InputError(Problem(
            "io.unreadable", N_("cannot read it as GeoJSON, GeoPackage or Shapefile (%(reason)s); "
                                "is the file truncated or of another format?"),
            {"reason": reason}, Place(path.name))) from None
    except UnicodeDecodeError as exc:
        raise InputError(Problem("io.encoding", N_("undecodable text (%(reason)s)"),
                                 {"reason": str(exc)}, Place(path.name))) from None
    if len(frame) == 0:
        raise InputError(Problem("io.no_rows", N_("the file holds no features"), {},
                                 Place(path.name)))
    return frame


def _check_suffix(path, allowed):
    path = Path(path)
    if not path.exists():
        raise InputError(Problem("io.no_such_file", N_("no such file"), {}, Place(str(path))))
    if path.suffix.lower() not in allowed:
        raise InputError(Problem(
            "io.file_type", N_("unsupported file type %(suffix)r; use one of %(allowed)s"),
            {"suffix": path.suffix, "allowed": ", ".join(sorted(allowed))}, Place(path.name)))
    return path


def _attributes(gdf, path):
    attrs = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    attrs = normalise_columns(attrs, path)
    for col in attrs.columns:
        s = attrs[col]
        if pd.api.types.is_float_dtype(s) and s.dropna().apply(float.is_integer).all():
            s = s.astype("Int64")
        attrs[col] = s.astype(object).where(s.notna(), "").astype(str).str.strip()
    return attrs.reset_index(drop=True)


def read_points(path, crs=None):
    """Read a point file (CSV with lon/lat or point features) into a :class:`Table`.

    ``crs`` (``'gcj02'``, ``'bd09'``, ``'EPSG:NNNN'``) overrides the file's own.
    """
    path = _check_suffix(path, POINT_SUFFIXES)
    crs = crs_mod.parse_crs(crs)
    if path.suffix.lower() in {".csv", ".txt"}:
        frame, labels = read_csv(path)
        table = Table(path, frame, labels, crs)
        missing = table.require(["lon", "lat"])
        if missing:
            raise InputError(missing, source=path)
        table.x, table.y = to_float(frame["lon"]), to_float(frame["lat"])
        return table
    gdf = read_vector(path)
    labels = RowLabels(len(gdf), "feature", first=1)
    table = Table(path, _attributes(gdf, path), labels, crs or gdf.crs)
    geoms = gdf.geometry.to_numpy()
    problems = []
    for i, g in enumerate(geoms):
        if g is None or g.is_empty:
            problems.append(Problem("geometry.missing", N_("has no geometry"), {}, table.place(i)))
        elif g.geom_type != "Point":
            problems.append(Problem("geometry.wrong_type",
                                    N_("geometry is %(type)s, expected Point"),
                                    {"type": g.geom_type}, table.place(i)))
    if problems:
        raise InputError(problems, source=path)
    table.x, table.y = shapely.get_x(geoms), shapely.get_y(geoms)
    return table


def missing_value(table, i, column, key=None):
    """The problem of row ``i`` leaving the required ``column`` empty."""
    return Problem("io.missing_value", N_("%(column)s is missing"), {"column": column},
                   table.place(i, key))


def to_float(series):
    """Strings → float array, NaN where a value is empty or not a number."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:  # fast path: every value is a number
        return pc.cast(pa.array(series, type=pa.string()), pa.float64()).to_numpy(
            zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)


def numeric_problems(table):
    """Problems for rows whose lon or lat is missing or not a number."""
    problems = []
    for col, values in (("lon", table.x), ("lat", table.y)):
        raw = table.frame[col] if col in table.frame.columns else None
        for i in np.flatnonzero(~np.isfinite(values))[:50]:
            text = "" if raw is None else raw.iat[i]
            problems.append(missing_value(table, i, col, "ref") if text == "" else Problem(
                "io.not_a_number", N_("%(column)s %(value)r is not a number"),
                {"column": col, "value": shown(text)}, table.place(i, "ref")))
    return problems


def read_polygons(path, crs=None):
    """Read a polygon file into a :class:`Table` whose ``geometry`` is in EPSG:4490."""
    path = _check_suffix(path, VECTOR_SUFFIXES)
    crs = crs_mod.parse_crs(crs)
    gdf = read_vector(path)
    labels = RowLabels(len(gdf), "feature", first=1)
    attrs = _attributes(gdf, path)
    table = Table(path, attrs, labels, crs or gdf.crs)
    geoms = gdf.geometry.to_numpy()
    table.geometry = shapely.transform(
        geoms, lambda xy: np.column_stack(crs_mod.to_storage(xy[:, 0], xy[:, 1], table.crs))
    ) if _needs_transform(table.crs) else geoms
    _check_in_china(table)
    return table


#: Where a CGCS2000 Gauss–Krüger zone (75°E–135°E central meridians) can measure a polygon.
CHINA_LON, CHINA_LAT = (73.5, 136.5), (0.0, 56.0)


def _check_in_china(table):
    """Refuse features outside China: almost always a wrong or missing CRS."""
    with np.errstate(invalid="ignore"):
        b = shapely.bounds(table.geometry)
        outside = ~((b[:, 0] >= CHINA_LON[0]) & (b[:, 2] <= CHINA_LON[1])
                    & (b[:, 1] >= CHINA_LAT[0]) & (b[:, 3] <= CHINA_LAT[1]))
    outside &= ~shapely.is_missing(table.geometry) & ~shapely.is_empty(table.geometry)
    label = crs_mod.crs_label(table.crs)
    problems = [Problem(
        "io.outside_china",
        N_("lies outside China (lon %(xmin).10g to %(xmax).10g, lat %(ymin).10g to %(ymax).10g "
           "in CGCS2000): wrong CRS (%(crs)s assumed; --crs sets it) or swapped coordinates?"),
        {"xmin": float(b[i, 0]), "xmax": float(b[i, 2]), "ymin": float(b[i, 1]),
         "ymax": float(b[i, 3]), "crs": label}, table.place(i))
        for i in np.flatnonzero(outside)[:50]]
    if problems:
        raise InputError(problems, source=table.path)


def _needs_transform(crs):
    if crs is None or crs in ("gcj02", "bd09"):
        return crs is not None
    from pyproj import CRS

    return CRS.from_user_input(crs).to_epsg() not in crs_mod.GEOGRAPHIC_ALIASES
