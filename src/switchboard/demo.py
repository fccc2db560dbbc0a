"""Demo data for `make run`: a partner, its admin, one customer account with 25 users."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from switchboard.accounts import service as accounts
from switchboard.accounts.models import User
from switchboard.accounts.tenancy import actor_for
from switchboard.core.context import Actor, ServiceContext
from switchboard.core.uow import unit_of_work
from switchboard.mivb import service as mivb
from switchboard.numbering import service as numbering
from switchboard.pbx import service as pbx

DEMO_PASSWORD = "switchboard-demo"
PARTNER_NAME = "Demo Partner"
PARTNER_ADMIN = "partner@demo.example"
ACCOUNT_NAME = "Demo Customer"
ACCOUNT_ADMIN = "admin@demo.example"

_PEOPLE = [
    ("Alice", "Martin"), ("Bruno", "Tremblay"), ("Chloé", "Gagnon"), ("David", "Roy"),
    ("Emma", "Côté"), ("Félix", "Bouchard"), ("Gabrielle", "Gauthier"), ("Hugo", "Morin"),
    ("Inès", "Lavoie"), ("Jules", "Fortin"), ("Karine", "Gagné"), ("Louis", "Ouellet"),
    ("Maya", "Pelletier"), ("Noah", "Bélanger"), ("Olivia", "Lévesque"), ("Paul", "Bergeron"),
    ("Quentin", "Leblanc"), ("Rose", "Paquette"), ("Samuel", "Girard"), ("Tania", "Simard"),
    ("Ulysse", "Boucher"), ("Victoria", "Caron"), ("William", "Beaulieu"), ("Xavier", "Cloutier"),
]


@dataclass
class DemoInfo:
    created: bool
    partner_admin: str = PARTNER_ADMIN
    account_admin: str = ACCOUNT_ADMIN
    password: str = DEMO_PASSWORD
    account_id: str | None = None


def _email(first: str, last: str) -> str:
    return f"{first}.{last}@demo.example".lower().translate(str.maketrans("éèêëôç", "eeeeoc"))


def seed(session_factory: sessionmaker) -> DemoInfo:
    """Creates the demo data once, in one unit of work; running it again changes nothing."""
    with unit_of_work(session_factory) as session:
        system = ServiceContext(session=session, actor=Actor.system("demo"))
        if accounts.find_partner(system, PARTNER_NAME) is not None:
            total, found = accounts.list_accounts(system, search=ACCOUNT_NAME, limit=1)
            return DemoInfo(created=False, account_id=found[0].id if found else None)
        partner, partner_admin = accounts.create_partner(system, {
            "name": PARTNER_NAME, "admin_email": PARTNER_ADMIN, "admin_password": DEMO_PASSWORD,
            "admin_first_name": "Pat", "admin_last_name": "Partner",
        })
        ctx = ServiceContext(session=session, actor=actor_for(partner_admin))
        account = accounts.create_account(ctx, {
            "name": ACCOUNT_NAME, "country": "CA", "province": "Québec", "city": "Montréal",
            "address": "1000 rue Sherbrooke Ouest", "postal_code": "H3A 3G4", "default_language": "en",
        })
        accounts.create_user(ctx, account.id, {
            "first_name": "Ada", "last_name": "Admin", "email": ACCOUNT_ADMIN, "role": "account_admin",
            "password": DEMO_PASSWORD,
        })
        for first, last in _PEOPLE:
            accounts.create_user(ctx, account.id, {"first_name": first, "last_name": last,
                                                   "email": _email(first, last)})
        return DemoInfo(created=True, account_id=account.id)


DEMO_SIM_AUTH = ("admin", "switchboard-demo-pbx")
# Licences for the demo's own users and for adopting the demo PBX's 40 legacy users.
DEMO_CATEGORIES = (("Entry", "Entry User", 50, None), ("Telephony", "Telephony User", 40, None),
                   ("Premium", "Premium User", 10, None), ("Contact centre", "Hot Desk Agent", 10, ["hot_desk"]))


# The demo users configured at the first start, by e-mail, with their category and location.
DEMO_CONFIGURED = ((("William", "Beaulieu"), "Telephony", None), (("Paul", "Bergeron"), "Premium", None),
                   (("Félix", "Bouchard"), "Entry", None), (("Ulysse", "Boucher"), "Telephony", "Paris"),
                   (("Victoria", "Caron"), "Contact centre", None))


def seed_mivb(session_factory: sessionmaker, runtime, sim_url: str) -> None:
    """Connects the demo account to the simulator (again, when its address changed) and,
    the first time, sets up number ranges, categories and a few configured users. Three
    units of work: the connection, the catalogue read (a PBX call, outside any write),
    then everything else at once."""
    with unit_of_work(session_factory) as session:
        ctx, account_id = _partner_ctx(session, runtime)
        connection = pbx.get_connection(ctx, account_id)
        first_time = connection is None
        if first_time or connection.url != sim_url:
            pbx.set_connection(ctx, account_id, {"url": sim_url, "username": DEMO_SIM_AUTH[0],
                                                 "password": DEMO_SIM_AUTH[1]})
    with unit_of_work(session_factory) as session:
        ctx, account_id = _partner_ctx(session, runtime)
        pbx.get_catalog(ctx, account_id, refresh=True)
    if not first_time:
        return
    with unit_of_work(session_factory) as session:
        ctx, account_id = _partner_ctx(session, runtime)
        _seed_numbers_and_users(ctx, account_id)


def _partner_ctx(session: Session, runtime) -> tuple[ServiceContext, str]:
    system = ServiceContext(session=session, actor=Actor.system("demo"), runtime=runtime)
    _, found = accounts.list_accounts(system, search=ACCOUNT_NAME, limit=1)
    admin = session.scalar(select(User).where(User.email_key == PARTNER_ADMIN))
    return ServiceContext(session=session, actor=actor_for(admin), runtime=runtime), found[0].id


def _seed_numbers_and_users(ctx: ServiceContext, account_id: str) -> None:
    numbering.create_dn_range(ctx, account_id, {"start": "2000", "end": "2199"})
    numbering.create_did_range(ctx, account_id, {"start": "+15145550000", "end": "+15145550199", "first_dn": "2000"})
    mivb.set_addon_licences(ctx, account_id, {"ehdu": 5, "acd_agent": 5})
    categories = {}
    for name, template, licences, allowed in DEMO_CATEGORIES:
        categories[name] = mivb.create_category(ctx, account_id, {
            "name": name, "template": template, "licences": licences, "allowed_phone_types": allowed})["id"]
    for (first, last), category, location in DEMO_CONFIGURED:
        user = ctx.session.scalar(select(User).where(User.email_key == _email(first, last)))
        mivb.add_product(ctx, account_id, user.id, {"product": "mivb"})
        mivb.choose_category(ctx, account_id, user.id, {"service_category": categories[category]})
        if location:
            mivb.update_config(ctx, account_id, user.id, {"programming": {"location": location}})
        if category == "Contact centre":
            mivb.add_phone(ctx, account_id, user.id, {"type": "hot_desk", "acd_agent": True,
                                                      "external_phone": {"number": "+15145559876"}})
