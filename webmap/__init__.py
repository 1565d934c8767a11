"""civgrid's web layer: a thin Flask app over :mod:`geo` (see :func:`create_app`)."""

from flask import Flask

from geo import settings as settings_mod


def create_app(test_config=None):
    """Build the Flask app from the environment's settings, then ``test_config``.

    ``test_config`` may hold ``CIVGRID_SETTINGS`` (a :class:`geo.settings.Settings`)
    and any Flask setting. Nothing touches the database until a request needs it.
    """
    app = Flask(__name__)
    app.config["CIVGRID_SETTINGS"] = settings_mod.from_env()
    app.json.ensure_ascii = False
    from webmap import auth

    app.config.update(auth.session_config())
    if test_config:
        app.config.update(test_config)

    from webmap import accesslog, db, errors, i18n, limits, pagecache, schedule, security
    from webmap.views import account
    from webmap.views import api
    from webmap.views import audit
    from webmap.views import calendar as calendar_pages
    from webmap.views import cases
    from webmap.views import open311
    from webmap.views import bulletins
    from webmap.views import pages
    from webmap.views import planner
    from webmap.views import public
    from webmap.views import supervision
    from webmap.views import toilets as toilet_pages

    accesslog.init_app(app)  # if CIVGRID_ACCESS_LOG is set
    security.init_app(app)  # the secret key, from the settings' data directory
    db.init_app(app)
    limits.init_app(app)  # per-client limits on the public routes
    pagecache.init_app(app)
    i18n.init_app(app)
    errors.init_app(app)
    auth.init_app(app)
    schedule.init_app(app)  # the daily bulletin at CIVGRID_BULLETIN_AT, if set
    app.register_blueprint(account.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(toilet_pages.bp)
    app.register_blueprint(planner.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(calendar_pages.bp)
    app.register_blueprint(cases.bp)
    app.register_blueprint(bulletins.bp)
    app.register_blueprint(supervision.bp)
    app.register_blueprint(public.bp)
    app.register_blueprint(open311.bp)

    @app.get("/favicon.ico")
    @auth.requires("public")
    def favicon():
        """Browsers ask for /favicon.ico whatever the page links: the same SVG icon."""
        return app.send_static_file("favicon.svg")

    return app
