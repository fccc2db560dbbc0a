"""REST routes for jobs (bulk imports and adoptions): progress, result, result as CSV."""

from __future__ import annotations

from fastapi import APIRouter, Response

from switchboard.api_support import PROBLEM_RESPONSES, CtxDep, Page, PagingDep
from switchboard.jobs import runner
from switchboard.jobs import service as jobs
from switchboard.jobs.schemas import JobOut

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES, tags=["jobs"])


@router.get("/jobs/{job_id}", response_model=JobOut,
            summary="A job: its state, progress and, once done, its result row by row")
def get_job(job_id: str, ctx: CtxDep):
    return jobs.view(ctx, jobs.get(ctx, job_id))


@router.get("/jobs/{job_id}/result.csv", summary="The job's rows with their status and errors, as CSV",
            responses={200: {"content": {"text/csv": {}}, "description": "CSV"}})
def get_job_result(job_id: str, ctx: CtxDep) -> Response:
    job = jobs.get(ctx, job_id)
    body = runner.RESULT_CSV[job.kind](ctx, job)
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{job.kind}-{job.id}.csv"'})


@router.get("/accounts/{account_id}/jobs", response_model=Page[JobOut], summary="The account's jobs, newest first")
def list_jobs(account_id: str, ctx: CtxDep, paging: PagingDep):
    total, rows = jobs.list_for_account(ctx, account_id, limit=paging.limit, offset=paging.offset)
    return {"total": total, "items": [jobs.view(ctx, job, with_rows=False) for job in rows]}
