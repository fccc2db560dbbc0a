"""The real `mivb-sim` process, driven over HTTP."""

import concurrent.futures
import json
import signal
import subprocess
import time

import pytest

from switchboard.mivb_sim.launcher import SIM

pytestmark = pytest.mark.slow

ANN = {
    "first_name": "Ann",
    "last_name": "Lee",
    "email": "ann@example.com",
    "template": "Telephony User",
    "group": None,
    "user_pin": "4821",
    "location": "Paris",
    "department": "Sales",
    "phones": [
        {"key": "desk", "type": "desk_phone", "dn": "2001", "did": "+33140000001", "model": "6930",
         "mac": "0800aabbccdd", "voicemail": True},
        {"key": "agent", "type": "hot_desk", "dn": "2002", "acd_agent": True,
         "external_phone": {"number": "+33600000001"}},
    ],
}


def with_dn(body, index, dn):
    phones = [dict(p) for p in body["phones"]]
    phones[index]["dn"] = dn
    return {**body, "phones": phones}


def test_every_route_needs_basic_auth(shared_sim):
    for auth in (None, ("admin", "wrong")):
        with shared_sim.client(auth=auth) as client:
            for method, path in [("GET", "/api/v1/system"), ("GET", "/_sim/state"), ("POST", "/_sim/reset"),
                                 ("GET", "/nowhere")]:
                response = client.request(method, path)
                assert response.status_code == 401, path
                assert response.headers["www-authenticate"].startswith("Basic")
                assert response.json()["errors"][0]["code"] == "unauthorized"


def test_system_and_catalog(api):
    system = api.get("/api/v1/system").json()
    assert system["capacity"] == {"users": 2500, "devices": 5000}
    assert system["licences"]["ip_users"] == {"total": 500, "used": 0}
    catalog = api.get("/api/v1/catalog").json()
    assert [t["name"] for t in catalog["templates"]] == [
        "Entry User", "Telephony User", "Premium User", "Hot Desk Agent"]
    assert {g["kind"] for g in catalog["groups"] if g["type"] == "mdug"} == {"standard", "external_twin"}
    assert catalog["dns_in_use"] == catalog["reserved_dns"] == ["1000", "1001", "1999"]


def test_push_read_back_and_remove(api):
    response = api.put("/api/v1/users/ann", json=ANN)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["errors"] == []
    assert [(r["phone"], r["status"]) for r in body["results"]] == [("desk", "applied"), ("agent", "applied")]

    stored = api.get("/api/v1/users/ann").json()
    assert stored == body["user"]
    assert stored["phones"][0]["mac"] == "0800AABBCCDD"
    assert stored["phones"][0]["voicemail_box"]["dn"] == "2001"
    assert api.get("/api/v1/users").json() == {"users": [{
        "user_key": "ann", "first_name": "Ann", "last_name": "Lee", "email": "ann@example.com",
        "template": "Telephony User", "group": None, "dns": ["2001", "2002"]}]}
    system = api.get("/api/v1/system").json()
    assert system["usage"] == {"users": 1, "devices": 2}
    assert {k: v["used"] for k, v in system["licences"].items()} == {"ip_users": 1, "ehdu": 1, "acd_agents": 1, "mdu": 0}
    assert "2001" in api.get("/api/v1/catalog").json()["dns_in_use"]

    assert api.delete("/api/v1/users/ann").json() == {"user_key": "ann", "deleted": True}
    gone = api.delete("/api/v1/users/ann")
    assert gone.status_code == 404 and gone.json()["errors"][0]["code"] == "user_not_found"
    assert api.get("/api/v1/users/ann").status_code == 404
    state = api.get("/_sim/state").json()
    assert state["users"] == [] and state["did_routes"] == [] and state["hot_desk_profiles"] == []
    assert [(e["op"], e["user_key"]) for e in state["log"]] == [
        ("reset", None), ("create_user", "ann"), ("delete_user", "ann")]


def test_same_push_twice_is_idempotent(api):
    first = api.put("/api/v1/users/ann", json=ANN).json()
    revision = api.get("/_sim/state").json()["revision"]
    second = api.put("/api/v1/users/ann", json=ANN)
    assert second.status_code == 200
    assert second.json()["user"] == first["user"]
    assert api.get("/_sim/state").json()["revision"] == revision


