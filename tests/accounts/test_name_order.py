"""Names are sorted the way people read them (issue 10, item 9), on SQLite and PostgreSQL:
letters first ("Bélanger" before "Boucher"), then accents, then case; the API's pages and
the console's list follow that one order."""

from __future__ import annotations

from sqlalchemy import literal, select, union_all

from switchboard.core.collation import by_name, name_sort_key
from tests.console.helpers import sign_in
from tests.factories import make_account, make_user

LAST_NAMES = ["Boucher", "Bélanger", "zola", "Zoé", "Élie", "ebert", "Ebert", "Bois", "Belanger", "D'Arcy", "Dupont"]
EXPECTED = ["Belanger", "Bélanger", "Bois", "Boucher", "D'Arcy", "Dupont", "ebert", "Ebert", "Élie", "Zoé", "zola"]


def _sorted_by_the_database(session, names: list[str]) -> list[str]:
    rows = union_all(*(select(literal(name).label("name")) for name in names)).subquery()
    return list(session.scalars(select(rows.c.name).order_by(by_name(rows.c.name))))


def test_the_engine_sorts_letters_then_accents_then_case(session):
    assert _sorted_by_the_database(session, LAST_NAMES) == EXPECTED
    assert _sorted_by_the_database(session, ["Boucher", "Bélanger"]) == ["Bélanger", "Boucher"]


def test_the_python_key_is_the_same_order():
    assert sorted(LAST_NAMES, key=name_sort_key) == EXPECTED
    # two different texts never tie: paging has one order
    assert len({name_sort_key(n) for n in LAST_NAMES}) == len(LAST_NAMES)


def _account_with(session, tenant, names: list[str]):
    account = make_account(session, tenant.partner, name="Names")
    for i, last in enumerate(names):
        make_user(session, account, first_name="Pat", last_name=last, email=f"n{i}@names.example")
    return account


def test_api_pages_follow_the_order(client, session, tenant_a, login):
    account = _account_with(session, tenant_a, LAST_NAMES)
    headers = login(tenant_a.partner_admin.email)
    url = f"/api/v1/accounts/{account.id}/users"
    whole = client.get(url, headers=headers).json()
    assert [u["last_name"] for u in whole["items"]] == EXPECTED
    paged = []
    for offset in range(0, len(LAST_NAMES), 3):
        paged += [u["last_name"] for u in client.get(f"{url}?limit=3&offset={offset}", headers=headers).json()["items"]]
    assert paged == EXPECTED


def test_console_list_follows_the_order(client, session, tenant_a):
    account = _account_with(session, tenant_a, ["Boucher", "Bélanger", "Zoé", "zola"])
    sign_in(client, tenant_a.partner_admin.email)
    html = client.get(f"/accounts/{account.id}/users").text
    positions = [html.index(f">{name}, Pat<") for name in ("Bélanger", "Boucher", "Zoé", "zola")]
    assert positions == sorted(positions)
