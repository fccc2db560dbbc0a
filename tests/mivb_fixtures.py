"""An account connected to the real simulator through the API, with ranges, categories
and add-on licences, for the MiVB API tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from tests.conftest import SIM_AUTH


_numbers = itertools.count(1)


@dataclass
class Mivb:
    client: object
    account_id: str
    partner: dict  # headers of the partner admin
    admin: dict  # headers of the account admin
    categories: dict[str, str]
    dn_range: str
    did_range: str

    def url(self, path: str) -> str:
        return f"/api/v1/accounts/{self.account_id}{path}"

    def user_url(self, user_id: str, path: str = "") -> str:
        return self.url(f"/users/{user_id}{path}")

    def new_user(self, category: str | None = None, headers: dict | None = None) -> str:
        headers = headers or self.admin
        n = next(_numbers)
        response = self.client.post(self.url("/users"), headers=headers, json={
            "first_name": "Mia", "last_name": f"Voice{n}", "email": f"mia{n}@{self.account_id[:8]}.example"})
        user_id = response.json()["id"]
        if category:
            self.configure(user_id, category)
        return user_id

    def configure(self, user_id: str, category: str) -> dict:
        assert self.client.post(self.user_url(user_id, "/products"), headers=self.admin,
                                json={"product": "mivb"}).status_code == 201
        response = self.client.put(self.user_url(user_id, "/mivb/service"), headers=self.admin,
                                   json={"service_category": self.categories[category]})
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def mivb_account(client, tenant_a, login, sim, sim_api) -> Mivb:
    partner = login(tenant_a.partner_admin.email)
    base = f"/api/v1/accounts/{tenant_a.account.id}/mivb"
    assert client.put(f"{base}/connection", headers=partner, json={
        "url": sim.url, "username": SIM_AUTH[0], "password": SIM_AUTH[1]}).status_code == 200
    dn = client.post(f"{base}/dn-ranges", headers=partner, json={"start": "2000", "end": "2049"})
    assert dn.status_code == 201, dn.text
    did = client.post(f"{base}/did-ranges", headers=partner, json={
        "start": "+33140000000", "end": "+33140000019", "first_dn": "2000"})
    assert did.status_code == 201, did.text
    assert client.put(f"{base}/licences", headers=partner, json={"ehdu": 2, "acd_agent": 2}).status_code == 200
    categories = {}
    for name, template, licences, allowed in (("Entry", "Entry User", 3, None), ("Telephony", "Telephony User", 5, None),
                                              ("Premium", "Premium User", 5, None),
                                              ("Desk only", "Telephony User", 5, ["desk_phone"])):
        response = client.post(f"{base}/service-categories", headers=partner, json={
            "name": name, "template": template, "licences": licences, "allowed_phone_types": allowed})
        assert response.status_code == 201, response.text
        categories[name] = response.json()["id"]
    return Mivb(client, tenant_a.account.id, partner, login(tenant_a.account_admin.email), categories,
                dn.json()["id"], did.json()["id"])
