"""Shapes of jobs (bulk imports, adoptions) as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel


class JobProgress(BaseModel):
    done: int
    total: int


class RowError(BaseModel):
    code: str
    message: str
    field: str | None = None
    row: int | None = None


class JobRowOut(BaseModel):
    row: int
    key: str | None = None
    email: str | None = None
    user_id: str | None = None
    status: Literal["created", "updated", "unchanged", "adopted", "failed", "skipped"]
    errors: list[RowError]
    sync_state: str | None = None


class JobResult(BaseModel):
    created: int
    updated: int
    unchanged: int
    adopted: int
    failed: int
    skipped: int
    errors: list[dict[str, Any]]
    sync: dict[str, int] | None = None
    rows: list[JobRowOut]


class JobOut(BaseModel):
    id: str
    kind: Literal["import", "adoption"]
    account_id: str
    state: Literal["queued", "running", "succeeded", "failed"]
    mode: Literal["dry_run", "apply"]
    on_error: Literal["all_or_nothing", "partial"]
    progress: JobProgress
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    created_by: str | None
    result: JobResult
