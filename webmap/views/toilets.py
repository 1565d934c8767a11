"""The toilet-renovation office's pages (厕所革命): coverage map, figures, records, exports."""

import dataclasses
import io
from flask import (Blueprint, redirect, render_template, request, send_file, url_for)
from flask_babel import gettext as _

from geo.toilets import coverage
from geo.toilets import chart as coverage_chart
from geo.toilets import progress as coverage_progress
from geo.toilets import sites as coverage_sites
from geo.io import export
from geo.toilets import ledger
from geo import photos
from geo.toilets import listing
from geo.toilets import records as toilets_mod
from geo.toilets import rules
from geo.issues import stats
from geo.errors import N_, InputError, Problem
from geo.params import known_only, parse_float, parse_int
from webmap.maps import toilets as toilet_maps
from webmap.db import get_db, settings
from webmap import auth
from webmap.downloads import XLSX, attachment, csv_attachment, dated
from webmap.views.pages import ANY_PAGE, map_parts

bp = Blueprint("toilets", __name__, url_prefix="/toilets")


#: The parameters each page takes: any other is refused, not silently ignored.
PAGE_PARAMS = {
    "toilets.overview": {"radius", "target", "colour", "sites"},
    "toilets.progress_png": {"area"}, "toilets.ledger_xlsx": {"area"},
    "toilets.record_list": {*listing.ToiletFilter.PARAMS, "page", "per_page"},
    "toilets.record_list_export": set(listing.ToiletFilter.PARAMS),
}


@bp.before_request
def _known_parameters():
    if request.method == "GET":
        known_only(request.args, PAGE_PARAMS.get(request.endpoint, set()) | ANY_PAGE)


@bp.get("/")
@auth.requires("toilets.read", unscoped=True)
def overview():
    db = get_db()
    radius = parse_float(request.args, "radius", coverage.DEFAULT_RADIUS_M, 10,
                         coverage.MAX_RADIUS_M)
    target = parse_float(request.args, "target", coverage.DEFAULT_TARGET_PCT, 0, 100)
    colour_by = request.args.get("colour", "progress")
    if colour_by not in ("progress", "density"):
        raise InputError(Problem("parameter.not_one_of",
                                 N_("parameter %(name)r: use progress or density"),
                                 {"name": "colour"}))
    k = parse_int(request.args, "sites", 0, 0, 20)
    cov, sites = coverage_sites.coverage_and_sites(db, radius, target, k)
    records = export.frame(db, "toilets")
    firsts = {code: (names or "").split(";")[0]
              for code, names in zip(records["code"], records["photos"])}
    thumbs = {code: url_for("toilets.photo_thumb", name=name)
              for code, name in firsts.items() if photos.is_stored_name(name)}
    fmap = toilet_maps.coverage_map(settings(), cov, records, colour_by, sites, thumbs)
    return render_template("toilets.html", title=_("Toilet renovation"), cov=cov,
                           d=cov.district, behind=cov.behind_target(), radius=radius,
                           target=target, colour=colour_by, k=k, sites=sites,
                           broken=len(rules.broken_records(db)), **map_parts(fmap))


@bp.get("/progress.png")
@auth.requires("toilets.read", unscoped=True)
def progress_png():
    """The progress chart, drawn in memory and shown inline (the page embeds it)."""
    progress = coverage_progress.progress_over_time(get_db(), request.args.get("area") or None)
    buffer = io.BytesIO()
    coverage_chart.progress_chart(progress, buffer, translate=_)
    buffer.seek(0)
    return send_file(buffer, mimetype="image/png", download_name="progress.png")


@bp.get("/ledger.xlsx")
@auth.requires("toilets.read", unscoped=True)
def ledger_xlsx():
    """The Excel ledger in the page's language, written in memory, as a download."""
    buffer = io.BytesIO()
    ledger.write_ledger(get_db(), buffer, request.args.get("area") or None, translate=_)
    return attachment(buffer, dated(_(ledger.SHEET), "xlsx"), dated("toilet-ledger", "xlsx"), XLSX)


