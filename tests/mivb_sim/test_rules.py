"""The PBX rules of switchboard.mivb_sim.state, exercised without HTTP."""

import json

import pytest
from pydantic import ValidationError

from switchboard.mivb_sim import defaults
from switchboard.mivb_sim.schema import FaultsIn, SeedIn, UserIn
from switchboard.mivb_sim.state import Pbx, SeedError


def user(*phones, **fields):
    body = {"first_name": "Ann", "last_name": "Lee", "template": "Telephony User", "phones": list(phones)}
    body.update(fields)
    return UserIn.model_validate(body)


def desk(key, dn, **fields):
    return {"key": key, "type": "desk_phone", "dn": dn, "model": "6920", **fields}


def sip(key, dn, **fields):
    return {"key": key, "type": "generic_sip", "dn": dn, "sip": {"username": dn, "password": "s3cret!"}, **fields}


def hot(key, dn, **fields):
    return {"key": key, "type": "hot_desk", "dn": dn, **fields}


def codes(result):
    return [e.code for e in result.errors]


@pytest.fixture
def pbx():
    return Pbx()


def small_pbx(**seed):
    return Pbx(SeedIn.model_validate(seed))


# ----- numbers ----------------------------------------------------------------------


@pytest.mark.parametrize("dn", ["1", "2001", "1234567", "*72001", "#12", "*#*#123", "9*1"])
def test_valid_dns_are_applied(pbx, dn):
    result = pbx.put_user("u1", user(desk("p1", dn)))
    assert result.errors == []
    assert result.user["phones"][0]["dn"] == dn


@pytest.mark.parametrize("dn", ["", "12345678", "*****1", "20a1", "200*", "#", "+2001", " 2001"])
def test_invalid_dns_are_rejected(pbx, dn):
    result = pbx.put_user("u1", user(desk("p1", dn)))
    assert codes(result) == ["dn_invalid"]
    assert result.errors[0].field == "phones[0].dn"
    assert result.errors[0].phone == "p1"


def test_reserved_dn_and_other_users_dn_are_taken(pbx):
    pbx.put_user("u1", user(desk("p1", "2001")))
    result = pbx.put_user("u2", user(desk("a", "1000"), desk("b", "2001"), desk("c", "2002")))
    assert [(r.phone, r.status) for r in result.results] == [("a", "rejected"), ("b", "rejected"), ("c", "applied")]
    assert codes(result) == ["dn_in_use", "dn_in_use"]
    assert [p["dn"] for p in result.user["phones"]] == ["2002"]


def test_same_dn_twice_in_one_user_rejects_the_second(pbx):
    result = pbx.put_user("u1", user(desk("p1", "2001"), desk("p2", "2001")))
    assert [(r.phone, r.status) for r in result.results] == [("p1", "applied"), ("p2", "rejected")]
    assert result.errors[0].field == "phones[1].dn"


def test_dns_can_be_swapped_between_phones_of_a_user(pbx):
    pbx.put_user("u1", user(desk("p1", "2001"), desk("p2", "2002")))
    result = pbx.put_user("u1", user(desk("p1", "2002"), desk("p2", "2001")))
    assert result.errors == []
    assert [p["dn"] for p in result.user["phones"]] == ["2002", "2001"]


def test_rejected_phone_keeps_its_old_dn_so_a_swap_partner_is_refused(pbx):
    pbx.put_user("u1", user(desk("p1", "2001"), desk("p2", "2002")))
    # p2 moves to 2001 with a bad model: rejected, it keeps 2002, so p1 cannot take 2002.
    result = pbx.put_user("u1", user(desk("p1", "2002"), desk("p2", "2001", model="9999")))
    assert {r.phone: r.status for r in result.results} == {"p1": "rejected", "p2": "rejected"}
    assert sorted(codes(result)) == ["dn_in_use", "unknown_model"]
    assert [p["dn"] for p in pbx.get_user("u1")["phones"]] == ["2001", "2002"]


@pytest.mark.parametrize("did,code", [("+33123", "did_invalid"), ("0123456789", "did_invalid"),
                                      ("+1234567890123456", "did_invalid")])
def test_did_must_be_e164(pbx, did, code):
    assert codes(pbx.put_user("u1", user(desk("p1", "2001", did=did)))) == [code]