def test_dn_change_recreates_the_voicemail_box(api):
    box = api.put("/api/v1/users/ann", json=ANN).json()["user"]["phones"][0]["voicemail_box"]
    moved = api.put("/api/v1/users/ann", json=with_dn(ANN, 0, "2101")).json()["user"]["phones"][0]["voicemail_box"]
    assert moved["dn"] == "2101" and moved["box_id"] > box["box_id"]
    boxes = api.get("/_sim/state").json()["voicemail_boxes"]
    assert boxes == [{**moved, "user_key": "ann", "phone": "desk"}]


def test_partial_rejection_answers_422_with_per_phone_results(api):
    bad = with_dn(ANN, 1, "1000")
    response = api.put("/api/v1/users/ann", json=bad)
    assert response.status_code == 422
    body = response.json()
    assert [(r["phone"], r["status"]) for r in body["results"]] == [("desk", "applied"), ("agent", "rejected")]
    assert body["errors"] == [{"code": "dn_in_use", "field": "phones[1].dn", "phone": "agent",
                               "message": "Directory number 1000 is already in use on this PBX (reserved number)."}]
    assert [p["key"] for p in body["user"]["phones"]] == ["desk"]


def test_user_level_error_changes_nothing(api):
    response = api.put("/api/v1/users/ann", json={**ANN, "user_pin": "12ab"})
    assert response.status_code == 422
    assert response.json() == {"user": None, "results": [], "errors": [
        {"code": "pin_invalid", "field": "user_pin", "message": "The user PIN must be digits only, at most 8 of them."}]}
    assert api.get("/api/v1/users").json() == {"users": []}


@pytest.mark.parametrize("content,field", [
    (b"{not json", None),
    (b"[1, 2]", None),
    (json.dumps({**ANN, "phones": [{**ANN["phones"][0], "voicemail": "yes"}]}).encode(), "phones[0].voicemail"),
    (json.dumps({**ANN, "user_key": "bob"}).encode(), "user_key"),
    (b"[" * 100_000, None),
])
def test_malformed_bodies_answer_400(api, content, field):
    response = api.put("/api/v1/users/ann", content=content, headers={"content-type": "application/json"})
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors[0]["code"] == "bad_request" and errors[0]["field"] == field


def test_overlong_user_key_answers_400(api):
    response = api.put("/api/v1/users/" + "k" * 129, json=ANN)
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "user_key"


def test_oversized_body_answers_413(api):
    response = api.put("/api/v1/users/ann", content=b" " * (1024 * 1024 + 1))
    assert response.status_code == 413
    assert response.json()["errors"][0]["code"] == "payload_too_large"


def test_down_fault_answers_503_until_healed(api):
    assert api.post("/_sim/faults", json={"down": True}).json()["faults"]["down"] is True
    response = api.get("/api/v1/system")
    assert response.status_code == 503 and response.json()["errors"][0]["code"] == "pbx_unavailable"
    assert api.put("/api/v1/users/ann", json=ANN).status_code == 503
    assert api.get("/_sim/state").json()["users"] == []  # nothing was applied
    api.delete("/_sim/faults").raise_for_status()
    assert api.get("/api/v1/system").status_code == 200


def test_the_state_counts_the_requests_the_faults_failed(api):
    assert api.get("/_sim/state").json()["injected"] == {"errors": 0, "down": 0}
    api.post("/_sim/faults", json={"error_rate": 1.0}).raise_for_status()
    for _ in range(3):
        assert api.get("/api/v1/system").status_code in (500, 503)
    api.post("/_sim/faults", json={"down": True}).raise_for_status()
    for _ in range(2):
        assert api.get("/api/v1/catalog").status_code == 503
    state = api.get("/_sim/state").json()  # /_sim is never failed, nor counted
    assert state["injected"] == {"errors": 3, "down": 2}
    assert "injected" not in state["faults"]
    api.delete("/_sim/faults").raise_for_status()
    assert api.get("/_sim/state").json()["injected"] == {"errors": 0, "down": 0}


def test_latency_fault_delays_api_calls_only(api):
    api.post("/_sim/faults", json={"latency_ms": 1500}).raise_for_status()
    started = time.monotonic()
    api.get("/api/v1/system").raise_for_status()
    assert time.monotonic() - started >= 1.5  # the fault's own delay, a lower bound only
    started = time.monotonic()
    api.get("/_sim/state").raise_for_status()
    assert time.monotonic() - started < 1.5  # not delayed: far below the fault's delay even on a loaded machine


