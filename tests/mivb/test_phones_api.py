"""Phones through the API: each type, numbers, limits, licences, secrets, concurrency."""

from __future__ import annotations

from switchboard.sync.worker import RetryPolicy, Worker


def phones_url(m, user_id, phone_id=""):
    return m.user_url(user_id, "/mivb/phones" + (f"/{phone_id}" if phone_id else ""))


def add(client, m, user_id, **body):
    return client.post(phones_url(m, user_id), headers=m.admin, json=body)


def test_each_phone_type_end_to_end_on_the_simulator(client, app, session_factory, mivb_account, sim_api):
    """The issue's end-to-end: product, category, programming, a desk phone, a generic SIP
    phone and a hot desk with ACD agent and external phone; the PBX then holds exactly that."""
    m = mivb_account
    user_id = m.new_user()
    client.post(m.user_url(user_id, "/products"), headers=m.admin, json={"product": "mivb"})
    config = client.put(m.user_url(user_id, "/mivb/service"), headers=m.admin,
                        json={"service_category": m.categories["Entry"]}).json()
    client.patch(m.user_url(user_id, "/mivb"), headers=m.admin,
                 json={"programming": {"user_pin": "4821", "location": "Lyon", "department": "Support"}})
    desk = add(client, m, user_id, type="desk_phone", model="6940", mac="08:00:0f:aa:bb:cc",
               advanced={"cos_day": 3, "cor_night1": 4, "language": "fr"})
    assert desk.status_code == 201, desk.text
    sip = add(client, m, user_id, type="generic_sip", voicemail=True)
    hot = add(client, m, user_id, type="hot_desk", acd_agent=True, external_phone={"number": "+33612345678"})
    assert sip.status_code == hot.status_code == 201, hot.text
    password = sip.json()["sip"]["password"]
    assert len(password) >= 16 and password != "****"  # shown this once

    Worker(session_factory, app.state.runtime, retry=RetryPolicy(0.01, 0.02, 3)).run_once()

    expected = client.get(m.user_url(user_id, "/mivb?reveal=true"), headers=m.admin).json()
    assert expected["sync"]["state"] == "synced"
    assert {p["sync"]["state"] for p in expected["phones"]} == {"synced"}
    on_pbx = {u["user_key"]: u for u in sim_api.get("/_sim/state").json()["users"]}[user_id]
    assert (on_pbx["user_pin"], on_pbx["location"], on_pbx["department"], on_pbx["template"]) == (
        "4821", "Lyon", "Support", "Entry User")
    pbx_phones = {p["key"]: p for p in on_pbx["phones"]}
    assert set(pbx_phones) == {p["id"] for p in expected["phones"]}
    for phone in expected["phones"]:
        got = pbx_phones[phone["id"]]
        for field in ("type", "dn", "did", "voicemail", "acd_agent", "external_phone"):
            assert got[field] == phone[field], field
        assert got["sip"] == phone["sip"]
        assert {k: v for k, v in got["advanced"].items()} == phone["advanced"]
    desk_on_pbx = pbx_phones[desk.json()["id"]]
    assert (desk_on_pbx["model"], desk_on_pbx["mac"]) == ("6940", "08000FAABBCC")
    assert desk_on_pbx["advanced"]["cos_day"] == 3 and desk_on_pbx["advanced"]["language"] == "fr"
    hot_on_pbx = pbx_phones[hot.json()["id"]]
    assert hot_on_pbx["acd_agent"] is True and hot_on_pbx["external_phone"] == {"number": "+33612345678"}
    profiles = sim_api.get("/_sim/state").json()["hot_desk_profiles"]
    assert any(p["external_number"] == "+33612345678" and p["acd_agent"] for p in profiles)
    assert len(config["phones"]) == 1  # Entry's template brought a generic SIP phone of its own
    assert len(on_pbx["phones"]) == 4


def test_explicit_numbers_are_checked(client, mivb_account):
    m = mivb_account
    user_id = m.new_user("Entry")
    taken = client.get(m.user_url(user_id, "/mivb"), headers=m.admin).json()["phones"][0]["dn"]
    dup = add(client, m, user_id, type="desk_phone", dn=taken)
    assert dup.status_code == 409 and dup.json()["errors"][0] == {
        "code": "dn_taken", "field": "dn", "message": f"DN {taken} is already in use."}
    outside = add(client, m, user_id, type="desk_phone", dn="3999")
    assert outside.status_code == 422 and outside.json()["errors"][0]["code"] == "dn_out_of_range"
    chosen = add(client, m, user_id, type="desk_phone", dn="2040")
    assert chosen.status_code == 201 and chosen.json()["dn"] == "2040" and chosen.json()["did"] is None
    mapped = add(client, m, user_id, type="desk_phone", dn="2010")
    assert mapped.json()["did"] == "+33140000010"
    no_did = add(client, m, user_id, type="desk_phone", dn="2011", did=None)
    assert no_did.json()["did"] is None


