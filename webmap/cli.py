"""The ``civgrid`` command: thin click commands over :mod:`geo`."""

import functools
import getpass
import sys
from pathlib import Path

import click

from geo import demo
from geo.cases import workflow as case_workflow
from geo.grids import assign
from geo.layers import blocks
from geo.store import cluster
from geo.store import db as geo_db
from geo.io import export
from geo.grids import importer as grids
from geo.issues import records as issues
from geo.layers import landuse
from geo import settings
from geo.toilets import coverage
from geo.toilets import records as toilets
from geo.errors import N_, CivgridError, InputError, Problem, Text
from geo.people import permissions
from geo.people import tokens as people_tokens
from geo.people import users as people_users
from webmap.i18n import environment_gettext


def import_district(db, _settings, path, crs=None, dry_run=False, actor=None):
    """The district boundary that validation checks gaps and parts outside against."""
    from geo.grids import versions

    codes = versions.load_district(db, path, crs=crs, actor=actor, dry_run=dry_run)
    message = (N_("would store the district boundary %(codes)s from %(path)s") if dry_run
               else N_("stored the district boundary %(codes)s from %(path)s"))
    return Text(message, {"codes": ", ".join(codes), "path": str(path)})


IMPORTERS = {"grids": grids.import_grids, "issues": issues.import_issues,
             "toilets": toilets.import_toilets, "landuse": landuse.import_landuse,
             "blocks": blocks.import_blocks, "district": import_district}
#: Importers of point files, which show a progress bar.
POINT_IMPORTS = ("issues", "toilets")


