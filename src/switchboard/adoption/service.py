"""Adoption: each adopted PBX user becomes a managed user of the account, keeping its PBX
key, with the MiVB product, its category, its programming and its phones with their
numbers (counted as used in their ranges; numbers outside every range are kept and
flagged) — and nothing on the PBX changes: no push is queued, the sync state says the
PBX already holds the desired state, and `verify` finds no difference.

Listing reads the PBX; adopting runs as a job (jobs.runner), dry run or apply, all or
nothing or partial, like an import."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete

from switchboard.accounts import service as accounts
from switchboard.accounts.models import Account, User
from switchboard.accounts.tenancy import require_account_admin
from switchboard.adoption.assess import Candidate, read
from switchboard.core.context import ServiceContext
from switchboard.core.db import utcnow
from switchboard.core.errors import ServiceError, ValidationFailed
from switchboard.core.i18n import N_
from switchboard.imports.csv_format import write
from switchboard.jobs import service as jobs
from switchboard.jobs.models import Job
from switchboard.jobs.runner import Checkpoint, Progress, RowResult
from switchboard.mivb import limits, rules
from switchboard.mivb.desired_state import NO_EMAIL_DOMAIN
from switchboard.mivb.models import MivbService, Phone
from switchboard.mivb.phone_types import ADVANCED_FIELDS, PHONE_TYPES
from switchboard.mivb.presenters import phone_snapshot, service_snapshot
from switchboard.mivb.settings import record
from switchboard.numbering.allocation import did_ranges_in_order, dn_ranges_in_order
from switchboard.numbering.models import PbxReservedDn
from switchboard.numbering.spans import Span
from switchboard.sync.models import SyncStatus

NO_SUCH_KEY = N_("The PBX has no unmanaged user with this key.")


def list_unmanaged(ctx: ServiceContext, account_id: str) -> dict[str, Any]:
    """The PBX users the account does not manage, with their match and conflicts."""
    reading = read(ctx, account_id)
    return {"pbx_users": reading.pbx_users, "managed": reading.managed,
            "items": [candidate.view() for candidate in reading.candidates]}


def submit(ctx: ServiceContext, account_id: str, data: dict[str, Any]) -> Job:
    """Queues an adoption: {keys: [...] | all: true, mode, on_error?, categories?}."""
    require_account_admin(ctx, account_id)
    keys, everything = data.get("keys"), bool(data.get("all"))
    if not everything and not keys:
        raise ValidationFailed("required", "Give the keys of the PBX users to adopt, or all: true.", field="keys")
    request = {"keys": None if everything else sorted(set(keys)), "categories": data.get("categories") or {}}
    return jobs.create(ctx, account_id, kind="adoption", mode=data.get("mode") or "dry_run",
                       on_error=data.get("on_error") or "all_or_nothing", input_text=json.dumps(request),
                       total=0 if everything else len(request["keys"]))


def run(ctx: ServiceContext, job: Job, progress: Progress, _checkpoint: Checkpoint) -> list[RowResult]:
    """The adoption job's work: read the PBX, then adopt each chosen user in a savepoint, all
    in one unit of work (a rerun reads the PBX again: it cannot resume after a row)."""
    request = json.loads(jobs.input_text(ctx, job))
    wanted = set(request["keys"]) if request.get("keys") is not None else None
    limits.applying_rows(ctx.session)  # each row checked, the locks taken only as it commits
    reading = read(ctx, job.account_id, keys=wanted, categories=request.get("categories") or {})
    found = {c.key for c in reading.candidates}
    account = require_account_admin(ctx, job.account_id)
    results = []
    for number, candidate in enumerate(reading.candidates, start=1):
        results.append(_adopt_row(ctx, account, candidate, number))
        progress(number)
    for key in sorted((wanted or set()) - found):
        results.append(RowResult(len(results) + 1, key, "skipped", errors=[{
            "code": "not_unmanaged", "message": NO_SUCH_KEY, "message_id": NO_SUCH_KEY}]))
    return results


def _adopt_row(ctx: ServiceContext, account: Account, candidate: Candidate, number: int) -> RowResult:
    warnings = [c.as_stored() for c in candidate.conflicts if not c.blocking]
    if not candidate.adoptable:
        return RowResult(number, candidate.key, "failed", candidate.match.id if candidate.match else None,
                         [c.as_stored() for c in candidate.conflicts])
    try:
        with ctx.session.begin_nested():
            user = adopt(ctx, account, candidate)
            limits.check(ctx.session)  # a row over a limit is refused alone
    except ServiceError as exc:
        ctx.forget("user", "service")
        return RowResult(number, candidate.key, "failed", None, [{**e.as_stored(), "severity": "error"}
                                                                 for e in exc.errors] + warnings)
    return RowResult(number, candidate.key, "adopted", user.id, warnings)


def adopt(ctx: ServiceContext, account: Account, candidate: Candidate) -> User:
    """One PBX user taken under management as it is (no push: the PBX already has it)."""
    data = candidate.data
    user = candidate.match or accounts.create_user(ctx, account.id, {
        "first_name": data.get("first_name") or candidate.key, "last_name": data.get("last_name") or "-",
        "email": data.get("email") or f"{_safe(candidate.key)}{NO_EMAIL_DOMAIN}", "role": "user"})
    category = candidate.category
    rules.check_licence(ctx.session, category, user.id)
    rules.check_user_capacity(ctx.session, account.id)
    phones = [p for p in data.get("phones", []) if isinstance(p, dict)]
    rules.check_addons(ctx.session, account.id,
                       want_external=any(p.get("type") == "hot_desk" and p.get("external_phone") for p in phones),
                       want_acd=any(p.get("type") == "hot_desk" and p.get("acd_agent") for p in phones))
    pin = data.get("user_pin") or ""
    service = MivbService(user_id=user.id, account_id=account.id, service_category_id=category.id, category=category,
                          template=data.get("template"), group=data.get("group"), location=data.get("location"),
                          department=data.get("department"), pbx_key=candidate.key, desired_revision=0,
                          user_pin_encrypted=ctx.rt.secret_box.encrypt(pin) if pin else None)
    ctx.session.add(service)
    ctx.session.flush()
    dn_ranges = dn_ranges_in_order(ctx.session, account.id)
    did_ranges = did_ranges_in_order(ctx.session, account.id)
    for position, phone_data in enumerate(phones):
        service.phones.append(_phone(ctx, account.id, user.id, position, phone_data, dn_ranges, did_ranges))
    ctx.session.flush()
    dns = [p.dn for p in service.phones]
    if dns:  # the PBX's own numbers are this account's now
        ctx.session.execute(delete(PbxReservedDn).where(PbxReservedDn.account_id == account.id,
                                                        PbxReservedDn.dn.in_(dns)))
    ctx.session.add(SyncStatus(user_id=user.id, account_id=account.id, state="synced", errors=[], applied_revision=0,
                               phones={p.id: {"state": "synced", "errors": []} for p in service.phones},
                               updated_at=utcnow()))
    ctx.session.flush()
    record(ctx, account, "adopt", "mivb_service", user.id, f"{user.email} ← PBX {candidate.key}", subject=user.id,
           after={**service_snapshot(service), "pbx_key": candidate.key,
                  "phones": [phone_snapshot(p) for p in service.phones]})
    return user


def _safe(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in key.lower()) or "pbx-user"


def _phone(ctx: ServiceContext, account_id: str, user_id: str, position: int, data: dict[str, Any], dn_ranges,
           did_ranges) -> Phone:
    kind = PHONE_TYPES.get(data.get("type"))
    if kind is None:
        raise ValidationFailed("invalid_choice", "The PBX has a phone of an unknown type.", field="type")
    dn, did = data.get("dn"), data.get("did")
    dn_range = next((r for r in dn_ranges if dn in Span.of_dn_range(r)), None)
    did_range = next((r for r in did_ranges if did and did in Span.of_did_range(r)), None)
    advanced = data.get("advanced") or {}
    sip = data.get("sip") if kind.sip_credentials else None
    return Phone(account_id=account_id, user_id=user_id, pbx_key=data.get("key"), position=position,
                 type=data["type"], model=data.get("model"), mac=data.get("mac") if kind.has_mac else None,
                 dn=dn, dn_range_id=dn_range.id if dn_range else None, did=did,
                 did_range_id=did_range.id if did_range else None, voicemail=bool(data.get("voicemail")),
                 acd_agent=bool(data.get("acd_agent")) and kind.allows("acd_agent"),
                 external_number=((data.get("external_phone") or {}).get("number")
                                  if kind.allows("external_phone") else None),
                 sip_username=(sip or {}).get("username"),
                 sip_password_encrypted=ctx.rt.secret_box.encrypt(sip["password"]) if sip and sip.get("password")
                 else None,
                 **{name: advanced.get(name) for name in ADVANCED_FIELDS})


def result_csv(ctx: ServiceContext, job: Job) -> str:
    rows = [{"row": str(r.row), "key": r.key or "", "user_id": r.user_id or "", "status": r.status,
             "errors": "; ".join(e["message"] for e in r.errors)} for r in jobs.rows(ctx, job)]
    return write(rows, ("row", "key", "user_id", "status", "errors"))
