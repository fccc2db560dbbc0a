"""What a push's result means for the job and the user's sync state (the worker records
it): the PBX's answer per phone, a failure retried with backoff or given up."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from switchboard.pbx.connector import NOT_CONNECTED, UNEXPECTED, PbxError, PbxIssue, PushOutcome
from switchboard.sync.models import SyncJob, SyncStatus


@dataclass
class RetryPolicy:
    base_seconds: float = 2.0
    cap_seconds: float = 300.0
    max_attempts: int = 12

    def delay(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.cap_seconds, self.base_seconds * (2 ** max(0, attempts - 1))))


@dataclass
class JobResult:
    job_id: int
    outcome: str  # succeeded | failed | retry | lost
    errors: list[dict[str, Any]] = field(default_factory=list)


def issue_json(issue: PbxIssue, source: str = "pbx", phone_ids: dict[str, str] | None = None) -> dict[str, Any]:
    """An error as the sync records it; source says who said it: the PBX ("pbx"), the
    way to it ("transport") or Switchboard itself ("switchboard")."""
    out = {"code": issue.code, "message": issue.message, "source": source}
    if issue.field:
        out["field"] = issue.field
    if issue.phone:
        out["phone_id"] = (phone_ids or {}).get(issue.phone, issue.phone)
    return out


def apply_result(job: SyncJob, plan, outcome: PushOutcome | None, failure: Exception | None,
           status: SyncStatus | None, now, newer_change: bool, max_attempts: int) -> JobResult:
    if plan is not None and plan["action"] == "not_connected":
        errors = [{"code": "pbx_not_connected", "message": NOT_CONNECTED,
                   "source": "switchboard"}]
        _set_status(status, "failed", errors, None, now)
        return JobResult(job.id, "failed", errors)
    if failure is not None:
        if isinstance(failure, PbxError):
            source = "pbx" if failure.said_by_pbx else "transport"
            errors = [issue_json(i, source) for i in failure.issues]
            retryable = failure.retryable
        else:
            errors = [{"code": "internal_error", "message": UNEXPECTED % {"kind": type(failure).__name__},
                       "source": "switchboard"}]
            retryable = True
        give_up = not retryable or job.attempts >= max_attempts
        # While retries go on the user shows "pending" with the last error, so the
        # admin sees why; once given up it is "failed" until retried or superseded.
        _set_status(status, "failed" if give_up else "pending", errors, None, now)
        return JobResult(job.id, "failed" if give_up else "retry", errors)
    if plan["action"] in ("remove", "noop"):
        return JobResult(job.id, "succeeded")
    ids = plan.get("phone_ids", {})
    errors = [issue_json(i, phone_ids=ids) for i in outcome.errors]
    phones = {}
    for result in outcome.phones:
        if result.status == "removed":
            continue
        phones[ids.get(result.phone, result.phone)] = {
            "state": "synced" if result.status == "applied" else "failed",
            "errors": [issue_json(i, phone_ids=ids) for i in result.errors]}
    # A change saved while this push was under way has its own job queued: the user
    # stays "pending" until that one lands.
    state = "failed" if errors else "pending" if newer_change else "synced"
    _set_status(status, state, errors, phones, now, applied_revision=plan["revision"])
    return JobResult(job.id, "failed" if errors else "succeeded", errors)

def _set_status(status: SyncStatus | None, state: str, errors: list[dict[str, Any]],
                phones: dict[str, Any] | None, now, applied_revision: int | None = None) -> None:
    if status is None:
        return
    status.state = state
    status.errors = errors
    if phones is not None:
        # A user-level refusal changes no phone: they keep what they had, marked failed.
        merged = {key: {"state": "failed" if state == "failed" and key not in phones else "synced", "errors": []}
                  for key in (status.phones or {})}
        merged.update(phones)
        status.phones = merged
    else:
        status.phones = {key: {"state": state, "errors": value.get("errors", [])}
                         for key, value in (status.phones or {}).items()}
    if applied_revision is not None and not errors:
        status.applied_revision = applied_revision
    status.updated_at = now
