"""The MiVB gateway connector: typed failures, and hostile answers that never crash it."""

from __future__ import annotations

import ipaddress
import json
import socket

import httpx
import pytest

from switchboard.pbx.connector import PbxBadResponse, PbxRefused, PbxTransient, PbxUnreachable
from switchboard.pbx.mivb_gateway import MAX_RESPONSE_BYTES, MivbGatewayConnector
from tests.sync.conftest import SIM_AUTH


def connector(sim, auth=SIM_AUTH, **kwargs) -> MivbGatewayConnector:
    return MivbGatewayConnector(sim.url, *auth, **kwargs)


def mocked(handler) -> MivbGatewayConnector:
    return MivbGatewayConnector("http://pbx.invalid", "u", "p", transport=httpx.MockTransport(handler))


def test_system_and_catalog(sim, sim_api):
    c = connector(sim)
    assert c.system()["name"] == "MiVB-SIM"
    catalog = c.catalog()
    assert {"templates", "groups", "device_models", "cos", "cor", "dns_in_use"} <= set(catalog)
    c.close()


def test_push_outcome_keeps_the_pbx_words(sim, sim_api):
    c = connector(sim)
    state = {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com", "template": "Telephony User",
             "group": None, "user_pin": "4821", "location": None, "department": None,
             "phones": [{"key": "p1", "type": "desk_phone", "dn": "1000", "did": None, "model": "6920", "mac": None,
                         "voicemail": True, "acd_agent": False, "external_phone": None, "advanced": None, "sip": None}]}
    outcome = c.push_user("k1", state)
    assert not outcome.ok
    assert outcome.errors[0].code == "dn_in_use" and outcome.errors[0].phone == "p1"
    assert "1000" in outcome.errors[0].message
    state["phones"][0]["dn"] = "2001"
    assert c.push_user("k1", state).ok
    assert c.read_user("k1")["phones"][0]["dn"] == "2001"
    assert c.remove_user("k1") is True and c.remove_user("k1") is False
    c.close()


def test_down_slow_and_erroring_pbx(sim, sim_api):
    sim_api.post("/_sim/faults", json={"down": True})
    with pytest.raises(PbxUnreachable):
        connector(sim).system()
    sim_api.post("/_sim/faults", json={"down": False, "latency_ms": 1500})
    with pytest.raises(PbxUnreachable, match="did not answer at this address"):
        connector(sim, timeout=httpx.Timeout(0.5, connect=0.5)).system()
    sim_api.post("/_sim/faults", json={"latency_ms": 0, "error_rate": 1.0})
    with pytest.raises((PbxTransient, PbxUnreachable)) as caught:
        connector(sim).system()
    assert caught.value.retryable


def test_wrong_credentials_are_not_retried(sim, sim_api):
    with pytest.raises(PbxRefused) as caught:
        connector(sim, auth=("admin", "wrong")).system()
    assert not caught.value.retryable and caught.value.issues[0].code == "pbx_auth_failed"


def test_closed_port_is_unreachable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(PbxUnreachable):
        MivbGatewayConnector(f"http://127.0.0.1:{port}", "u", "p").system()


def test_garbage_from_the_simulator(sim, sim_api):
    sim_api.post("/_sim/faults", json={"garbage": True})
    with pytest.raises(PbxBadResponse):
        connector(sim).catalog()


@pytest.mark.parametrize("status,body", [
    (200, b"not json at all"),
    (200, b"[1, 2, 3]"),
    (200, json.dumps({"user": "x", "results": "nope", "errors": []}).encode()),
    (422, json.dumps({"user": None, "results": [], "errors": []}).encode()),
    (422, json.dumps({"errors": [{"code": 5}]}).encode()),
    (200, b"{" + b'"a": "' + b"x" * (MAX_RESPONSE_BYTES + 10) + b'"}'),
])
def test_hostile_push_answers_are_errors_not_crashes(status, body):
    c = mocked(lambda request: httpx.Response(status, content=body))
    with pytest.raises(PbxBadResponse):
        c.push_user("k", {"phones": []})


def test_hostile_user_list_and_html_error_page():
    with pytest.raises(PbxBadResponse):
        mocked(lambda r: httpx.Response(200, json={"users": [{"no_key": 1}]})).list_users()
    with pytest.raises(PbxTransient):
        mocked(lambda r: httpx.Response(502, content=b"<html>Bad gateway</html>")).system()


def test_connectors_share_one_ssl_context(monkeypatch):
    """Building an SSL context reads the CA store (a few ms): a request that reads the
    catalogue built one each time (issue 13's profile of figure 4). Every client shares one."""
    import ssl

    from switchboard.pbx import mivb_gateway

    built = []
    real = ssl.create_default_context
    monkeypatch.setattr(mivb_gateway, "_ssl_context", None)
    monkeypatch.setattr(ssl, "create_default_context", lambda *a, **k: built.append(1) or real(*a, **k))
    connectors = [mivb_gateway.MivbGatewayConnector(f"https://pbx-{n}.invalid", "u", "p") for n in range(3)]
    guarded = mivb_gateway.MivbGatewayConnector("https://pbx.invalid", "u", "p",
                                                allowed_networks=(ipaddress.ip_network("10.0.0.0/8"),))
    for connector in [*connectors, guarded]:
        connector.close()
    assert len(built) == 1