def test_did_is_unique_and_listed_as_a_route(pbx):
    pbx.put_user("u1", user(desk("p1", "2001", did="+33140000001")))
    result = pbx.put_user("u2", user(desk("p1", "2002", did="+33140000001")))
    assert codes(result) == ["did_in_use"]
    assert pbx.sim_state()["did_routes"] == [{"did": "+33140000001", "dn": "2001", "user_key": "u1", "phone": "p1"}]


def test_mac_is_normalised_validated_and_unique(pbx):
    first = pbx.put_user("u1", user(desk("p1", "2001", mac="0800aabbccdd")))
    assert first.user["phones"][0]["mac"] == "0800AABBCCDD"
    assert codes(pbx.put_user("u2", user(desk("p1", "2002", mac="0800AABBCCDD")))) == ["mac_in_use"]
    assert codes(pbx.put_user("u3", user(desk("p1", "2003", mac="08:00:aa:bb:cc:dd")))) == ["mac_invalid"]


# ----- phone types ------------------------------------------------------------------


def test_desk_phone_needs_a_desk_model(pbx):
    result = pbx.put_user("u1", user(desk("p1", "2001", model="Generic SIP Phone"), desk("p2", "2002", model=None)))
    assert codes(result) == ["unknown_model", "unknown_model"]


def test_generic_sip_gets_the_generic_model_and_needs_credentials(pbx):
    ok = pbx.put_user("u1", user(sip("p1", "2001")))
    assert ok.user["phones"][0]["model"] == "Generic SIP Phone"
    assert ok.user["phones"][0]["sip"] == {"username": "2001", "password": "s3cret!"}
    missing = pbx.put_user("u2", user({"key": "p1", "type": "generic_sip", "dn": "2002"}))
    assert codes(missing) == ["sip_required"]


def test_hot_desk_has_no_device_fields_and_only_it_has_hot_desk_options(pbx):
    result = pbx.put_user("u1", user(hot("h", "2001", model="6920", mac="0800AABBCCDD"),
                                     desk("d", "2002", acd_agent=True, external_phone={"number": "+33600000001"})))
    assert [(e.phone, e.field, e.code) for e in result.errors] == [
        ("h", "phones[0].model", "field_not_allowed"),
        ("h", "phones[0].mac", "field_not_allowed"),
        ("d", "phones[1].acd_agent", "field_not_allowed"),
        ("d", "phones[1].external_phone", "field_not_allowed"),
    ]


@pytest.mark.parametrize("external", [{}, {"number": None}, {"number": ""}, {"number": "0600000001"}])
def test_external_hot_desk_needs_an_e164_number(pbx, external):
    result = pbx.put_user("u1", user(hot("h", "2001", external_phone=external)))
    assert codes(result) == ["ehdu_number_required"]
    assert result.errors[0].field == "phones[0].external_phone.number"


def test_advanced_defaults_come_from_the_template_and_are_checked(pbx):
    ok = pbx.put_user("u1", user(desk("p1", "2001", advanced={"cos_night1": 7, "language": "fr"})))
    assert ok.user["phones"][0]["advanced"] == {
        "cos_day": 2, "cos_night1": 7, "cos_night2": 2, "cor_day": 2, "cor_night1": 2, "cor_night2": 2,
        "language": "fr",
    }
    bad = pbx.put_user("u2", user(desk("p1", "2002", advanced={"cos_day": 99, "cor_night2": 0, "language": "de"})))
    assert [(e.code, e.field) for e in bad.errors] == [
        ("unknown_cos", "phones[0].advanced.cos_day"),
        ("unknown_cor", "phones[0].advanced.cor_night2"),
        ("unknown_language", "phones[0].advanced.language"),
    ]


# ----- user level: all or nothing ---------------------------------------------------


@pytest.mark.parametrize("fields,code,field", [
    ({"template": "Gold"}, "unknown_template", "template"),
    ({"group": "Nope"}, "unknown_group", "group"),
    ({"location": "Mars"}, "unknown_location", "location"),
    ({"department": "Nope"}, "unknown_department", "department"),
    ({"user_pin": "12a4"}, "pin_invalid", "user_pin"),
    ({"user_pin": "123456789"}, "pin_invalid", "user_pin"),
    ({"first_name": "  "}, "name_required", "first_name"),
    ({"email": "not-an-address"}, "email_invalid", "email"),
])
def test_user_level_error_refuses_the_whole_put(pbx, fields, code, field):
    pbx.put_user("u1", user(desk("p1", "2001"), user_pin="1234"))
    before = pbx.snapshot()
    result = pbx.put_user("u1", user(desk("p1", "2005"), desk("p2", "2006"), **{"user_pin": "1234", **fields}))
    assert [(e.code, e.field) for e in result.errors] == [(code, field)]
    assert result.results == [] and not result.changed
    assert pbx.snapshot() == before


