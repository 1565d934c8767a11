"""The issue-category catalogue (docs/domain.md, *Issue categories*): data in
``data/categories.csv``, not code.

Besides its code, names, group and time limit, a category may be offered to the public
(column ``public``: ``yes``) with a short description in Chinese and English
(``hint_zh``, ``hint_en``) that the citizen page shows under its name; the columns are
optional, so an older catalogue file still loads (nothing offered to the public).
"""

import csv
from pathlib import Path

from geo.datafiles import DATA_DIR
from geo.errors import N_, InputError, Place, Problem, shown

DEFAULT_CATALOGUE = DATA_DIR / "categories.csv"
COLUMNS = ("code", "name_zh", "name_en", "group_code", "group_zh", "group_en",
           "limit_value", "limit_unit")
#: Optional columns: offered to the public, and the short descriptions.
PUBLIC_COLUMNS = ("public", "hint_zh", "hint_en")


def read_catalogue(path=DEFAULT_CATALOGUE):
    """Rows of the catalogue file as tuples in :data:`COLUMNS` order."""
    path = Path(path)
    rows = []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = set(COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise InputError([Problem("io.no_column", N_("no %(column)s column"), {"column": c},
                                      Place(path.name)) for c in sorted(missing)])
        for n, rec in enumerate(reader, start=2):
            limit = rec["limit_value"].strip()
            if limit and not limit.isdigit():
                raise InputError(Problem(
                    "io.not_a_whole_number", N_("%(column)s %(value)r is not a whole number"),
                    {"column": "limit_value", "value": shown(limit)}, Place(path.name, row=n)))
            rows.append(tuple(rec[c].strip() or None for c in COLUMNS[:-2])
                        + (int(limit) if limit else None, rec["limit_unit"].strip())
                        + _public_values(rec))
    return rows


def _public_values(rec):
    """``(public, hint_zh, hint_en)`` of a catalogue row (columns that may be absent)."""
    public = (rec.get("public") or "").strip().lower() in ("yes", "y", "true", "1", "是")
    return (public, (rec.get("hint_zh") or "").strip() or None,
            (rec.get("hint_en") or "").strip() or None)


def ensure_loaded(tx, path=DEFAULT_CATALOGUE):
    """Load the default catalogue into an empty ``categories`` table."""
    if tx.fetchval("SELECT count(*) FROM categories"):
        return False
    tx.execute_values(
        f"INSERT INTO categories ({', '.join(COLUMNS + PUBLIC_COLUMNS)}) VALUES %s",
        read_catalogue(path)
    )
    return True


def public_categories(tx, path=DEFAULT_CATALOGUE):
    """The categories the public may report, by group then code: dicts with ``code``,
    ``name_zh``, ``name_en``, ``group_code``, ``group_zh``, ``group_en``, ``hint_zh``,
    ``hint_en``. A catalogue none of whose categories is public (loaded before the
    column existed) takes the public flags and descriptions of the default file for
    the codes it shares with it, once."""
    ensure_loaded(tx, path)
    if not tx.fetchval("SELECT EXISTS (SELECT 1 FROM categories WHERE public)"):
        rows = [(r[0],) + r[-3:] for r in read_catalogue(path)]
        tx.execute_values(
            "UPDATE categories c SET public = v.public, hint_zh = v.hint_zh,"
            " hint_en = v.hint_en FROM (VALUES %s) AS v(code, public, hint_zh, hint_en)"
            " WHERE c.code = v.code", rows)
    return tx.fetchdicts(
        "SELECT code, name_zh, name_en, group_code, group_zh, group_en, hint_zh, hint_en"
        " FROM categories WHERE public ORDER BY group_code, code")


def lookup(tx):
    """Map every accepted spelling of a category (code, Chinese name) to its code."""
    known = {}
    for code, name_zh in tx.fetchall("SELECT code, name_zh FROM categories"):
        known[code] = code
        known[name_zh] = code
    return known


def normalise_codes(values, known):
    """Catalogue codes for a Series of spellings (NaN where unknown).

    Excel's dropped leading zero (``6010`` for ``06010``) is restored.
    """
    values = values.str.strip()
    short = values.str.fullmatch(r"\d{1,4}").fillna(False).astype(bool)
    values = values.mask(short, values.str.zfill(5))
    return values.map(known)
