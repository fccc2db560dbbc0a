from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class AuditEntryOut(BaseModel):
    id: int
    request_id: str
    at: datetime
    actor_id: str | None
    actor_email: str | None
    object_type: str
    object_id: str
    object_repr: str
    subject_id: str | None
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
