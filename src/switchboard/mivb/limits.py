"""The limits a change counts against (a category's licences, the PBX's users and devices,
the account's EHDU and ACD agent licences) hold when many units of work add users and
phones at once, without making them wait for each other's whole work.

rules.py refuses early when the transaction already holds the count (a bulk import's
later rows). Every count a unit raised (usage.grown) is checked as it commits (`settle`):
under a lock per account and per category, taken in one order (accounts, then
categories; the ranges' writes come after them), the counts are read afresh and the unit
is refused (RefusedAtCommit, a 409 with the same codes) if one went over. The locks are
held only from that check to the commit. Units that choose a category hold its row `FOR
KEY SHARE` from the start: they run side by side, and a change to the category waits.

The services that raise a count (choosing a category, adding or changing a phone) settle
before they return (`before_answer`): the request's unit of work ends right after, so the
locks are held only for its last steps and a refusal comes with the form. Units that
apply rows in savepoints (the bulk import, the adoption, and the users list's bulk action
for each user) only check each row (`check`, without a lock), so that a row over a limit
is refused alone; their commit settles, and meets only real races: if another unit took
the last licence between a row's check and the commit, the commit is refused, and the job
runner applies the rows again from its last commit, where that row is refused alone.

SQLite's single writer already serialises these units: the counts are read again, with
no lock to take."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from switchboard.core.errors import Conflict, RefusedAtCommit
from switchboard.core.uow import batching, last_at_commit, tx_cache
from switchboard.mivb import settings as mivb_settings
from switchboard.mivb import usage
from switchboard.mivb.models import MivbSettings, ServiceCategory

CAPACITY_USERS = 2500
CAPACITY_DEVICES = 5000
_ACCOUNT_KINDS = ("configured_users", "devices", "ehdu_used", "acd_used")
_SETTLED = ("mivb:limits", "settled")
_ROWS = "mivb:limits:applying_rows"
_ADVISORY = text("SELECT pg_advisory_xact_lock(hashtextextended(n, 0)) FROM unnest(CAST(:names AS text[])) AS n")


def licence_exhausted(category: ServiceCategory) -> Conflict:
    return Conflict("licence_exhausted", "No licence of the category %(name)s is left (%(total)s in use).",
                    field="service_category", name=category.name, total=category.licences)


def users_over_capacity() -> Conflict:
    return Conflict("capacity_users", "The PBX holds at most %(max)s users.", max=CAPACITY_USERS)


def devices_over_capacity() -> Conflict:
    return Conflict("capacity_devices", "The PBX holds at most %(max)s devices.", max=CAPACITY_DEVICES)


def ehdu_exhausted(total: int) -> Conflict:
    return Conflict("licence_exhausted", "No external hot desk (EHDU) licence is left (%(total)s in use).",
                    field="external_phone", total=total)


def acd_exhausted(total: int) -> Conflict:
    return Conflict("licence_exhausted", "No ACD agent licence is left (%(total)s in use).", field="acd_agent",
                    total=total)


def settle(session: Session) -> None:
    """Checks again, under their locks, the counts this transaction raised; raises
    RefusedAtCommit with the first limit found exceeded."""
    try:
        _check(session, locked=True)
    except Conflict as exc:
        raise RefusedAtCommit(errors=exc.errors) from None


def applying_rows(session: Session) -> None:
    """The session applies rows, each in its savepoint, and commits now and then (the bulk
    import, the adoption): `before_answer` only checks, without a lock, and the commit
    settles. Holds for the session's life."""
    session.info[_ROWS] = True


def before_answer(session: Session) -> None:
    """What a service that raised a count does before it returns. A request's unit ends
    right after: its counts are settled now, under their locks (a refusal comes with the
    form; the commit has nothing left to read). A session applying rows only checks, and
    a batch of rows (core.uow.batching_flushes) checks once, at its end."""
    if batching(session):
        return
    if session.info.get(_ROWS):
        check(session)
    else:
        settle(session)


def check(session: Session) -> None:
    """A row's own check (bulk import, adoption, the users list's bulk action): the counts
    the row raised, read if the transaction does not hold them yet (without a lock: none
    is held until the commit), against their limits. The transaction then holds them, kept
    current by its own writes: the early checks of rules.py refuse the later rows."""
    _check(session, locked=False)


def _check(session: Session, *, locked: bool) -> None:
    session.flush()  # what is still pending has not told what it raises
    grown = usage.grown(session)
    if locked:  # each count once, then held under its lock until the commit
        settled = tx_cache(session).setdefault(_SETTLED, set())
        keys = sorted(grown - settled)
        settled.update(keys)
    else:  # every count a row raised, each read once: a later row may take more than one licence
        keys = sorted(grown)
    if not keys:
        return
    accounts = sorted({key for kind, key in keys if kind in _ACCOUNT_KINDS})
    category_ids = sorted({key for kind, key in keys if kind == "licence_used"})
    addons = sorted({a for kind, a in keys if kind in ("ehdu_used", "acd_used")})
    if locked:
        held = {key[2]: category for key, category in tx_cache(session).items()
                if isinstance(key, tuple) and key[0] == "locked_category" and key[2] in category_ids}
        if session.get_bind().dialect.name == "postgresql":
            names = [f"mivb-limits:{a}" for a in accounts] + [f"mivb-licences:{c}" for c in category_ids]
            session.execute(_ADVISORY, {"names": names})
        categories = list(held.values())
        if len(held) < len(category_ids):
            categories += _locked(session, select(ServiceCategory).where(
                ServiceCategory.id.in_([c for c in category_ids if c not in held])).order_by(ServiceCategory.id))
        settings = {s.account_id: s for s in _locked(session, select(MivbSettings).where(
            MivbSettings.account_id.in_(addons)))} if addons else {}
        counts = usage.read_afresh(session, keys)
    else:  # what the transaction holds; the counts it does not hold yet, read in one statement
        categories = [c for c in (session.get(ServiceCategory, i) for i in category_ids) if c is not None]
        settings = {a: mivb_settings.load(session, a) for a in addons}
        unknown = [key for key in keys if usage.known(session, *key) is None]
        counts = usage.read_afresh(session, unknown) if unknown else {}
        counts.update({key: usage.known(session, *key) for key in keys if key not in counts})
    for category in categories:
        if counts[("licence_used", category.id)] > category.licences:
            raise licence_exhausted(category)
    for kind, key in keys:
        used = counts[(kind, key)]
        if kind == "configured_users" and used > CAPACITY_USERS:
            raise users_over_capacity()
        if kind == "devices" and used > CAPACITY_DEVICES:
            raise devices_over_capacity()
        if kind == "ehdu_used" and used > (total := _licences(settings.get(key), "ehdu_licences")):
            raise ehdu_exhausted(total)
        if kind == "acd_used" and used > (total := _licences(settings.get(key), "acd_agent_licences")):
            raise acd_exhausted(total)


def _locked(session: Session, query) -> list:
    """The rows, read afresh and held `FOR KEY SHARE`: a change to them (a category's
    licences, the account's add-on licences) waits until this transaction ends."""
    return list(session.scalars(query.with_for_update(read=True, key_share=True)
                                .execution_options(populate_existing=True)))


def _licences(settings: MivbSettings | None, field: str) -> int:
    return getattr(settings, field) if settings is not None else 0


@last_at_commit(rank=50)
def _settle_at_commit(session: Session) -> None:
    settle(session)

