"""A DN change must never jam allocation. The account's DID range maps DIDs onto DNs 2000
onwards; a phone moved from one DN to another used to keep its mapped DID, and the next
allocation then picked the freed DN, found its mapped DID taken, and answered 409
did_taken for every later phone (though DNs were free). Now the mapped DID follows the DN,
the allocator skips DNs whose mapped DID is held elsewhere, and a range's free count says
how many numbers a new phone can still get."""

from __future__ import annotations

from tests.console.helpers import post_form, sign_in


def _add(client, m, user_id, **body):
    return client.post(m.user_url(user_id, "/mivb/phones"), headers=m.admin, json=body)


def _phones(client, m, user_id) -> dict[str, dict]:
    return {p["dn"]: p for p in client.get(m.user_url(user_id, "/mivb"), headers=m.admin).json()["phones"]}


def _free(client, m) -> int:
    return client.get(m.url(f"/mivb/dn-ranges/{m.dn_range}"), headers=m.admin).json()["free"]


def test_after_a_dn_change_the_next_allocations_succeed_api(client, mivb_account):
    m = mivb_account
    user_id = m.new_user("Telephony")  # a desk phone on 2000 with +33140000000
    for _ in range(3):
        assert _add(client, m, user_id, type="hot_desk").status_code == 201  # 2001-2003
    moved = _phones(client, m, user_id)["2003"]
    assert moved["did"] == "+33140000003"
    free_before = _free(client, m)
    response = client.patch(m.user_url(user_id, f"/mivb/phones/{moved['id']}"), headers=m.admin,
                            json={"dn": "2030", "confirm_dn_change": True})
    assert response.status_code == 200, response.text
    # 2030 has no mapped DID (the DID range maps 2000-2019) and there is no unmapped range
    assert response.json()["dn"] == "2030" and response.json()["did"] is None
    assert _free(client, m) == free_before  # 2003 came back, 2030 went
    other = m.new_user()
    client.post(m.user_url(other, "/products"), headers=m.admin, json={"product": "mivb"})
    client.put(m.user_url(other, "/mivb/service"), headers=m.admin, json={"service_category": m.categories["Entry"]})
    for _ in range(4):
        assert _add(client, m, other, type="hot_desk").status_code == 201
    got = _phones(client, m, other)
    assert "2003" in got and got["2003"]["did"] == "+33140000003"
    assert all(phone["did"] == f"+3314000{int(dn) - 2000:04d}" for dn, phone in got.items() if int(dn) < 2020)


def test_after_a_dn_change_the_next_allocations_succeed_console(client, mivb_account, tenant_a):
    m = mivb_account
    user_id = m.new_user("Telephony")
    desk = _phones(client, m, user_id)["2000"]
    sign_in(client, tenant_a.account_admin.email)
    page = f"/accounts/{m.account_id}/users/{user_id}"
    saved = post_form(client, page, f"{page}/mivb/phones/{desk['id']}", {
        "dn": "2040", "confirm_dn_change": "on", "voicemail": "on", "version": str(desk["version"])})
    assert saved.status_code == 303, saved.text[:500]
    for expected in ("2000", "2001"):
        added = post_form(client, page, f"{page}/mivb/phones", {"type": "hot_desk"})
        assert added.status_code == 303, added.text[:500]
        assert _phones(client, m, user_id)[expected]["did"] == f"+3314000{int(expected) - 2000:04d}"
