"""Every console form of an account, sent for another tenant's object or for an object that
does not exist, answers the 404 page: never a 500, never a change. The forms are read
from the app's route table, so a form added tomorrow is tried tomorrow."""

from __future__ import annotations

import pytest

from tests.console.helpers import console_routes, csrf_from, sign_in

MISSING = "0" * 32
# What each form needs to get past its own input checks (so that only the lookup decides).
FORM_DATA = {
    "service": {"service_category": "x"},
    "programming": {"group": "", "location": "", "department": ""},
    "phones": {"type": "hot_desk"},
    "dn-ranges": {"start": "7000", "end": "7009"},
    "did-ranges": {"start": "+33199000000", "end": "+33199000009"},
    "categories": {"name": "Stolen", "template": "Entry User", "licences": "1"},
    "connection": {"url": "http://127.0.0.1:9", "username": "x", "password": "y"},
    "licences": {"ehdu": "1", "acd_agent": "1"},
    "pin-policy": {"min_length": "4"},
    "new": {"first_name": "Eve", "last_name": "Intruder", "email": "eve@intruder.example"},
    "edit": {"first_name": "Eve", "last_name": "Intruder", "email": "eve2@intruder.example", "name": "Stolen"},
}


def _account_forms(app) -> list[str]:
    return [path for method, path in console_routes(app)
            if method == "POST" and path.startswith("/accounts/{account_id}")]


def _data_for(path: str) -> dict[str, str]:
    last = [part for part in path.split("/") if not part.startswith("{")][-1]
    return FORM_DATA.get(last, {})


@pytest.fixture
def victim(client, mivb_account):
    m = mivb_account
    user_id = m.new_user("Telephony")
    config = client.get(m.user_url(user_id, "/mivb"), headers=m.admin).json()
    return {"account_id": m.account_id, "user_id": user_id, "phone_id": config["phones"][0]["id"],
            "range_id": m.dn_range, "category_id": m.categories["Entry"]}


def _post(client, path: str, ids: dict[str, str]):
    token = csrf_from(client.get("/me/password").text)
    return client.post(path.format(**ids), data={**_data_for(path), "csrf_token": token}, follow_redirects=False)


def _state(client, m, ids) -> tuple:
    config = client.get(m.user_url(ids["user_id"], "/mivb"), headers=m.partner).json()
    ranges = client.get(m.url("/mivb/dn-ranges"), headers=m.partner).json()
    account = client.get(m.url(""), headers=m.partner).json()
    return config["phones"], config["programming"], config["version"], ranges, account["version"]


def test_every_account_form_is_404_for_another_tenant(client, app, mivb_account, victim, tenant_b):
    forms = _account_forms(app)
    assert len(forms) >= 20, forms  # the walk found the forms
    before = _state(client, mivb_account, victim)
    for attacker in (tenant_b.partner_admin, tenant_b.account_admin):
        sign_in(client, attacker.email)
        for path in forms:
            response = _post(client, path, victim)
            assert response.status_code == 404, (attacker.role, path, response.status_code, response.text[:300])
            assert "Not found" in response.text or "introuvable" in response.text.lower()
    assert _state(client, mivb_account, victim) == before


def test_every_account_form_is_404_for_a_missing_object(client, app, mivb_account, victim, tenant_a):
    sign_in(client, tenant_a.partner_admin.email)
    checked = 0
    for path in _account_forms(app):
        for missing in ("user_id", "phone_id", "range_id", "category_id"):
            if "{" + missing + "}" not in path:
                continue
            response = _post(client, path, {**victim, missing: MISSING})
            assert response.status_code == 404, (path, missing, response.status_code, response.text[:300])
            checked += 1
    response = _post(client, "/accounts/{account_id}/users/{user_id}/mivb/service", {**victim, "account_id": MISSING})
    assert response.status_code == 404
    assert checked >= 15
