from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from switchboard.api_support import PROBLEM_RESPONSES, CtxDep, Page, PagingDep
from switchboard.audit import service
from switchboard.audit.schemas import AuditEntryOut

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES, tags=["audit"])


@router.get("/accounts/{account_id}/audit", response_model=Page[AuditEntryOut],
            summary="Change log of an account: who, when, what, before and after")
def account_audit(account_id: str, ctx: CtxDep, paging: PagingDep,
                  object_id: Annotated[str | None, Query(max_length=64)] = None,
                  subject_id: Annotated[str | None, Query(max_length=64, description="A user: every change about them")] = None,
                  ) -> Page[AuditEntryOut]:
    total, rows = service.list_for_account(ctx, account_id, limit=paging.limit, offset=paging.offset,
                                           object_id=object_id, subject_id=subject_id)
    return Page(total=total, items=[AuditEntryOut.model_validate(r, from_attributes=True) for r in rows])
