"""The shipped demo seed (40 legacy users for the adoption demo) and the seed generator."""

import json
import re
import subprocess
import sys
from collections import Counter

import pytest

from switchboard.mivb_sim import defaults
from switchboard.mivb_sim.schema import SeedIn
from switchboard.mivb_sim.seeds import demo_expected_path, demo_seed_path, generate_seed
from switchboard.mivb_sim.state import MAX_GROUP_MEMBERS, Pbx

from tests.mivb_sim.conftest import launch

# The demo data of src/switchboard/demo.py the seed is built to fit (checked against it below).
DEMO_PEOPLE = [
    ("Alice", "Martin"), ("Bruno", "Tremblay"), ("Chloé", "Gagnon"), ("David", "Roy"),
    ("Emma", "Côté"), ("Félix", "Bouchard"), ("Gabrielle", "Gauthier"), ("Hugo", "Morin"),
    ("Inès", "Lavoie"), ("Jules", "Fortin"), ("Karine", "Gagné"), ("Louis", "Ouellet"),
    ("Maya", "Pelletier"), ("Noah", "Bélanger"), ("Olivia", "Lévesque"), ("Paul", "Bergeron"),
    ("Quentin", "Leblanc"), ("Rose", "Paquette"), ("Samuel", "Girard"), ("Tania", "Simard"),
    ("Ulysse", "Boucher"), ("Victoria", "Caron"), ("William", "Beaulieu"), ("Xavier", "Cloutier"),
]
CONFIGURED_BY_DEMO = {  # the demo may configure any of these after start: never a match
    ("William", "Beaulieu"), ("Paul", "Bergeron"), ("Félix", "Bouchard"), ("Ulysse", "Boucher"),
    ("Victoria", "Caron"), ("Noah", "Bélanger"), ("Chloé", "Gagnon"),
}
DEMO_TEMPLATES = {"Entry User", "Telephony User", "Premium User", "Hot Desk Agent"}
DN_FIRST, DN_LAST = 2000, 2199  # DID +15145550000 + k <-> DN 2000 + k
OTHER_ACCOUNTS = {"admin@demo.example", "partner@demo.example"}


def demo_email(first, last):
    return f"{first}.{last}@demo.example".lower().translate(str.maketrans("éèêëôç", "eeeeoc"))


DEMO_EMAILS = {demo_email(*person) for person in DEMO_PEOPLE}
MATCHABLE = {demo_email(*person) for person in DEMO_PEOPLE if person not in CONFIGURED_BY_DEMO}


def in_dn_range(dn):
    return dn.isdigit() and DN_FIRST <= int(dn) <= DN_LAST


def mapped_did(dn):
    return f"+1514555{int(dn) - DN_FIRST:04d}"


def in_did_range(did):
    return did is not None and bool(re.fullmatch(r"\+1514555\d{4}", did)) and int(did[-4:]) <= DN_LAST - DN_FIRST


def conflicts_of(user, users):
    """The conflict codes Switchboard is expected to report, from their definitions."""
    found = set()
    phones = user["phones"]
    if any(not in_dn_range(p["dn"]) for p in phones):
        found.add("dn_outside_ranges")
    if any(in_dn_range(p["dn"]) and p["did"] is not None and p["did"] != mapped_did(p["dn"]) for p in phones):
        found.add("did_mapping_mismatch")
    if user["template"] not in DEMO_TEMPLATES:
        found.add("template_unmapped")
    if user["email"] is not None and sum((u["email"] or "").lower() == user["email"].lower() for u in users) > 1:
        found.add("email_duplicate")
    if user["group"] is not None and sum(len(u["phones"]) for u in users if u["group"] == user["group"]) \
            > MAX_GROUP_MEMBERS:
        found.add("group_full")
    return sorted(found)