def _fail_cleanly(func):
    """Print a core error as a message (every problem on its own line), exit 1."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except CivgridError as exc:
            _ = environment_gettext()
            if isinstance(exc, InputError):
                click.echo(_("error: nothing was changed; the input has problems:"), err=True)
                for problem in exc.problems:
                    click.echo(f"  {problem.render(_)}", err=True)
            else:
                click.echo(_("error: %(message)s") % {"message": exc.render(_)}, err=True)
            sys.exit(1)

    return wrapper


def _say(item, err=False):
    """Print a core result in the environment's language: anything that renders itself
    (a report, a :class:`~geo.errors.Text`, a :class:`~geo.errors.Problem`), a report
    of ``lines()``, or a string."""
    _ = environment_gettext()
    if hasattr(item, "render"):
        click.echo(item.render(_), err=err)
        return
    for line in item.lines() if hasattr(item, "lines") else [item]:
        indent, line = line if isinstance(line, tuple) else (0, line)  # (indent, Text) lines
        click.echo("  " * indent + (line.render(_) if hasattr(line, "render") else str(line)),
                   err=err)


def _notice(text):
    """A notice on stderr: a new, empty database was created; a superuser connection."""
    _say(text, err=True)


def _settings():
    return settings.from_env()


def _db():
    return geo_db.connect(_settings(), notify=_notice)


@click.group()
@click.version_option(package_name="civgrid")
@click.option("--as", "as_login", metavar="LOGIN",
              help="The account responsible for this command's changes, recorded in the "
                   "histories and the audit log (default: cli:<operating-system user>).")
@click.pass_context
def main(ctx, as_login):
    """civgrid: responsibility grids and problem points for civilized-city work."""
    ctx.obj = {"as": as_login}


def _actor():
    """Who the histories and the audit log name for this command: the account given
    with ``--as`` (which must exist and be enabled), else ``cli:<os user>``."""
    from geo.errors import ConflictError
    from geo.people.audit import Actor

    login = (click.get_current_context().find_root().obj or {}).get("as")
    if not login:
        return Actor(f"cli:{getpass.getuser()}")
    account = people_users.get_user(_db(), login)
    if account.disabled:
        raise ConflictError(N_("account %(login)s is disabled: it cannot act"),
                            {"login": login}, code="people.actor_disabled")
    return Actor(account.login, account.id)


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Load the demo district and stop.")
@_fail_cleanly
def demo_cmd(host, port, no_serve):
    """Load the demo district (into an empty database), create one demo account per
    role (printing their names and the demo password) and serve the map."""
    db = _db()
    for step in demo.load(db, _settings()):
        _say(step)
    if not no_serve:
        _serve(host, port, debug=False)


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--debug", is_flag=True, help="Flask's development server with reloader.")
@_fail_cleanly
def serve_cmd(host, port, debug):
    """Serve the web map (worker processes of waitress under gunicorn; Flask's server
    only with --debug)."""
    _db()  # start the database and check the schema before taking requests
    _serve(host, port, debug)


def waitress_options(s, max_content_length=None):
    """waitress's limits from the settings (README: *Serving in production*).

    Slow or idle clients must not use up the server: waitress answers only complete
    requests from its threads, so what they hold is a connection, of which there may
    be ``connection_limit`` (``poll()`` rather than ``select()``, which stops at file
    descriptor 1024); one that sends nothing for ``channel_timeout`` seconds is closed,
    looked for every few seconds. A body larger than the app's own limit is cut off
    by waitress too (with room for the form around an upload, so the app's message
    is the one seen).
    """
    options = {"threads": s.threads, "connection_limit": s.connection_limit,
               "channel_timeout": s.channel_timeout_s,
               "cleanup_interval": max(1, min(5, s.channel_timeout_s // 2)),
               "asyncore_use_poll": True}
    if max_content_length:
        options["max_request_body_size"] = max_content_length + (1 << 20)
    if s.trusted_proxy:
        options.update(trusted_proxy=s.trusted_proxy, clear_untrusted_proxy_headers=True,
                       trusted_proxy_headers="x-forwarded-for x-forwarded-host "
                                             "x-forwarded-proto x-forwarded-port")
    return options


def _serve(host, port, debug):
    from webmap import create_app, schedule

    app = create_app()
    click.echo(f"civgrid serving on http://{host}:{port}/")
    s = app.config["CIVGRID_SETTINGS"]
    if s.bulletin_at is not None:  # started in a worker (never in gunicorn's master)
        _say(Text(N_("the daily bulletin is made every day at %(at)s"),
                  {"at": s.bulletin_at.strftime("%H:%M")}))
    if debug:
        schedule.start(app)  # catches up a missed bulletin now, not at a request
        app.run(host=host, port=port, debug=True)
    else:
        from webmap import serving

        serving.serve(app, host, port, say=_say)


@main.group("db")
def db_group():
    """The database: status, start, stop, upgrade."""


@db_group.command("status")
@_fail_cleanly
def db_status():
    """Where the database is, whether it runs, and its schema version."""
    s = _settings()
    if s.database_url:
        _say(Text(N_("database: %(url)s (CIVGRID_DATABASE_URL)"),
                  {"url": geo_db.describe(s.database_url)}))
    else:
        _say(cluster.Cluster(s.data_dir).status())
        if not cluster.Cluster(s.data_dir).status().running:
            return
    db = geo_db.Database(geo_db.resolve_dsn(s, notify=_notice))
    known = max(m[0] for m in geo_db.migrations())
    _say(Text(N_("schema version %(version)d (civgrid knows %(known)d)"),
              {"version": db.schema_version(), "known": known}))
    db.close()


@db_group.command("start")
@_fail_cleanly
def db_start():
    """Start the private cluster (created on first use)."""
    s = _settings()
    if s.database_url:
        raise click.UsageError("CIVGRID_DATABASE_URL is set: civgrid does not run that server")
    cluster.Cluster(s.data_dir).ensure_running(notify=_notice)
    _say(cluster.Cluster(s.data_dir).status())


@db_group.command("stop")
@_fail_cleanly
def db_stop():
    """Stop the private cluster."""
    s = _settings()
    if s.database_url:
        raise click.UsageError("CIVGRID_DATABASE_URL is set: civgrid does not run that server")
    stopped = cluster.Cluster(s.data_dir).stop()
    _say(Text(N_("stopped") if stopped else N_("was not running")))


@db_group.command("upgrade")
@_fail_cleanly
def db_upgrade():
    """Apply pending schema migrations in order."""
    db = geo_db.Database(geo_db.resolve_dsn(_settings(), notify=_notice))
    applied = db.upgrade()
    for number, name in applied:
        _say(Text(N_("applied %(number)04d %(name)s"), {"number": number, "name": name}))
    _say(Text(N_("schema version %(version)d"), {"version": db.schema_version()}))
    db.close()


@main.command("import")
@click.argument("kind", type=click.Choice(sorted(IMPORTERS)))
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--crs", help="CRS of the input: an EPSG code, gcj02 or bd09 (overrides the file's).")
@click.option("--dry-run", is_flag=True, help="Check and report; change nothing.")
@click.option("--activate", is_flag=True, help="grids: activate the new version at once.")
@click.option("--on-existing", type=click.Choice(["skip", "update"]),
              help="issues: a row whose ref is already stored is left out (skip) or applied "
                   "to the stored case through its history (update); default: refuse the file.")
@_fail_cleanly
def import_cmd(kind, path, crs, dry_run, activate, on_existing):
    """Import grids, issues, toilets, land use, blocks or the district boundary from a file:
    all rows or none."""
    kwargs = {"crs": crs, "dry_run": dry_run, "actor": _actor()}
    if on_existing and kind != "issues":
        raise click.UsageError("--on-existing applies to issues only")
    if on_existing:
        kwargs["on_existing"] = on_existing
    if kind == "grids":
        kwargs["activate"] = activate
    elif activate:
        raise click.UsageError("--activate applies to grids only")
    elif kind in POINT_IMPORTS:
        kwargs["progress"] = True
    _say(IMPORTERS[kind](_db(), _settings(), path, **kwargs))


@main.command("export")
@click.argument("kind", type=click.Choice(export.KINDS))
@click.option("--format", "fmt", type=click.Choice(export.FORMATS + ("xlsx",)),
              default="geojson", show_default=True,
              help="xlsx: the toilets' Excel ledger (一户一档台账).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--version", "version", type=int, help="grids: a version other than the active one.")
@_fail_cleanly
def export_cmd(kind, fmt, output, version):
    """Export grids, issues or toilets."""
    if fmt == "xlsx":
        if kind != "toilets":
            raise click.UsageError("--format xlsx is the toilets' ledger: use it with toilets")
        from geo.toilets import ledger

        with export.replacing(output, "xlsx") as tmp:
            n = ledger.write_ledger(_db(), tmp, translate=environment_gettext())
    else:
        n = export.export(_db(), kind, fmt, output, version)
    click.echo(f"wrote {n} {kind} to {output}")


@main.command("assign")
@_fail_cleanly
def assign_cmd():
    """Re-assign every issue and toilet to the active grids."""
    for report in assign.reassign(_db(), _settings(), actor=_actor()):
        _say(report)


@main.group("grids")
def grids_group():
    """Grid versions."""


@grids_group.command("list")
@_fail_cleanly
def grids_list():
    """List grid versions, newest first."""
    from geo.grids import versions
    from geo.grids.messages import VERSION_STATUS, term

    for v in versions.list_versions(_db()):
        _say(Text(
            N_("%(id)4d  %(status)s  %(grids)5d grids  %(label)s  created %(created)s by %(by)s"),
            {"id": v["id"], "status": term(VERSION_STATUS, v["status"]), "grids": v["grids"],
             "label": v["label"], "created": f"{v['created_at']:%Y-%m-%d %H:%M}",
             "by": v["created_by"]}))


@grids_group.command("draft")
@click.option("--label", help="A name for the draft.")
@_fail_cleanly
def grids_draft(label):
    """Copy the active version into a new draft to edit."""
    from geo.grids import versions

    draft = versions.create_draft(_db(), label=label, actor=_actor(),
                                  translate=environment_gettext())
    _say(Text(N_("draft %(draft)s created from the active version"), {"draft": draft}))


@grids_group.command("validate")
@click.argument("version", type=int)
@_fail_cleanly
def grids_validate(version):
    """Check a version: errors block activation, warnings do not (exit 1 on errors)."""
    from geo.grids import versions

    report = versions.validate(_db(), version, _settings())
    _say(report)
    if not report.ok:
        sys.exit(1)


@grids_group.command("diff")
@click.argument("draft", type=int)
@_fail_cleanly
def grids_diff(draft):
    """Preview a draft: points that would change grid, workload per grid after the change."""
    from geo.grids import versions

    _say(versions.diff(_db(), draft, _settings()))


@grids_group.command("activate")
@click.argument("version", type=int)
@click.option("--expect-active", type=int,
              help="Refuse if another version became active meanwhile.")
@_fail_cleanly
def grids_activate(version, expect_active):
    """Make VERSION active, re-assigning only the points in the changed area."""
    from geo.grids import versions

    _say(versions.activate(_db(), _settings(), version,
                                       expected_active=expect_active,
                                       actor=_actor()))


@grids_group.command("rollback")
@click.option("--expect-active", type=int,
              help="Refuse if another version became active meanwhile.")
@_fail_cleanly
def grids_rollback(expect_active):
    """Return to the previous version, restoring every assignment exactly."""
    from geo.grids import versions

    _say(versions.rollback(_db(), _settings(), actor=_actor(),
                                       expected_active=expect_active))


@grids_group.command("balance")
@click.option("--metric", type=click.Choice(["open_issues", "recent_issues", "issues", "area"]),
              default="open_issues", show_default=True)
@click.option("--units", type=click.Choice(["blocks", "lattice"]),
              help="Building units: whole blocks (default when a blocks layer is loaded) or "
                   "200 m lattice cells.")
@click.option("--scope", type=click.Choice(["community", "street"]), default="community",
              show_default=True,
              help="How far a block may move: within its community (no community or street "
                   "outline changes) or within its street (communities are re-drawn).")
@click.option("--max-moves", type=click.IntRange(1, 100_000), default=200, show_default=True,
              help="Stop after this many moves (the spread may still fall after it).")
@_fail_cleanly
def grids_balance(metric, units, scope, max_moves):
    """Suggest boundary moves that even out METRIC, as a new draft."""
    from geo.grids import versions

    with _Dots() as dots:
        report = versions.suggest_balance(_db(), _settings(), metric=metric, units=units,
                                          max_moves=max_moves, actor=_actor(),
                                          scope=scope, progress=dots)
    _say(report)


#: What each step of the balance suggestion (geo.grids.balance.STEPS) is doing.
BALANCE_STEPS = {"units": N_("cutting the grids into building units"),
                 "loads": N_("counting the load of each unit"),
                 "moves": N_("choosing moves (a dot each)"),
                 "draft": N_("writing the draft")}


class _Dots:
    """Progress of a long command on stderr: a line per step, a dot per move."""

    def __init__(self):
        self._ = environment_gettext()
        self.step = None

    def __enter__(self):
        return self

    def __call__(self, step, moves):
        if step != self.step:
            if self.step is not None:
                click.echo("", err=True)
            self.step = step
            click.echo(self._(BALANCE_STEPS[step]) + " ", nl=False, err=True)
        elif step == "moves":
            click.echo(".", nl=False, err=True)

    def __exit__(self, *exc):
        if self.step is not None:
            click.echo("", err=True)


def _password(from_stdin):
    """A password from standard input (first line) or a hidden prompt, never from argv."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("password", hide_input=True, confirmation_prompt=True)


