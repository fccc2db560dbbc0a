"""Console page "Sync status" of an account: the pushes waiting, running and failed, with
the PBX's own words, "Retry" per failed job and "Retry all failed", filters by state and
the CSV export. The page polls itself (htmx) while something is pending or running.

For admins only: to anyone else the page and its forms do not exist (404)."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from babel.dates import format_datetime
from fastapi import APIRouter, Request
from fastapi.responses import Response

from switchboard.accounts import tenancy
from switchboard.console.web import FormDep, FormErrors, Viewer, ViewerDep, flash, language, redirect, \
    refused_form, render
from switchboard.core import i18n
from switchboard.core.errors import ServiceError
from switchboard.imports import csv_format
from switchboard.sync import queue as sync
from switchboard.sync import status

router = APIRouter(include_in_schema=False)
PAGE = "/accounts/{account_id}/sync"
PAGE_SIZE = 25


def _state(raw: str | None) -> str:
    return raw if raw in status.QUEUE_STATES else ""


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and 0 < int(raw) < 1_000_000 else 1


def _url(account_id: str, state: str = "", page: int = 1) -> str:
    query = urlencode({key: value for key, value in (("state", state), ("page", page if page > 1 else "")) if value})
    return f"/accounts/{account_id}/sync" + (f"?{query}" if query else "")


def _context(request: Request, viewer: Viewer, account_id: str, state: str, page: int) -> dict[str, Any]:
    account = tenancy.account_to_administer(viewer.ctx, account_id)
    total, items = status.list_jobs(viewer.ctx, account_id, state=state or None, limit=PAGE_SIZE,
                                    offset=(page - 1) * PAGE_SIZE)
    counts = status.counts(viewer.ctx, account_id)
    lang = language(request, account)

    def when(moment: datetime) -> str:
        # In the reader's language; times are UTC (the page says so).
        return format_datetime(moment, "medium", tzinfo=timezone.utc, locale=lang)

    return {"account": account, "items": items, "counts": counts, "state": state, "total": total, "page": page,
            "pages": max(1, math.ceil(total / PAGE_SIZE)), "when": when,
            "poll": bool(counts["pending"] or counts["running"]), "self_url": _url(account_id, state, page),
            "url_for_state": lambda s: _url(account_id, s)}


@router.get(PAGE)
def sync_page(request: Request, account_id: str, viewer: ViewerDep, state: str = "", page: str | None = None):
    context = _context(request, viewer, account_id, _state(state), _page_number(page))
    # htmx polls the queue part only: the filters, counts and table that change.
    template = "sync/_queue.html" if request.headers.get("hx-request") else "sync/queue.html"
    return render(request, template, context, account=context["account"])


@router.get(PAGE + "/jobs.csv")
def export_csv(request: Request, account_id: str, viewer: ViewerDep, state: str = ""):
    tenancy.account_to_administer(viewer.ctx, account_id)
    rows = status.export_rows(viewer.ctx, account_id, state=_state(state) or None)
    return Response(csv_format.write(rows, status.CSV_COLUMNS), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="sync-queue.csv"'})


def _refused(request: Request, viewer: Viewer, account_id: str, exc: ServiceError, state: str):
    refused_form(viewer, exc)
    context = _context(request, viewer, account_id, state, 1)
    gettext = i18n.gettext_for(language(request, context["account"]))
    context["errors"] = FormErrors.from_error(exc, gettext)
    return render(request, "sync/queue.html", context, status_code=exc.status, account=context["account"])


@router.post(PAGE + "/retry-failed")
def retry_failed(request: Request, account_id: str, viewer: ViewerDep, form: FormDep):
    tenancy.account_to_administer(viewer.ctx, account_id)
    state = _state(form.get("state"))
    try:
        queued = sync.retry_failed(viewer.ctx, account_id)
    except ServiceError as exc:
        return _refused(request, viewer, account_id, exc, state)
    if queued == 0:
        message = "No failed push to retry."
    elif queued == 1:
        message = "1 failed push queued again."
    else:
        message = "%(count)s failed pushes queued again."
    flash(request, message, count=queued)
    return redirect(_url(account_id, state))


@router.post(PAGE + "/retry")
def retry_one(request: Request, account_id: str, viewer: ViewerDep, form: FormDep):
    tenancy.account_to_administer(viewer.ctx, account_id)
    state = _state(form.get("state"))
    try:
        job = sync.retry_job(viewer.ctx, account_id, form.get("job_id", ""))
    except ServiceError as exc:
        return _refused(request, viewer, account_id, exc, state)
    message = "Removing from the PBX again now." if job.kind == "remove_user" else "Pushing to the PBX again now."
    flash(request, message)
    return redirect(_url(account_id, state))
