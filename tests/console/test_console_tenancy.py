"""The console's tenancy walk: every page and every form of an account (GET and POST with a
valid CSRF token), opened by another tenant's partner admin, account admin and plain user,
answers the 404 page, shows nothing of the victim and changes nothing; sent for an object
that does not exist, it answers 404 too, never a 500. The routes are read from the app's
route table, so a page added tomorrow is walked tomorrow."""

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


def _account_routes(app, method: str = "POST") -> list[str]:
    return [path for m, path in console_routes(app) if m == method and path.startswith("/accounts/{account_id}")]


def _account_forms(app) -> list[str]:
    return _account_routes(app, "POST")


def _data_for(path: str) -> dict[str, str]:
    last = [part for part in path.split("/") if not part.startswith("{")][-1]
    return FORM_DATA.get(last, {})


@pytest.fixture
def victim(client, mivb_account):
    m = mivb_account
    user_id = m.new_user("Telephony")
    config = client.get(m.user_url(user_id, "/mivb"), headers=m.admin).json()
    job = client.post(m.url("/imports?mode=dry_run"), headers={**m.admin, "content-type": "text/csv"},
                      content=b"email\nvictim.row@example.com\n")
    return {"account_id": m.account_id, "user_id": user_id, "phone_id": config["phones"][0]["id"],
            "range_id": m.dn_range, "category_id": m.categories["Entry"], "job_id": job.json()["id"]}


def _post(client, path: str, ids: dict[str, str]):
    token = csrf_from(client.get("/me/password").text)
    return client.post(path.format(**ids), data={**_data_for(path), "csrf_token": token}, follow_redirects=False)


def _get(client, path: str, ids: dict[str, str]):
    return client.get(path.replace("{rest:path}", "{rest}").format(**ids, rest="dn-ranges"), follow_redirects=False)


def _fingerprints(client, m, ids) -> list[str]:
    config = client.get(m.user_url(ids["user_id"], "/mivb"), headers=m.partner).json()
    user = client.get(m.user_url(ids["user_id"]), headers=m.partner).json()
    account = client.get(m.url(""), headers=m.partner).json()
    return [ids["account_id"], ids["user_id"], ids["phone_id"], ids["range_id"], ids["category_id"],
            account["name"], user["email"], user["last_name"], config["phones"][0]["dn"] + "</", "victim.row@"]


def _state(client, m, ids) -> tuple:
    config = client.get(m.user_url(ids["user_id"], "/mivb"), headers=m.partner).json()
    ranges = client.get(m.url("/mivb/dn-ranges"), headers=m.partner).json()
    account = client.get(m.url(""), headers=m.partner).json()
    return config["phones"], config["programming"], config["version"], ranges, account["version"]


def test_every_account_page_and_form_is_404_for_another_tenant(client, app, mivb_account, victim, tenant_b):
    forms, pages = _account_forms(app), _account_routes(app, "GET")
    assert len(forms) >= 20 and len(pages) >= 10, (forms, pages)  # the walk found them
    before = _state(client, mivb_account, victim)
    leaks = _fingerprints(client, mivb_account, victim)
    walked = 0
    for attacker in (tenant_b.partner_admin, tenant_b.account_admin, tenant_b.user):
        assert sign_in(client, attacker.email).status_code == 303
        for method, path in [("GET", p) for p in pages] + [("POST", p) for p in forms]:
            response = (_get if method == "GET" else _post)(client, path, victim)
            walked += 1
            assert response.status_code == 404, (attacker.role, method, path, response.status_code,
                                                 response.text[:300])
            asked = path.replace("{rest:path}", "{rest}").format(**victim, rest="dn-ranges")
            for leak in leaks:  # what the intruder typed in the address may come back; nothing else
                assert leak in asked or leak not in response.text, (attacker.role, method, path, leak)
    assert walked == 3 * (len(forms) + len(pages))
    assert _state(client, mivb_account, victim) == before


def test_every_account_page_and_form_is_404_for_a_missing_object(client, app, mivb_account, victim, tenant_a):
    sign_in(client, tenant_a.partner_admin.email)
    checked = 0
    for method, path in [("GET", p) for p in _account_routes(app, "GET")] + [("POST", p) for p in _account_forms(app)]:
        for missing in ("user_id", "phone_id", "range_id", "category_id", "job_id"):
            if "{" + missing + "}" not in path:
                continue
            response = (_get if method == "GET" else _post)(client, path, {**victim, missing: MISSING})
            assert response.status_code == 404, (method, path, missing, response.status_code, response.text[:300])
            checked += 1
    response = _post(client, "/accounts/{account_id}/users/{user_id}/mivb/service", {**victim, "account_id": MISSING})
    assert response.status_code == 404
    assert checked >= 20
