"""Open311 GeoReport v2 under ``/open311/v2/``: the records of :mod:`geo.public.open311`
as the specification's XML or JSON.

Every resource ends in ``.xml`` or ``.json``. Reads are anonymous; ``POST requests``
needs an ``api_key`` (an API token of an account with the ``open311`` role, read by
:mod:`webmap.auth`), and needs no CSRF token, like any request carrying an API token.
Every error, here or in the layers around (a refused key, an oversize body), answers
the specification's list of ``{code, description}`` in the format the URL asks for
(:func:`error_answer`, called by :mod:`webmap.errors`).

The XML is the specification's: a root named for the list (``services``,
``service_requests``, ``errors``, …) whose items are elements named in the singular
(:data:`ITEMS`); the JSON is the same records (the Spark convention: a list for a list).
"""

import hashlib
import os
import re
import xml.etree.ElementTree as ET

from flask import Blueprint, Response, current_app, json, request, send_file, url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address

from geo import photos
from geo.errors import N_, InputError, Problem, shown
from geo.issues.query import DISTRICT_TZ
from geo.public import open311, reports
from webmap import auth
from webmap.db import get_db
from webmap.limits import limiter

PREFIX = "/open311/v2"
bp = Blueprint("open311", __name__, url_prefix=PREFIX)
#: The element of each list's items in XML.
ITEMS = {"services": "service", "service_requests": "request", "errors": "error",
         "endpoints": "endpoint", "formats": "format", "attributes": "attribute",
         "values": "value"}
FMT = "<any(xml, json):fmt>"
#: Default limit on one API key's POSTs (``CIVGRID_OPEN311_WRITES``, Flask-Limiter's
#: notation): a system posts for many people, so more than one citizen's page may.
WRITES = "120 per minute;3000 per hour"


#: Characters XML 1.0 cannot hold (a control character in an imported description).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_value(parent, tag, value):
    node = ET.SubElement(parent, tag) if parent is not None else ET.Element(tag)
    if isinstance(value, dict):
        for key, item in value.items():
            _xml_value(node, key, item)
    elif isinstance(value, list):
        for item in value:
            _xml_value(node, ITEMS[tag], item)
    elif isinstance(value, bool):
        node.text = "true" if value else "false"
    elif value is not None:
        node.text = _NOT_XML.sub("\ufffd", str(value))
    return node


def to_xml(root, value):
    """``value`` (a list or a record) as the specification's XML document ``root``.

    >>> to_xml("errors", [{"code": 404, "description": "a\x07<b>"}]).splitlines()[1]
    '<errors><error><code>404</code><description>a\ufffd&lt;b&gt;</description></error></errors>'
    """
    body = ET.tostring(_xml_value(None, root, value), encoding="unicode")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + body


def answer(fmt, root, value, status=200):
    """The response: ``value`` as JSON, or as XML under the element ``root``."""
    if fmt == "json":
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = to_xml(root, value)
    return Response(text, status=status,
                    content_type=f"{open311.FORMATS[fmt]}; charset=utf-8")


def _requested_format():
    return "json" if request.path.rsplit("?", 1)[0].endswith(".json") else "xml"


def error_answer(status, descriptions):
    """The specification's error list (one ``{code, description}`` per problem; the code
    is the HTTP status) in the URL's format (XML unless it ends in ``.json``)."""
    items = [{"code": status, "description": d} for d in descriptions]
    return answer(_requested_format(), "errors", items, status)


def _media_url(issue_id, name):
    return url_for("open311.media", issue_id=issue_id, name=name, _external=True)


def _jurisdiction():
    values = request.values.getlist("jurisdiction_id")
    return values[0] if values else None


@bp.get(f"/discovery.{FMT}")
@auth.requires("public")
def discovery(fmt):
    """Service discovery: where this GeoReport v2 endpoint is and what it speaks."""
    changeset = open311.w3(open311.CHANGESET)
    return answer(fmt, "discovery", {
        "changeset": changeset,
        "contact": _("The district's command centre (指挥中心) runs this service."),
        "key_service": _("API keys are issued by the administrator: an API token of an "
                         "account with the open311 role."),
        "endpoints": [{
            "specification": open311.SPECIFICATION,
            "url": url_for("open311.discovery", fmt=fmt, _external=True).rsplit("/", 1)[0],
            "changeset": changeset,
            "type": "production",
            "formats": list(open311.FORMATS.values()),
        }],
    })


