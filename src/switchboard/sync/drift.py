"""Drift: read the PBX back, list every difference from the desired state, and queue the
pushes (or removals) that repair them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from switchboard.accounts.models import User
from switchboard.accounts.tenancy import require_account_admin
from switchboard.audit import service as audit
from switchboard.core.context import ServiceContext
from switchboard.core.uow import end_read_transaction
from switchboard.mivb.desired_state import user_state
from switchboard.mivb.models import MivbService
from switchboard.pbx.connection import open_connector, target_of
from switchboard.sync import queue

USER_FIELDS = ("first_name", "last_name", "email", "template", "group", "user_pin", "location", "department")
PHONE_FIELDS = ("type", "dn", "did", "model", "mac", "voicemail", "acd_agent", "external_phone", "sip")
# Keys Switchboard gives users on the PBX; anything else was configured by someone else.
OUR_KEY = re.compile(r"^[0-9a-f]{32}$")


@dataclass
class Difference:
    user_id: str
    user: str
    kind: str  # missing_user | extra_user | field | missing_phone | extra_phone
    field: str | None = None
    desired: Any = None
    actual: Any = None

    def describe(self) -> str:
        if self.kind == "missing_user":
            return "not on the PBX"
        if self.kind == "extra_user":
            return "on the PBX but not in Switchboard"
        if self.kind == "missing_phone":
            return f"phone {self.field} not on the PBX"
        if self.kind == "extra_phone":
            return f"phone {self.field} on the PBX only"
        return f"{self.field}: Switchboard has {self.desired!r}, the PBX has {self.actual!r}"


def _norm_mac(value):
    return value.upper() if isinstance(value, str) else value


def compare_user(user_id: str, name: str, desired: dict[str, Any], actual: dict[str, Any]) -> list[Difference]:
    diffs = []
    for field in USER_FIELDS:
        want, got = desired.get(field), actual.get(field)
        if field == "user_pin":
            want, got = want or "", got or ""
        if want != got:
            shown = ("****", "****") if field == "user_pin" else (want, got)
            diffs.append(Difference(user_id, name, "field", field, *shown))
    actual_phones = {p.get("key"): p for p in actual.get("phones", []) if isinstance(p, dict)}
    for phone in desired["phones"]:
        got = actual_phones.pop(phone["key"], None)
        if got is None:
            diffs.append(Difference(user_id, name, "missing_phone", phone["dn"]))
            continue
        for field in PHONE_FIELDS:
            want, have = phone.get(field), got.get(field)
            if field == "mac":
                want, have = _norm_mac(want), _norm_mac(have)
            if want != have:
                shown = ("****", "****") if field == "sip" else (want, have)
                diffs.append(Difference(user_id, name, "field", f"phones[{phone['dn']}].{field}", *shown))
        for field, want in (phone.get("advanced") or {}).items():
            have = (got.get("advanced") or {}).get(field)
            if want is not None and want != have:
                diffs.append(Difference(user_id, name, "field", f"phones[{phone['dn']}].advanced.{field}", want, have))
    for extra in actual_phones.values():
        diffs.append(Difference(user_id, name, "extra_phone", str(extra.get("dn"))))
    return diffs


def verify(ctx: ServiceContext, account_id: str, *, repair: bool = False,
           progress: Callable[[int, int], None] | None = None) -> list[Difference]:
    account = require_account_admin(ctx, account_id)
    services = ctx.session.scalars(
        select(MivbService).where(MivbService.account_id == account_id, MivbService.service_category_id.is_not(None))
        .options(selectinload(MivbService.phones))).all()
    users = {u.id: u for u in ctx.session.scalars(select(User).where(User.account_id == account_id)).all()}
    target = target_of(ctx, account_id)
    desired = {s.user_id: user_state(users[s.user_id], s, ctx.rt.secret_box) for s in services}
    end_read_transaction(ctx.session)  # what follows reads the PBX, user by user
    connector = open_connector(ctx, target)
    differences: list[Difference] = []
    to_push: list[MivbService] = []
    try:
        on_pbx = {u["user_key"] for u in connector.list_users()}
        for done, service in enumerate(services, start=1):
            user = users[service.user_id]
            actual = connector.read_user(service.user_id) if service.user_id in on_pbx else None
            found = ([Difference(user.id, user.full_name, "missing_user")] if actual is None
                     else compare_user(user.id, user.full_name, desired[service.user_id], actual))
            if found:
                differences += found
                to_push.append(service)
            if progress:
                progress(done, len(services))
        desired_ids = {s.user_id for s in services}
        extras = sorted(key for key in on_pbx if OUR_KEY.match(key) and key not in desired_ids)
        differences += [Difference(key, users[key].full_name if key in users else "(deleted user)", "extra_user")
                        for key in extras]
    finally:
        connector.close()
    if repair and differences:
        for service in to_push:
            queue.enqueue_push(ctx.session, service)
        for key in extras:
            queue.enqueue_remove(ctx.session, account_id, key)
        audit.record(ctx, action="repair", object_type="mivb_sync", object_id=account_id, account_id=account_id,
                     partner_id=account.partner_id,
                     after={"pushes": len(to_push), "removals": len(extras)})
        ctx.session.flush()
    return differences
