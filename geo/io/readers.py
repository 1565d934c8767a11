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

from geo.io import cells
from geo.io import crs as crs_mod
from geo.io import gdal_env  # noqa: F401  (GDAL: our drivers only, no network)
from geo.errors import N_, InputError, Place, Problem, Text, excerpt, shown

POINT_SUFFIXES = {".csv", ".txt", ".geojson", ".json", ".gpkg", ".zip", ".shp"}
VECTOR_SUFFIXES = {".geojson", ".json", ".gpkg", ".zip", ".shp"}

#: Header aliases (lower-cased) → canonical column names (README, *Input files*).
ALIASES = {
    "longitude": "lon", "lng": "lon", "x": "lon", "经度": "lon",
    "latitude": "lat", "y": "lat", "纬度": "lat",
    "编号": "ref", "id": "ref", "类别": "category", "类别代码": "category", "问题类别": "category",
    "描述": "description", "问题描述": "description", "地址": "address",
    "上报时间": "reported_at", "时间": "reported_at", "来源": "source", "状态": "status",
    "结案时间": "closed_at", "网格编码": "code", "编码": "code", "名称": "name",
    "负责人": "leader", "包片领导": "leader", "责任单位": "departments",
    "包联单位": "departments", "承办部门": "departments", "处置部门": "departments",
    "人口": "population",
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
        if isinstance(labels, RowLabels):
            where = {"file": self.path.name, labels.word: labels.number(i)}
        else:  # a form holds one record, named by its label ("form: the toilet")
            label = labels[i]
            where = {"file": label if hasattr(label, "render") else f"{self.path.name}: {label}"}
        for col in (key,) if key else () if key is False else ("ref", "code"):
            if col in self.frame.columns:
                value = self.frame[col].iat[i]
                if value:
                    return Place(key=col, value=excerpt(value, quote=False), **where)
        return Place(**where)

    def where(self, i, key=None):
        """'issues.csv: row 5 (ref XC-1)' in English: :meth:`place` rendered.

        Kept for callers that still glue sentences; new code uses :meth:`place`.
        """
        return self.place(i, key).render()


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
    return decode(path.read_bytes(), path.name)


def decode(data, name):
    """``data`` (the bytes of file ``name``) as UTF-8 bytes: BOM removed, GBK re-encoded;
    text in neither is an error naming the file and the line."""
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
        {"byte": data[utf8_error.start], "offset": utf8_error.start}, Place(name, row=line)))


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
            {"reason": excerpt(str(exc), 200, quote=False)}, Place(path.name))) from None
    if invalid:
        raise InputError(_short_rows(path, data, len(header)), source=path)
    import pyarrow.compute as pc

    if table.num_rows == 0:
        raise InputError(Problem("io.no_rows", N_("the file holds no rows, only a header"), {},
                                 Place(path.name)))
    table = pa.table([pc.utf8_trim_whitespace(pc.replace_substring_regex(
        col, pattern=cells.NEUTRALISED, replacement=r"\1")) for col in table.columns],
        names=header)
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


def read_vector(path, max_unzipped_mb=None):
    """Read a GeoJSON/GeoPackage/Shapefile (zipped or not) into a GeoDataFrame.

    GDAL picks a driver by content, not by name, and some of its drivers follow
    references inside a file (a VRT's ``<SrcDataSource>`` reads any local file
    or URL). So the file's content must match its suffix before GDAL sees it,
    and GDAL opens it with that one driver: a ``.geojson``/``.json`` must be a
    JSON FeatureCollection or Feature, a ``.gpkg`` a GeoPackage with plain
    tables (see :func:`_check_gpkg`), a ``.zip`` a Shapefile's parts only (see
    :func:`_unzip_shapefile`; at most ``max_unzipped_mb`` MB unzipped, by
    default ``CIVGRID_MAX_UNZIPPED_MB``), a ``.shp`` a Shapefile. Anything else
    is refused naming the file. :mod:`geo.io.gdal_env` also leaves GDAL only these
    three drivers and no network.
    """
    suffix = path.suffix.lower()
    if suffix == ".zip":
        import tempfile

        if max_unzipped_mb is None:
            from geo import settings as settings_mod

            max_unzipped_mb = settings_mod.max_unzipped_mb()
        with tempfile.TemporaryDirectory(prefix="civgrid-unzip-") as tmp:
            shp = _unzip_shapefile(path, Path(tmp), int(max_unzipped_mb * 2**20))
            return _read_gdal(path, shp, "ESRI Shapefile", hide=tmp)
    head = _head(path)
    if suffix in (".geojson", ".json"):
        _check_geojson(path, head)
        return _read_gdal(path, path, "GeoJSON")
    if suffix == ".gpkg":
        _check_gpkg(path, head)
        return _read_gdal(path, path, "GPKG")
    if suffix == ".shp":
        _check_shp(path, head)
        return _read_gdal(path, path, "ESRI Shapefile")
    raise InputError(Problem(
        "io.file_type", N_("unsupported file type %(suffix)r; use one of %(allowed)s"),
        {"suffix": shown(path.suffix), "allowed": ", ".join(sorted(VECTOR_SUFFIXES))},
        Place(path.name)))


