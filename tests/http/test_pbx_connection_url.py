"""Finding 10 of the security review (issue 9): the PBX URL of a connection. Only http
and https, no credentials, query or fragment in it; "Test connection" reads the same for
every network failure (no port-scan oracle); with SWITCHBOARD_PBX_ALLOWED_NETWORKS set, an
address outside those networks is refused (422 pbx_address_not_allowed) and never
connected to."""

from __future__ import annotations

import socket
import threading
from functools import partial

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from switchboard.app import create_app
from switchboard.core.config import Settings
from switchboard.pbx.connector import UNREACHABLE, PbxUnreachable
from switchboard.pbx.mivb_gateway import MivbGatewayConnector
from tests.conftest import SIM_AUTH

BAD_URLS = {
    "http://admin:secret@pbx.example": "url_credentials",
    "https://admin@pbx.example:8443": "url_credentials",
    "http://pbx.example/#top": "url_fragment",
    "http://pbx.example#": "url_fragment",
    "http://pbx.example/?token=x": "url_query",
    "ftp://pbx.example": "invalid_url",
    "file:///etc/passwd": "invalid_url",
    "gopher://pbx.example:70/_x": "invalid_url",
    "javascript:alert(1)": "invalid_url",
    "http://pbx.example:99999": "invalid_url",
    "http://pbx.example:port": "invalid_url",
    "http://[::1": "invalid_url",
    "http://": "invalid_url",
    "http://pbx example": "invalid_url",
    "pbx.example:8100": "invalid_url",
}


def _connection(tenant):
    return f"/api/v1/accounts/{tenant.account.id}/mivb/connection"


@pytest.mark.parametrize("url", BAD_URLS, ids=list(BAD_URLS))
def test_the_pbx_url_is_http_or_https_without_credentials_query_or_fragment(client, tenant_a, login, url):
    headers = login(tenant_a.partner_admin.email)
    response = client.put(_connection(tenant_a), headers=headers, json={"url": url, "username": "u", "password": "p"})
    assert response.status_code == 422, response.text
    assert [(e["code"], e["field"]) for e in response.json()["errors"]] == [(BAD_URLS[url], "url")]
    assert "secret" not in response.text


@pytest.mark.parametrize("url", ["http://pbx.example", "HTTPS://PBX.example:8443/gateway/", "http://[2001:db8::1]:8100",
                                 "http://192.0.2.10:8100/"])
def test_good_pbx_urls_are_kept(client, tenant_a, login, url):
    headers = login(tenant_a.partner_admin.email)
    response = client.put(_connection(tenant_a), headers=headers, json={"url": url, "username": "u", "password": "p"})
    assert response.status_code == 200, response.text
    assert response.json()["url"] == url.rstrip("/")


# ------------------------------------------------------------- one message for every failure

@pytest.fixture
def silent_port():
    """A port that accepts connections and never answers (a timeout)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted = []
    stop = threading.Event()

    def serve():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


@pytest.fixture
def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def not_a_gateway():
    """An HTTP server that is not a MiVB gateway (an HTML page, a 404)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()

    def serve():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn = server.accept()[0]
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 404 Not Found\r\ncontent-type: text/html\r\ncontent-length: 13\r\n"
                             b"connection: close\r\n\r\n<h1>Nope</h1>")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def test_test_connection_reads_the_same_for_every_network_failure(client, app, tenant_a, login, sim, closed_port,
                                                                   silent_port, not_a_gateway):
    # A short timeout so that the silent port times out quickly (the message is what counts).
    app.state.runtime.connector_factory = partial(MivbGatewayConnector, timeout=httpx.Timeout(0.5))
    headers = login(tenant_a.partner_admin.email)
    sim_port = sim.url.rsplit(":", 1)[1]
    failures = {
        "connection refused": f"http://127.0.0.1:{closed_port}",
        "timeout": f"http://127.0.0.1:{silent_port}",
        "unknown name": "http://pbx-gateway.invalid:8100",
        "TLS error": f"https://127.0.0.1:{sim_port}",  # TLS to a plain HTTP port
        "not a gateway": f"http://127.0.0.1:{not_a_gateway}",
    }
    details = {}
    for name, url in failures.items():
        saved = client.put(_connection(tenant_a), headers=headers, json={"url": url, "username": "u", "password": "p"})
        assert saved.status_code == 200, saved.text
        result = client.post(f"{_connection(tenant_a)}/test", headers=headers).json()
        assert result["ok"] is False, name
        details[name] = result["detail"]
    assert details == {name: UNREACHABLE for name in failures}
    # and the page shows the same sentence as the last test
    assert client.get(_connection(tenant_a), headers=headers).json()["last_test_detail"] == UNREACHABLE


