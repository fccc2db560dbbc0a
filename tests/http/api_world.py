"""A populated account for the schemathesis run (tests/http/test_schemathesis.py): built
once through the REST API, as a customer would, so that generated requests meet real ids.

Tenant A is connected to the real simulator, with DN and DID ranges, licences, four
service categories, users with the MiVB product and phones (the plain user among them),
an import job and sync jobs. Tenant B exists only so that its ids can be tried from A."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from tests.factories import Tenant

SIM_AUTH = ("gateway", "gateway-secret")

CATEGORIES = (("Entry", "Entry User", 3, None), ("Telephony", "Telephony User", 5, None),
              ("Premium", "Premium User", 5, None), ("Desk only", "Telephony User", 5, ["desk_phone"]))


@dataclass
class World:
    """The ids a generated path may use: `combos` are consistent sets of path parameters
    (a phone of that user, in that account), `foreign` another tenant's ids."""

    headers: dict[str, dict[str, str]]  # role -> Authorization header
    combos: list[dict[str, str]] = field(default_factory=list)
    foreign: dict[str, list[str]] = field(default_factory=dict)


def _ok(response, status: int = 200):
    assert response.status_code == status, (response.request.method, str(response.request.url), response.text[:500])
    return response.json() if response.content else None


def build(client, a: Tenant, b: Tenant, sim_url: str, login) -> World:
    partner = login(a.partner_admin.email)
    admin = login(a.account_admin.email)
    account = a.account.id
    base = f"/api/v1/accounts/{account}"
    _ok(client.put(f"{base}/mivb/connection", headers=partner, json={
        "url": sim_url, "username": SIM_AUTH[0], "password": SIM_AUTH[1]}))
    dn = _ok(client.post(f"{base}/mivb/dn-ranges", headers=partner, json={"start": "2000", "end": "2099"}), 201)
    spare_dn = _ok(client.post(f"{base}/mivb/dn-ranges", headers=partner, json={"start": "5000", "end": "5009"}), 201)
    did = _ok(client.post(f"{base}/mivb/did-ranges", headers=partner, json={
        "start": "+33140000000", "end": "+33140000049", "first_dn": "2000"}), 201)
    _ok(client.put(f"{base}/mivb/licences", headers=partner, json={"ehdu": 5, "acd_agent": 5}))
    categories = []
    for name, template, licences, allowed in CATEGORIES:
        categories.append(_ok(client.post(f"{base}/mivb/service-categories", headers=partner, json={
            "name": name, "template": template, "licences": licences, "allowed_phone_types": allowed}), 201)["id"])

    user_ids = [a.user.id, a.account_admin.id]
    for n in range(3):
        user_ids.append(_ok(client.post(f"{base}/users", headers=admin, json={
            "first_name": "Mia", "last_name": f"Voice{n}", "email": f"mia{n}@{account[:8]}.example"}), 201)["id"])
    phones: dict[str, list[str]] = {}
    for index, user_id in enumerate(user_ids[:4]):  # the last user has no MiVB service
        _ok(client.post(f"{base}/users/{user_id}/products", headers=admin, json={"product": "mivb"}), 201)
        _ok(client.put(f"{base}/users/{user_id}/mivb/service", headers=admin,
                       json={"service_category": categories[1 + index % 2]}))
        if index % 2 == 0:
            _ok(client.post(f"{base}/users/{user_id}/mivb/phones", headers=admin, json={"type": "hot_desk"}), 201)
        phones[user_id] = [p["id"] for p in _ok(client.get(f"{base}/users/{user_id}/mivb/phones", headers=admin))["items"]]
    job = _ok(client.post(f"{base}/imports?mode=dry_run", headers={**admin, "content-type": "text/csv"},
                          content=b"email,first_name,last_name\nnew@import.example,New,Import\n"), 202)

    world = World(headers={"partner_admin": partner, "account_admin": admin,
                           "user": login(a.user.email)})
    ranges = itertools.cycle([dn["id"], did["id"], spare_dn["id"]])
    cats = itertools.cycle(categories)
    for user_id in user_ids:
        for phone_id in phones.get(user_id) or ["no-phone"]:
            world.combos.append({"account_id": account, "user_id": user_id, "phone_id": phone_id,
                                 "range_id": next(ranges), "category_id": next(cats), "product": "mivb",
                                 "job_id": job["id"]})
    world.foreign = {"account_id": [b.account.id], "user_id": [b.user.id, b.account_admin.id]}
    return world
