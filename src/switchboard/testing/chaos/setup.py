"""The world the chaos run starts from: a partner (and its admin, who drives the API), one
account connected to the simulator, DN and DID ranges, a service category per template.
Seeded through the service layer, in units of work, as `switchboard demo` does."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import httpx
from sqlalchemy import Engine

from switchboard.accounts import service as accounts
from switchboard.accounts.tenancy import actor_for
from switchboard.core.config import Settings
from switchboard.core.context import Actor, ServiceContext
from switchboard.core.db import make_session_factory
from switchboard.core.uow import unit_of_work
from switchboard.mivb import service as mivb
from switchboard.numbering import service as numbering
from switchboard.pbx import service as pbx
from switchboard.testing.chaos.processes import SIM_AUTH
from switchboard.wiring import runtime_from_settings

FIRST_NAMES = ("Ada", "Bruno", "Chloé", "David", "Emma", "Félix", "Gabrielle", "Hugo", "Inès", "Jules")
CATEGORIES = (("Entry", "Entry User"), ("Telephony", "Telephony User"), ("Premium", "Premium User"),
              ("Agent", "Hot Desk Agent"))
DN_START, DN_END = "200000", "209999"
DID_START, DID_END = "+15145600000", "+15145609999"  # 1:1 onto the DNs


@dataclass
class SeededWorld:
    account_id: str
    categories: dict[str, str]  # name -> id
    admin_email: str
    admin_password: str


def sim_seed(users: int) -> dict:
    """The simulated PBX: its defaults, with an IP-user licence for everyone."""
    return {"system": {"name": "Chaos PBX", "version": "10.1.0.0"}, "licences": {"ip_users": max(500, users + 100)}}


def seed_world(engine: Engine, settings: Settings, sim_url: str, users: int) -> SeededWorld:
    factory = make_session_factory(engine)
    runtime = runtime_from_settings(settings)
    password = secrets.token_urlsafe(18)
    email = f"partner-{secrets.token_hex(4)}@chaos.example"
    with unit_of_work(factory) as session:
        system = ServiceContext(session=session, actor=Actor.system("chaos"), runtime=runtime)
        partner, admin = accounts.create_partner(system, {
            "name": f"Chaos Partner {secrets.token_hex(3)}", "admin_email": email, "admin_password": password,
            "admin_first_name": "Chaos", "admin_last_name": "Partner"})
        ctx = ServiceContext(session=session, actor=actor_for(admin), runtime=runtime)
        account = accounts.create_account(ctx, {"name": "Chaos Customer"})
        pbx.set_connection(ctx, account.id, {"url": sim_url, "username": SIM_AUTH[0], "password": SIM_AUTH[1]})
        account_id, admin_id = account.id, admin.id

    def partner_ctx(session) -> ServiceContext:
        from switchboard.accounts.models import User

        return ServiceContext(session=session, actor=actor_for(session.get(User, admin_id)), runtime=runtime)

    with unit_of_work(factory) as session:  # a PBX call: in a unit of work of its own, before any write
        pbx.get_catalog(partner_ctx(session), account_id, refresh=True)
    with unit_of_work(factory) as session:
        ctx = partner_ctx(session)
        numbering.create_dn_range(ctx, account_id, {"start": DN_START, "end": DN_END})
        numbering.create_did_range(ctx, account_id, {"start": DID_START, "end": DID_END, "first_dn": DN_START})
        categories = {name: mivb.create_category(ctx, account_id, {"name": name, "template": template,
                                                                   "licences": users + 100})["id"]
                      for name, template in CATEGORIES}
    return SeededWorld(account_id, categories, email, password)


def sign_in(server_url: str, world: SeededWorld) -> str:
    response = httpx.post(server_url + "/api/v1/auth/token",
                          json={"email": world.admin_email, "password": world.admin_password}, timeout=30)
    response.raise_for_status()
    return response.json()["access_token"]
