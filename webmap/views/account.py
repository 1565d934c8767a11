"""Logging in and out, and changing one's password (the pages every account uses)."""

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import logout_user

from geo.errors import InputError, Problem, N_
from geo.people import login as login_mod
from geo.people import users
from webmap import auth
from webmap.db import get_db
from webmap.i18n import tr

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
@auth.requires("public")
def login():
    """The login form; on success a fresh session, then ``next`` (a local path only)."""
    target = request.values.get("next") or ""
    target = target if auth.is_local(target) else ""
    problem, name = None, ""
    if request.method == "POST":
        name = request.form.get("login", "")
        try:
            account = login_mod.authenticate(get_db(), name, request.form.get("password", ""),
                                             request.remote_addr,
                                             current_app.config["LOGIN_THROTTLE"])
        except login_mod.LoginRefused as exc:
            problem = tr(exc)
        else:
            auth.start_session(account)
            if account.must_change_password:
                return redirect(url_for("auth.password", next=target or None))
            return redirect(target or url_for("pages.overview"))
    return render_template("login.html", title=_("Log in"), problem=problem, login_name=name,
                           next=target), (400 if problem else 200)


@bp.post("/logout")
@auth.requires("account.self")
def logout():
    logout_user()
    session.clear()
    return render_template("login.html", title=_("Log in"), problem=None, login_name="",
                           next="", notice=_("You are logged out."))


@bp.route("/account/password", methods=["GET", "POST"])
@auth.requires("account.self")
def password():
    """Change one's own password (forced after an admin's reset)."""
    problems = []
    who = auth.account()
    if request.method == "POST":
        new = request.form.get("new", "")
        try:
            if new != request.form.get("confirm", ""):
                raise InputError(Problem("people.password_mismatch",
                                         N_("the two new passwords differ")))
            changed = users.change_password(get_db(), who.login,
                                            request.form.get("current", ""), new,
                                            actor=auth.actor())
        except InputError as exc:
            problems = [tr(p) for p in exc.problems]
        else:
            auth.start_session(changed)  # the old sessions ended with the old password
            target = request.args.get("next") or ""
            return redirect(target if auth.is_local(target) else url_for("pages.overview"))
    return render_template("password.html", title=_("Change password"), problems=problems,
                           forced=who.must_change_password), (400 if problems else 200)
