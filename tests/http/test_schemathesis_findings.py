"""What the schemathesis run (test_schemathesis.py) found, each pinned by a plain test that
failed before its fix (docs/reliability.md, "Schemathesis", lists them)."""

from __future__ import annotations

import pytest


# ------------------------------------------------------------------ 405 and its Allow header

@pytest.mark.parametrize("method, path, allowed", [
    ("OPTIONS", "/api/v1/accounts", {"GET", "POST"}),
    ("PUT", "/api/v1/accounts/{account}", {"GET", "PATCH", "DELETE"}),
    ("TRACE", "/api/v1/accounts/{account}/mivb/adoption", {"GET", "POST"}),
    ("DELETE", "/api/v1/accounts/{account}/mivb/licences", {"GET", "PUT"}),
])
def test_a_405_allows_every_method_of_the_address(client, tenant_a, login, method, path, allowed):
    # FastAPI makes one route per method; Starlette's 405 named only the first one's.
    response = client.request(method, path.format(account=tenant_a.account.id),
                              headers=login(tenant_a.partner_admin.email))
    assert response.status_code == 405
    assert response.headers["content-type"].startswith("application/problem+json")
    assert {m.strip() for m in response.headers["allow"].split(",")} - {"HEAD"} == allowed


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_a_405_outside_the_api_says_allow_too(client, path):
    response = client.request("TRACE", path)
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} - {"HEAD"} == {"GET"}


# ------------------------------------------------------------------ a password of another type

@pytest.mark.parametrize("password", [0, False, [], {}], ids=["zero", "false", "list", "object"])
def test_a_new_users_password_of_another_type_is_422_not_no_password(client, tenant_a, login, password):
    # A validator turned every falsy value into "no password": 0, false, [] and {} created
    # a user who cannot sign in instead of a 422.
    headers = login(tenant_a.account_admin.email)
    response = client.post(f"/api/v1/accounts/{tenant_a.account.id}/users", headers=headers, json={
        "first_name": "Pat", "last_name": "Typed", "email": "pat@typed.example", "password": password})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "password"


def test_a_new_users_empty_password_is_no_password_as_documented(client, tenant_a, login, spec_of):
    headers = login(tenant_a.account_admin.email)
    response = client.post(f"/api/v1/accounts/{tenant_a.account.id}/users", headers=headers, json={
        "first_name": "Pat", "last_name": "Blank", "email": "pat@blank.example", "password": ""})
    assert response.status_code == 201 and response.json()["can_sign_in"] is False
    choices = spec_of("UserCreate")["properties"]["password"]["anyOf"]
    assert {"type": "string", "const": ""} in choices or {"type": "string", "enum": [""]} in choices


@pytest.fixture
def spec_of(client):
    spec = client.get("/api/v1/openapi.json").json()
    return lambda name: spec["components"]["schemas"][name]


def test_a_405_at_a_literal_address_names_its_own_methods(client, tenant_a, login):
    # /users/export is not a user: PATCH there is a 404, so Allow says GET only.
    url = f"/api/v1/accounts/{tenant_a.account.id}/users/export"
    response = client.options(url, headers=login(tenant_a.partner_admin.email))
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} - {"HEAD"} == {"GET"}


# ------------------------------------------------------------------ JSON bodies keep their types

@pytest.mark.parametrize("path, body, field", [
    ("/mivb/pin-policy", {"min_length": 4, "forbid_repeated": True, "forbid_sequences": True, "forbid_dn": 0},
     "forbid_dn"),
    ("/mivb/pin-policy", {"min_length": "4"}, "min_length"),
    ("/mivb/pin-policy", {"min_length": True}, "min_length"),
    ("/mivb/licences", {"ehdu": 0, "acd_agent": False}, "acd_agent"),
    ("/mivb/licences", {"ehdu": "3", "acd_agent": 1}, "ehdu"),
    ("/mivb/licences", {"ehdu": 2.0, "acd_agent": 1}, "ehdu"),
], ids=["0 for false", "text for a number", "true for a number", "false for 0", "text for 3", "2.0 for 2"])
def test_a_json_body_value_of_another_type_is_422(client, tenant_a, login, path, body, field):
    # Pydantic's lax mode took 0 for false, false for 0 and "4" for 4: the document says
    # boolean and integer, so the API refuses what a client got wrong instead of guessing.
    headers = login(tenant_a.partner_admin.email)
    response = client.put(f"/api/v1/accounts/{tenant_a.account.id}{path}", headers=headers, json=body)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_forms_still_send_text_for_numbers_and_booleans(session, tenant_a):
    # The console, CSV imports and the CLI hand text to the services, which convert it.
    from switchboard.mivb import settings as mivb_settings
    from tests.factories import ctx_for

    ctx = ctx_for(session, tenant_a.partner_admin)
    policy, _ = mivb_settings.set_pin_policy(ctx, tenant_a.account.id, {
        "min_length": "6", "forbid_repeated": "true", "forbid_sequences": "false", "forbid_dn": "on"})
    assert (policy["min_length"], policy["forbid_sequences"], policy["forbid_dn"]) == (6, False, True)