def test_more_than_eight_phones_is_refused(pbx):
    result = pbx.put_user("u1", user(*[desk(f"p{i}", f"20{i:02}") for i in range(9)]))
    assert codes(result) == ["too_many_phones"]
    assert pbx.get_user("u1") is None


def test_empty_pin_is_allowed(pbx):
    assert pbx.put_user("u1", user(user_pin="")).errors == []


# ----- PUT semantics ----------------------------------------------------------------


def test_rejected_phone_keeps_previous_configuration_and_absent_phones_are_removed(pbx):
    pbx.put_user("u1", user(desk("p1", "2001"), desk("p2", "2002"), desk("p3", "2003")))
    result = pbx.put_user("u1", user(desk("p1", "2011"), desk("p2", "bad"), desk("p4", "bad")))
    assert [(r.phone, r.status) for r in result.results] == [
        ("p1", "applied"), ("p2", "rejected"), ("p4", "rejected"), ("p3", "removed")]
    assert [(p["key"], p["dn"]) for p in pbx.get_user("u1")["phones"]] == [("p1", "2011"), ("p2", "2002")]


def test_same_state_twice_changes_nothing(pbx):
    desired = user(desk("p1", "2001", voicemail=True, did="+33140000001"), hot("h1", "2002", acd_agent=True))
    first = pbx.put_user("u1", desired)
    revision = pbx.revision
    second = pbx.put_user("u1", desired)
    assert first.changed and not second.changed
    assert second.user == first.user
    assert pbx.revision == revision
    assert [entry["op"] for entry in pbx.log] == ["create_user"]


def test_get_output_can_be_put_back_unchanged(pbx):
    stored = pbx.put_user("u1", user(desk("p1", "2001", voicemail=True))).user
    again = pbx.put_user("u1", UserIn.model_validate(stored))
    assert not again.changed and again.errors == []


def test_voicemail_box_is_kept_for_the_same_dn_and_recreated_on_dn_change(pbx):
    box = pbx.put_user("u1", user(desk("p1", "2001", voicemail=True))).user["phones"][0]["voicemail_box"]
    assert box == {"box_id": 1, "dn": "2001"}
    renamed = pbx.put_user("u1", user(desk("p1", "2001", voicemail=True), first_name="Anna"))
    assert renamed.user["phones"][0]["voicemail_box"] == box
    moved = pbx.put_user("u1", user(desk("p1", "2009", voicemail=True)))
    assert moved.user["phones"][0]["voicemail_box"] == {"box_id": 2, "dn": "2009"}
    off = pbx.put_user("u1", user(desk("p1", "2009", voicemail=False)))
    assert off.user["phones"][0]["voicemail_box"] is None
    assert pbx.sim_state()["voicemail_boxes"] == []


def test_delete_removes_user_and_frees_numbers(pbx):
    pbx.put_user("u1", user(desk("p1", "2001", did="+33140000001", voicemail=True)))
    assert pbx.delete_user("u1") is True
    assert pbx.delete_user("u1") is False
    state = pbx.sim_state()
    assert state["users"] == [] and state["did_routes"] == [] and state["voicemail_boxes"] == []
    assert pbx.put_user("u2", user(desk("p1", "2001", did="+33140000001"))).errors == []
    assert [(e["op"], e["user_key"]) for e in pbx.log] == [
        ("create_user", "u1"), ("delete_user", "u1"), ("create_user", "u2")]


def test_reject_fault_rejects_only_that_dn(pbx):
    result = pbx.put_user("u1", user(desk("p1", "2001"), desk("p2", "2002")), reject_dn="2002")
    assert [(r.phone, r.status) for r in result.results] == [("p1", "applied"), ("p2", "rejected")]
    assert codes(result) == ["rejected"]


def test_catalog_lists_dns_in_use_sorted(pbx):
    pbx.put_user("u1", user(desk("p1", "2001"), desk("p2", "1500")))
    assert pbx.catalog_view()["dns_in_use"] == ["1000", "1001", "1500", "1999", "2001"]


