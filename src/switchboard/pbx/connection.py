"""The account's PBX connection: set it, test it, and open a connector to it."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from switchboard.accounts.models import Account
from switchboard.accounts.tenancy import check_version, require_account_admin, require_account_settings_admin
from switchboard.audit import service as audit
from switchboard.core.context import ServiceContext
from switchboard.core.db import utcnow
from switchboard.core.errors import Conflict, ServiceError, ValidationFailed
from switchboard.core.uow import end_read_transaction
from switchboard.core.validation import validate
from switchboard.pbx.connector import UNREACHABLE, PbxBadResponse, PbxConnector, PbxError, addresses_within
from switchboard.pbx.models import MivbCatalog, MivbConnection
from switchboard.pbx.schemas import ConnectionIn


class PbxUnavailable(ServiceError):
    status, title, default_code = 502, "The PBX cannot be reached", "pbx_unreachable"


@dataclass(frozen=True)
class Target:
    """Where a PBX is reached (read in a transaction, used after it ended)."""

    url: str
    username: str
    password: str


def _snapshot(connection: MivbConnection) -> dict[str, Any]:
    return {"url": connection.url, "username": connection.username, "password": audit.MASK,
            "shared": connection.shared}


def url_key(url: str) -> str:
    """The gateway a URL names, as compared between accounts: scheme, host and port in
    lower case (the default port spelt out), the path without its trailing slash."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}{parts.path.rstrip('/')}"


def _check_gateway_free(ctx: ServiceContext, account_id: str, key: str, shared: bool) -> None:
    """One gateway serves one account, unless a partner admin says it is shared on purpose;
    the other account is not named (it may be another partner's)."""
    taken = ctx.session.scalar(
        select(MivbConnection.account_id).join(Account, Account.id == MivbConnection.account_id)
        .where(MivbConnection.url_key == key, MivbConnection.account_id != account_id,
               Account.deleted_at.is_(None)).limit(1))
    if taken is not None and not shared:
        raise Conflict("pbx_in_use", "Another account already uses this gateway. Connect it only if it is shared "
                       "on purpose (tick \"shared\", or send shared: true).", field="url")


def _check_address_allowed(ctx: ServiceContext, url: str) -> None:
    """With SWITCHBOARD_PBX_ALLOWED_NETWORKS set, the gateway's host must be, or resolve
    only to, addresses inside those networks (a name that does not resolve is refused too).
    A name is resolved outside any transaction: a slow DNS answer holds no database lock."""
    networks = ctx.rt.pbx_allowed_networks
    if not networks:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        end_read_transaction(ctx.session)
    if not addresses_within(host, parts.port or {"http": 80, "https": 443}[parts.scheme.lower()], networks):
        raise ValidationFailed("pbx_address_not_allowed", "This address is outside the networks where PBX gateways "
                               "may be. Ask the operator of Switchboard.", field="url")


def get_connection(ctx: ServiceContext, account_id: str) -> MivbConnection | None:
    require_account_admin(ctx, account_id)
    return ctx.session.get(MivbConnection, account_id)


def set_connection(ctx: ServiceContext, account_id: str, data: ConnectionIn | dict,
                   *, expected_version: int | None = None) -> MivbConnection:
    require_account_settings_admin(ctx, account_id)
    data = validate(ConnectionIn, data)
    _check_address_allowed(ctx, data.url)
    account = require_account_settings_admin(ctx, account_id, for_update=True)
    key = url_key(data.url)
    _check_gateway_free(ctx, account_id, key, data.shared)
    connection = ctx.session.get(MivbConnection, account_id)
    before = None
    if connection is None:
        connection = MivbConnection(account_id=account_id)
        ctx.session.add(connection)
    else:
        check_version(connection, expected_version)
        before = _snapshot(connection)
    connection.url, connection.url_key, connection.shared = data.url, key, data.shared
    connection.username = data.username
    connection.password_encrypted = ctx.rt.secret_box.encrypt(data.password)
    connection.last_test_at = connection.last_test_ok = connection.last_test_detail = None
    # A new address may be a new PBX: the catalogue must be read again.
    cached = ctx.session.get(MivbCatalog, account_id)
    if cached is not None:
        ctx.session.delete(cached)
    ctx.forget("catalog")
    ctx.session.flush()
    after = _snapshot(connection)
    if before is not None and before == after:
        after = {**after, "password": audit.MASK + " (changed)"}
    audit.record(ctx, action="update" if before else "create", object_type="mivb_connection", object_id=account_id,
                 object_repr=data.url, account_id=account_id, partner_id=account.partner_id, before=before, after=after)
    return connection


def target_of(ctx: ServiceContext, account_id: str) -> Target:
    """Where the account's PBX is reached (no tenancy check: callers have done it)."""
    connection = ctx.session.get(MivbConnection, account_id)
    if connection is None:
        raise Conflict("pbx_not_connected", "This account is not connected to a MiVoice Business yet.")
    return Target(connection.url, connection.username, ctx.rt.secret_box.decrypt(connection.password_encrypted))


def open_connector(ctx: ServiceContext, target: Target) -> PbxConnector:
    return ctx.rt.connector(target.url, target.username, target.password)


def test_connection(ctx: ServiceContext, account_id: str) -> dict[str, Any]:
    """Calls the PBX outside any transaction, then records the result."""
    require_account_admin(ctx, account_id)
    target = target_of(ctx, account_id)
    end_read_transaction(ctx.session)
    connector = open_connector(ctx, target)
    try:
        system = connector.system()
        usage = system.get("usage") if isinstance(system.get("usage"), dict) else {}
        pbx = {"name": system.get("name"), "version": system.get("version"),
               "users": usage.get("users"), "devices": usage.get("devices")}
        result = {"ok": True, "detail": f"Connected to {pbx['name']} {pbx['version']}.", "pbx": pbx}
    except PbxBadResponse:
        # Something answered that is not a MiVB gateway: read as no answer at all.
        result = {"ok": False, "detail": UNREACHABLE, "pbx": None}
    except PbxError as exc:
        result = {"ok": False, "detail": exc.message, "pbx": None}
    finally:
        connector.close()
    connection = ctx.session.get(MivbConnection, account_id)
    if connection is not None:  # deleted meanwhile: nothing to record it on
        connection.last_test_at = utcnow()
        connection.last_test_ok = result["ok"]
        connection.last_test_detail = result["detail"][:1000]
        ctx.session.flush()
    return result