@pytest.fixture(scope="module")
def seed():
    return json.loads(demo_seed_path().read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def expected():
    return json.loads(demo_expected_path().read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def stored(seed):
    """The seed users as the PBX stores them (normalised phones)."""
    return list(Pbx(SeedIn.model_validate(seed)).snapshot()["users"])


# ----- the demo seed, as a file -----------------------------------------------------


def test_demo_data_is_what_the_seed_was_built_for():
    demo = pytest.importorskip("switchboard.demo")
    assert demo._PEOPLE == DEMO_PEOPLE
    assert {template for _, template, _, _ in demo.DEMO_CATEGORIES} == DEMO_TEMPLATES


def test_demo_seed_is_shipped_with_the_package():
    path = demo_seed_path()
    assert path.is_file() and path.parent.name == "seeds" and path.parent.parent.name == "mivb_sim"
    assert demo_expected_path().parent == path.parent


def test_demo_seed_replaces_only_users_and_templates(seed):
    assert set(seed) == {"legacy_group_limits", "catalog", "users"} and seed["legacy_group_limits"] is True
    assert set(seed["catalog"]) == {"templates"}
    templates = seed["catalog"]["templates"]
    assert templates[:4] == defaults.CATALOG["templates"]
    assert [t["name"] for t in templates[4:]] == ["Legacy Operator"]


def test_demo_seed_has_40_users_with_every_case_expected(seed, expected):
    keys = [u["user_key"] for u in seed["users"]]
    assert len(keys) == 40 and len(set(keys)) == 40
    assert set(expected) == set(keys)
    cases = Counter(e["case"] for e in expected.values())
    assert cases == {"match": 12, "new": 20, "dn_outside_ranges": 1, "did_mapping_mismatch": 2,
                     "template_unmapped": 2, "email_duplicate": 2, "group_full": 1}
    assert all(re.fullmatch(r"U\d{4}", key) for key in keys)


def test_each_users_conflicts_are_the_expected_ones(stored, expected):
    for user in stored:
        assert conflicts_of(user, stored) == sorted(expected[user["user_key"]]["expected_conflicts"]), user["user_key"]
        case = expected[user["user_key"]]["case"]
        if case not in ("match", "new"):
            assert case in expected[user["user_key"]]["expected_conflicts"]


def test_matching_users_match_one_unconfigured_demo_person_each(seed, expected):
    matches = {}
    for user in seed["users"]:
        want = expected[user["user_key"]]["expected_match_email"]
        email = (user["email"] or "").lower()
        if want is None:
            assert email not in DEMO_EMAILS | OTHER_ACCOUNTS, user["user_key"]
        else:
            assert email == want and want in MATCHABLE, user["user_key"]
            matches[want] = user["user_key"]
    assert len(matches) == 12
    originals = [u["email"] for u in seed["users"] if expected[u["user_key"]]["case"] == "match"]
    assert any(e != e.lower() for e in originals) and any(e == e.lower() for e in originals)  # case-insensitive


def test_matching_and_new_users_keep_out_of_the_demos_way(stored, expected):
    for user in stored:
        case = expected[user["user_key"]]["case"]
        for phone in user["phones"]:
            if in_dn_range(phone["dn"]):
                assert 2150 <= int(phone["dn"]) <= 2199, user["user_key"]
            if case == "match":
                assert in_dn_range(phone["dn"]) and phone["did"] in (None, mapped_did(phone["dn"]))
            if case == "new" and not in_dn_range(phone["dn"]):
                assert phone["did"] is None or not in_did_range(phone["did"])
    new = [u for u in stored if expected[u["user_key"]]["case"] == "new"]
    assert sum(u["email"] is None for u in new) == 3
    assert len({u["email"].split("@")[1].lower() for u in new if u["email"]}) > 1


def test_documented_conflict_details(stored):
    users = {u["user_key"]: u for u in stored}
    assert [p["dn"] for p in users["U1201"]["phones"]] == ["3050"]
    swapped = {p["dn"]: p["did"] for key in ("U1202", "U1203") for p in users[key]["phones"]}
    assert swapped == {"2166": mapped_did("2167"), "2167": mapped_did("2166"), "2168": "+15145550999"}
    assert {users[k]["template"] for k in ("U1204", "U1205")} == {"Legacy Operator"}
    assert users["U1206"]["email"] != users["U1207"]["email"]
    assert users["U1206"]["email"].lower() == users["U1207"]["email"].lower()
    support = [u for u in stored if u["group"] == "Support PRG"]
    assert sum(len(u["phones"]) for u in support) == 10
    assert sorted(u["user_key"] for u in support) == ["U1005", "U1007", "U1008", "U1105", "U1106", "U1208"]


def test_numbers_are_unique_and_phones_varied(stored):
    phones = [p for u in stored for p in u["phones"]]
    for kind in ("dn", "did", "mac"):
        values = [p[kind] for p in phones if p[kind] is not None]
        assert len(values) == len(set(values)), kind
    macs = [p["mac"] for p in phones if p["mac"] is not None]
    assert macs and all(re.fullmatch(r"[0-9A-F]{12}", mac) for mac in macs)
    types = Counter(p["type"] for p in phones)
    assert types["desk_phone"] and types["generic_sip"] and types["hot_desk"]
    hot = [p for p in phones if p["type"] == "hot_desk"]
    assert any(p["acd_agent"] for p in hot) and 1 <= sum(p["external_phone"] is not None for p in hot) <= 2
    assert any(p["voicemail"] for p in phones) and not all(p["voicemail"] for p in phones)
    assert {p["advanced"]["language"] for p in phones} == {"en", "fr"}
    assert any(u["user_pin"] == "" for u in stored) and any(u["user_pin"] for u in stored)
    groups = {u["group"] for u in stored}
    assert {"Sales PRG", "Support PRG", "Executive MDUG", "Mobile Twin MDUG"} <= groups


# ----- the demo seed in the real process --------------------------------------------


@pytest.fixture(scope="module")
def demo_sim(tmp_path_factory):
    sim = launch("--seed", str(demo_seed_path()), stderr_path=tmp_path_factory.mktemp("demo-sim") / "stderr.log")
    yield sim
    sim.stop()


@pytest.mark.slow
def test_demo_seed_loads_without_client_writes(demo_sim, seed):
    with demo_sim.client() as client:
        users = client.get("/api/v1/users").json()["users"]
        assert [u["user_key"] for u in users] == [u["user_key"] for u in seed["users"]]
        state = client.get("/_sim/state").json()
        assert state["log"] == [] and state["revision"] == 0
        assert state["usage"]["users"] == 40
        licences = client.get("/api/v1/system").json()["licences"]
        assert all(licence["used"] <= licence["total"] for licence in licences.values())
        assert [t["name"] for t in client.get("/api/v1/catalog").json()["templates"]][-1] == "Legacy Operator"


@pytest.mark.slow
def test_over_limit_prg_refuses_growth_but_not_its_members(demo_sim):
    with demo_sim.client() as client:
        gabrielle = client.get("/api/v1/users/U1005").json()
        grown = {**gabrielle, "phones": [*gabrielle["phones"],
                                         {"key": "soft", "type": "generic_sip", "dn": "2197",
                                          "sip": {"username": "2197", "password": "pw"}}]}
        refused = client.put("/api/v1/users/U1005", json=grown)
        assert refused.status_code == 422
        assert [(e["code"], e["field"]) for e in refused.json()["errors"]] == [("group_full", "group")]
        newcomer = {"first_name": "New", "last_name": "Comer", "template": "Entry User", "group": "Support PRG",
                    "phones": [{"key": "soft", "type": "generic_sip", "dn": "2198",
                                "sip": {"username": "2198", "password": "pw"}}]}
        assert client.put("/api/v1/users/newcomer", json=newcomer).json()["errors"][0]["code"] == "group_full"
        assert client.put("/api/v1/users/U1005", json=gabrielle).status_code == 200  # unchanged: allowed
        assert client.get("/_sim/state").json()["log"] == []  # refusals and no-op pushes are not logged

        client.put("/api/v1/users/U1005", json={**gabrielle, "user_pin": "2222"}).raise_for_status()
        assert client.post("/_sim/reset").json()["revision"] == 2
        state = client.get("/_sim/state").json()
        assert state["log"] == [{"seq": 2, "op": "reset", "user_key": None}]
        assert len(state["users"]) == 40 and state["users"][4]["user_pin"] == "7391"


# ----- generated seeds --------------------------------------------------------------


def test_generated_seed_is_deterministic_and_valid():
    seed = generate_seed(2500, first_dn="0100", first_did="+33140000000")
    assert seed == generate_seed(2500, first_dn="0100", first_did="+33140000000")
    pbx = Pbx(SeedIn.model_validate(seed))  # loads in linear time (the load is timed by `make bench`, not here)
    users = pbx.snapshot()["users"]
    assert len(users) == 2500 and pbx.log == [] and pbx.revision == 0
    assert len({u["email"] for u in users}) == 2500
    phones = [p for u in users for p in u["phones"]]
    assert {len(u["phones"]) for u in users} == {1, 2}
    assert phones[0]["dn"] == "0100" and phones[0]["did"] == "+33140000000"
    assert all(p["did"] == f"+{33140000000 + int(p['dn']) - 100}" for p in phones)
    assert [u["user_key"] for u in users[:2]] == ["G00001", "G00002"]


def test_generated_seed_limits():
    assert generate_seed(0) == {"users": []}
    assert "licences" not in generate_seed(500)
    for bad in ({"count": 2501}, {"count": 1, "first_dn": "12345678"}, {"count": 1, "first_dn": "*12"},
                {"count": 1, "first_did": "33140000000"}, {"count": 10, "first_dn": "9999995"}):
        with pytest.raises(ValueError):
            generate_seed(**bad)


@pytest.mark.slow
def test_generated_seed_file_loads_in_the_real_process(tmp_path):
    path = tmp_path / "seed.json"
    subprocess.run([sys.executable, "-m", "switchboard.mivb_sim.seeds", "generate", "300", "-o", str(path),
                    "--first-dn", "5000000", "--first-did", "+15145551000", "--key-prefix", "B"],
                   check=True, timeout=30)
    sim = launch("--seed", str(path), stderr_path=tmp_path / "stderr.log")
    try:
        with sim.client() as client:
            users = client.get("/api/v1/users").json()["users"]
            assert len(users) == 300 and users[0]["user_key"] == "B00001" and users[0]["dns"] == ["5000000"]
            assert client.get("/_sim/state").json()["log"] == []
    finally:
        sim.stop()