# ----- licences, capacity, groups ---------------------------------------------------


def test_ehdu_and_acd_licences_refuse_only_new_uses():
    pbx = small_pbx(licences={"ehdu": 1, "acd_agents": 1})
    first = pbx.put_user("u1", user(hot("h1", "2001", acd_agent=True, external_phone={"number": "+33600000001"})))
    assert first.errors == []
    again = pbx.put_user("u1", user(hot("h1", "2001", acd_agent=True, external_phone={"number": "+33600000002"})))
    assert again.errors == []
    second = pbx.put_user("u2", user(hot("h1", "2002", acd_agent=True, external_phone={"number": "+33600000003"})))
    assert [(e.code, e.field, e.licence) for e in second.errors] == [
        ("licence_exhausted", "phones[0].external_phone", "ehdu"),
        ("licence_exhausted", "phones[0].acd_agent", "acd_agents"),
    ]
    licences = pbx.system_info()["licences"]
    assert licences["ehdu"] == {"total": 1, "used": 1} and licences["acd_agents"] == {"total": 1, "used": 1}


def test_ip_user_licence_and_user_capacity_refuse_new_users_only():
    pbx = small_pbx(licences={"ip_users": 1})
    assert pbx.put_user("u1", user()).errors == []
    assert pbx.put_user("u1", user(first_name="Changed")).errors == []
    refused = pbx.put_user("u2", user())
    assert [(e.code, e.licence) for e in refused.errors] == [("licence_exhausted", "ip_users")]
    full = small_pbx(capacity={"users": 1})
    full.put_user("u1", user())
    assert codes(full.put_user("u2", user())) == ["capacity_users"]


def test_device_capacity_refuses_new_phones():
    pbx = small_pbx(capacity={"devices": 2})
    pbx.put_user("u1", user(desk("p1", "2001")))
    result = pbx.put_user("u2", user(desk("p1", "2002"), desk("p2", "2003")))
    assert [(r.phone, r.status) for r in result.results] == [("p1", "applied"), ("p2", "rejected")]
    assert [(e.code, e.field) for e in result.errors] == [("capacity_devices", "phones[1]")]
    assert pbx.system_info()["usage"] == {"users": 2, "devices": 2}


def test_mdu_licence_is_taken_by_joining_an_mdug():
    pbx = small_pbx(licences={"mdu": 1})
    assert pbx.put_user("u1", user(group="Executive MDUG")).errors == []
    assert pbx.put_user("u1", user(group="Executive MDUG", first_name="Again")).errors == []
    refused = pbx.put_user("u2", user(group="Executive MDUG"))
    assert [(e.code, e.field, e.licence) for e in refused.errors] == [("licence_exhausted", "group", "mdu")]
    assert pbx.system_info()["licences"]["mdu"]["used"] == 1


def test_group_holds_at_most_eight_phones_over_all_its_users(pbx):
    pbx.put_user("u1", user(*[desk(f"p{i}", f"210{i}") for i in range(5)], group="Sales PRG"))
    refused = pbx.put_user("u2", user(*[desk(f"p{i}", f"220{i}") for i in range(4)], group="Sales PRG"))
    assert [(e.code, e.field) for e in refused.errors] == [("group_full", "group")]
    assert pbx.put_user("u2", user(*[desk(f"p{i}", f"220{i}") for i in range(3)], group="Sales PRG")).errors == []


def test_external_twin_group_needs_one_device_and_one_external_phone(pbx):
    twin = "Mobile Twin MDUG"
    external = hot("h", "2002", external_phone={"number": "+33600000001"})
    assert pbx.put_user("u1", user(sip("s", "2001"), external, group=twin)).errors == []
    for phones in ([sip("s", "2001")], [sip("s", "2001"), hot("h", "2002")], [desk("d", "2003"), sip("s", "2001")]):
        result = pbx.put_user("u1", user(*phones, group=twin))
        assert codes(result) == ["group_twin_invalid"]
    other = pbx.put_user("u2", user(desk("d", "2005"), hot("h", "2006", external_phone={"number": "+33600000002"}),
                                    group=twin))
    assert codes(other) == ["group_twin_invalid"]


# ----- seed, state file, reset ------------------------------------------------------


