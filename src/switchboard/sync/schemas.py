from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class SyncCounts(BaseModel):
    pending: int
    syncing: int
    synced: int
    failed: int


class FailedUser(BaseModel):
    user_id: str
    name: str
    errors: list[dict[str, Any]]
    updated_at: datetime | None


class SyncSummary(BaseModel):
    counts: SyncCounts
    jobs_in_flight: int
    failed: list[FailedUser]


class PushQueued(BaseModel):
    job_id: str
    state: str
