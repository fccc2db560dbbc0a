"""The account's PBX connection, its test, and the cached catalogue."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from switchboard.accounts import service as accounts
from switchboard.audit import service as audit
from switchboard.core.context import ServiceContext
from switchboard.core.db import utcnow
from switchboard.core.errors import Conflict, ServiceError
from switchboard.pbx.connector import PbxBadResponse, PbxConnector, PbxError
from switchboard.pbx.models import MivbCatalog, MivbConnection
from switchboard.pbx.schemas import ConnectionIn
from switchboard.core.validation import validate


class PbxUnavailable(ServiceError):
    status, title, default_code = 502, "The PBX cannot be reached", "pbx_unreachable"


class _Template(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    phones: list[dict[str, Any]] = []


class _Catalog(BaseModel):
    """What a catalogue must look like before anything relies on it."""

    model_config = ConfigDict(extra="ignore")
    templates: list[_Template] = []
    groups: list[dict[str, Any]] = []
    locations: list[str] = []
    departments: list[str] = []
    device_models: list[dict[str, Any]] = []
    cos: list[int] = []
    cor: list[int] = []
    languages: list[str] = []
    dns_in_use: list[str] = []


def _snapshot(connection: MivbConnection) -> dict[str, Any]:
    return {"url": connection.url, "username": connection.username, "password": audit.MASK}


def get_connection(ctx: ServiceContext, account_id: str) -> MivbConnection | None:
    accounts.require_account_admin(ctx, account_id)
    return ctx.session.get(MivbConnection, account_id)


def set_connection(ctx: ServiceContext, account_id: str, data: ConnectionIn | dict,
                   *, expected_version: int | None = None) -> MivbConnection:
    account = accounts.require_account_settings_admin(ctx, account_id, for_update=True)
    data = validate(ConnectionIn, data)
    connection = ctx.session.get(MivbConnection, account_id)
    before = None
    if connection is None:
        connection = MivbConnection(account_id=account_id)
        ctx.session.add(connection)
    else:
        accounts.check_version(connection, expected_version)
        before = _snapshot(connection)
    connection.url = data.url
    connection.username = data.username
    connection.password_encrypted = ctx.rt.secret_box.encrypt(data.password)
    connection.last_test_at = connection.last_test_ok = connection.last_test_detail = None
    # A new address may be a new PBX: the catalogue must be read again.
    cached = ctx.session.get(MivbCatalog, account_id)
    if cached is not None:
        ctx.session.delete(cached)
    ctx.session.flush()
    after = _snapshot(connection)
    if before is not None and before == after:
        after = {**after, "password": audit.MASK + " (changed)"}
    audit.record(ctx, action="update" if before else "create", object_type="mivb_connection", object_id=account_id,
                 object_repr=data.url, account_id=account_id, partner_id=account.partner_id, before=before, after=after)
    ctx.session.commit()
    return connection


def connector_for(ctx: ServiceContext, account_id: str) -> PbxConnector:
    connection = ctx.session.get(MivbConnection, account_id)
    if connection is None:
        raise Conflict("pbx_not_connected", "This account is not connected to a MiVoice Business yet.")
    return ctx.rt.connector(connection.url, connection.username,
                            ctx.rt.secret_box.decrypt(connection.password_encrypted))


def test_connection(ctx: ServiceContext, account_id: str) -> dict[str, Any]:
    accounts.require_account_admin(ctx, account_id)
    connection = ctx.session.get(MivbConnection, account_id)
    connector = connector_for(ctx, account_id)
    try:
        system = connector.system()
        usage = system.get("usage") if isinstance(system.get("usage"), dict) else {}
        pbx = {"name": system.get("name"), "version": system.get("version"),
               "users": usage.get("users"), "devices": usage.get("devices")}
        result = {"ok": True, "detail": f"Connected to {pbx['name']} {pbx['version']}.", "pbx": pbx}
    except PbxError as exc:
        result = {"ok": False, "detail": exc.message, "pbx": None}
    finally:
        connector.close()
    connection.last_test_at = utcnow()
    connection.last_test_ok = result["ok"]
    connection.last_test_detail = result["detail"][:1000]
    ctx.session.commit()
    return result


def get_catalog(ctx: ServiceContext, account_id: str, *, refresh: bool = False,
                allow_stale: bool = False) -> dict[str, Any]:
    """The catalogue, read again when asked or older than the TTL. When the PBX cannot be
    read, the last known catalogue is returned marked stale (an admin's work must not stop
    because the PBX is down); with none known, the error is raised. allow_stale: any
    cached catalogue will do (pages that only show choices never wait for the PBX)."""
    accounts.require_account_admin(ctx, account_id)
    cached = ctx.session.get(MivbCatalog, account_id)
    fresh_enough = cached is not None and utcnow() - cached.fetched_at < timedelta(seconds=ctx.rt.catalog_ttl_seconds)
    if cached is not None and (fresh_enough or allow_stale) and not refresh:
        return {**cached.data, "fetched_at": cached.fetched_at, "stale": not fresh_enough}
    connector = connector_for(ctx, account_id)
    try:
        raw = connector.catalog()
        try:
            data = _Catalog.model_validate(raw).model_dump()
        except ValidationError as exc:
            raise PbxBadResponse(f"The PBX's catalogue is malformed ({exc.error_count()} problems).") from None
    except PbxError as exc:
        if cached is not None:
            return {**cached.data, "fetched_at": cached.fetched_at, "stale": True}
        raise PbxUnavailable(exc.code, "The PBX catalogue cannot be read: %(reason)s", reason=exc.message) from None
    finally:
        connector.close()
    from switchboard.numbering import service as numbering  # numbering reads the catalogue too

    numbering.refresh_reserved_dns(ctx.session, account_id, data.pop("dns_in_use"))
    now = utcnow()
    if cached is None:
        cached = MivbCatalog(account_id=account_id, data=data, fetched_at=now)
        ctx.session.add(cached)
    else:
        cached.data, cached.fetched_at = data, now
    ctx.session.commit()
    return {**data, "fetched_at": now, "stale": False}
