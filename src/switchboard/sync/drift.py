"""Drift: read the PBX back, list every difference from the desired state of the users
the account manages, and queue the pushes (or removals) that repair them. Users of the PBX
the account does not manage are reported as unmanaged and never touched."""

from __future__ import annotations

import unicodedata
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
from switchboard.sync.models import SyncJob

USER_FIELDS = ("first_name", "last_name", "email", "template", "group", "user_pin", "location", "department")
PHONE_FIELDS = ("type", "dn", "did", "model", "mac", "voicemail", "acd_agent", "external_phone", "sip")


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


def same_name(value: str) -> str:
    """A name as compared with the PBX's copy: without accents, case or extra spaces."""
    decomposed = unicodedata.normalize("NFKD", value)
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).casefold().split())


def _norm_mac(value):
    return value.upper() if isinstance(value, str) else value


def compare_user(user_id: str, name: str, desired: dict[str, Any], actual: dict[str, Any]) -> list[Difference]:
    diffs = []
    for field in USER_FIELDS:
        want, got = desired.get(field), actual.get(field)
        if field == "user_pin":
            want, got = want or "", got or ""
        if field == "email" and isinstance(want, str) and isinstance(got, str):
            want, got = want.lower(), got.lower()  # one address, whatever its case
        if field in ("first_name", "last_name") and isinstance(want, str) and isinstance(got, str):
            want, got = same_name(want), same_name(got)  # PBXs often keep names without accents
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


class Report(list):
    """The differences found (a list), and the keys of the PBX users this account does not
    manage: reported by count and key only, never changed nor removed."""

    def __init__(self, differences: list[Difference], unmanaged: list[str]) -> None:
        super().__init__(differences)
        self.unmanaged = unmanaged


def owned_keys(ctx: ServiceContext, account_id: str) -> tuple[dict[str, MivbService], dict[str, str]]:
    """What the account's database says it owns on the PBX: the managed services by PBX
    key, and the keys of users it removed (key -> user id), which must be gone."""
    services = ctx.session.scalars(
        select(MivbService).where(MivbService.account_id == account_id, MivbService.pbx_key.is_not(None))
        .options(selectinload(MivbService.phones))).all()
    managed = {s.pbx_key: s for s in services}
    removed = dict(ctx.session.execute(
        select(SyncJob.pbx_key, SyncJob.user_id).where(SyncJob.account_id == account_id,
                                                       SyncJob.kind == "remove_user",
                                                       SyncJob.pbx_key.is_not(None)).distinct()).all())
    return managed, {key: user_id for key, user_id in removed.items() if key not in managed}


def verify(ctx: ServiceContext, account_id: str, *, repair: bool = False,
           progress: Callable[[int, int], None] | None = None) -> Report:
    """Every difference between the account's managed users and the PBX. A PBX user is
    the account's only if its database says so (a managed service's key, or a key it
    removed); any other user of the PBX is unmanaged: counted, its key listed, never
    touched by repair."""
    account = require_account_admin(ctx, account_id)
    managed, removed = owned_keys(ctx, account_id)
    users = {u.id: u for u in ctx.session.scalars(select(User).where(User.account_id == account_id)).all()}
    target = target_of(ctx, account_id)
    desired = {key: user_state(users[s.user_id], s, ctx.rt.secret_box) for key, s in managed.items()}
    end_read_transaction(ctx.session)  # what follows reads the PBX, user by user
    connector = open_connector(ctx, target)
    differences: list[Difference] = []
    to_push: list[MivbService] = []
    try:
        on_pbx = {u["user_key"] for u in connector.list_users()}
        for done, (key, service) in enumerate(sorted(managed.items()), start=1):
            user = users[service.user_id]
            actual = connector.read_user(key) if key in on_pbx else None
            found = ([Difference(user.id, user.full_name, "missing_user")] if actual is None
                     else compare_user(user.id, user.full_name, desired[key], actual))
            if found:
                differences += found
                to_push.append(service)
            if progress:
                progress(done, len(managed))
        extras = sorted(key for key in on_pbx if key in removed)
        differences += [Difference(removed[key], users[removed[key]].full_name if removed[key] in users
                                   else "(deleted user)", "extra_user") for key in extras]
        unmanaged = sorted(key for key in on_pbx if key not in managed and key not in removed)
    finally:
        connector.close()
    if repair and differences:
        for service in to_push:
            queue.enqueue_push(ctx.session, service)
        for key in extras:
            queue.enqueue_remove(ctx.session, account_id, removed[key], key)
        audit.record(ctx, action="repair", object_type="mivb_sync", object_id=account_id, account_id=account_id,
                     partner_id=account.partner_id,
                     after={"pushes": len(to_push), "removals": len(extras)})
        ctx.session.flush()
    return Report(differences, unmanaged)
