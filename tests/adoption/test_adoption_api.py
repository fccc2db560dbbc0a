"""Adoption through the API and the console, on the test account's simulator."""

from __future__ import annotations

from switchboard.jobs.runner import JobRunner
from tests.console.helpers import csrf_from, sign_in


def _legacy(sim_api, key: str, email: str | None, dn: str, first: str = "Legacy", last: str | None = None,
            **extra) -> None:
    body = {"first_name": first, "last_name": last or key, "email": email, "template": "Telephony User",
            "phones": [{"key": "desk", "type": "desk_phone", "dn": dn, "model": "6920", "voicemail": True}], **extra}
    sim_api.put(f"/api/v1/users/{key}", json=body).raise_for_status()


def test_list_then_adopt_through_the_api(client, app, session_factory, mivb_account, sim_api, tenant_a):
    m = mivb_account
    _legacy(sim_api, "OLD-1", tenant_a.user.email.upper(), "2040",  # matches a user by e-mail
            first=tenant_a.user.first_name, last=tenant_a.user.last_name)
    _legacy(sim_api, "OLD-1B", None, "2041")  # a new user, no e-mail
    listing = client.get(m.url("/mivb/adoption"), headers=m.admin)
    assert listing.status_code == 200, listing.text
    body = listing.json()
    items = {i["key"]: i for i in body["items"]}
    assert set(items) == {"OLD-1", "OLD-1B"} and body["managed"] == 0
    assert items["OLD-1"]["match"] is not None and items["OLD-1B"]["match"] is None
    assert items["OLD-1"]["service_category"] in (m.categories["Telephony"], m.categories["Desk only"])
    job = client.post(m.url("/mivb/adoption"), headers=m.admin, json={"keys": ["OLD-1", "OLD-1B"], "mode": "apply"})
    assert job.status_code == 202, job.text
    JobRunner(session_factory, app.state.runtime).run_once()
    done = client.get(f"/api/v1/jobs/{job.json()['id']}", headers=m.admin).json()
    assert done["state"] == "succeeded" and {r["status"] for r in done["result"]["rows"]} == {"adopted"}, done["result"]["rows"]
    config = client.get(m.user_url(tenant_a.user.id, "/mivb"), headers=m.admin).json()
    assert [p["dn"] for p in config["phones"]] == ["2040"] and config["sync"]["state"] == "synced"
    assert client.get(m.url("/mivb/adoption"), headers=m.admin).json()["items"] == []  # managed now
    # the numbers are the account's: counted as used in their range
    ranges = client.get(m.url("/mivb/dn-ranges"), headers=m.admin).json()["items"]
    assert ranges[0]["used"] == 2


def test_adoption_needs_keys_or_all(client, mivb_account):
    refused = client.post(mivb_account.url("/mivb/adoption"), headers=mivb_account.admin, json={"mode": "dry_run"})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "keys"


def test_another_tenant_sees_none_of_it(client, mivb_account, sim_api, tenant_b, login):
    _legacy(sim_api, "SECRET-1", "secret@example.com", "2042")
    intruder = login(tenant_b.partner_admin.email)
    assert client.get(mivb_account.url("/mivb/adoption"), headers=intruder).status_code == 404
    assert client.post(mivb_account.url("/mivb/adoption"), headers=intruder, json={"all": True}).status_code == 404


def test_the_console_page_lists_and_adopts(client, app, session_factory, mivb_account, sim_api, tenant_a):
    _legacy(sim_api, "OLD-2", "someone.new@example.com", "2043")
    sign_in(client, tenant_a.account_admin.email)
    page = client.get(f"/accounts/{mivb_account.account_id}/pbx-users")
    assert page.status_code == 200 and "OLD-2" in page.text and "someone.new@example.com" in page.text
    answer = client.post(f"/accounts/{mivb_account.account_id}/pbx-users/adopt", follow_redirects=False,
                         data={"keys": "OLD-2", "mode": "apply", "csrf_token": csrf_from(page.text)})
    assert answer.status_code == 303 and "/jobs/" in answer.headers["location"]
    JobRunner(session_factory, app.state.runtime).run_once()
    result = client.get(answer.headers["location"])
    assert result.status_code == 200 and "OLD-2" in result.text


def test_a_pbx_that_does_not_answer_is_a_502_with_its_reason(client, mivb_account, sim_api):
    sim_api.post("/_sim/faults", json={"down": True}).raise_for_status()
    response = client.get(mivb_account.url("/mivb/adoption"), headers=mivb_account.admin)
    assert response.status_code == 502 and response.json()["errors"][0]["code"] == "pbx_unreachable"
