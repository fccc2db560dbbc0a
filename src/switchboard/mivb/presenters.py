"""How a user's MiVB service is shown: the API's and the console's views of the service,
its phones and their sync state, the change-log snapshots, and the users list's columns.
Secrets are masked unless the caller asked (and was allowed) to reveal them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.audit.service import MASK
from switchboard.core.context import ServiceContext
from switchboard.mivb.models import MivbService, Phone, ServiceCategory
from switchboard.mivb.phone_types import ADVANCED_FIELDS, PHONE_TYPES
from switchboard.sync.models import SyncJob, SyncStatus, written_this_unit

PRODUCT_NAME = "MiVoice Business Service"


# ---------------------------------------------------------------- change-log snapshots

def service_snapshot(service: MivbService) -> dict[str, Any]:
    return {"service_category": service.category.name if service.category else None, "template": service.template,
            "group": service.group, "user_pin": MASK if service.user_pin_encrypted else None,
            "location": service.location, "department": service.department}


def phone_snapshot(phone: Phone) -> dict[str, Any]:
    snapshot = {"type": phone.type, "dn": phone.dn, "did": phone.did, "model": phone.model, "mac": phone.mac,
                "voicemail": phone.voicemail, "acd_agent": phone.acd_agent, "external_number": phone.external_number}
    snapshot.update({name: getattr(phone, name) for name in ADVANCED_FIELDS})
    if PHONE_TYPES[phone.type].sip_credentials:
        snapshot["sip_username"] = phone.sip_username
        snapshot["sip_password"] = MASK
    return snapshot


# ---------------------------------------------------------------- sync state

def _waiting_job(session: Session, account_id: str, user_id: str) -> SyncJob | None:
    return session.scalar(
        select(SyncJob).where(SyncJob.account_id == account_id, SyncJob.user_id == user_id,
                              SyncJob.state.in_(("queued", "running"))).order_by(SyncJob.id.desc()).limit(1))


def sync_status_of(session: Session, user_id: str) -> SyncStatus | None:
    """The user's sync state: the one this unit of work wrote, else the stored one."""
    status, _ = written_this_unit(session, user_id)
    return status if status is not None else session.get(SyncStatus, user_id)


def user_sync(session: Session, service: MivbService) -> dict[str, Any]:
    """The `sync` part of a user's MiVB configuration."""
    status = sync_status_of(session, service.user_id)
    _, job = written_this_unit(session, service.user_id)
    if job is None or job.state not in ("queued", "running"):
        job = _waiting_job(session, service.account_id, service.user_id)
    return {
        "state": status.state if status else "pending",
        "errors": status.errors if status else [],
        "updated_at": status.updated_at if status else None,
        "next_attempt_at": job.run_after if job is not None and job.state == "queued" else None,
        "attempts": job.attempts if job is not None else 0,
    }


def phone_sync(status: SyncStatus | None, phone_id: str) -> dict[str, Any]:
    entry = (status.phones or {}).get(phone_id) if status else None
    return {"state": entry["state"], "errors": entry.get("errors", [])} if entry else {"state": "pending", "errors": []}


# ---------------------------------------------------------------- views

def phone_view(ctx: ServiceContext, phone: Phone, status: SyncStatus | None, *, reveal: bool = False) -> dict[str, Any]:
    sip = None
    if PHONE_TYPES[phone.type].sip_credentials and phone.sip_username:
        password = ctx.rt.secret_box.decrypt(phone.sip_password_encrypted) if reveal else MASK
        sip = {"username": phone.sip_username, "password": password}
    return {
        "id": phone.id, "type": phone.type, "dn": phone.dn, "did": phone.did, "model": phone.model, "mac": phone.mac,
        "voicemail": phone.voicemail, "acd_agent": phone.acd_agent,
        "external_phone": {"number": phone.external_number} if phone.external_number else None,
        "advanced": {name: getattr(phone, name) for name in ADVANCED_FIELDS},
        "sip": sip, "sync": phone_sync(status, phone.id), "version": phone.version,
    }


def config_view(ctx: ServiceContext, service: MivbService, *, reveal: bool = False) -> dict[str, Any]:
    status = ctx.session.get(SyncStatus, service.user_id)
    pin = None
    if service.user_pin_encrypted:
        pin = ctx.rt.secret_box.decrypt(service.user_pin_encrypted) if reveal else MASK
    return {
        "user_id": service.user_id, "status": service.status,
        "service_category": service.service_category_id,
        "service_category_name": service.category.name if service.category else None,
        "template": service.template,
        "programming": {"group": service.group, "user_pin": pin, "location": service.location,
                        "department": service.department},
        "phones": [phone_view(ctx, p, status, reveal=reveal) for p in service.phones],
        "sync": user_sync(ctx.session, service),
        "version": service.version,
    }


def product_view(service: MivbService) -> dict[str, Any]:
    return {"product": "mivb", "name": PRODUCT_NAME, "status": service.status,
            "service_category": service.service_category_id,
            "service_category_name": service.category.name if service.category else None}


def user_summaries(session: Session, user_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Extensions, licences, location and sync state of many users in three queries (the
    users list), never one per row."""
    if not user_ids:
        return {}
    summaries: dict[str, dict[str, Any]] = {}
    rows = session.execute(select(MivbService.user_id, MivbService.location, ServiceCategory.name)
                           .outerjoin(ServiceCategory, ServiceCategory.id == MivbService.service_category_id)
                           .where(MivbService.user_id.in_(user_ids))).all()
    for user_id, location, category in rows:
        licences = [f"{PRODUCT_NAME}: {category}" if category else PRODUCT_NAME]
        summaries[user_id] = {"extensions": [], "licences": licences, "location": location, "category": category}
    for user_id, dn in session.execute(select(Phone.user_id, Phone.dn).where(Phone.user_id.in_(user_ids))
                                       .order_by(Phone.user_id, Phone.position)).all():
        summaries[user_id]["extensions"].append(dn)
    statuses = session.execute(select(SyncStatus.user_id, SyncStatus.state).where(SyncStatus.user_id.in_(user_ids))).all()
    for user_id, state in statuses:
        summaries[user_id]["sync_state"] = state
    return summaries