@bp.get("/list")
@auth.requires("toilets.read", unscoped=True)
def record_list():
    """Every record, filtered, searched and paged; the same rows as CSV or Excel."""
    db = get_db()
    flt = listing.ToiletFilter.parse(request.args)
    page = parse_int(request.args, "page", 1, 1, 100_000)
    per_page = parse_int(request.args, "per_page", 50, 10, 200)
    rows, total = listing.list_toilets(db, flt, limit=per_page, offset=(page - 1) * per_page)
    pages = max(1, -(-total // per_page))
    args = flt.as_args()
    link = lambda p: url_for("toilets.record_list", page=p, per_page=per_page, **args)  # noqa: E731
    return render_template("toilet_list.html", title=_("Toilet records"), rows=rows,
                           total=total, page=page, pages=pages, link=link, flt=flt, args=args,
                           places=stats.streets_and_communities(db), toilets=toilets_mod,
                           listing=listing)


@bp.get("/list.<fmt>")
@auth.requires("toilets.read", unscoped=True)
def record_list_export(fmt):
    """The filtered records of :func:`record_list` as a CSV or Excel download."""
    if fmt not in ("csv", "xlsx"):
        raise InputError(Problem("parameter.not_one_of", N_("parameter %(name)r: use csv or xlsx"),
                                 {"name": "format"}))
    condition = listing.ToiletFilter.parse(request.args).where()
    name = _("Toilet records")
    if fmt == "xlsx":
        buffer = io.BytesIO()
        ledger.write_ledger(get_db(), buffer, translate=_, condition=condition)
        return attachment(buffer, dated(name, "xlsx"), dated("toilet-records", "xlsx"), XLSX)
    text = io.StringIO()
    ledger.write_csv(get_db(), text, translate=_, condition=condition)
    return csv_attachment(text, name, "toilet-records")


@bp.get("/problems")
@auth.requires("toilets.read", unscoped=True)
def record_problems():
    """Stored records that break the date rules (:mod:`geo.toilets.rules`), to fix."""
    return render_template("toilet_problems.html", title=_("Records to fix"),
                           broken=rules.broken_records(get_db()), today=rules.today())


@bp.get("/toilets.geojson")
@auth.requires("toilets.read", unscoped=True)
def toilets_geojson():
    """Every record as GeoJSON, written in memory, as a download."""
    data = export.export_bytes(get_db(), "toilets", "geojson")
    name = dated("toilets", "geojson")
    return attachment(data, name, name, "application/geo+json")


def _form_fields(form):
    fields = {}
    # An unticked box is not sent: only a form that showed the boxes (the hidden
    # 'facilities' field) turns a missing one into 'no'; other posts leave them as stored.
    boxes = "facilities" in form
    for name in toilets_mod.FIELDS:
        if name in toilets_mod.FACILITIES and boxes:
            fields[name] = "1" if form.get(name) else "0"
        elif name in form:  # a facility posted by a script: 1/0, yes/no, 是/否
            fields[name] = form.get(name, "").strip()
    return fields


def _uploaded_photos(fields, current=()):
    """Check and re-encode the form's uploads (:mod:`geo.photos`); add their
    names to ``fields["photos"]``. Returns the photos to write once the record is saved;
    a bad upload raises :class:`InputError` before anything is written."""
    uploads = [f for f in request.files.getlist("upload") if f and f.filename]
    if not uploads:
        return []
    prepared = photos.prepare_many((u.read(photos.MAX_BYTES + 1), u.filename) for u in uploads)
    names = [n for n in (fields.get("photos") or ";".join(current)).split(";") if n.strip()]
    names += [p.name for p in prepared if p.name not in names]
    fields["photos"] = ";".join(names)
    return prepared


def _store_photos(prepared):
    for photo in prepared:
        photos.store(settings().data_dir, photo)


@bp.get("/photos/<name>")
@auth.requires("toilets.read")  # names are content hashes: not guessable
def photo(name):
    """A stored photo (only names :mod:`geo.photos` gives: no other file)."""
    return send_file(photos.photo_path(settings().data_dir, name), mimetype="image/jpeg",
                     max_age=86400)


@bp.get("/photos/<name>/thumb")
@auth.requires("toilets.read")
def photo_thumb(name):
    return send_file(photos.photo_path(settings().data_dir, name, thumb=True),
                     mimetype="image/jpeg", max_age=86400)


def _on_the_form(problems):
    """The problems of the one record on the page: the page is their place."""
    return [dataclasses.replace(p, place=None)
            if p.place and p.place.row is None and p.place.feature is None else p
            for p in problems]


@bp.route("/new", methods=["GET", "POST"])
@auth.requires("toilets.edit")
def create():
    values, problems = {}, []
    if request.method == "POST":
        values = _form_fields(request.form)
        try:
            prepared = _uploaded_photos(values)
            record = toilets_mod.create_toilet(get_db(), settings(), values,
                                               actor=auth.actor(),
                                               crs=request.form.get("crs") or None)
            _store_photos(prepared)
            return redirect(url_for("toilets.record", code=record["code"]))
        except InputError as exc:
            problems = _on_the_form(exc.problems)
            values["crs"] = request.form.get("crs", "")
    fmap = toilet_maps.picker_map(settings(), toilets_mod.district_bounds(get_db()))
    return render_template("toilet_form.html", title=_("New record"), values=values,
                           problems=problems, editing=False, toilets=toilets_mod,
                           **map_parts(fmap)), (400 if problems else 200)


@bp.get("/<code>")
@auth.requires("toilets.read")
def record(code):
    db = get_db()
    # NotFound → 404 in webmap.errors, also for a record outside a grid worker's grids
    rec = toilets_mod.get_toilet(db, code, scope=auth.scope("toilets.read"))
    history = toilets_mod.toilet_history(db, code)
    fmap = toilet_maps.record_map(settings(), rec)
    return render_template("toilet.html", title=code, rec=rec, history=history,
                           toilets=toilets_mod, is_stored_photo=photos.is_stored_name,
                           **map_parts(fmap))


@bp.route("/<code>/edit", methods=["GET", "POST"])
@auth.requires("toilets.edit")
def edit(code):
    db = get_db()
    current = toilets_mod.get_toilet(db, code)
    problems = []
    values = {k: ("" if v is None else v) for k, v in current.items()}
    values["photos"] = ";".join(current.get("photos") or [])
    if request.method == "POST":
        changes = _form_fields(request.form)
        changes.pop("code", None)
        if changes.get("lon") == str(current["lon"]) and changes.get("lat") == str(current["lat"]):
            changes.pop("lon"), changes.pop("lat")
        try:
            prepared = _uploaded_photos(changes, current.get("photos") or [])
            toilets_mod.update_toilet(db, settings(), code, changes,
                                      actor=auth.actor(),
                                      crs=request.form.get("crs") or None,
                                      note=request.form.get("note") or None)
            _store_photos(prepared)
            return redirect(url_for("toilets.record", code=code))
        except InputError as exc:
            problems = _on_the_form(exc.problems)
            values.update(changes, crs=request.form.get("crs", ""))
    fmap = toilet_maps.picker_map(settings(), toilets_mod.district_bounds(db), current)
    return render_template("toilet_form.html", title=_("Edit %(code)s", code=code),
                           values=values, problems=problems, editing=True,
                           toilets=toilets_mod, **map_parts(fmap)), (400 if problems else 200)
