"""Rate limits on the public endpoints (Flask-Limiter): one shared :data:`limiter`.

A route anyone may call that stores something (the citizen's report, a rating, an
Open311 POST) takes ``@limiter.limit(public_writes, methods=["POST"])``; the pages that
read by tracking code take :func:`public_reads`. The client is the request's address
(``request.remote_addr``: behind the trusted proxy of ``CIVGRID_TRUSTED_PROXY`` that is
the address the proxy reports).

The limits are settings: ``CIVGRID_PUBLIC_WRITES`` (default :data:`WRITES`) and
``CIVGRID_PUBLIC_READS`` (default :data:`READS`), in Flask-Limiter's notation
(``"5 per minute;30 per hour"``). The counts are kept in memory, so **each server
process counts on its own**: with N processes a client may send N times the limit. For
one shared count set ``CIVGRID_RATELIMIT_STORAGE`` to a storage URI Flask-Limiter knows
(``redis://…``, ``memcached://…``). Reaching the limit answers 429 with a page (or JSON
for a script) that says, in the reader's language, to wait and try again; nothing of the
refused request is read or stored.
"""

import os

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

#: Default limits per client: reports and ratings, and status look-ups.
WRITES = "5 per minute;30 per hour"
READS = "60 per minute"

limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)


def public_writes():
    """The limit on a public route that stores something (see the module)."""
    return current_app.config["CIVGRID_PUBLIC_WRITES"]


def public_reads():
    """The limit on a public route that reads by tracking code."""
    return current_app.config["CIVGRID_PUBLIC_READS"]


def init_app(app):
    """Configure the limits from the environment (``test_config`` may set them first)."""
    app.config.setdefault("CIVGRID_PUBLIC_WRITES",
                          os.environ.get("CIVGRID_PUBLIC_WRITES") or WRITES)
    app.config.setdefault("CIVGRID_PUBLIC_READS", os.environ.get("CIVGRID_PUBLIC_READS") or READS)
    app.config.setdefault("RATELIMIT_STORAGE_URI",
                          os.environ.get("CIVGRID_RATELIMIT_STORAGE") or "memory://")
    limiter.init_app(app)