#: The formats :func:`read_vector` names in its messages.
FORMAT_NAMES = {"GeoJSON": "GeoJSON", "GPKG": "GeoPackage", "ESRI Shapefile": "Shapefile"}
SQLITE_MAGIC = b"SQLite format 3\x00"
SHP_MAGIC = (9994).to_bytes(4, "big")  # a .shp's file code
#: GeoPackage application_id (SQLite header offset 68): 1.2+, and 1.0 / 1.1.
GPKG_APPLICATION_IDS = (b"GPKG", b"GP10", b"GP11")


def _head(path, size=1024):
    with open(path, "rb") as f:
        return f.read(size)


#: What a file's first bytes can look like, for messages.
CONTENTS = {"empty": N_("empty"), "sqlite": N_("a SQLite database"),
            "zip": N_("a zip archive"), "shapefile": N_("a Shapefile"), "xml": N_("XML"),
            "json": N_("JSON"), "binary": N_("binary data"), "text": N_("text")}


def _content(head):
    """What a file's first bytes look like: a key of :data:`CONTENTS` ('xml', 'zip', …)."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        return "empty"
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if head[:4] == SHP_MAGIC:
        return "shapefile"
    if text.startswith(b"<"):
        return "xml"
    if text[:1] in (b"{", b"["):
        return "json"
    if b"\x00" in head:
        return "binary"
    return "text"


def _not_format(what, expected):
    """The reason 'content is XML, not JSON' (both translatable)."""
    return Text(N_("content is %(what)s, not %(expected)s"),
                {"what": Text(CONTENTS[what]), "expected": Text(expected)})


def _refuse(path, fmt, reason):
    """Refuse ``path``: it cannot be read as ``fmt``, for ``reason`` (a :class:`Text`, or
    GDAL's own words)."""
    raise InputError(Problem(
        "io.unreadable_format",
        N_("cannot read it as %(format)s (%(reason)s); is the file truncated or of another format?"),
        {"format": FORMAT_NAMES[fmt], "reason": reason}, Place(path.name)), source=path)


def _check_geojson(path, head):
    """A JSON FeatureCollection or Feature, whose ``crs`` (if any) is a name, not a link."""
    import json

    what = _content(head)
    if what != "json":
        _refuse(path, "GeoJSON", _not_format(what, N_("JSON")))
    try:
        data = json.loads(_decode(path))
    except (json.JSONDecodeError, InputError) as exc:
        reason = (Text(N_("invalid JSON at line %(line)d column %(column)d"),
                       {"line": exc.lineno, "column": exc.colno})
                  if isinstance(exc, json.JSONDecodeError) else Text(N_("undecodable text")))
        _refuse(path, "GeoJSON", reason)
    kind = data.get("type") if isinstance(data, dict) else None
    if kind not in ("FeatureCollection", "Feature"):
        _refuse(path, "GeoJSON", Text(N_("JSON but not a FeatureCollection or Feature")))
    crs = data.get("crs")
    if crs is None:
        return
    # GDAL fetches a crs of type "link" from its URL; accept only a name or an EPSG code.
    props = crs.get("properties") if isinstance(crs, dict) else None
    ok = isinstance(props, dict) and (
        (crs.get("type") == "name" and isinstance(props.get("name"), str)
         and re.fullmatch(r"[\w.:\- ]{1,100}", props["name"]))
        or (crs.get("type") == "EPSG" and isinstance(props.get("code"), int)))
    if not ok:
        raise InputError(Problem(
            "io.crs_link", N_("the 'crs' member must name a CRS (e.g. "
                              "urn:ogc:def:crs:EPSG::4490), not link to one"),
            {}, Place(path.name)), source=path)


def _check_gpkg(path, head):
    """A GeoPackage of plain tables: refuse views, foreign virtual tables and triggers.

    GDAL reads a view as a layer (running its SQL, with GDAL's SQL functions) and a
    view on a missing table fails inside GDAL; no legitimate grid file needs one. The
    only triggers kept are those GDAL and QGIS write themselves (R-tree index upkeep,
    feature counts, the standard's checks on its own tables); GDAL opens the file
    read-only, so none of them runs anyway.
    """
    import sqlite3

    if not head.startswith(SQLITE_MAGIC):
        _refuse(path, "GPKG", _not_format(_content(head), N_("a GeoPackage")))
    if head[68:72] not in GPKG_APPLICATION_IDS:
        _refuse(path, "GPKG", Text(N_("a SQLite database but not a GeoPackage")))
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        _refuse(path, "GPKG", Text(N_("cannot open the database")))
    try:
        con.execute("PRAGMA trusted_schema=OFF")
        schema = con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    except sqlite3.DatabaseError:
        _refuse(path, "GPKG", Text(N_("damaged database")))
    finally:
        con.close()
    problems = []
    for kind, name, table, sql in schema:
        sql = sql or ""
        if kind == "view":
            problems.append(Problem("io.gpkg_view", N_(
                "holds a view (%(name)r); keep only plain tables (export the layer again "
                "from QGIS)"), {"name": shown(name)}, Place(path.name)))
        elif kind == "trigger" and not _standard_trigger(name, table):
            problems.append(Problem("io.gpkg_trigger", N_(
                "holds a trigger (%(name)r) that GeoPackage software does not write; remove it"),
                {"name": shown(name)}, Place(path.name)))
        elif (kind == "table" and re.match(r"\s*CREATE\s+VIRTUAL\b", sql, re.I)
              and not (name.startswith("rtree_")
                       and re.search(r"\bUSING\s+rtree\s*\(", sql, re.I))):
            problems.append(Problem("io.gpkg_virtual_table", N_(
                "holds a virtual table (%(name)r) other than a spatial index; remove it"),
                {"name": shown(name)}, Place(path.name)))
    if problems:
        raise InputError(problems, source=path)


#: Triggers of the GeoPackage standard (R-tree upkeep, checks on gpkg_* tables) and
#: GDAL's feature-count upkeep. A name must also belong to the table it is on.
_RTREE_TRIGGER = re.compile(r"rtree_(?P<table>.+)_[^_]+_(insert|update[1-7]?|delete)")
_COUNT_TRIGGER = re.compile(r"trigger_(insert|delete)_feature_count_(?P<table>.+)")
_GPKG_TABLE_TRIGGER = re.compile(
    r"(gpkg_tile_matrix|gpkg_metadata(_reference)?)_\w+_(insert|update)")


def _standard_trigger(name, table):
    for pattern in (_RTREE_TRIGGER, _COUNT_TRIGGER):
        m = pattern.fullmatch(name)
        if m and (m["table"] == table or m["table"].startswith(f"{table}_")):
            return True
    m = _GPKG_TABLE_TRIGGER.fullmatch(name)
    return bool(m) and table in ("gpkg_tile_matrix", "gpkg_metadata", "gpkg_metadata_reference")


def _check_shp(path, head):
    if head[:4] != SHP_MAGIC:
        _refuse(path, "ESRI Shapefile", _not_format(_content(head), N_("a Shapefile")))


#: What a zipped Shapefile may hold (.xml: the metadata ArcGIS writes as x.shp.xml).
SHAPEFILE_PARTS = {".shp", ".shx", ".dbf", ".prj", ".cpg", ".qpj", ".sbn", ".sbx", ".qix",
                   ".xml"}
ARCHIVE_SUFFIXES = {".zip", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz", ".zst"}
MAX_ZIP_MEMBERS = 100


def _unzip_shapefile(path, dest, max_bytes):
    """Extract a zipped Shapefile's parts into ``dest``; return the ``.shp``.

    Refused: anything but a zip, members that are not a Shapefile's parts (an
    archive, another format), unsafe names (absolute, ``..``), symbolic links,
    encrypted members, more than :data:`MAX_ZIP_MEMBERS` members, more than
    ``max_bytes`` unzipped (declared sizes are checked first, the bytes
    actually written while extracting), and several ``.shp`` (several layers).
    """
    import stat
    import zipfile
    import zlib
    from pathlib import PurePosixPath

    head = _head(path)
    if _content(head) != "zip" or not zipfile.is_zipfile(path):
        _refuse(path, "ESRI Shapefile", _not_format(_content(head), N_("a zip archive")))
    too_big = N_("unzips to more than %(mb)g MB (CIVGRID_MAX_UNZIPPED_MB)")
    limit = {"mb": max_bytes / 2**20}
    try:
        with zipfile.ZipFile(path) as zf:
            members = []
            for info in zf.infolist():
                name = info.filename
                parts = PurePosixPath(name.replace("\\", "/")).parts
                if parts[:1] == ("__MACOSX",) or info.is_dir():
                    continue  # macOS resource forks; folders are made as needed
                member = {"member": shown(name)}
                if (name.startswith(("/", "\\")) or ".." in parts or ":" in name
                        or not parts or "\x00" in name):
                    raise _zip_problem(path, "io.zip_unsafe_path",
                                       N_("member %(member)r has an unsafe path"), member)
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise _zip_problem(path, "io.zip_symlink",
                                       N_("member %(member)r is a symbolic link"), member)
                suffix = PurePosixPath(parts[-1]).suffix.lower()
                if suffix in ARCHIVE_SUFFIXES:
                    raise _zip_problem(path, "io.zip_nested", N_(
                        "holds another archive (%(member)r); zip the Shapefile's own files "
                        "(.shp, .shx, .dbf, .prj, .cpg)"), member)
                if suffix not in SHAPEFILE_PARTS:
                    raise _zip_problem(path, "io.zip_foreign_member", N_(
                        "holds %(member)r, which is not part of a Shapefile "
                        "(.shp, .shx, .dbf, .prj, .cpg)"), member)
                if info.flag_bits & 0x1:
                    raise _zip_problem(path, "io.zip_encrypted",
                                       N_("member %(member)r is encrypted"), member)
                members.append((info, parts))
                if len(members) > MAX_ZIP_MEMBERS:
                    raise _zip_problem(path, "io.zip_members", N_(
                        "holds more than %(n)d files; a zipped Shapefile needs a handful"),
                        {"n": MAX_ZIP_MEMBERS})
            if sum(info.file_size for info, _ in members) > max_bytes:
                raise _zip_problem(path, "io.zip_too_big", too_big, limit)
            shps = [dest.joinpath(*parts) for info, parts in members
                    if parts[-1].lower().endswith(".shp")]
            if not shps:
                raise _zip_problem(path, "io.zip_no_shp", N_("holds no .shp file"), {})
            if len(shps) > 1:  # as GDAL's several layers
                raise _zip_problem(path, "io.many_layers", N_(
                    "holds %(n)d layers (%(layers)s); put one layer in each file"),
                    {"n": len(shps), "layers": ", ".join(excerpt(p.stem, quote=False)
                                                         for p in shps[:10])})
            written = 0
            for info, parts in members:
                target = dest.joinpath(*parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "xb") as out:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > max_bytes:  # sizes in the zip can lie
                            raise _zip_problem(path, "io.zip_too_big", too_big, limit)
                        out.write(chunk)
    except InputError as exc:
        raise InputError(exc.problems, source=path) from None
    except (FileExistsError, NotADirectoryError, IsADirectoryError):
        raise _zip_problem(path, "io.zip_clash", N_(
            "holds clashing file names (the same file twice?)"), {}) from None
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError,
            ValueError):
        _refuse(path, "ESRI Shapefile", Text(N_("damaged or unsupported zip archive")))
    shp = shps[0]
    _check_shp(path, _head(shp))
    return shp


def _read_gdal(path, target, driver, hide=None):
    """Read ``target`` (``path`` or a file extracted from it) with GDAL's ``driver`` only.

    The driver is forced by a ``GeoJSON:``/``GPKG:`` prefix where GDAL has one;
    :mod:`geo.io.gdal_env` leaves no other driver registered in any case.
    """
    import pyogrio

    source = str(target)
    if driver == "GeoJSON" or (driver == "GPKG" and ":" not in source):
        source = f"{driver}:{source}"  # the GPKG prefix would split a path at ':'
    try:
        layers = pyogrio.list_layers(source)
        if len(layers) > 1:  # read_file would take the first and drop the rest unsaid
            raise InputError(Problem(
                "io.many_layers", N_("holds %(n)d layers (%(layers)s); put one layer in each file"),
                {"n": len(layers), "layers": ", ".join(excerpt(name, quote=False)
                                                       for name in layers[:10, 0])},
                Place(path.name)))
        frame = gpd.read_file(source, engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        # GDAL names the file by its full path (a temporary folder for uploads) and
        # suggests driver prefixes; say neither.
        reason = str(exc).split("; It might help")[0].rstrip(".")
        for secret in (source, str(target), hide):
            if secret:
                reason = reason.replace(str(secret), path.name)
        _refuse(path, driver, excerpt(reason, limit=200, quote=False))
    except UnicodeDecodeError as exc:
        raise InputError(Problem("io.encoding", N_("undecodable text (%(reason)s)"),
                                 {"reason": excerpt(str(exc), 200, quote=False)}, Place(path.name))) from None
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame.columns:
        raise InputError(Problem("io.no_geometry", N_("the layer has no geometry"), {},
                                 Place(path.name)), source=path)
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


def _zip_problem(path, code, message, params):
    """The error refusing the zip ``path``."""
    return InputError(Problem(code, message, params, Place(path.name)), source=path)
