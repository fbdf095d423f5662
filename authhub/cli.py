"""The ``authhub`` command line.

Plugins add their own commands through the ``register_commands`` hook;
:func:`authhub.pass_hub` hands a command the configured hub.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from typing import Any

import click

import authhub
from authhub import revisions
from authhub.accesslog import FORMATS, AccessLogFormat
from authhub.accesslog import configure as configure_access_log
from authhub.commands import current_hub, ensure_tables, error_message, missing_file, require_database, safe_url
from authhub.errors import AuthhubError, ConfigurationError
from authhub.hub import AuthHub
from authhub.plugins import load_entry_points, new_manager
from authhub.users import ManagedUserStore, UserError


@click.group()
@click.version_option(authhub.__version__, prog_name="authhub")
def cli() -> None:
    """authhub: pluggable authentication for Python web APIs."""


# -- plugins -------------------------------------------------------------------


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
def plugins(as_json: bool) -> None:
    """List installed plugins in chain order, with versions and load errors."""
    try:
        hub = AuthHub(check_chain=False)
    except ConfigurationError as error:
        click.echo(f"warning: {error}", err=True)
        hub = AuthHub(check_chain=False, environ={}, directory="/nonexistent-authhub")
    chain = list(hub.schemes)
    rows: list[dict[str, Any]] = []
    for info in hub.plugins:
        position = chain.index(info.name) + 1 if info.name in chain else None
        rows.append(
            {
                "name": info.name,
                "distribution": info.distribution,
                "version": info.version,
                "position": position,
                "hooks": list(info.hooks),
                "status": info.status,
                "error": info.error,
            }
        )
    rows.sort(key=lambda row: (row["position"] is None, row["position"] or 0, row["name"]))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No plugins installed.")
        return
    header = ("SCHEME", "DISTRIBUTION", "VERSION", "POSITION", "HOOKS", "STATUS")
    table = [header] + [
        (
            row["name"],
            row["distribution"] or "-",
            row["version"] or "-",
            str(row["position"]) if row["position"] else "-",
            ",".join(row["hooks"]) or "-",
            "ok" if row["error"] is None else f"error: {row['error']}",
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header) - 1)]
    for line in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False)) + "  " + line[-1])


# -- check ---------------------------------------------------------------------


@cli.command()
def check() -> None:
    """Check the configuration, the plugins and the database (creating nothing)."""
    hub = current_hub()
    problems = [f"plugin {info.name!r} failed to load: {info.error}" for info in hub.plugins if info.error]
    absent = missing_file(hub)
    if absent is not None:
        problems.append(absent)
    else:
        try:
            pending = revisions.missing(hub)
        except AuthhubError as error:
            problems.append(error_message(hub, error))
        else:
            if pending:
                problems.append(f"database {safe_url(hub)} is not up to date (missing {', '.join(pending)}): "
                                "run 'authhub db upgrade'")
    if problems:
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(1)
    click.echo(f"ok: schemes {', '.join(hub.schemes) or '(none)'}; database {safe_url(hub)}")


# -- db ------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Database tables and migrations (every installed distribution's Alembic branch)."""


@db.command()
def upgrade() -> None:
    """Create or upgrade every installed distribution's tables; print the revisions applied."""
    hub = current_hub()
    try:
        applied = revisions.upgrade(hub)
    except AuthhubError as error:
        raise click.ClickException(error_message(hub, error)) from None
    if applied:
        click.echo(f"applied: {' '.join(applied)}")
    else:
        click.echo("already up to date")
    click.echo(f"database {safe_url(hub)} is up to date", err=True)


@db.command()
@click.option("-v", "--verbose", is_flag=True, help="Show each revision's details.")
def current(verbose: bool) -> None:
    """Show the revision each branch of the database is at (Alembic's current); creates nothing."""
    hub = current_hub()
    absent = missing_file(hub)
    if absent is not None:
        raise click.ClickException(absent)
    try:
        text = revisions.current(hub, verbose)
        pending = revisions.missing(hub)
    except AuthhubError as error:
        raise click.ClickException(error_message(hub, error)) from None
    click.echo(text, nl=False)
    if pending:
        click.echo(f"not up to date (missing {', '.join(pending)}): run 'authhub db upgrade'", err=True)


@db.command()
@click.option("-v", "--verbose", is_flag=True, help="Show each revision's details.")
def history(verbose: bool) -> None:
    """List every installed branch's revisions, newest first (Alembic's history); reads no database."""
    click.echo(revisions.history(current_hub(), verbose), nl=False)


# -- users -----------------------------------------------------------------------


@cli.group()
def users() -> None:
    """Manage users (the built-in table, or any store with the management methods)."""


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        if password.endswith("\r"):
            password = password[:-1]
        return password
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _managed_store(hub: AuthHub) -> ManagedUserStore:
    store = hub.users
    if not isinstance(store, ManagedUserStore):
        raise click.ClickException(
            f"the user store {type(store).__name__} (from the user_store hook) does not manage users: "
            "change them in the application that keeps them"
        )
    return store


