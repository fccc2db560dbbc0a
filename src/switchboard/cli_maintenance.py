"""The `switchboard` commands over the whole database: `secrets rotate-key`, `secrets
status`, `secrets forget-previous`, `backup` and `restore` (registered by cli.py; the work
is done in switchboard.maintenance)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from switchboard.core.config import get_settings

console = Console()
err_console = Console(stderr=True)
secrets_app = typer.Typer(help="Secrets stored in the database: rotate the secret key.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Adds these commands to the `switchboard` command (cli.py)."""
    app.add_typer(secrets_app, name="secrets")
    app.command("backup")(backup_command)
    app.command("restore")(restore_command)


def _session_factory():
    from switchboard.cli import _session_factory

    return _session_factory()


def _report_service_error(exc) -> None:
    from switchboard.cli import _report_service_error

    _report_service_error(exc)


@secrets_app.command("rotate-key")
def secrets_rotate_key(
    batch_size: int = typer.Option(500, min=1, max=100_000, help="Secrets re-encrypted per transaction."),
) -> None:
    """Re-encrypt every stored secret under a new secret key, while servers and workers run.

    The new key is SWITCHBOARD_SECRET_KEY_NEW, or one generated into var/secret_key.new; an interrupted rotation
    resumes with the key it started with."""
    from rich.progress import Progress

    from switchboard.core.errors import ServiceError
    from switchboard.maintenance import secrets

    with Progress(console=err_console) as progress:
        task = progress.add_task("Re-encrypting secrets", total=None)

        def show(number: int, done: int, total: int) -> None:
            progress.update(task, completed=done, total=total, description=f"Re-encrypting secrets (pass {number})")

        try:
            rotation = secrets.rotate_key(get_settings(), _session_factory(), batch_size=batch_size, progress=show)
        except ServiceError as exc:
            _report_service_error(exc)
    console.print(f"Re-encrypted {rotation.re_encrypted} secrets under the new key "
                  f"({rotation.total} stored, {rotation.passes} passes).")
    for where in rotation.unreadable:
        err_console.print(f"[bold red]Cannot decrypt[/] {where} with any known key: left as it is.", markup=True)
    if not rotation.settled:
        err_console.print("[bold red]Secrets under an old key kept appearing:[/] a process still encrypts with an "
                          "old key (restart it with the new one), then run this again.")
    elif rotation.finished:
        console.print("The new key is now var/secret_key. The old one stays in var/previous_secret_keys, so sessions "
                      "and API tokens signed with it stay valid; run `switchboard secrets forget-previous` once they "
                      "have expired.")
    elif rotation.mode == "files":
        console.print("SWITCHBOARD_SECRET_KEY_NEW is already the current key: nothing else to switch.")
    elif rotation.mode == "environment":
        console.print("Every secret is now under SWITCHBOARD_SECRET_KEY_NEW. On every process: set "
                      "SWITCHBOARD_SECRET_KEY to it, add the old key to SWITCHBOARD_PREVIOUS_SECRET_KEYS, remove "
                      "SWITCHBOARD_SECRET_KEY_NEW, and restart.")
    if rotation.unreadable or not rotation.settled:
        raise typer.Exit(code=1)


@secrets_app.command("status")
def secrets_status() -> None:
    """Count the stored secrets by the key that encrypted them (current, previous, none known)."""
    from switchboard.core.security import SecretBox
    from switchboard.maintenance import secrets

    found = secrets.status(_session_factory(), SecretBox(get_settings().key_ring()))
    for column, count in found.by_column.items():
        console.print(f"  {column}: {count}")
    console.print(f"{found.current} secrets under the current key, {found.previous} under a previous key, "
                  f"{len(found.unreadable)} that no known key decrypts.")
    for where in found.unreadable:
        err_console.print(f"[bold red]Cannot decrypt[/] {where}")
    raise typer.Exit(code=1 if found.unreadable else 0)


