"""System settings > MiVoice Business through the API: connection, catalogue, PIN policy,
add-on licences, service categories."""

from __future__ import annotations

from sqlalchemy import select

from switchboard.pbx.models import MivbConnection
from tests.conftest import SIM_AUTH


def test_connection_is_partner_only_and_its_password_encrypted(client, session, mivb_account, sim):
    m = mivb_account
    got = client.get(m.url("/mivb/connection"), headers=m.admin)
    assert got.status_code == 200
    assert got.json()["password"] == "****" and got.json()["url"] == sim.url
    assert client.put(m.url("/mivb/connection"), headers=m.admin, json={
        "url": sim.url, "username": "x", "password": "y"}).status_code == 403
    stored = session.scalar(select(MivbConnection).where(MivbConnection.account_id == m.account_id))
    assert SIM_AUTH[1] not in stored.password_encrypted
    bad = client.put(m.url("/mivb/connection"), headers=m.partner, json={"url": "ftp://pbx", "username": "", "password": "p"})
    assert bad.status_code == 422
    assert {e["field"]: e["code"] for e in bad.json()["errors"]} == {"url": "invalid_url", "username": "required"}


def test_test_connection_reports_ok_and_failure(client, mivb_account, sim_api):
    m = mivb_account
    ok = client.post(m.url("/mivb/connection/test"), headers=m.admin).json()
    assert ok["ok"] is True and ok["pbx"]["name"] == "MiVB-SIM"
    sim_api.post("/_sim/faults", json={"down": True})
    down = client.post(m.url("/mivb/connection/test"), headers=m.admin).json()
    assert down == {"ok": False, "detail": down["detail"], "pbx": None}
    assert "unavailable" in down["detail"].lower()
    assert client.get(m.url("/mivb/connection"), headers=m.admin).json()["last_test_ok"] is False


def test_catalog_is_cached_and_served_stale_when_the_pbx_is_down(client, mivb_account, sim_api):
    m = mivb_account
    first = client.get(m.url("/mivb/catalog"), headers=m.admin).json()
    assert {t["name"] for t in first["templates"]} >= {"Entry User", "Telephony User"}
    assert first["stale"] is False and 1 in first["cos"]
    sim_api.post("/_sim/faults", json={"down": True})
    cached = client.get(m.url("/mivb/catalog"), headers=m.admin).json()
    assert cached["fetched_at"] == first["fetched_at"] and cached["stale"] is False
    stale = client.get(m.url("/mivb/catalog?refresh=true"), headers=m.admin).json()
    assert stale["stale"] is True and stale["templates"] == first["templates"]


def test_catalog_without_cache_and_pbx_down_is_a_clear_error(client, tenant_b, login, sim, sim_api):
    headers = login(tenant_b.partner_admin.email)
    base = f"/api/v1/accounts/{tenant_b.account.id}/mivb"
    assert client.get(f"{base}/catalog", headers=headers).json()["errors"][0]["code"] == "pbx_not_connected"
    client.put(f"{base}/connection", headers=headers, json={"url": sim.url, "username": SIM_AUTH[0],
                                                            "password": SIM_AUTH[1]})
    sim_api.post("/_sim/faults", json={"down": True})
    response = client.get(f"{base}/catalog", headers=headers)
    assert response.status_code == 502 and response.json()["errors"][0]["code"] == "pbx_unreachable"


def test_pin_policy(client, mivb_account):
    m = mivb_account
    got = client.get(m.url("/mivb/pin-policy"), headers=m.admin)
    assert got.json() == {"min_length": 4, "forbid_repeated": True, "forbid_sequences": True, "forbid_dn": True}
    assert client.put(m.url("/mivb/pin-policy"), headers=m.admin, json={**got.json(), "min_length": 6}).status_code == 403
    bad = client.put(m.url("/mivb/pin-policy"), headers=m.partner, json={**got.json(), "min_length": 9})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "min_length"
    put = client.put(m.url("/mivb/pin-policy"), headers=m.partner, json={**got.json(), "min_length": 6})
    assert put.json()["min_length"] == 6
    stale = client.put(m.url("/mivb/pin-policy"), headers={**m.partner, "If-Match": got.headers["etag"]},
                       json={**got.json(), "min_length": 5})
    assert stale.status_code == 412


