"""Console pages of bulk CSV: Users > Import (upload, a checked preview with the errors on
the cells at fault, apply with a live progress bar, the result to download) and Users >
Export."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile  # what request.form() holds (FastAPI's is a subclass)

from switchboard.accounts import tenancy
from switchboard.console.web import FormDep, FormErrors, ViewerDep, flash, language, redirect, refused_form, render
from switchboard.core import i18n
from switchboard.core.errors import ErrorItem, NotFound, ServiceError
from switchboard.imports import csv_format, exporter
from switchboard.imports import service as imports
from switchboard.jobs import runner
from switchboard.jobs import service as jobs

router = APIRouter(include_in_schema=False)
BASE = "/accounts/{account_id}"
PAGE_ROWS = 50
TOC_LIMIT = 100


def _job(viewer, account_id: str, job_id: str):
    job = jobs.get(viewer.ctx, job_id)
    if job.account_id != account_id:
        raise NotFound("not_found", "Job not found.")
    return job


@router.get(BASE + "/users/import")
def import_page(request: Request, account_id: str, viewer: ViewerDep):
    account = tenancy.require_account_admin(viewer.ctx, account_id)
    _, recent = jobs.list_for_account(viewer.ctx, account_id, limit=10)
    return render(request, "imports/import.html", {"account": account, "recent": recent,
                                                  "max_rows": csv_format.MAX_ROWS}, account=account)


@router.post(BASE + "/users/import")
async def upload(request: Request, account_id: str, viewer: ViewerDep, form: FormDep):
    upload_file = (await request.form()).get("file")
    data = await upload_file.read() if isinstance(upload_file, UploadFile) else b""
    from starlette.concurrency import run_in_threadpool

    def submit():
        try:
            job = imports.submit(viewer.ctx, account_id, data, mode="dry_run",
                                 on_error=form.get("on_error") or "all_or_nothing")
        except ServiceError as exc:
            status = refused_form(viewer, exc)
            account = tenancy.require_account_admin(viewer.ctx, account_id)
            gettext = i18n.gettext_for(language(request, account))
            _, recent = jobs.list_for_account(viewer.ctx, account_id, limit=10)
            return render(request, "imports/import.html", {
                "account": account, "recent": recent, "max_rows": csv_format.MAX_ROWS,
                "errors": FormErrors.from_items([ErrorItem(e.code, e.message, "file", e.params) for e in exc.errors],
                                                gettext)}, status_code=status, account=account)
        return redirect(f"/accounts/{account_id}/jobs/{job.id}")

    return await run_in_threadpool(submit)


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and 0 < int(raw) < 1_000_000 else 1


def job_context(request: Request, viewer, account_id: str, job_id: str, page: str | None = None,
                only_errors: bool = False) -> dict[str, Any]:
    account = tenancy.require_account_admin(viewer.ctx, account_id)
    job = _job(viewer, account_id, job_id)
    view = jobs.view(viewer.ctx, job, with_rows=job.state in ("succeeded", "failed"))
    outcomes = {row["row"]: row for row in view["result"]["rows"]}
    errors = [(row["row"], error) for row in view["result"]["rows"] for error in row["errors"]]
    context: dict[str, Any] = {"account": account, "job": job, "view": view, "errors_toc": errors[:TOC_LIMIT],
                               "errors_total": len(errors), "only_errors": only_errors}
    if job.kind == "import" and job.state in ("succeeded", "failed"):
        parsed = csv_format.read(jobs.input_text(viewer.ctx, job).encode("utf-8"))
        rows = [r for r in parsed.rows if not only_errors or outcomes.get(r.number, {}).get("errors")]
        number = _page_number(page)
        shown = [csv_format.Row(r.number, csv_format.masked(r.cells), r.problems)
                 for r in rows[(number - 1) * PAGE_ROWS: number * PAGE_ROWS]]
        columns = [c for c in parsed.columns if any(r.get(c) for r in shown)] or parsed.columns[:1]
        context.update(columns=columns, rows=shown, outcomes=outcomes, page=number,
                       pages=max(1, -(-len(rows) // PAGE_ROWS)))
    return context


@router.get(BASE + "/jobs/{job_id}")
def job_page(request: Request, account_id: str, job_id: str, viewer: ViewerDep, page: str | None = None,
             errors_only: str = ""):
    context = job_context(request, viewer, account_id, job_id, page, only_errors=errors_only == "1")
    return render(request, "imports/job.html", context, account=context["account"])


@router.get(BASE + "/jobs/{job_id}/progress")
def job_progress(request: Request, account_id: str, job_id: str, viewer: ViewerDep):
    """Polled by htmx while the job runs; once it is done the page reloads with the result."""
    account = tenancy.require_account_admin(viewer.ctx, account_id)
    job = _job(viewer, account_id, job_id)
    response = render(request, "imports/_progress.html", {"account": account, "job": job}, account=account)
    if job.state in ("succeeded", "failed"):
        response.headers["HX-Refresh"] = "true"
    return response


@router.post(BASE + "/jobs/{job_id}/apply")
def apply(request: Request, account_id: str, job_id: str, viewer: ViewerDep, form: FormDep):
    """Applies the file a dry run checked (a new job, the same file)."""
    checked = _job(viewer, account_id, job_id)
    try:
        data = jobs.input_text(viewer.ctx, checked).encode("utf-8")
        job = imports.submit(viewer.ctx, account_id, data, mode="apply",
                             on_error="partial" if form.get("on_error") == "partial" else "all_or_nothing")
    except ServiceError as exc:
        refused_form(viewer, exc)
        flash(request, exc.errors[0].message, **exc.errors[0].params)
        return redirect(f"/accounts/{account_id}/jobs/{job_id}")
    return redirect(f"/accounts/{account_id}/jobs/{job.id}")


@router.get(BASE + "/jobs/{job_id}/result.csv")
def job_result(account_id: str, job_id: str, viewer: ViewerDep):
    job = _job(viewer, account_id, job_id)
    return Response(runner.RESULT_CSV[job.kind](viewer.ctx, job), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{job.kind}-{job.id}.csv"'})


@router.get(BASE + "/users/export.csv")
def export(account_id: str, viewer: ViewerDep):
    return Response(exporter.export_csv(viewer.ctx, account_id), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="users.csv"'})
