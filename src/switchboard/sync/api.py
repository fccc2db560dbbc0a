"""REST routes of the sync: the account's summary and queue (with its CSV), "push again
now" for one user, and "retry every failed push" for the account. Each route calls one
service function."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from switchboard.api_support import PROBLEM_RESPONSES, CtxDep, PagingDep
from switchboard.imports import csv_format
from switchboard.sync import queue as sync
from switchboard.sync import status
from switchboard.sync.schemas import PushQueued, QueuePage, RetriedFailed, SyncSummary

router = APIRouter(prefix="/api/v1/accounts/{account_id}", responses=PROBLEM_RESPONSES, tags=["mivb sync"])
QueueState = Annotated[Literal["pending", "running", "failed"] | None, Query(
    description="pending: queued, retries waiting for their next attempt included; running: a worker pushes it "
                "now; failed: gave up and not pushed successfully since. Without it, all three.")]


@router.post("/users/{user_id}/mivb/sync", status_code=202, response_model=PushQueued,
             summary="Push the user's state again now")
def push_now(account_id: str, user_id: str, ctx: CtxDep):
    job = sync.push_now(ctx, account_id, user_id)
    return {"job_id": str(job.id), "state": job.state}


@router.get("/mivb/sync", response_model=SyncSummary,
            summary="Sync summary: counts per state, failed users and errors")
def sync_summary(account_id: str, ctx: CtxDep):
    return sync.account_summary(ctx, account_id)


@router.get("/mivb/sync/jobs", response_model=QueuePage,
            summary="The account's sync queue: pending, running and failed pushes and removals, with the PBX's "
                    "errors in its own words (failed first, then running, then pending; oldest first in each)")
def list_sync_jobs(account_id: str, ctx: CtxDep, paging: PagingDep, state: QueueState = None):
    total, items = status.list_jobs(ctx, account_id, state=state, search=paging.search, limit=paging.limit,
                                    offset=paging.offset)
    return {"total": total, "counts": status.counts(ctx, account_id), "items": items}


@router.get("/mivb/sync/jobs.csv", summary="The account's sync queue as CSV (every job of the state asked, "
            "formula cells neutralised)", responses={200: {"content": {"text/csv": {}}, "description": "CSV"}})
def export_sync_jobs(account_id: str, ctx: CtxDep, state: QueueState = None) -> Response:
    rows = status.export_rows(ctx, account_id, state=state)
    return Response(csv_format.write(rows, status.CSV_COLUMNS), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="sync-queue.csv"'})


@router.post("/mivb/sync/retry-failed", status_code=202, response_model=RetriedFailed,
             summary="Queue every failed push (and removal) of the account again")
def retry_failed(account_id: str, ctx: CtxDep):
    return {"queued": sync.retry_failed(ctx, account_id)}