def test_mac_validation_and_uniqueness(client, mivb_account):
    m = mivb_account
    user_id = m.new_user("Telephony")
    bad = add(client, m, user_id, type="desk_phone", mac="zz:00")
    assert bad.status_code == 422 and bad.json()["errors"][0]["code"] == "invalid_mac"
    assert add(client, m, user_id, type="desk_phone", mac="08-00-0F-11-22-33").json()["mac"] == "08000F112233"
    other = m.new_user("Telephony")
    dup = add(client, m, other, type="desk_phone", mac="08000f112233")
    assert dup.status_code == 409 and dup.json()["errors"][0]["code"] == "mac_taken"
    on_hot_desk = add(client, m, other, type="hot_desk", mac="08000f445566", model="6920")
    assert {e["code"] for e in on_hot_desk.json()["errors"]} == {"field_not_allowed"}
    acd_on_desk = add(client, m, other, type="desk_phone", acd_agent=True)
    assert acd_on_desk.json()["errors"][0]["field"] == "acd_agent"


def test_eight_phones_at_most(client, mivb_account):
    m = mivb_account
    user_id = m.new_user("Entry")  # one phone from the template
    for _ in range(7):
        assert add(client, m, user_id, type="hot_desk").status_code == 201
    ninth = add(client, m, user_id, type="hot_desk")
    assert ninth.status_code == 409 and ninth.json()["errors"][0]["code"] == "too_many_phones"


def test_addon_licences_are_counted(client, mivb_account):
    m = mivb_account
    user_id = m.new_user("Entry")
    for n in range(2):
        assert add(client, m, user_id, type="hot_desk", external_phone={"number": f"+3361234567{n}"},
                   acd_agent=True).status_code == 201
    ehdu = add(client, m, user_id, type="hot_desk", external_phone={"number": "+33612345679"})
    assert ehdu.status_code == 409
    assert ehdu.json()["errors"][0] == {"code": "licence_exhausted", "field": "external_phone",
                                        "message": "No external hot desk (EHDU) licence is left (2 in use)."}
    acd = add(client, m, user_id, type="hot_desk", acd_agent=True)
    assert acd.json()["errors"][0]["field"] == "acd_agent"
    bad_number = add(client, m, user_id, type="hot_desk", external_phone={"number": "0612"})
    assert bad_number.status_code == 422 and bad_number.json()["errors"][0]["field"] == "external_phone.number"


def test_category_limits_phone_types(client, mivb_account):
    m = mivb_account
    user_id = m.new_user("Desk only")
    refused = add(client, m, user_id, type="generic_sip")
    assert refused.status_code == 422 and refused.json()["errors"][0]["code"] == "phone_type_not_allowed"


def test_advanced_values_come_from_the_catalogue(client, mivb_account):
    m = mivb_account
    user_id = m.new_user("Telephony")
    bad = add(client, m, user_id, type="desk_phone", model="9999", advanced={"cos_day": 77, "cor_day": 99,
                                                                            "language": "xx"})
    assert {e["code"] for e in bad.json()["errors"]} == {"unknown_model", "unknown_cos", "unknown_cor",
                                                          "unknown_language"}


def test_sip_password_is_masked_unless_revealed_and_each_reveal_logged(client, mivb_account):
    m = mivb_account
    user_id = m.new_user("Entry")
    phone = client.get(m.user_url(user_id, "/mivb"), headers=m.admin).json()["phones"][0]
    assert phone["type"] == "generic_sip" and phone["sip"]["password"] == "****"
    url = phones_url(m, user_id, phone["id"])
    revealed = client.get(url + "?reveal=true", headers=m.admin).json()
    assert revealed["sip"]["password"] != "****"
    entries = client.get(m.url(f"/audit?object_id={user_id}"), headers=m.admin).json()["items"]
    assert entries[0]["action"] == "reveal" and "SIP password" in entries[0]["object_repr"]
    assert revealed["sip"]["password"] not in str(client.get(m.url("/audit?limit=500"), headers=m.admin).json())


def test_change_and_delete_a_phone(client, mivb_account):
    m = mivb_account
    user_id = m.new_user("Telephony")
    phone = client.get(m.user_url(user_id, "/mivb"), headers=m.admin)
    desk = phone.json()["phones"][0]
    url = phones_url(m, user_id, desk["id"])
    etag = client.get(url, headers=m.admin).headers["etag"]
    moved = client.patch(url, headers={**m.admin, "If-Match": etag}, json={"dn": "2030", "confirm_dn_change": True, "voicemail": False,
                                                                           "advanced": {"cos_night2": 5}})
    assert moved.status_code == 200
    assert (moved.json()["dn"], moved.json()["voicemail"], moved.json()["advanced"]["cos_night2"]) == ("2030", False, 5)
    assert client.patch(url, headers={**m.admin, "If-Match": etag}, json={"voicemail": True}).status_code == 412
    available = client.get(m.url(f"/mivb/dn-ranges/{m.dn_range}/available?limit=50"), headers=m.admin).json()["items"]
    assert desk["dn"] in available and "2030" not in available
    assert client.delete(url, headers=m.admin).status_code == 204
    assert client.get(url, headers=m.admin).status_code == 404
    assert "2030" in client.get(m.url(f"/mivb/dn-ranges/{m.dn_range}/available?limit=50"), headers=m.admin).json()["items"]


