"""The account's MiVB policy: the PIN policy and the add-on licence counts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from switchboard.accounts.models import Account
from switchboard.accounts.tenancy import check_version, require_account_admin, require_account_settings_admin
from switchboard.audit import service as audit
from switchboard.core.context import ServiceContext
from switchboard.core.uow import tx_cache
from switchboard.core.errors import Conflict, ErrorItem
from switchboard.core.validation import validate
from switchboard.mivb import pins
from switchboard.mivb.models import MivbSettings, Phone
from switchboard.mivb.schemas import AddonLicences, PinPolicy


def load(session: Session, account_id: str, *, for_update: bool = False) -> MivbSettings:
    """The account's settings; the defaults when none are stored (stored on first write).
    Read once per transaction (locked once, when asked for update)."""
    cache = tx_cache(session)
    if for_update and ("locked_settings", account_id) in cache:
        return cache[("locked_settings", account_id)]
    if not for_update:
        stored = session.identity_map.get(session.identity_key(MivbSettings, (account_id,)))
        if stored is not None:
            return stored
        if ("default_settings", account_id) in cache:
            return cache[("default_settings", account_id)]
    query = select(MivbSettings).where(MivbSettings.account_id == account_id)
    settings = session.scalar(query.with_for_update() if for_update else query)
    # The identity map holds objects weakly: held here, the settings stay in it (and are
    # not read again) until the transaction ends.
    cache[("settings", account_id)] = settings
    if settings is None:
        settings = MivbSettings(account_id=account_id, pin_min_length=4, pin_forbid_repeated=True,
                                pin_forbid_sequences=True, pin_forbid_dn=True, ehdu_licences=0,
                                acd_agent_licences=0)
        if for_update:
            session.add(settings)
            session.flush()
        else:
            cache[("default_settings", account_id)] = settings  # none stored: no need to ask again
    if for_update:
        cache[("locked_settings", account_id)] = settings
    return settings


def record(ctx: ServiceContext, account: Account, action: str, object_type: str, object_id: str,
           object_repr: str = "", *, subject: str | None = None, before: dict | None = None,
           after: dict | None = None) -> None:
    """A change-log entry of this account (subject: the user the change concerns)."""
    audit.record(ctx, action=action, object_type=object_type, object_id=object_id, object_repr=object_repr,
                 account_id=account.id, partner_id=account.partner_id, subject_id=subject, before=before, after=after)


def policy(settings: MivbSettings) -> pins.Policy:
    return pins.Policy(settings.pin_min_length, settings.pin_forbid_repeated, settings.pin_forbid_sequences,
                       settings.pin_forbid_dn)


def _policy_json(settings: MivbSettings) -> dict[str, Any]:
    return {"min_length": settings.pin_min_length, "forbid_repeated": settings.pin_forbid_repeated,
            "forbid_sequences": settings.pin_forbid_sequences, "forbid_dn": settings.pin_forbid_dn}


def get_pin_policy(ctx: ServiceContext, account_id: str) -> tuple[dict[str, Any], int]:
    require_account_admin(ctx, account_id)
    settings = load(ctx.session, account_id)
    return _policy_json(settings), settings.version or 1


def set_pin_policy(ctx: ServiceContext, account_id: str, data: PinPolicy | dict,
                   *, expected_version: int | None = None) -> tuple[dict[str, Any], int]:
    account = require_account_settings_admin(ctx, account_id)
    data = validate(PinPolicy, data)
    settings = load(ctx.session, account_id, for_update=True)
    check_version(settings, expected_version)
    before = _policy_json(settings)
    settings.pin_min_length = data.min_length
    settings.pin_forbid_repeated = data.forbid_repeated
    settings.pin_forbid_sequences = data.forbid_sequences
    settings.pin_forbid_dn = data.forbid_dn
    ctx.session.flush()
    record(ctx, account, "update", "pin_policy", account_id, before=before, after=_policy_json(settings))
    return _policy_json(settings), settings.version


def addon_usage(session: Session, account_id: str) -> tuple[int, int]:
    """(EHDU licences, ACD agent licences) in use."""
    ehdu = session.scalar(select(func.count()).select_from(Phone).where(
        Phone.account_id == account_id, Phone.type == "hot_desk", Phone.external_number.is_not(None))) or 0
    acd = session.scalar(select(func.count()).select_from(Phone).where(
        Phone.account_id == account_id, Phone.type == "hot_desk", Phone.acd_agent.is_(True))) or 0
    return ehdu, acd


def get_addon_licences(ctx: ServiceContext, account_id: str) -> dict[str, int]:
    require_account_admin(ctx, account_id)
    settings = load(ctx.session, account_id)
    ehdu_used, acd_used = addon_usage(ctx.session, account_id)
    return {"ehdu": settings.ehdu_licences, "acd_agent": settings.acd_agent_licences,
            "ehdu_used": ehdu_used, "acd_agent_used": acd_used}


def set_addon_licences(ctx: ServiceContext, account_id: str, data: AddonLicences | dict) -> dict[str, int]:
    account = require_account_settings_admin(ctx, account_id)
    data = validate(AddonLicences, data)
    settings = load(ctx.session, account_id, for_update=True)
    ehdu_used, acd_used = addon_usage(ctx.session, account_id)
    problems = [ErrorItem("licences_in_use", "Licences of this kind in use: %(used)s.", name, {"used": used})
                for name, wanted, used in (("ehdu", data.ehdu, ehdu_used), ("acd_agent", data.acd_agent, acd_used))
                if wanted < used]
    if problems:
        raise Conflict(errors=problems)
    before = {"ehdu": settings.ehdu_licences, "acd_agent": settings.acd_agent_licences}
    settings.ehdu_licences, settings.acd_agent_licences = data.ehdu, data.acd_agent
    ctx.session.flush()
    record(ctx, account, "update", "addon_licences", account_id,
           before=before, after={"ehdu": data.ehdu, "acd_agent": data.acd_agent})
    return get_addon_licences(ctx, account_id)
