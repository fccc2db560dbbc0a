"""The `switchboard` commands of bulk work: `import`, `export` and `mivb adopt` (registered
by cli.py). Each submits a job and runs it here with a progress bar, as a worker would
(or follows it when a worker process took it first)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from switchboard.core.config import get_settings

console = Console()
err_console = Console(stderr=True)


def register(app: typer.Typer, mivb_app: typer.Typer) -> None:
    """Adds these commands to the `switchboard` command (cli.py)."""
    app.command("import")(import_users)
    app.command("export")(export_users)
    mivb_app.command("adopt")(mivb_adopt)


def _session_factory():
    from switchboard.cli import _session_factory

    return _session_factory()


def _unit_of_work():
    from switchboard.cli import _unit_of_work

    return _unit_of_work()


def _system_ctx(session):
    from switchboard.cli import _system_ctx

    return _system_ctx(session)


def _report_service_error(exc) -> None:
    from switchboard.cli import _report_service_error

    _report_service_error(exc)


def import_users(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="The CSV file."),
    account: str = typer.Option(..., "--account", help="Account id."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check every row, write nothing."),
    partial: bool = typer.Option(False, "--partial", help="Apply the valid rows even if some fail."),
) -> None:
    """Import users with their MiVB service and phones from CSV (exit status 1 if rows failed)."""
    from rich.progress import Progress
    from rich.table import Table

    from switchboard.core.errors import ServiceError
    from switchboard.imports import service as imports
    from switchboard.jobs import service as jobs
    from switchboard.jobs.runner import JobRunner
    from switchboard.wiring import runtime_from_settings

    factory = _session_factory()
    try:
        with _unit_of_work() as session:
            job = imports.submit(_system_ctx(session), account, file.read_bytes(),
                                 mode="dry_run" if dry_run else "apply",
                                 on_error="partial" if partial else "all_or_nothing")
            job_id, total = job.id, job.progress_total
    except ServiceError as exc:
        _report_service_error(exc)
    runner = JobRunner(factory, runtime_from_settings(get_settings()), worker_id=f"cli:{job_id[:8]}")
    with Progress(console=err_console) as progress:
        task = progress.add_task("Checking rows" if dry_run else "Importing rows", total=total)
        if runner.claim(job_id):
            runner.run(job_id, on_progress=lambda done: progress.update(task, completed=done))
        else:  # a worker process took it first: follow it
            import time

            while _job_state(factory, job_id) in ("queued", "running"):
                time.sleep(0.5)
        progress.update(task, completed=total)
    with _unit_of_work() as session:
        view = jobs.view(_system_ctx(session), jobs.get(_system_ctx(session), job_id))
    result = view["result"]
    table = Table(title=f"Import {'dry run' if dry_run else ''} — job {job_id}")
    for column in ("created", "updated", "unchanged", "failed"):
        table.add_column(column, justify="right")
    table.add_row(*(str(result[c]) for c in ("created", "updated", "unchanged", "failed")))
    console.print(table)
    for row in [r for r in result["rows"] if r["errors"]][:50]:
        for error in row["errors"]:
            console.print(f"row {row['row']} {error.get('field') or ''}: {error['message']}", markup=False)
    if view["state"] == "failed" and not dry_run and not partial:
        console.print("[yellow]Nothing was written: fix the rows above, or use --partial.[/]")
    raise typer.Exit(code=1 if result["failed"] else 0)


def _job_state(factory, job_id: str) -> str:
    from switchboard.jobs.models import Job

    with factory() as session:
        return session.get(Job, job_id).state


def export_users(
    account: str = typer.Option(..., "--account", help="Account id."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="File to write (default: standard output)."),
) -> None:
    """Export an account's users with their MiVB service and phones as CSV (the import format)."""
    from switchboard.core.errors import ServiceError
    from switchboard.imports import exporter

    try:
        with _unit_of_work() as session:
            text = exporter.export_csv(_system_ctx(session), account)
    except ServiceError as exc:
        _report_service_error(exc)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        err_console.print(f"Wrote {text.count(chr(10)) - 1} users to {output}.")


def mivb_adopt(
    keys: list[str] = typer.Argument(None, help="Keys of the PBX users to adopt."),
    account: str = typer.Option(..., "--account", help="Account id."),
    everything: bool = typer.Option(False, "--all", help="Every adoptable user of the PBX."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check, adopt nothing."),
    partial: bool = typer.Option(False, "--partial", help="Adopt the valid ones even if some fail."),
) -> None:
    """Adopt PBX users as they are (nothing on the PBX changes); exit status 1 if some failed."""
    from rich.progress import Progress
    from rich.table import Table

    from switchboard.adoption import service as adoption
    from switchboard.core.errors import ServiceError
    from switchboard.jobs import service as jobs
    from switchboard.jobs.runner import JobRunner
    from switchboard.wiring import runtime_from_settings

    factory = _session_factory()
    try:
        with _unit_of_work() as session:
            job = adoption.submit(_system_ctx(session), account, {
                "keys": keys or None, "all": everything, "mode": "dry_run" if dry_run else "apply",
                "on_error": "partial" if partial else "all_or_nothing"})
            job_id = job.id
    except ServiceError as exc:
        _report_service_error(exc)
    runner = JobRunner(factory, runtime_from_settings(get_settings()), worker_id=f"cli:{job_id[:8]}")
    with Progress(console=err_console) as progress:
        task = progress.add_task("Reading and adopting PBX users", total=len(keys) if keys else None)
        if runner.claim(job_id):
            runner.run(job_id, on_progress=lambda done: progress.update(task, completed=done))
        else:
            import time

            while _job_state(factory, job_id) in ("queued", "running"):
                time.sleep(0.5)
    with _unit_of_work() as session:
        view = jobs.view(_system_ctx(session), jobs.get(_system_ctx(session), job_id))
    result = view["result"]
    table = Table(title=f"Adoption {'dry run ' if dry_run else ''}— job {job_id}")
    for column in ("adopted", "failed", "skipped"):
        table.add_column(column, justify="right")
    table.add_row(*(str(result[c]) for c in ("adopted", "failed", "skipped")))
    console.print(table)
    for row in [r for r in result["rows"] if r["status"] != "adopted"][:50]:
        console.print(f"{row['key']}: " + "; ".join(e["message"] for e in row["errors"]), markup=False)
    raise typer.Exit(code=1 if result["failed"] else 0)
