from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


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


class SyncError(BaseModel):
    """An error of a push in the words of whoever said it: the PBX ("pbx"), the way to it
    ("transport") or Switchboard itself ("switchboard")."""

    code: str | None = None
    message: str | None = None
    field: str | None = None
    phone_id: str | None = None
    source: str | None = None


class QueueCounts(BaseModel):
    pending: int
    running: int
    failed: int


class QueueItem(BaseModel):
    id: str
    user_id: str
    user: str = Field(description="The user's name; a removal whose user was deleted shows its PBX key and "
                                  "\"(deleted user)\"")
    email: str | None
    deleted_user: bool
    kind: Literal["push_user", "remove_user"]
    pbx_key: str
    state: Literal["pending", "running", "failed"]
    attempts: int
    next_attempt_at: datetime | None = Field(description="When a pending job is tried (again); null otherwise")
    created_at: datetime
    finished_at: datetime | None
    errors: list[SyncError]


class QueuePage(BaseModel):
    total: int
    counts: QueueCounts
    items: list[QueueItem]


class RetriedFailed(BaseModel):
    queued: int