def test_the_connector_says_one_sentence_for_every_network_failure(closed_port):
    for url in (f"http://127.0.0.1:{closed_port}", "http://pbx-gateway.invalid"):
        with pytest.raises(PbxUnreachable) as failed:
            MivbGatewayConnector(url, "u", "p").system()
        assert failed.value.message == UNREACHABLE
        assert "127.0.0.1" not in str(failed.value) and "invalid" not in str(failed.value)


# ------------------------------------------------------------- the allowed networks

@pytest.fixture
def guarded(settings, session_factory):
    """The app with SWITCHBOARD_PBX_ALLOWED_NETWORKS set to loopback only."""
    app = create_app(settings.model_copy(update={"pbx_allowed_networks": "127.0.0.0/8, ::1/128"}), session_factory)
    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize("url, allowed", [
    ("http://127.0.0.1:8100", True),
    ("http://127.8.9.10", True),
    ("http://[::1]:8100", True),
    ("http://localhost:8100", True),  # a name resolving only inside
    ("http://[::ffff:127.0.0.1]:8100", True),
    ("http://192.0.2.10:8100", False),
    ("http://10.0.0.1", False),
    ("http://169.254.169.254/latest", False),  # cloud metadata
    ("http://[::ffff:192.0.2.10]", False),
    ("http://[2001:db8::1]", False),
    ("http://pbx-gateway.invalid", False),  # does not resolve: cannot be checked
])
def test_pbx_address_outside_the_allowed_networks_is_refused(guarded, tenant_a, url, allowed):
    token = guarded.post("/api/v1/auth/token", json={"email": tenant_a.partner_admin.email,
                                                     "password": "correct-horse-battery"}).json()["access_token"]
    response = guarded.put(_connection(tenant_a), headers={"Authorization": f"Bearer {token}"},
                           json={"url": url, "username": "u", "password": "p"})
    if allowed:
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 422, response.text
        assert [(e["code"], e["field"]) for e in response.json()["errors"]] == [("pbx_address_not_allowed", "url")]


def test_an_address_saved_before_the_allow_list_is_never_connected_to(client, guarded, tenant_a, login, sim, sim_api):
    headers = login(tenant_a.partner_admin.email)
    # Saved while any address was allowed; the simulator answers on loopback.
    assert client.put(_connection(tenant_a), headers=headers, json={
        "url": sim.url, "username": SIM_AUTH[0], "password": SIM_AUTH[1]}).status_code == 200
    assert client.post(f"{_connection(tenant_a)}/test", headers=headers).json()["ok"] is True
    # Now only 10.0.0.0/8 is allowed: the connector refuses to connect to the simulator.
    narrow = create_app(client.app.state.settings.model_copy(update={"pbx_allowed_networks": "10.0.0.0/8"}),
                        client.app.state.session_factory)
    with TestClient(narrow) as other:
        result = other.post(f"{_connection(tenant_a)}/test", headers=headers).json()
    assert result == {"ok": False, "detail": UNREACHABLE, "pbx": None}


@pytest.mark.parametrize("value", ["10.0.0.0/33", "not-a-network", "10.0.0.0/8,,300.1.1.1"])
def test_a_bad_allow_list_stops_the_start(value):
    with pytest.raises(ValidationError):
        Settings(pbx_allowed_networks=value)


def test_the_allow_list_reads_cidrs_and_addresses():
    settings = Settings(pbx_allowed_networks=" 10.20.0.0/16 , 192.0.2.7,fd00::/8 ")
    assert [str(n) for n in settings.allowed_pbx_networks()] == ["10.20.0.0/16", "192.0.2.7/32", "fd00::/8"]
    assert Settings(pbx_allowed_networks="").allowed_pbx_networks() == ()
