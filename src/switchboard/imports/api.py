"""REST routes for bulk CSV: import (a job) and export."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from switchboard.api_support import PROBLEM_RESPONSES, CtxDep
from switchboard.imports import csv_format, exporter
from switchboard.imports import service as imports
from switchboard.jobs import service as jobs
from switchboard.jobs.schemas import JobOut

router = APIRouter(prefix="/api/v1/accounts/{account_id}", responses=PROBLEM_RESPONSES, tags=["bulk csv"])

CSV_BODY = {"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}},
                            "description": "The users, one per row (format in the API guide), at most "
                                           f"{csv_format.MAX_ROWS} rows and 10 MiB"}}


@router.post("/imports", status_code=202, response_model=JobOut, openapi_extra=CSV_BODY,
             summary="Import users with their MiVB service and phones from CSV (a job: poll GET /jobs/{id})")
async def submit_import(account_id: str, request: Request, ctx: CtxDep,
                        mode: Annotated[Literal["dry_run", "apply"], Query()] = "dry_run",
                        on_error: Annotated[Literal["all_or_nothing", "partial"], Query()] = "all_or_nothing"):
    data = await request.body()
    from starlette.concurrency import run_in_threadpool

    def work():
        job = imports.submit(ctx, account_id, data, mode=mode, on_error=on_error)
        return jobs.view(ctx, job, with_rows=False)

    return await run_in_threadpool(work)


@router.get("/users/export", summary="The account's users with their MiVB service and phones, as CSV (the "
            "import format: importing it again changes nothing)",
            responses={200: {"content": {"text/csv": {}}, "description": "CSV"}})
def export_users(account_id: str, ctx: CtxDep) -> Response:
    return Response(exporter.export_csv(ctx, account_id), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="users.csv"'})
