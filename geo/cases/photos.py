"""Photos of a case: "before" when it is reported, "after" when it is fed back.

A photo is checked and re-encoded by :mod:`geo.photos` (size, type, pixel limit,
no EXIF and so no GPS position) and stored by its content hash in the cases' photo
folder under the data directory. The case's history row of the step that brought it
records it in its ``data``: ``{"photos": [{"name": "<64 hex>.jpg", "kind": "before"}]}``
(the report's ``created`` row, ``kind`` ``before``; the ``feed_back`` row, ``after``),
and the step's audit entry names it too.

A photo is served only for a case the account may read, and only under a name that
case's history records (:func:`photo_file`): a name of another case, or a case outside
a grid worker's grids or not dispatched to a department, is "not found".
"""

from geo import photos
from geo.errors import N_, NotFound, shown

KINDS = ("before", "after")
#: The kind of photo each step records.
STEP_KINDS = {"created": "before", "feed_back": "after"}


def entries(prepared, kind):
    """The history ``data["photos"]`` of ``prepared`` (:class:`geo.photos.Photo`)."""
    assert kind in KINDS
    return [{"name": p.name, "kind": kind} for p in prepared]


def store(data_dir, prepared):
    """Write the ``prepared`` photos in the cases' folder under ``data_dir``."""
    for photo in prepared:
        photos.store(data_dir, photo, kind="cases")


def of_history(history):
    """``{"before": [names], "after": [names]}`` from a case's history rows (oldest first;
    each a mapping with ``data``), in the order they were taken."""
    out = {kind: [] for kind in KINDS}
    for row in history:
        for photo in ((row.get("data") or {}).get("photos") or ()):
            if photo.get("kind") in out and photos.is_stored_name(photo.get("name")):
                out[photo["kind"]].append(photo["name"])
    return out


def photo_file(db, data_dir, issue_id, name, scope=None, thumb=False):
    """The file of photo ``name`` of case ``issue_id`` (its thumbnail with ``thumb``).

    ``scope`` is the reader's :class:`geo.people.permissions.Scope` (``None``: all
    cases). :class:`~geo.errors.NotFound` when the case does not exist or lies outside
    the scope, or when its history records no photo of that name."""
    where, params = scope.condition("g", "i") if scope is not None else ("true", {})
    params.update(id=int(issue_id), name=str(name))
    with db.transaction() as tx:
        found = tx.fetchval(
            f"SELECT EXISTS (SELECT 1 FROM issues i LEFT JOIN grids g ON g.id = i.grid_id"
            f" JOIN issue_history h ON h.issue_id = i.id"
            f" CROSS JOIN LATERAL jsonb_array_elements("
            f"   CASE WHEN jsonb_typeof(h.data->'photos') = 'array' THEN h.data->'photos'"
            f"   ELSE '[]'::jsonb END) p"
            f" WHERE i.id = %(id)s AND {where} AND p->>'name' = %(name)s)", params)
    if not found:
        raise NotFound(N_("no photo %(name)r"), {"name": shown(name)}, code="photos.not_found")
    return photos.photo_path(data_dir, name, thumb=thumb, kind="cases")