def _role_options(func):
    func = click.option("--department", "departments", multiple=True,
                        help="department role: a department named in grids' departments "
                             "(repeat for several).")(func)
    func = click.option("--grid", "grids", multiple=True,
                        help="grid_worker role: a 15-digit grid code (repeat for several).")(func)
    return click.option("--role", "roles", multiple=True, required=True,
                        type=click.Choice(permissions.ROLES),
                        help="A role (repeat for several).")(func)


@main.group("users")
def users_group():
    """Accounts: add, list, disable, enable, set roles, reset a password."""


@users_group.command("add")
@click.argument("login")
@click.option("--name", help="Display name (default: the login name).")
@click.option("--phone", help="Phone number (optional).")
@_role_options
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@_fail_cleanly
def users_add(login, name, phone, roles, grids, departments, password_stdin):
    """Create account LOGIN (the first admin: civgrid users add NAME --role admin)."""
    people_users.create_user(_db(), login, name, roles, _password(password_stdin), grids=grids,
                             departments=departments, phone=phone, actor=_actor())
    click.echo(f"account {login} created: {', '.join(roles)}")


@users_group.command("list")
@_fail_cleanly
def users_list():
    """Every account with its roles, scope and state."""
    for u in people_users.list_users(_db()):
        scope = ", ".join(u.grids + u.departments)
        state = "disabled" if u.disabled else ("must change password"
                                                if u.must_change_password else "active")
        click.echo(f"{u.login:<16} {u.display_name:<12} {','.join(u.roles):<24} {state}"
                   + (f"  scope: {scope}" if scope else ""))