def test_seed_replaces_parts_and_seed_users_are_applied():
    pbx = small_pbx(system={"name": "Lab"}, catalog={"locations": ["Head Office", "Paris", "Berlin"]},
                    users=[{"user_key": "s1", **user(desk("p1", "2001", voicemail=True)).model_dump(
                        exclude={"user_key"})}])
    assert pbx.system_info()["name"] == "Lab" and pbx.system_info()["version"] == "10.1.0.0"
    assert pbx.catalog_view()["locations"] == ["Head Office", "Paris", "Berlin"]
    assert pbx.get_user("s1")["phones"][0]["voicemail_box"]["box_id"] == 1


def test_seeded_templates_keep_their_nulls():
    templates = [{**t, "location": None} for t in defaults.CATALOG["templates"]]
    pbx = small_pbx(catalog={"templates": templates})
    assert pbx.catalog_view()["templates"] == templates
    assert pbx.put_user("u1", user(hot("h", "2001"), template="Hot Desk Agent")).errors == []


def test_invalid_seed_user_or_template_is_refused():
    with pytest.raises(SeedError, match="s1"):
        small_pbx(users=[{"user_key": "s1", "first_name": "A", "last_name": "B", "template": "Nope"}])
    with pytest.raises(SeedError, match="Entry User"):
        small_pbx(catalog={"languages": ["de"]})
    with pytest.raises(ValidationError):
        SeedIn.model_validate({"users": [{"first_name": "A", "last_name": "B", "template": "Entry User"}]})


def test_state_file_survives_a_restart(tmp_path):
    path = tmp_path / "pbx.json"
    pbx = Pbx(state_file=path)
    pbx.put_user("u1", user(desk("p1", "2001", voicemail=True)))
    assert json.loads(path.read_text())["users"][0]["user_key"] == "u1"
    assert [p.name for p in tmp_path.iterdir()] == ["pbx.json"]  # no temporary file left behind

    restarted = Pbx(state_file=path)
    assert restarted.get_user("u1") == pbx.get_user("u1")
    assert restarted.revision == pbx.revision
    moved = restarted.put_user("u1", user(desk("p1", "2002", voicemail=True)))
    assert moved.user["phones"][0]["voicemail_box"]["box_id"] == 2  # counter survived too


def test_unreadable_state_file_is_refused(tmp_path):
    path = tmp_path / "pbx.json"
    path.write_text("{not json")
    with pytest.raises(SeedError, match="state file"):
        Pbx(state_file=path)


def test_reset_restores_seed_and_keeps_revision_counting(tmp_path):
    pbx = Pbx(SeedIn.model_validate({"licences": {"ehdu": 3}}), state_file=tmp_path / "s.json")
    pbx.put_user("u1", user(desk("p1", "2001")))
    revision = pbx.revision
    pbx.reset()
    assert pbx.list_users() == []
    assert pbx.system_info()["licences"]["ehdu"]["total"] == 3
    assert pbx.revision == revision + 1
    assert pbx.log == [{"seq": revision + 1, "op": "reset", "user_key": None}]
    assert json.loads((tmp_path / "s.json").read_text())["users"] == []


def seed_user(key, *phones, **fields):
    return {"user_key": key, **user(*phones, **fields).model_dump(exclude={"user_key"}, exclude_none=True)}


def test_seed_users_are_not_logged_and_reset_logs_only_itself():
    pbx = small_pbx(users=[seed_user("s1", desk("p1", "2001")), seed_user("s2", desk("p1", "2002"))])
    assert [u["user_key"] for u in pbx.list_users()] == ["s1", "s2"]
    assert pbx.revision == 0 and pbx.log == []
    pbx.put_user("u1", user(desk("p1", "2003")))
    pbx.reset()
    assert [u["user_key"] for u in pbx.list_users()] == ["s1", "s2"]
    assert pbx.log == [{"seq": 2, "op": "reset", "user_key": None}]


def test_seed_user_keys_must_be_unique():
    with pytest.raises(ValidationError, match="more than once"):
        SeedIn.model_validate({"users": [seed_user("s1"), seed_user("s1")]})


