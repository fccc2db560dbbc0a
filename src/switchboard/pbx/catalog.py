"""The PBX catalogue (templates, groups, locations, departments, models, COS/COR), kept
in the database and read again from the PBX when it is older than the TTL.

A read of the PBX never happens inside a write transaction: a service that needs the
catalogue asks for it before it writes, and a refresh ends the (read-only) transaction
before the call (core.uow.end_read_transaction refuses otherwise)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from switchboard.accounts.tenancy import require_account_admin
from switchboard.core.context import ServiceContext
from switchboard.core.db import utcnow
from switchboard.core.hooks import Hook
from switchboard.core.uow import end_read_transaction, has_written
from switchboard.pbx.connection import PbxUnavailable, open_connector, target_of
from switchboard.pbx.connector import BAD_CATALOG, PbxBadResponse, PbxError
from switchboard.pbx.models import MivbCatalog

# (ctx, account_id, dns_in_use): the PBX said which DNs it uses (numbering keeps them
# out of allocation).
catalog_refreshed = Hook("pbx.catalog_refreshed")


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


class _Reads:
    """The catalogue reads of this process, account by account: one at a time (a request
    that finds another one reading the same PBX uses the copy it has), and when the last
    one answered (a request needing DNs no older than max_age does not read the PBX again
    when this process read it that recently: the copy that read wrote is on its way)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._answered: dict[str, float] = {}

    def lock(self, account_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(account_id, threading.Lock())

    def answered(self, account_id: str) -> None:
        self._answered[account_id] = time.monotonic()

    def lately(self, account_id: str, seconds: float) -> bool:
        at = self._answered.get(account_id)
        return at is not None and time.monotonic() - at < seconds


_reads = _Reads()


def _view(cached: MivbCatalog, stale: bool) -> dict[str, Any]:
    return {**cached.data, "fetched_at": cached.fetched_at, "stale": stale}


def get_catalog(ctx: ServiceContext, account_id: str, *, refresh: bool = False,
                allow_stale: bool = False, max_age: int | None = None) -> dict[str, Any]:
    """The catalogue, read again when asked or older than the TTL. When the PBX cannot be
    read, the last known catalogue is returned marked stale (an admin's work must not stop
    because the PBX is down); with none known, the error is raised. allow_stale: any
    cached catalogue will do (pages that only show choices never wait for the PBX). max_age:
    a write that hands out numbers wants the PBX's DNs in use no older than that."""
    require_account_admin(ctx, account_id)
    if not refresh and ("catalog", account_id) in ctx.cache:  # read once per unit of work
        return ctx.cache[("catalog", account_id)]
    cached = ctx.session.get(MivbCatalog, account_id)
    ttl = ctx.rt.catalog_ttl_seconds if max_age is None else min(max_age, ctx.rt.catalog_ttl_seconds)
    fresh_enough = cached is not None and utcnow() - cached.fetched_at < timedelta(seconds=ttl)
    if cached is not None and (fresh_enough or allow_stale) and not refresh:
        return ctx.cache.setdefault(("catalog", account_id), _view(cached, not fresh_enough))
    within_ttl = cached is not None and utcnow() - cached.fetched_at < timedelta(seconds=ctx.rt.catalog_ttl_seconds)
    read_lately = within_ttl and _reads.lately(account_id, ttl)
    if cached is not None and not refresh and (has_written(ctx.session) or read_lately):
        # This unit of work has written already: the PBX cannot be read now (never inside a
        # write), so the copy it has will do. Or this process read the PBX within max_age:
        # what it read is (about to be) in the copy.
        return ctx.cache.setdefault(("catalog", account_id), _view(cached, not within_ttl))
    reading = _reads.lock(account_id)
    if not reading.acquire(blocking=cached is None or refresh):
        # Another request of this process is reading this PBX's catalogue right now.
        return ctx.cache.setdefault(("catalog", account_id), _view(cached, not within_ttl))
    try:
        data = _read_from_pbx(ctx, account_id, cached)
    finally:
        reading.release()
    if not isinstance(data, dict):
        return data.view
    _reads.answered(account_id)
    catalog_refreshed(ctx, account_id, data.pop("dns_in_use"))
    now = utcnow()
    cached = ctx.session.get(MivbCatalog, account_id)
    if cached is None:
        cached = MivbCatalog(account_id=account_id, data=data, fetched_at=now)
        ctx.session.add(cached)
    else:
        cached.data, cached.fetched_at = data, now
    ctx.session.flush()
    ctx.cache[("catalog", account_id)] = {**data, "fetched_at": now, "stale": False}
    return ctx.cache[("catalog", account_id)]


class _Fallback:
    """The PBX could not be read: the last known catalogue, marked stale."""

    def __init__(self, view: dict[str, Any]) -> None:
        self.view = view


def _read_from_pbx(ctx: ServiceContext, account_id: str, cached: MivbCatalog | None) -> dict[str, Any] | _Fallback:
    """The catalogue as the PBX gives it now, checked (outside any transaction)."""
    target = target_of(ctx, account_id)
    end_read_transaction(ctx.session)
    connector = open_connector(ctx, target)
    try:
        raw = connector.catalog()
        try:
            return _Catalog.model_validate(raw).model_dump()
        except ValidationError as exc:
            raise PbxBadResponse(BAD_CATALOG % {"count": exc.error_count()}) from None
    except PbxError as exc:
        if cached is not None:
            return _Fallback(_view(cached, True))
        raise PbxUnavailable(exc.code, "The PBX catalogue cannot be read: %(reason)s", reason=exc.message) from None
    finally:
        connector.close()