@users_group.command("disable")
@click.argument("login")
@_fail_cleanly
def users_disable(login):
    """Disable LOGIN: its sessions and tokens stop at once."""
    people_users.set_disabled(_db(), login, True, actor=_actor())
    click.echo(f"account {login} disabled")


@users_group.command("enable")
@click.argument("login")
@_fail_cleanly
def users_enable(login):
    """Enable LOGIN again (also lifts a lock after failed logins)."""
    people_users.set_disabled(_db(), login, False, actor=_actor())
    click.echo(f"account {login} enabled")


@users_group.command("set-roles")
@click.argument("login")
@_role_options
@_fail_cleanly
def users_set_roles(login, roles, grids, departments):
    """Replace LOGIN's roles (and scopes, when --grid or --department are given)."""
    people_users.set_roles(_db(), login, roles, grids=grids or None,
                           departments=departments or None, actor=_actor())
    click.echo(f"account {login}: {', '.join(roles)}")


@users_group.command("reset-password")
@click.argument("login")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@_fail_cleanly
def users_reset_password(login, password_stdin):
    """Set LOGIN's password; its owner must change it at the next login."""
    people_users.reset_password(_db(), login, _password(password_stdin),
                                actor=_actor())
    click.echo(f"password of {login} reset; it must be changed at the next login")