def test_categories_report_licences_and_refuse_bad_changes(client, mivb_account):
    m = mivb_account
    listing = client.get(m.url("/mivb/service-categories"), headers=m.admin).json()
    assert listing["total"] == 4
    entry = next(c for c in listing["items"] if c["name"] == "Entry")
    assert (entry["licences"], entry["licences_used"], entry["licences_left"]) == (3, 0, 3)

    unknown = client.post(m.url("/mivb/service-categories"), headers=m.partner,
                          json={"name": "Gold", "template": "No Such Template", "licences": 1})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["code"] == "unknown_template"
    dup = client.post(m.url("/mivb/service-categories"), headers=m.partner,
                      json={"name": "entry", "template": "Entry User", "licences": 1})
    assert dup.status_code == 409 and dup.json()["errors"][0]["code"] == "name_taken"
    assert client.post(m.url("/mivb/service-categories"), headers=m.admin,
                       json={"name": "Mine", "template": "Entry User", "licences": 1}).status_code == 403
    bad_types = client.post(m.url("/mivb/service-categories"), headers=m.partner,
                            json={"name": "X", "template": "Entry User", "licences": -1, "allowed_phone_types": ["fax"]})
    assert {e["field"] for e in bad_types.json()["errors"]} == {"licences", "allowed_phone_types[0]"}

    user_id = m.new_user("Entry")
    entry = client.get(m.url(f"/mivb/service-categories/{m.categories['Entry']}"), headers=m.admin).json()
    assert (entry["licences_used"], entry["licences_left"]) == (1, 2)
    below = client.patch(m.url(f"/mivb/service-categories/{m.categories['Entry']}"), headers=m.partner,
                         json={"licences": 0})
    assert below.status_code == 409 and below.json()["errors"][0]["code"] == "licences_in_use"
    assert below.json()["errors"][0]["message"] == (  # was "1 users have this category: …"
        "Users with this category: 1. The licence count cannot go below that.")
    narrow = client.patch(m.url(f"/mivb/service-categories/{m.categories['Entry']}"), headers=m.partner,
                          json={"allowed_phone_types": ["desk_phone"]})
    assert narrow.status_code == 409 and narrow.json()["errors"][0]["code"] == "phone_type_in_use"
    in_use = client.delete(m.url(f"/mivb/service-categories/{m.categories['Entry']}"), headers=m.partner)
    assert in_use.status_code == 409 and in_use.json()["errors"][0]["code"] == "category_in_use"
    # a template change does not rewrite the user who has the category
    client.patch(m.url(f"/mivb/service-categories/{m.categories['Entry']}"), headers=m.partner,
                 json={"template": "Premium User"})
    assert client.get(m.user_url(user_id, "/mivb"), headers=m.admin).json()["template"] == "Entry User"
    unused = client.delete(m.url(f"/mivb/service-categories/{m.categories['Premium']}"), headers=m.partner)
    assert unused.status_code == 204


def test_addon_licences(client, mivb_account):
    m = mivb_account
    assert client.get(m.url("/mivb/licences"), headers=m.admin).json() == {
        "ehdu": 2, "acd_agent": 2, "ehdu_used": 0, "acd_agent_used": 0}
    assert client.put(m.url("/mivb/licences"), headers=m.admin, json={"ehdu": 9, "acd_agent": 9}).status_code == 403


def test_deleting_a_configured_account_removes_everything(client, mivb_account):
    m = mivb_account
    m.new_user("Premium")
    assert client.delete(m.url(""), headers=m.partner).status_code == 204
    assert client.get(m.url(""), headers=m.partner).status_code == 404


def test_connecting_a_gateway_another_account_uses_is_pbx_in_use(client, mivb_account, tenant_b, login, sim):
    """Finding 1: two accounts on one gateway must be on purpose."""
    other = login(tenant_b.partner_admin.email)
    url = f"/api/v1/accounts/{tenant_b.account.id}/mivb/connection"
    body = {"url": sim.url + "/", "username": SIM_AUTH[0], "password": SIM_AUTH[1]}
    refused = client.put(url, headers=other, json=body)
    assert refused.status_code == 409 and refused.json()["errors"][0]["code"] == "pbx_in_use"
    assert mivb_account.account_id not in refused.text  # the other account is not named
    shared = client.put(url, headers=other, json={**body, "shared": True})
    assert shared.status_code == 200 and shared.json()["shared"] is True
