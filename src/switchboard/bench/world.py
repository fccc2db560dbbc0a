"""The data a figure starts from. Partners, accounts, their PBX connections, ranges and
service categories go through the services (a few calls each, as an admin would); users
by the thousand go in with bulk SQL inserts, in the shape the services give them, each
configured user with a desk phone on an allocated DN and its mapped DID (every 5th with a
hot desk ACD agent too), a sync state and, when asked, a queued push."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from functools import lru_cache

import phonenumbers

from sqlalchemy import insert, update

from switchboard.accounts import service as accounts
from switchboard.accounts.models import User
from switchboard.accounts.tenancy import actor_for
from switchboard.bench.processes import SIM_AUTH, Stack
from switchboard.core.context import Actor, ServiceContext
from switchboard.core.db import make_session_factory, new_id, utcnow
from switchboard.core.uow import unit_of_work
from switchboard.mivb import service as mivb
from switchboard.mivb.models import MivbService, Phone
from switchboard.numbering import service as numbering
from switchboard.numbering.models import DnRange
from switchboard.pbx import service as pbx
from switchboard.sync.models import SyncJob, SyncStatus
from switchboard.wiring import runtime_from_settings

FIRST_NAMES = ("Ada", "Bruno", "Chloé", "David", "Emma", "Félix", "Gabrielle", "Hugo", "Inès", "Jules", "Karine",
               "Louis", "Maya", "Nadia", "Olivia", "Paul", "Rose", "Samuel", "Théo", "Zoé")
LAST_NAMES = ("Martin", "Tremblay", "Roy", "Côté", "Gauthier", "Morin", "Lavoie", "Fortin", "Gagné", "Ouellet",
              "Pelletier", "Lévesque", "Bélanger", "Bergeron", "Bouchard", "Caron", "Gagnon", "Boucher", "Leblanc",
              "Girard", "Simard", "Poirier", "Cloutier", "Dubois", "Lefebvre")
DN_START, DN_END = "200000", "299999"
CATEGORY, TEMPLATE, DESK_MODEL = "Telephony", "Telephony User", "6920"
HOT_DESK_EVERY = 5
CHUNK = 2_000


def did_start(index: int) -> str:
    """The first DID of account `index`'s range: +1 AAA 500 0000, AAA the index-th North
    American area code whose numbers libphonenumber accepts (DIDs must be real numbers)."""
    return f"+1{_area_codes()[index]}5000000"


@lru_cache(maxsize=1)
def _area_codes() -> list[int]:
    def valid(text: str) -> bool:
        return phonenumbers.is_valid_number(phonenumbers.parse(text))
    return [code for code in range(200, 1000) if valid(f"+1{code}5000000") and valid(f"+1{code}5099999")]


@dataclass
class Partner:
    id: str
    admin_id: str
    email: str
    password: str


@dataclass
class Account:
    index: int
    id: str
    category_id: str
    dn_range_id: str
    did_range_id: str
    next_dn: int = int(DN_START)  # the first DN bulk inserts have not used

    def did_of(self, dn: int) -> str:
        return f"+{int(did_start(self.index)[1:]) + dn - int(DN_START)}"


def create_partner(stack: Stack) -> Partner:
    password = secrets.token_urlsafe(18)
    email = f"partner-{secrets.token_hex(4)}@bench.example"
    with unit_of_work(make_session_factory(stack.db)) as session:
        ctx = ServiceContext(session=session, actor=Actor.system("bench"),
                             runtime=runtime_from_settings(stack.settings))
        partner, admin = accounts.create_partner(ctx, {
            "name": f"Bench Partner {secrets.token_hex(3)}", "admin_email": email, "admin_password": password,
            "admin_first_name": "Bench", "admin_last_name": "Partner"})
        return Partner(partner.id, admin.id, email, password)


def create_account(stack: Stack, partner: Partner, index: int, sim_url: str, *, shared: bool = False) -> Account:
    """An account connected to the simulator at sim_url, with a DN range of 100,000
    numbers, a DID range mapped 1:1 onto it, the Telephony category and add-on licences."""
    factory = make_session_factory(stack.db)
    runtime = runtime_from_settings(stack.settings)

    def ctx_of(session) -> ServiceContext:
        return ServiceContext(session=session, actor=actor_for(session.get(User, partner.admin_id)), runtime=runtime)

    with unit_of_work(factory) as session:
        ctx = ctx_of(session)
        account_id = accounts.create_account(ctx, {"name": f"Bench Customer {index:03d}"}).id
        pbx.set_connection(ctx, account_id, {"url": sim_url, "username": SIM_AUTH[0], "password": SIM_AUTH[1],
                                             "shared": shared})
    with unit_of_work(factory) as session:  # a PBX call: its own unit of work, before any write
        pbx.get_catalog(ctx_of(session), account_id, refresh=True)
    with unit_of_work(factory) as session:
        ctx = ctx_of(session)
        dn_range = numbering.create_dn_range(ctx, account_id, {"start": DN_START, "end": DN_END}).range
        did_range = numbering.create_did_range(ctx, account_id, {
            "start": did_start(index), "end": f"+{int(did_start(index)[1:]) + 99_999}", "first_dn": DN_START}).range
        category = mivb.create_category(ctx, account_id, {"name": CATEGORY, "template": TEMPLATE, "licences": 100_000})
        mivb.set_addon_licences(ctx, account_id, {"ehdu": 0, "acd_agent": 50_000})
        return Account(index, account_id, category["id"], dn_range.id, did_range.id)


def user_email(account: Account, n: int) -> str:
    return f"user{n:06d}@a{account.index:03d}.bench.example"


def user_name(n: int) -> tuple[str, str]:
    return FIRST_NAMES[(n // len(LAST_NAMES)) % len(FIRST_NAMES)], LAST_NAMES[n % len(LAST_NAMES)]


@dataclass
class Rows:
    """Rows to insert in bulk, table by table, and the configured users among them."""

    users: list[dict] = field(default_factory=list)
    services: list[dict] = field(default_factory=list)
    phones: list[dict] = field(default_factory=list)
    status: list[dict] = field(default_factory=list)
    jobs: list[dict] = field(default_factory=list)
    configured: list[str] = field(default_factory=list)
    accounts: list[Account] = field(default_factory=list)


def plan_users(account: Account, count: int, *, first: int = 0, configured_every: int = 1, queued: bool = False,
               rows: Rows | None = None) -> Rows:
    """The rows of `count` users (numbered from `first`); every `configured_every`-th one
    (0: none) has the MiVB service in the Telephony category with a desk phone, every 5th
    of those a hot desk ACD agent too. queued: their pushes wait in the sync queue (else
    they are synced already). Adds to `rows` when given."""
    now = utcnow()
    rows = rows if rows is not None else Rows()
    rows.accounts.append(account)
    configured = rows.configured
    for n in range(first, first + count):
        user_id = new_id()
        first_name, last_name = user_name(n)
        email = user_email(account, n)
        rows.users.append({"id": user_id, "account_id": account.id, "first_name": first_name,
                              "last_name": last_name, "email": email, "email_key": email, "role": "user",
                              "password_history": [], "created_at": now, "updated_at": now})
        if not configured_every or (n - first) % configured_every:
            continue
        configured.append(user_id)
        rows.services.append({"user_id": user_id, "account_id": account.id,
                                 "service_category_id": account.category_id, "template": TEMPLATE,
                                 "desired_revision": 1, "pbx_key": user_id, "created_at": now, "updated_at": now})
        phones = [{"type": "desk_phone", "model": DESK_MODEL, "voicemail": True, "acd_agent": False, "did": True}]
        if (n - first) // max(1, configured_every) % HOT_DESK_EVERY == HOT_DESK_EVERY - 1:
            phones.append({"type": "hot_desk", "model": None, "voicemail": False, "acd_agent": True, "did": False})
        states = {}
        for position, phone in enumerate(phones):
            dn = account.next_dn
            account.next_dn += 1
            phone_id = new_id()
            states[phone_id] = {"state": "pending" if queued else "synced", "errors": []}
            rows.phones.append({
                "id": phone_id, "account_id": account.id, "user_id": user_id, "position": position,
                "type": phone["type"], "model": phone["model"], "dn": str(dn), "dn_range_id": account.dn_range_id,
                "did": account.did_of(dn) if phone["did"] else None,
                "did_range_id": account.did_range_id if phone["did"] else None, "voicemail": phone["voicemail"],
                "acd_agent": phone["acd_agent"], "created_at": now, "updated_at": now})
        rows.status.append({"user_id": user_id, "account_id": account.id,
                               "state": "pending" if queued else "synced", "errors": [], "phones": states,
                               "applied_revision": 0 if queued else 1, "updated_at": now})
        if queued:
            rows.jobs.append({"account_id": account.id, "user_id": user_id, "pbx_key": user_id,
                                 "kind": "push_user", "state": "queued", "revision": 1, "attempts": 0,
                                 "run_after": now, "errors": [], "created_at": now})
    return rows


def insert_rows(stack: Stack, rows: Rows) -> None:
    """One transaction: the users, their services, phones, sync states and queued pushes."""
    with stack.db.begin() as conn:
        for model, table in ((User, rows.users), (MivbService, rows.services), (Phone, rows.phones),
                             (SyncStatus, rows.status), (SyncJob, rows.jobs)):
            for i in range(0, len(table), CHUNK):
                conn.execute(insert(model), table[i:i + CHUNK])
        # Every DN below the hint is taken: allocation goes on from there. (The DID range's
        # hint stays at its start: the hot desks' mapped DIDs below are still free.)
        for account in rows.accounts:
            conn.execute(update(DnRange).where(DnRange.id == account.dn_range_id)
                         .values(next_hint=str(account.next_dn)))


def bulk_users(stack: Stack, account: Account, count: int, **options) -> list[str]:
    """plan_users, inserted at once; the configured users' ids."""
    rows = plan_users(account, count, **options)
    insert_rows(stack, rows)
    return rows.configured