@main.group("tokens")
def tokens_group():
    """API tokens for scripts (sent as Authorization: Bearer TOKEN)."""


@tokens_group.command("add")
@click.argument("login")
@click.option("--role", required=True, type=click.Choice(permissions.ROLES),
              help="The one role (of LOGIN's) the token acts with.")
@click.option("--label", help="What the token is for.")
@_fail_cleanly
def tokens_add(login, role, label):
    """Create a token for LOGIN; it is printed this once and never again."""
    token_id, token = people_tokens.create_token(_db(), login, role, label,
                                                 actor=_actor())
    click.echo(f"token {token_id} for {login} as {role} (shown once, keep it safe):")
    click.echo(token)


@tokens_group.command("list")
@_fail_cleanly
def tokens_list():
    """Every token: id, owner, role, label, last use, revoked or not."""
    for t in people_tokens.list_tokens(_db()):
        used = f"{t['last_used_at']:%Y-%m-%d %H:%M}" if t["last_used_at"] else "never used"
        state = f"revoked {t['revoked_at']:%Y-%m-%d}" if t["revoked_at"] else "active"
        click.echo(f"{t['id']:>4}  {t['login']:<16} {t['role']:<14} {state:<18} {used:<16}"
                   f" {t['label'] or ''}")


@tokens_group.command("revoke")
@click.argument("token_id", type=int)
@_fail_cleanly
def tokens_revoke(token_id):
    """Revoke token TOKEN_ID at once."""
    people_tokens.revoke_token(_db(), token_id, actor=_actor())
    click.echo(f"token {token_id} revoked")