def test_group_limits(client, mivb_account):
    m = mivb_account
    first = m.new_user("Telephony")
    client.patch(m.user_url(first, "/mivb"), headers=m.admin, json={"programming": {"group": "Sales PRG"}})
    for _ in range(7):
        add(client, m, first, type="hot_desk")
    second = m.new_user("Telephony")
    full = client.patch(m.user_url(second, "/mivb"), headers=m.admin, json={"programming": {"group": "Sales PRG"}})
    assert full.status_code == 409 and full.json()["errors"][0]["code"] == "group_full"
    twin = client.patch(m.user_url(second, "/mivb"), headers=m.admin,
                        json={"programming": {"group": "Mobile Twin MDUG"}})
    assert twin.status_code == 409 and twin.json()["errors"][0]["code"] == "group_twin_invalid"


def test_external_twin_group_holds_a_desk_phone_and_an_external_phone(client, mivb_account):
    m = mivb_account
    user_id = m.new_user("Telephony")  # a desk phone
    url = m.user_url(user_id, "/mivb")
    assert client.patch(url, headers=m.admin, json={"programming": {"group": "Mobile Twin MDUG"}}).status_code == 409
    external = add(client, m, user_id, type="hot_desk", external_phone={"number": "+33611112222"}).json()
    joined = client.patch(url, headers=m.admin, json={"programming": {"group": "Mobile Twin MDUG"}})
    assert joined.status_code == 200, joined.text
    third = add(client, m, user_id, type="hot_desk")
    assert third.status_code == 409 and third.json()["errors"][0]["code"] == "group_twin_invalid"
    kept = client.delete(phones_url(m, user_id, external["id"]), headers=m.admin)
    assert kept.status_code == 409 and kept.json()["errors"][0]["phone_id"] == external["id"]


def test_dns_configured_on_the_pbx_are_never_handed_out(client, mivb_account):
    m = mivb_account
    low = client.post(m.url("/mivb/dn-ranges"), headers=m.partner, json={"start": "1000", "end": "1009"})
    assert low.status_code == 201
    # the catalogue read while setting up says the PBX has 1000 and 1001 already
    ranges = {r["start"]: r for r in client.get(m.url("/mivb/dn-ranges"), headers=m.admin).json()["items"]}
    assert ranges["1000"]["used"] == 2 and ranges["1000"]["free"] == 8
    available = client.get(m.url(f"/mivb/dn-ranges/{low.json()['id']}/available?limit=3"), headers=m.admin).json()
    assert available["items"] == ["1002", "1003", "1004"]
    user_id = m.new_user("Entry")
    taken = add(client, m, user_id, type="hot_desk", dn="1001")
    assert taken.status_code == 409 and taken.json()["errors"][0]["code"] == "dn_taken"


def test_pbx_capacity_is_enforced(client, mivb_account, monkeypatch):
    from switchboard.mivb import limits

    m = mivb_account
    first = m.new_user("Entry")
    monkeypatch.setattr(limits, "CAPACITY_DEVICES", 2)
    assert add(client, m, first, type="hot_desk").status_code == 201
    full = add(client, m, first, type="hot_desk")
    assert full.status_code == 409 and full.json()["errors"][0]["code"] == "capacity_devices"
    monkeypatch.setattr(limits, "CAPACITY_USERS", 1)
    second = m.new_user()
    client.post(m.user_url(second, "/products"), headers=m.admin, json={"product": "mivb"})
    refused = client.put(m.user_url(second, "/mivb/service"), headers=m.admin,
                         json={"service_category": m.categories["Entry"]})
    assert refused.status_code == 409 and refused.json()["errors"][0]["code"] == "capacity_users"


def test_phones_need_a_service_category_first(client, mivb_account):
    m = mivb_account
    user_id = m.new_user()
    assert client.post(phones_url(m, user_id), headers=m.admin, json={"type": "desk_phone"}).status_code == 404
    client.post(m.user_url(user_id, "/products"), headers=m.admin, json={"product": "mivb"})
    refused = add(client, m, user_id, type="desk_phone")
    assert refused.status_code == 409 and refused.json()["errors"][0]["code"] == "not_configured"
    programming = client.patch(m.user_url(user_id, "/mivb"), headers=m.admin, json={"programming": {"location": "Paris"}})
    assert programming.status_code == 409