def _user_command(action: Any, read_only: bool = False) -> Any:
    hub = current_hub()
    if read_only:
        require_database(hub)
    else:
        ensure_tables(hub)
    try:
        return action(_managed_store(hub))
    except UserError as error:
        raise click.ClickException(str(error)) from None
    except AuthhubError as error:
        raise click.ClickException(error_message(hub, error)) from None


@users.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.option("--inactive", is_flag=True, help="Create the user deactivated.")
def users_add(name: str, password_stdin: bool, inactive: bool) -> None:
    """Add user NAME."""
    hub = current_hub()
    ensure_tables(hub)
    try:
        if hub.users.get_by_username(name) is not None:
            raise UserError(f"user {name!r} already exists")
    except UserError as error:
        raise click.ClickException(str(error)) from None
    password = _read_password(password_stdin)
    user = _user_command(lambda store: store.create(name, password, is_active=not inactive))
    click.echo(f"added user {user.username!r} (id {user.id})")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def users_list(as_json: bool) -> None:
    """List users."""
    records = _user_command(lambda store: store.list(), read_only=True)
    if as_json:
        click.echo(json.dumps([{"id": u.id, "username": u.username, "is_active": u.is_active} for u in records]))
        return
    for user in records:
        click.echo(f"{user.id}\t{user.username}\t{'active' if user.is_active else 'inactive'}")


@users.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def users_set_password(name: str, password_stdin: bool) -> None:
    """Set the password of user NAME."""
    hub = current_hub()
    ensure_tables(hub)
    if hub.users.get_by_username(name) is None:
        raise click.ClickException(f"no user named {name!r}")
    password = _read_password(password_stdin)
    _user_command(lambda store: store.set_password(name, password))
    click.echo(f"password of {name!r} changed")


@users.command("deactivate")
@click.argument("name")
def users_deactivate(name: str) -> None:
    """Deactivate user NAME (their credentials stop working at once)."""
    _user_command(lambda store: store.deactivate(name))
    click.echo(f"user {name!r} deactivated")


@users.command("activate")
@click.argument("name")
def users_activate(name: str) -> None:
    """Activate user NAME again."""
    _user_command(lambda store: store.activate(name))
    click.echo(f"user {name!r} activated")


# -- serve -----------------------------------------------------------------------


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on (0.0.0.0: all).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Processes sharing the port, each with its own hub (POSIX); their caches stay coherent "
                   "through the invalidation channel.")
@click.option("--access-log", type=click.Choice(FORMATS), default="plain", show_default=True,
              help="One line per request on stderr: plain text, JSON lines, or off.")
def serve(host: str, port: int, threads: int, workers: int, access_log: AccessLogFormat) -> None:
    """Run the reference API (creating or upgrading the tables first)."""
    from authhub.server import bind, run_workers, serve_on

    if workers > 1 and not hasattr(os, "fork"):
        raise click.ClickException("--workers needs a system with fork() (Linux, macOS); use --workers 1 here")
    hub = current_hub()
    try:
        sockets = bind(host, port)  # first: a port in use is one line, before anything says "serving"
    except ConfigurationError as error:
        raise click.ClickException(error.detail) from None
    try:
        ensure_tables(hub)
    except click.ClickException:
        for sock in sockets:
            sock.close()
        raise
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # waitress warns "Task queue depth is N" on every request that waits for a free thread: under load,
    # one line per request that says nothing the access log's durations do not.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    configure_access_log(access_log)
    addresses = [sock.getsockname()[:2] for sock in sockets]
    urls = " ".join(f"http://[{h}]:{p}/" if ":" in h else f"http://{h}:{p}/" for h, p in addresses)
    click.echo(
        f"authhub {authhub.__version__} serving {urls} "
        f"(schemes: {', '.join(hub.schemes) or 'none'}; database {safe_url(hub)}; access log {access_log}"
        + (f"; {workers} workers" if workers > 1 else "") + ")",
        err=True,
    )
    if workers == 1:
        # SIGTERM (kill, systemd, docker stop) ends it with status 0, as with --workers N: waitress's
        # run() takes the SystemExit as the signal to finish the requests in flight and return.
        signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
        serve_on(hub, sockets, threads, access_log).run()
        return
    hub.close()  # every worker builds its own after the fork: no connection or thread crosses a process
    if run_workers(AuthHub, sockets, workers, threads, access_log):
        raise click.ClickException("a worker stopped; see the log above")


def main() -> None:
    """The console script: add the plugins' commands, then run."""
    pm = new_manager()
    if os.environ.get("AUTHHUB_TRACE_HOOKS"):  # every hook call, not only the hub's (README, Configuration)
        pm.trace.root.setwriter(lambda message: sys.stderr.write(f"authhub: {message}"))
        pm.enable_tracing()
    load_entry_points(pm, os.environ)
    pm.hook.register_commands(cli=cli)
    cli()
