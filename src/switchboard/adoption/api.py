"""REST routes of adoption: list the PBX's unmanaged users, adopt them (a job)."""

from __future__ import annotations

from fastapi import APIRouter

from switchboard.adoption import service as adoption
from switchboard.adoption.schemas import AdoptionIn, AdoptionListOut
from switchboard.api_support import PROBLEM_RESPONSES, CtxDep
from switchboard.jobs import service as jobs
from switchboard.jobs.schemas import JobOut

router = APIRouter(prefix="/api/v1/accounts/{account_id}/mivb", responses=PROBLEM_RESPONSES, tags=["adoption"])


@router.get("/adoption", response_model=AdoptionListOut,
            summary="The PBX users this account does not manage, with their match, category and conflicts "
                    "(reads the PBX)")
def list_unmanaged(account_id: str, ctx: CtxDep):
    return adoption.list_unmanaged(ctx, account_id)


@router.post("/adoption", status_code=202, response_model=JobOut,
             summary="Adopt PBX users as they are (a job: dry run or apply); nothing on the PBX changes")
def adopt(account_id: str, body: AdoptionIn, ctx: CtxDep):
    job = adoption.submit(ctx, account_id, body.model_dump())
    return jobs.view(ctx, job, with_rows=False)