def test_error_rate_fault_fails_before_applying(api):
    api.post("/_sim/faults", json={"error_rate": 1}).raise_for_status()
    statuses = {api.put("/api/v1/users/ann", json=ANN).status_code for _ in range(12)}
    assert statuses <= {500, 503} and statuses
    assert api.get("/_sim/state").json()["users"] == []
    api.post("/_sim/faults", json={"error_rate": 0.0}).raise_for_status()
    assert api.put("/api/v1/users/ann", json=ANN).status_code == 200


def test_reject_fault_rejects_that_dn(api):
    faults = api.post("/_sim/faults", json={"reject": {"dn": "2002"}, "latency_ms": 1}).json()["faults"]
    assert faults == {"down": False, "latency_ms": 1, "error_rate": 0.0, "reject": {"dn": "2002"}, "garbage": False}
    body = api.put("/api/v1/users/ann", json=ANN).json()
    assert [(e["code"], e["phone"]) for e in body["errors"]] == [("rejected", "agent")]
    merged = api.post("/_sim/faults", json={"reject": None}).json()["faults"]
    assert merged["reject"] is None and merged["latency_ms"] == 1  # other faults kept
    assert api.put("/api/v1/users/ann", json=ANN).status_code == 200


def test_garbage_fault_answers_invalid_json(api):
    api.post("/_sim/faults", json={"garbage": True}).raise_for_status()
    response = api.get("/api/v1/system")
    with pytest.raises(json.JSONDecodeError):
        response.json()


@pytest.mark.parametrize("faults", [{"error_rate": 2}, {"latency_ms": "slow"}, {"down": 1}, {"boom": True}])
def test_bad_fault_values_answer_422(api, faults):
    response = api.post("/_sim/faults", json=faults)
    assert response.status_code == 422
    assert api.get("/_sim/state").json()["faults"]["down"] is False


def test_reset_restores_seed_and_clears_faults(api):
    api.put("/api/v1/users/ann", json=ANN)
    api.post("/_sim/faults", json={"down": True})
    api.post("/_sim/reset").raise_for_status()
    state = api.get("/_sim/state").json()
    assert state["users"] == [] and state["faults"]["down"] is False


def test_concurrent_pushes_never_hand_out_a_dn_twice(api, shared_sim):
    def push(n):
        with shared_sim.client() as client:
            body = {**ANN, "phones": [{"key": "p", "type": "desk_phone", "dn": "3000", "model": "6920"}]}
            return client.put(f"/api/v1/users/u{n}", json=body).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(push, range(8)))
    assert sorted(statuses) == [200] + [422] * 7
    dns = [p["dn"] for u in api.get("/_sim/state").json()["users"] for p in u["phones"]]
    assert dns == ["3000"]


def test_state_file_and_seed_across_restart(start_sim, tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({
        "system": {"name": "Lab PBX"},
        "capacity": {"devices": 3},
        "users": [{"user_key": "seeded", "first_name": "Sam", "last_name": "Seed", "template": "Entry User",
                   "phones": [{"key": "s", "type": "generic_sip", "dn": "2500",
                               "sip": {"username": "2500", "password": "pw"}}]}],
    }))
    state = tmp_path / "state.json"
    sim = start_sim("--seed", str(seed), "--state", str(state))
    with sim.client() as client:
        assert client.get("/api/v1/system").json()["name"] == "Lab PBX"
        assert client.put("/api/v1/users/ann", json=ANN).status_code == 200
        assert client.put("/api/v1/users/bob", json=with_dn(with_dn(ANN, 0, "2201"), 1, "2202")).status_code == 422
        before = client.get("/_sim/state").json()
    assert sim.stop() in (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM after a clean shutdown
    assert json.loads(state.read_text())["revision"] == before["revision"]

    restarted = start_sim("--seed", str(seed), "--state", str(state))
    with restarted.client() as client:
        after = client.get("/_sim/state").json()
        assert after["users"] == before["users"] and after["revision"] == before["revision"]
        client.post("/_sim/reset").raise_for_status()
        assert [u["user_key"] for u in client.get("/api/v1/users").json()["users"]] == ["seeded"]
    assert [u["user_key"] for u in json.loads(state.read_text())["users"]] == ["seeded"]


def test_bad_seed_file_stops_the_start(tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"licences": {"ehdu": -1}}))
    done = subprocess.run([str(SIM), "--port", "0", "--seed", str(seed)], capture_output=True, text=True, timeout=20)
    assert done.returncode == 2
    assert "licences.ehdu" in done.stderr


def test_unknown_route_answers_json_404(api):
    response = api.get("/api/v1/nothing")
    assert response.status_code == 404 and response.json()["errors"][0]["code"] == "not_found"
