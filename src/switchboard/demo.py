"""Demo data for `make run`: a partner, its admin, one customer account with 25 users."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.accounts import service as accounts
from switchboard.accounts.models import User
from switchboard.core.context import Actor, ServiceContext

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


def seed(session: Session) -> DemoInfo:
    """Creates the demo data once; running it again changes nothing."""
    existing = accounts.find_partner(session, PARTNER_NAME)
    system = ServiceContext(session=session, actor=Actor.system("demo"))
    if existing is not None:
        total, found = accounts.list_accounts(system, search=ACCOUNT_NAME, limit=1)
        return DemoInfo(created=False, account_id=found[0].id if found else None)
    partner, partner_admin = accounts.create_partner(system, {
        "name": PARTNER_NAME, "admin_email": PARTNER_ADMIN, "admin_password": DEMO_PASSWORD,
        "admin_first_name": "Pat", "admin_last_name": "Partner",
    })
    ctx = ServiceContext(session=session, actor=accounts.actor_for(partner_admin))
    account = accounts.create_account(ctx, {
        "name": ACCOUNT_NAME, "country": "CA", "province": "Québec", "city": "Montréal",
        "address": "1000 rue Sherbrooke Ouest", "postal_code": "H3A 3G4", "default_language": "en",
    })
    accounts.create_user(ctx, account.id, {
        "first_name": "Ada", "last_name": "Admin", "email": ACCOUNT_ADMIN, "role": "account_admin",
        "password": DEMO_PASSWORD,
    })
    for first, last in _PEOPLE:
        email = f"{first}.{last}@demo.example".lower()
        email = email.translate(str.maketrans("éèêëôç", "eeeeoc"))
        accounts.create_user(ctx, account.id, {"first_name": first, "last_name": last, "email": email})
    return DemoInfo(created=True, account_id=account.id)


DEMO_SIM_AUTH = ("admin", "switchboard-demo-pbx")
DEMO_CATEGORIES = (("Entry", "Entry User", 50, None), ("Telephony", "Telephony User", 20, None),
                   ("Premium", "Premium User", 5, None), ("Contact centre", "Hot Desk Agent", 5, ["hot_desk"]))


def seed_mivb(session: Session, runtime, sim_url: str) -> None:
    """Connects the demo account to the simulator (again, when its address changed) and,
    the first time, sets up number ranges, categories and a few configured users."""
    from switchboard.mivb import service as mivb
    from switchboard.numbering import service as numbering
    from switchboard.pbx import service as pbx

    system = ServiceContext(session=session, actor=Actor.system("demo"), runtime=runtime)
    _, found = accounts.list_accounts(system, search=ACCOUNT_NAME, limit=1)
    account = found[0]
    admin = session.scalar(select(User).where(User.email_key == PARTNER_ADMIN))
    ctx = ServiceContext(session=session, actor=accounts.actor_for(admin), runtime=runtime)
    connection = pbx.get_connection(ctx, account.id)
    first_time = connection is None
    if first_time or connection.url != sim_url:
        pbx.set_connection(ctx, account.id, {"url": sim_url, "username": DEMO_SIM_AUTH[0],
                                             "password": DEMO_SIM_AUTH[1]})
    pbx.get_catalog(ctx, account.id, refresh=True)
    if not first_time:
        return
    numbering.create_dn_range(ctx, account.id, {"start": "2000", "end": "2199"})
    numbering.create_did_range(ctx, account.id, {"start": "+15145550000", "end": "+15145550199", "first_dn": "2000"})
    mivb.set_addon_licences(ctx, account.id, {"ehdu": 5, "acd_agent": 5})
    categories = {}
    for name, template, licences, allowed in DEMO_CATEGORIES:
        categories[name] = mivb.create_category(ctx, account.id, {
            "name": name, "template": template, "licences": licences, "allowed_phone_types": allowed})["id"]
    _, users = accounts.list_users(ctx, account.id, limit=6)
    plan = [("Telephony", None), ("Premium", None), ("Entry", None), ("Telephony", "Paris"),
            ("Contact centre", None)]
    for user, (category, location) in zip([u for u in users if u.role == "user"], plan):
        mivb.add_product(ctx, account.id, user.id, {"product": "mivb"})
        mivb.choose_category(ctx, account.id, user.id, {"service_category": categories[category]})
        if location:
            mivb.update_config(ctx, account.id, user.id, {"programming": {"location": location}})
        if category == "Contact centre":
            mivb.add_phone(ctx, account.id, user.id, {"type": "hot_desk", "acd_agent": True,
                                                      "external_phone": {"number": "+15145559876"}})