def test_seed_users_are_checked_against_each_other():
    with pytest.raises(SeedError, match="s2.*2001 is already in use"):
        small_pbx(users=[seed_user("s1", desk("p1", "2001")), seed_user("s2", desk("p1", "2001"))])
    with pytest.raises(SeedError, match="s3.*Multi-Device User"):
        small_pbx(licences={"mdu": 2}, users=[seed_user(f"s{i}", group="Executive MDUG") for i in (1, 2, 3)])
    with pytest.raises(SeedError, match="s2.*ACD agent"):
        small_pbx(licences={"acd_agents": 1},
                  users=[seed_user(f"s{i}", hot("h", f"200{i}", acd_agent=True)) for i in (1, 2)])


def over_limit_prg(legacy=True):
    """Support PRG seeded with 10 phones over three users."""
    return small_pbx(legacy_group_limits=legacy, users=[
        seed_user("s1", *[desk(f"p{i}", f"210{i}") for i in range(4)], group="Support PRG"),
        seed_user("s2", *[desk(f"p{i}", f"220{i}") for i in range(4)], group="Support PRG"),
        seed_user("s3", desk("p0", "2300"), sip("p1", "2301"), group="Support PRG"),
    ])


def test_group_limit_applies_to_seeds_unless_legacy():
    with pytest.raises(SeedError, match="s3.*Support PRG.*would have 10"):
        over_limit_prg(legacy=False)
    pbx = over_limit_prg()
    assert [len(u["dns"]) for u in pbx.list_users() if u["group"] == "Support PRG"] == [4, 4, 2]
    assert pbx.log == []


def test_legacy_limit_escape_does_not_relax_other_seed_rules():
    with pytest.raises(SeedError, match="group_twin|External twin"):
        small_pbx(legacy_group_limits=True, users=[seed_user("s1", desk("p1", "2001"), group="Mobile Twin MDUG")])
    with pytest.raises(SeedError, match="at most 8 phones"):
        small_pbx(legacy_group_limits=True,
                  users=[seed_user("s1", *[desk(f"p{i}", f"210{i}") for i in range(9)], group="Support PRG")])


def test_over_limit_group_cannot_grow_but_its_members_can_change_or_leave():
    pbx = over_limit_prg()
    grow = pbx.put_user("s3", user(desk("p0", "2300"), sip("p1", "2301"), desk("p2", "2302"), group="Support PRG"))
    assert [(e.code, e.field) for e in grow.errors] == [("group_full", "group")]
    newcomer = pbx.put_user("u1", user(desk("p0", "2400"), group="Support PRG"))
    assert codes(newcomer) == ["group_full"]
    # same members, other settings: allowed (a MiVB does not re-check members it already has)
    assert pbx.put_user("s3", user(desk("p0", "2300"), sip("p1", "2301"), group="Support PRG",
                                   user_pin="1234")).errors == []
    # shrinking is allowed, and the group still cannot grow back past the limit
    assert pbx.put_user("s3", user(desk("p0", "2300"), group="Support PRG")).errors == []
    assert codes(pbx.put_user("s3", user(desk("p0", "2300"), sip("p1", "2301"), group="Support PRG"))) == [
        "group_full"]
    assert pbx.put_user("s3", user(desk("p0", "2300"), group=None)).errors == []
    assert codes(pbx.put_user("s3", user(desk("p0", "2300"), group="Support PRG"))) == ["group_full"]  # rejoining grows
    assert pbx.revision == 3 and [e["op"] for e in pbx.log] == ["update_user"] * 3


# ----- shapes -----------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    {"first_name": "A", "last_name": "B"},
    {"first_name": "A", "last_name": "B", "template": "Entry User", "phones": [{"key": "p", "type": "fax", "dn": "1"}]},
    {"first_name": "A", "last_name": "B", "template": "Entry User", "colour": "red"},
    {"first_name": "A", "last_name": "B", "template": "Entry User",
     "phones": [{"key": "p", "type": "desk_phone", "dn": 2001}]},
    {"first_name": "A", "last_name": "B", "template": "Entry User",
     "phones": [{"key": "p", "type": "hot_desk", "dn": "1"}, {"key": "p", "type": "hot_desk", "dn": "2"}]},
])
def test_malformed_user_bodies_fail_validation(body):
    with pytest.raises(ValidationError):
        UserIn.model_validate(body)


@pytest.mark.parametrize("body", [{"error_rate": 1.5}, {"latency_ms": -1}, {"down": "yes"}, {"reject": {"dn": ""}},
                                  {"explode": True}, {"error_rate": float("nan")}])
def test_bad_fault_values_fail_validation(body):
    with pytest.raises(ValidationError):
        FaultsIn.model_validate(body)