@bp.get(f"/services.{FMT}")
@auth.requires("public")
def services(fmt):
    """GET Service List: every category."""
    return answer(fmt, "services", open311.services(get_db(), _jurisdiction()))


@bp.get(f"/services/<service_code>.{FMT}")
@auth.requires("public")
def service(service_code, fmt):
    """GET Service Definition (no attributes: ``metadata`` is false everywhere)."""
    return answer(fmt, "service_definition",
                  open311.service_definition(get_db(), service_code, _jurisdiction()))


@bp.get(f"/requests.{FMT}")
@auth.requires("public")
def request_list(fmt):
    """GET Service Requests: by ids, or by codes, statuses and a window of at most 90 days."""
    from datetime import datetime

    query = open311.RequestQuery.parse(request.args, datetime.now(DISTRICT_TZ))
    return answer(fmt, "service_requests",
                  open311.find_requests(get_db(), query, _media_url, _jurisdiction()))


@bp.record_once
def _settings(state):
    state.app.config.setdefault("CIVGRID_OPEN311_WRITES",
                                os.environ.get("CIVGRID_OPEN311_WRITES") or WRITES)


def _writes():
    return current_app.config["CIVGRID_OPEN311_WRITES"]


def _client():
    """Whom the rate limit counts: the API key (one system may post for many people from
    one address), else the address."""
    try:
        keys = request.form.getlist("api_key")
    except Exception:  # noqa: BLE001 - a broken body: counted by its address
        keys = []
    if len(keys) == 1:
        return "open311:" + hashlib.sha256(keys[0].encode("utf-8", "replace")).hexdigest()
    return get_remote_address()


@bp.post(f"/requests.{FMT}")
@auth.requires("open311.submit")
@limiter.limit(_writes, key_func=_client, methods=["POST"])
def create_request(fmt):
    """POST Service Request: a citizen case (its tracking code is the answer's token)."""
    settings = current_app.config["CIVGRID_SETTINGS"]
    fields = open311.submission(get_db(), request.form)
    unknown = sorted(set(request.files) - {"media"})
    if unknown:
        raise InputError(Problem("parameter.unknown",
                                 N_("file field %(name)r is not understood here; send photos "
                                    "as media"), {"name": shown(unknown[0])}))
    sent = [(f.read(photos.MAX_BYTES + 1), f.filename or "media")
            for f in request.files.getlist("media")]
    receipt = reports.submit(get_db(), settings, fields, photos=sent, channel="open311",
                             actor=auth.actor())
    return answer(fmt, "service_requests", [{
        "token": receipt.code,
        "service_notice": _("Received: the command centre files the case and dispatches "
                            "it. The token is its tracking code, for its progress and reply."),
        "account_id": None}])


@bp.get(f"/tokens/<token>.{FMT}")
@auth.requires("public")
def token(token, fmt):
    """GET service_request_id from a token (the tracking code a POST answered)."""
    return answer(fmt, "service_requests",
                  [open311.token_request(get_db(), token, _jurisdiction())])


@bp.get(f"/requests/<int:request_id>.{FMT}")
@auth.requires("public")
def request_one(request_id, fmt):
    """GET Service Request: one request, in a list of one."""
    return answer(fmt, "service_requests",
                  [open311.get_request(get_db(), request_id, _media_url, _jurisdiction())])


@bp.get("/media/<int:issue_id>/<name>")
@auth.requires("public")
def media(issue_id, name):
    """An "after" photo of a request (its ``media_url``); any other name is 404."""
    settings = current_app.config["CIVGRID_SETTINGS"]
    return send_file(open311.public_photo(get_db(), settings.data_dir, issue_id, name),
                     mimetype="image/jpeg", max_age=86400)
