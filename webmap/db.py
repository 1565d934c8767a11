"""The app's handle on the core database (one pool per process, opened on first use)."""

from flask import current_app

from geo.store import db as geo_db


def get_db():
    """The :class:`geo.db.Database` for the app's settings."""
    return geo_db.connect(current_app.config["CIVGRID_SETTINGS"])


def settings():
    return current_app.config["CIVGRID_SETTINGS"]


def init_app(app):
    app.extensions["civgrid_db"] = get_db