@main.group("toilets")
def toilets_group():
    """Toilet renovation (厕所革命): coverage figures, site suggestions, record checks."""


@toilets_group.command("coverage")
@click.option("--radius", default=300.0, show_default=True, help="Service radius in metres.",
              type=click.FloatRange(1, coverage.MAX_RADIUS_M))
@click.option("--target", default=80.0, show_default=True, help="Renovation target in %.",
              type=click.FloatRange(0, 100))
@click.option("--chart", type=click.Path(dir_okay=False, path_type=Path),
              help="Also draw progress over time into this PNG file.")
@_fail_cleanly
def toilets_coverage(radius, target, chart):
    """Print coverage and renovation figures of the district and its grids."""
    from geo.toilets import chart as coverage_chart
    from geo.toilets import progress as coverage_progress

    db = _db()
    _say(coverage.coverage_report(db, _settings(), radius_m=radius, target_pct=target))
    if chart:
        with export.replacing(chart, "png") as tmp:
            coverage_chart.progress_chart(coverage_progress.progress_over_time(db), tmp,
                                          translate=environment_gettext())
        _ = environment_gettext()
        click.echo(_("progress chart written to %(path)s") % {"path": chart})


@toilets_group.command("sites")
@click.argument("k", type=click.IntRange(1, 100))
@click.option("--radius", default=300.0, show_default=True, help="Service radius in metres.",
              type=click.FloatRange(1, coverage.MAX_RADIUS_M))
@click.option("--objective", type=click.Choice(["area", "population"]), default="area",
              show_default=True)
@_fail_cleanly
def toilets_sites(k, radius, objective):
    """Suggest K sites for new public toilets covering the most unserved area or people."""
    from geo.toilets import sites as coverage_sites

    _say(coverage_sites.suggest_sites(_db(), k=k, radius_m=radius, objective=objective))


@toilets_group.command("check")
@_fail_cleanly
def toilets_check():
    """List stored records whose status lacks its date or whose date lies in the future.

    Exits 1 when there is any, so a cron job can tell the office.
    """
    from geo.toilets import rules

    broken = rules.broken_records(_db())
    _ = environment_gettext()
    for record in broken:
        click.echo(record.problem.render(_))
    click.echo(_("%(n)d record(s) break the date rules") % {"n": len(broken)})
    if broken:
        sys.exit(1)


def _case_ids(ids, ids_file):
    """The case ids of ``--id`` and of ``--ids-file`` (whitespace- or comma-separated
    numbers; ``#`` starts a comment), a bad one refused with its file and line."""
    from geo.errors import Place

    found, problems = list(ids), []
    if ids_file is not None:
        text = ids_file.read_text(encoding="utf-8-sig")
        for number, line in enumerate(text.splitlines(), start=1):
            for token in line.split("#", 1)[0].replace(",", " ").split():
                if token.isdigit():
                    found.append(int(token))
                else:
                    problems.append(Problem("cases.bad_id", N_("%(value)r is not a case id"),
                                            {"value": token[:40]},
                                            Place(ids_file.name, row=number)))
    if problems:
        raise InputError(problems)
    return found


@main.command("cases")
@click.argument("action", type=click.Choice(list(case_workflow.STEPS)))
@click.option("--id", "ids", type=int, multiple=True, help="A case (issue) id; repeatable.")
@click.option("--ids-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A file of case ids, whitespace- or comma-separated.")
@click.option("--as", "as_login", metavar="LOGIN",
              help="The account taking the step: its roles and scope decide (required here).")
@click.option("--note", help="The note or reason (required for void, return, rework, "
                             "feed_back, requests and reply).")
@click.option("--department", help="dispatch: the department.")
@click.option("--proposed", is_flag=True,
              help="dispatch: each case's proposed department when --department is not given.")
