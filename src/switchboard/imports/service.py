"""Bulk import and export of an account's users with their MiVB service and phones.

Submitting reads the file (refusing what is not such a CSV before any work) and queues a
job; the worker processes run it (`run`, registered for the "import" kind): every row
through the same services as a single edit, in one unit of work, kept or rolled back as
the mode says (jobs.runner)."""

from __future__ import annotations

from switchboard.core.context import ServiceContext
from switchboard.imports import csv_format
from switchboard.imports.applier import Importer
from switchboard.jobs import runner
from switchboard.jobs import service as jobs
from switchboard.jobs.models import Job
from switchboard.jobs.runner import Checkpoint, Progress, RowResult


def submit(ctx: ServiceContext, account_id: str, data: bytes, *, mode: str = "dry_run",
           on_error: str = "all_or_nothing") -> Job:
    """Checks the file and queues its import (mode dry_run or apply)."""
    parsed = csv_format.read(data)
    return jobs.create(ctx, account_id, kind="import", mode=mode, on_error=on_error,
                       input_text=data.decode("utf-8-sig"), total=len(parsed.rows))


def run(ctx: ServiceContext, job: Job, progress: Progress, checkpoint: Checkpoint) -> list[RowResult]:
    """The import job's work: every row, in order, each in its savepoint; after the rows an
    earlier attempt committed (checkpoint.skip), if it died."""
    parsed = csv_format.read(jobs.input_text(ctx, job).encode("utf-8"))
    importer = Importer(ctx, job.account_id, parsed)
    results: list[RowResult] = []
    rows = parsed.rows[checkpoint.skip:]
    done = checkpoint.skip
    while rows:
        batch = _next_batch(importer, rows)
        results.extend(importer.apply_batch(batch))
        rows, done = rows[len(batch):], done + len(batch)
        progress(done)
        checkpoint(results)
    return results


def _next_batch(importer: Importer, rows: list) -> list:
    """The rows that create users from the first on, up to half a checkpoint's rows (its
    commit falls between two batches); else the first row alone."""
    size, most = 0, min(runner.CHECKPOINT_ROWS // 2, len(rows))
    while size < most and importer.creates_user(rows[size]):
        size += 1
    return rows[:max(size, 1)]


def result_csv(ctx: ServiceContext, job: Job) -> str:
    """The input rows plus `status` and `errors` columns."""
    parsed = csv_format.read(jobs.input_text(ctx, job).encode("utf-8"))
    outcomes = {r.row: r for r in jobs.rows(ctx, job)}
    rows = []
    for row in parsed.rows:
        outcome = outcomes.get(row.number)
        errors = outcome.errors if outcome else []
        rows.append({**csv_format.masked(row.cells), "status": outcome.status if outcome else "",
                     "errors": "; ".join(f"{e.get('field') or 'row'}: {e['message']}" for e in errors)})
    return csv_format.write(rows, tuple(parsed.columns) + ("status", "errors"))