@secrets_app.command("forget-previous")
def secrets_forget_previous(
    now: bool = typer.Option(False, "--now", help="Even if sessions and tokens signed with them are still valid."),
) -> None:
    """Forget the previous secret keys (var/previous_secret_keys) once no secret needs them."""
    from switchboard.core.errors import ServiceError
    from switchboard.maintenance import secrets

    try:
        env_left = secrets.forget_previous_keys(get_settings(), _session_factory(), now=now)
    except ServiceError as exc:
        _report_service_error(exc)
    console.print("[green]Previous secret keys forgotten.[/]")
    if env_left:
        console.print("Remove SWITCHBOARD_PREVIOUS_SECRET_KEYS from the environment of every process too.")


def _print_postgresql_procedure(*commands: list[str], then: str = "") -> None:
    import shlex

    console.print("PostgreSQL: run these (give the database password in PGPASSWORD or ~/.pgpass), or run this "
                  "command again with --run:", soft_wrap=True)
    for command in commands:
        console.print("  " + shlex.join(command), soft_wrap=True, markup=False, highlight=False)
    if then:
        console.print("  " + then, soft_wrap=True, markup=False, highlight=False)


def backup_command(
    file: Path = typer.Argument(..., help="Where to write the backup.", dir_okay=False),
    run: bool = typer.Option(False, "--run", help="PostgreSQL: run pg_dump instead of printing the procedure."),
    force: bool = typer.Option(False, "--force", help="Replace FILE if it exists."),
) -> None:
    """Back up the database into FILE (SQLite: online, while the server runs; PostgreSQL: pg_dump -Fc)."""
    from switchboard.core.db import is_sqlite
    from switchboard.core.errors import ServiceError
    from switchboard.maintenance import backup as backups

    url = get_settings().resolved_database_url()
    if not is_sqlite(url) and not run:
        _print_postgresql_procedure(backups.pg_dump_command(url, file))
        return
    try:
        copied = backups.backup(url, file, force=force)
    except ServiceError as exc:
        _report_service_error(exc)
    console.print(f"[green]Backed up[/] to {copied.path} ({copied.size} bytes, schema revision {copied.revision}).",
                  soft_wrap=True)
    console.print("The backup holds the stored secrets encrypted, not the key that decrypts them: keep the secret "
                  "key (var/secret_key and var/previous_secret_keys, or SWITCHBOARD_SECRET_KEY) safe apart from it.")


def restore_command(
    file: Path = typer.Argument(..., help="A backup made by `switchboard backup`.", dir_okay=False),
    run: bool = typer.Option(False, "--run", help="PostgreSQL: run pg_restore instead of printing the procedure."),
    force: bool = typer.Option(False, "--force", help="Even if the database is in use (SQLite, PostgreSQL) or not "
                                                      "empty (PostgreSQL)."),
) -> None:
    """Replace the database with a backup (checked, then upgraded). Stop the server and workers first."""
    from switchboard.core.db import is_sqlite
    from switchboard.core.errors import ServiceError
    from switchboard.core.security import SecretBox
    from switchboard.maintenance import backup as backups
    from switchboard.maintenance import secrets

    settings = get_settings()
    url = settings.resolved_database_url()
    if not is_sqlite(url) and not run:
        _print_postgresql_procedure(["pg_restore", "--list", str(file)], backups.pg_restore_command(url, file),
                                    then="switchboard db upgrade")
        return
    try:
        copied = backups.restore(url, file, force=force)
    except ServiceError as exc:
        _report_service_error(exc)
    console.print(f"[green]Restored[/] {file} (schema revision {copied.revision}, now {copied.head}).", soft_wrap=True)
    found = secrets.status(_session_factory(), SecretBox(settings.key_ring()))
    if found.unreadable:
        err_console.print(f"[bold red]{len(found.unreadable)} stored secrets cannot be decrypted[/] with this "
                          "installation's secret keys: put back the secret key of the installation the backup "
                          "comes from (var/secret_key or SWITCHBOARD_SECRET_KEY).")
        raise typer.Exit(code=3)
