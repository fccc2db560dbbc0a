"""The simulator keeps what its users hold (numbers, licences, devices, group members) up
to date as users come, change and go, instead of counting every user on each PUT (which
made a PUT cost O(users): 10 ms a user on a PBX of 2,500). Whatever the sequence of
writes, the kept tally is the one counted from scratch, and a PUT is refused exactly when
the PBX counted from scratch says so."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.mivb_sim.schema import SeedIn, UserIn
from switchboard.mivb_sim.state import RESERVED, Pbx

DNS = ["2001", "2002", "2003", "2004", "1000"]  # 1000 is reserved by default
DIDS = [None, "+33123456701", "+33123456702"]
MACS = [None, "00085D000001", "00085D000002"]
GROUPS = [None, "Sales PRG", "Executive MDUG"]  # a group, an MDU group (licensed)


def _phone(key: str, kind: str, dn: str, did: str | None, mac: str | None, acd: bool, external: bool) -> dict:
    phone = {"key": key, "type": kind, "dn": dn, "did": did}
    if kind == "desk_phone":
        phone.update(model="6920", mac=mac)
    else:
        phone.update(acd_agent=acd, external_phone={"number": "+33612345678"} if external else None)
    return phone


phones = st.lists(st.builds(_phone, st.sampled_from(["a", "b", "c"]), st.sampled_from(["desk_phone", "hot_desk"]),
                            st.sampled_from(DNS), st.sampled_from(DIDS), st.sampled_from(MACS), st.booleans(),
                            st.booleans()), max_size=3, unique_by=lambda p: p["key"])
writes = st.lists(st.one_of(
    st.tuples(st.just("put"), st.sampled_from(["u1", "u2", "u3"]), phones, st.sampled_from(GROUPS)),
    st.tuples(st.just("delete"), st.sampled_from(["u1", "u2", "u3"]), st.none(), st.none()),
), max_size=12)


def _counted_from_scratch(pbx: Pbx) -> tuple[dict, dict, dict]:
    """What the users hold, counted over all of them (the simulator's former way)."""
    fresh = Pbx.__new__(Pbx)
    fresh.__dict__.update({k: v for k, v in pbx.__dict__.items() if not k.startswith("_h")})
    fresh._rebuild()
    return fresh._held.usage, fresh._held.group_members, fresh._holders


def _seed() -> SeedIn:
    return SeedIn.model_validate({
        "licences": {"ehdu": 2, "acd_agents": 2, "mdu": 2}, "capacity": {"devices": 5}})


@settings(max_examples=150, deadline=None)
@given(writes)
def test_the_kept_tally_is_the_one_counted_from_scratch(steps):
    pbx = Pbx(_seed())
    for op, key, user_phones, group in steps:
        if op == "put":
            body = {"first_name": "Ann", "last_name": "Lee", "template": "Telephony User", "group": group,
                    "phones": user_phones}
            pbx.put_user(key, UserIn.model_validate(body))
        else:
            pbx.delete_user(key)
        usage, members, holders = _counted_from_scratch(pbx)
        assert pbx._held.usage == usage
        assert {g: n for g, n in pbx._held.group_members.items() if n} == {g: n for g, n in members.items() if n}
        assert pbx._holders == holders
        # every number a user holds is known, as that user's; nothing else is
        held = {(kind, value): k for k, u in pbx.users.items() for p in u["phones"]
                for kind, value in [("dn", p["dn"]), ("did", p["did"]), ("mac", p["mac"])] if value is not None}
        assert {n: h for n, h in pbx._holders.items() if h != RESERVED} == held


def test_a_user_is_checked_against_everyone_else_and_not_against_itself():
    pbx = Pbx()
    desk = {"key": "p", "type": "desk_phone", "dn": "2001", "model": "6920", "mac": "00085D000001"}
    first = {"first_name": "Ann", "last_name": "Lee", "template": "Telephony User", "phones": [desk]}
    assert pbx.put_user("u1", UserIn.model_validate(first)).errors == []
    again = pbx.put_user("u1", UserIn.model_validate({**first, "last_name": "Leigh"}))
    assert again.errors == []  # its own DN and MAC are not "in use"
    other = pbx.put_user("u2", UserIn.model_validate(first))
    assert sorted(e.code for e in other.errors) == ["dn_in_use", "mac_in_use"]
    assert "another user" in other.errors[0].message
    reserved = pbx.put_user("u3", UserIn.model_validate({**first, "phones": [{**desk, "dn": "1000", "mac": None}]}))
    assert [e.code for e in reserved.errors] == ["dn_in_use"] and "reserved number" in reserved.errors[0].message
    assert pbx.delete_user("u1")
    assert pbx.put_user("u2", UserIn.model_validate(first)).errors == []  # freed by the delete


def test_a_state_file_and_a_reset_count_again(tmp_path):
    path = tmp_path / "state.json"
    pbx = Pbx(state_file=path)
    desk = {"key": "p", "type": "desk_phone", "dn": "2001", "model": "6920"}
    pbx.put_user("u1", UserIn.model_validate({"first_name": "A", "last_name": "B", "template": "Telephony User",
                                              "phones": [desk]}))
    reloaded = Pbx(state_file=path)
    assert reloaded.system_info()["usage"] == {"users": 1, "devices": 1}
    assert reloaded._holders[("dn", "2001")] == "u1"
    reloaded.reset()
    assert reloaded.system_info()["usage"] == {"users": 0, "devices": 0}
    assert ("dn", "2001") not in reloaded._holders
    assert json.loads(path.read_text())["users"] == []
