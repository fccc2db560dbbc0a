"""Demo data for `make run`: a partner, its admin, one customer account with 25 users."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from switchboard.accounts import service as accounts
from switchboard.context import Actor, ServiceContext

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