@click.option("--deadline", help="request_extension: the new deadline, YYYY-MM-DD HH:MM "
                                 "(Beijing time).")
@_fail_cleanly
def cases_cmd(action, ids, ids_file, as_login, note, department, proposed, deadline):
    """Take one workflow step on cases, with the permission, history and audit rules of
    the pages; all or nothing."""
    from geo.errors import ConflictError
    from geo.people.audit import Actor

    login = as_login or (click.get_current_context().find_root().obj or {}).get("as")
    if not login:
        raise InputError(Problem("cases.no_account",
                                 N_("name the account taking the step with --as LOGIN")))
    db = _db()
    account = people_users.get_user(db, login)
    if account.disabled:
        raise ConflictError(N_("account %(login)s is disabled: it cannot act"),
                            {"login": login}, code="people.actor_disabled")
    done = case_workflow.act_many(db, _case_ids(ids, ids_file), action,
                                  Actor(account.login, account.id), account, note=note,
                                  department=department, deadline_to=deadline,
                                  propose=proposed)
    _say(Text(N_("%(step)s: %(n)d case(s) done as %(login)s"),
              {"step": case_workflow.Names([action]), "n": len(done), "login": account.login}))


@main.command("bulletin")
@click.option("--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="The day, YYYY-MM-DD (default: yesterday on the district clock).")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "html", "pdf"]), required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@_fail_cleanly
def bulletin_cmd(day, fmt, output):
    """Write the daily bulletin (日通报) of a day as an Excel workbook, an HTML page or a PDF,
    in the command line's language."""
    import datetime as dt

    from geo.cases import bulletin
    from geo.issues.query import district_today
    from webmap import create_app
    from webmap.i18n import environment_locale
    from webmap.views import bulletins

    day = day.date() if day else district_today() - dt.timedelta(days=1)
    db = _db()
    with export.replacing(output, fmt) as tmp:
        b = bulletin.daily(db, day)
        if fmt == "xlsx":
            english = environment_locale() == "en"
            bulletin.write_xlsx(bulletin.bulletin_sheets(b), tmp, environment_gettext(), english)
        else:
            app = create_app({"CIVGRID_SETTINGS": _settings()})
            with app.test_request_context(f"/?lang={environment_locale()}"):
                html = bulletins.print_html(db, b)
            if fmt == "pdf":
                tmp.write_bytes(bulletins.pdf_bytes(html))
            else:
                tmp.write_text(html, encoding="utf-8")
    _ = environment_gettext()
    click.echo(_("wrote the daily bulletin of %(day)s to %(path)s")
               % {"day": day.isoformat(), "path": str(output)})


if __name__ == "__main__":
    main()


@main.group("calendar")
def calendar_group():
    """The holiday calendar working-day deadlines follow: import a year, list the days."""


@calendar_group.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@_fail_cleanly
def calendar_import(path):
    """Import calendar file PATH (CSV date,kind,name; kind 休 or 班): replaces the days of
    its year and recomputes the deadlines of open cases."""
    from geo.cases import calendar

    _say(calendar.import_calendar(_db(), path, actor=_actor()))


@calendar_group.command("list")
@click.option("--year", type=int, help="Only this year.")
@_fail_cleanly
def calendar_list(year):
    """The loaded holidays and make-up working days, by year."""
    from geo.cases import calendar

    _ = environment_gettext()
    by_year = calendar.years(calendar.list_days(_db(), year))
    if not by_year:
        click.echo(_("no calendar loaded: working days skip weekends only"))
    kinds = {"holiday": _("holiday (休)"), "workday": _("make-up working day (班)")}
    for y, days in by_year.items():
        click.echo(_("%(year)s: %(holidays)d holiday(s), %(workdays)d make-up working day(s)")
                   % {"year": y, "holidays": sum(d.kind == "holiday" for d in days),
                      "workdays": sum(d.kind == "workday" for d in days)})
        for d in days:
            click.echo(f"  {d.day.isoformat()}  {kinds[d.kind]}  {d.name or ''}")
