"""What the licence and capacity rules count (users of a category, configured users and
phones of an account, EHDU and ACD agents in use), read once per transaction and then
kept current by the writes of that transaction: a bulk import checks every rule for each
row without counting again.

A count is read when first asked for in a transaction (core.uow.tx_count) and forgotten
at its end and at any rollback, savepoints included. Every flushed insert, update or
delete of a service or a phone adjusts the counts it changes (the ORM events below); a
write whose effect cannot be told (a value never loaded) makes the transaction forget
its counts, which are then read again."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import Select, event, func, inspect, select
from sqlalchemy.orm import Session, object_session

from switchboard.accounts.models import Account, User
from switchboard.core.uow import (adjust_count, batching, forget_counts, is_new_in_transaction, keep_until_commit,
                                  kept_until_commit, tx_cache, tx_count)
from switchboard.mivb.models import MivbService, Phone

_UNKNOWN = object()
_GROWN = "mivb:counts_grown"
_SERVICE_FIELDS = ("account_id", "service_category_id")
# A phone's field not loaded, taken at its most counted (a hot desk with both add-ons).
_ANY_VALUE = {"type": "hot_desk", "external_number": "unknown", "acd_agent": True}
_PHONE_FIELDS = ("account_id", "type", "external_number", "acd_agent")


def _count_query(kind: str, key: str) -> Select:
    """What a count of `kind` counts, for a category (licence_used) or an account."""
    if kind == "licence_used":
        return select(func.count()).select_from(MivbService).where(MivbService.service_category_id == key)
    if kind == "configured_users":
        return select(func.count()).select_from(MivbService).where(
            MivbService.account_id == key, MivbService.service_category_id.is_not(None))
    phones = select(func.count()).select_from(Phone).where(Phone.account_id == key)
    if kind == "devices":
        return phones
    phones = phones.where(Phone.type == "hot_desk")
    if kind == "ehdu_used":
        return phones.where(Phone.external_number.is_not(None))
    if kind == "acd_used":
        return phones.where(Phone.acd_agent.is_(True))
    raise ValueError(kind)


def _count(session: Session, kind: str, key: str) -> int:
    return tx_count(session, (kind, key), lambda: session.scalar(_count_query(kind, key)) or 0, _settle)


def known(session: Session, kind: str, key: str) -> int | None:
    """The count if this transaction holds it already (read, or settled under its lock by
    limits.py), kept current with the pending changes; None when it would have to be read:
    the early checks of rules.py then leave it to limits.settle, which reads it anyway."""
    if (kind, key) not in tx_cache(session).get("counts", {}):
        return None
    return _count(session, kind, key)


def licence_used(session: Session, category_id: str) -> int:
    """Users who have the category (one licence each)."""
    return _count(session, "licence_used", category_id)


def configured_users(session: Session, account_id: str) -> int:
    return _count(session, "configured_users", account_id)


def devices(session: Session, account_id: str) -> int:
    return _count(session, "devices", account_id)


def ehdu_used(session: Session, account_id: str) -> int:
    return _count(session, "ehdu_used", account_id)


def acd_used(session: Session, account_id: str) -> int:
    return _count(session, "acd_used", account_id)


def read_afresh(session: Session, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """The counts of keys as the database holds them now, this transaction's flushed writes
    included, in one statement; they replace what the transaction kept."""
    session.flush()
    row = session.execute(select(*(_count_query(kind, key).scalar_subquery() for kind, key in keys))).one()
    fresh = {key: value or 0 for key, value in zip(keys, row)}
    tx_cache(session).setdefault("counts", {}).update(fresh)
    return fresh


def grown(session: Session) -> set[tuple[str, str]]:
    """The counts this transaction's flushed writes have raised (and a savepoint rolled
    back has not taken back): what limits.py checks again before the commit."""
    return set(kept_until_commit(session, _GROWN))


def _settle(session: Session) -> None:
    """Flushes the pending changes when some of them change what is counted (a new or
    deleted service or phone, a counted field changed), as a count query would. In a batch
    of rows (core.uow.batching_flushes) they wait for its end, whose check counts them."""
    if batching(session):
        return
    counted = (MivbService, Phone)
    if any(isinstance(o, counted) for o in session.new) or any(isinstance(o, counted) for o in session.deleted):
        session.flush()
        return
    for obj in session.dirty:
        fields = _SERVICE_FIELDS if isinstance(obj, MivbService) else _PHONE_FIELDS if isinstance(obj, Phone) else ()
        state = inspect(obj)
        if any(state.attrs[name].history.has_changes() for name in fields):
            session.flush()
            return


def category_of_flushed(session: Session, user_id: str) -> Any:
    """The category the user's service has in the database as this transaction sees it,
    when this session knows it (else _UNKNOWN). A user this transaction made has none
    there, unless it flushed one (then in the identity map)."""
    service = session.identity_map.get(session.identity_key(MivbService, (user_id,)))
    if service is None and is_new_in_transaction(session, "user", user_id):
        return None
    if service is None or inspect(service).pending:
        return _UNKNOWN
    committed = _before(service, ("service_category_id",))
    return _UNKNOWN if committed is None else committed["service_category_id"]


def is_unknown(value: Any) -> bool:
    return value is _UNKNOWN


# ---------------------------------------------------------------- keeping counts current

def _service_keys(values: dict[str, Any]) -> list[tuple[str, str]]:
    if values["service_category_id"] is None:
        return []
    return [("licence_used", values["service_category_id"]), ("configured_users", values["account_id"])]


def _phone_keys(values: dict[str, Any]) -> list[tuple[str, str]]:
    keys = [("devices", values["account_id"])]
    if values["type"] == "hot_desk":
        if values["external_number"] is not None:
            keys.append(("ehdu_used", values["account_id"]))
        if values["acd_agent"]:
            keys.append(("acd_used", values["account_id"]))
    return keys


def _now(target: Any, names: tuple[str, ...]) -> dict[str, Any] | None:
    values = inspect(target).dict
    if any(name not in values for name in names):
        return None
    return {name: values[name] for name in names}


def _before(target: Any, names: tuple[str, ...]) -> dict[str, Any] | None:
    """The values as they were in the database before this flush."""
    state = inspect(target)
    out = {}
    for name in names:
        history = state.attrs[name].history
        if history.deleted:
            out[name] = history.deleted[0]
        elif history.unchanged:
            out[name] = history.unchanged[0]
        else:
            return None
    return out


def _apply(session: Session | None, before: list | None, after: list | None, *, possible: list = ()) -> None:
    if session is None:
        return
    if before is None or after is None:
        forget_counts(session)
        for key in after if after is not None else possible:  # what it raised cannot be told: all is checked
            _grew(session, key)
        return
    for key in before:
        adjust_count(session, key, -1)
    for key in after:
        adjust_count(session, key, +1)
    for key in Counter(after) - Counter(before):
        _grew(session, key)


def _grew(session: Session, key: tuple[str, str]) -> None:
    """Keeps that the transaction raised the count, once: what a savepoint rolled back took
    back goes with it (core.uow), and tx_cache, which says it is kept, is then forgotten."""
    kept = tx_cache(session).setdefault(_GROWN, set())
    if key not in kept:
        keep_until_commit(session, _GROWN, key)
        kept.add(key)


def _watch(model: type, fields: tuple[str, ...], keys) -> None:
    def values_keys(values: dict[str, Any] | None) -> list | None:
        return None if values is None else keys(values)

    @event.listens_for(model, "after_insert")
    def _inserted(_mapper, _connection, target) -> None:
        # A field an insert left unset went in as NULL (acd_agent as False: counted alike).
        values = inspect(target).dict
        _apply(object_session(target), [], keys({name: values.get(name) for name in fields}))

    @event.listens_for(model, "after_update")
    def _updated(_mapper, _connection, target) -> None:
        state = inspect(target)
        if not any(state.attrs[name].history.has_changes() for name in fields):
            return
        now = _now(target, fields)
        if now is None and "account_id" in state.dict:  # a field not loaded: every count it could raise
            possible = keys({name: state.dict.get(name, _ANY_VALUE.get(name)) for name in fields})
            _apply(object_session(target), None, None, possible=possible)
            return
        _apply(object_session(target), values_keys(_before(target, fields)), values_keys(now))

    @event.listens_for(model, "after_delete")
    def _deleted(_mapper, _connection, target) -> None:
        _apply(object_session(target), values_keys(_before(target, fields)), [])


_watch(MivbService, _SERVICE_FIELDS, _service_keys)
_watch(Phone, _PHONE_FIELDS, _phone_keys)


@event.listens_for(User, "after_delete")
@event.listens_for(Account, "after_delete")
def _cascaded(_mapper, _connection, target) -> None:
    """The database deletes what hangs from a user or an account by itself (no event
    tells of each row): the counts are read again."""
    session = object_session(target)
    if session is not None:
        forget_counts(session)
