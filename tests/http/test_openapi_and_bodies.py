"""Finding 12 of the security review (issue 9): the OpenAPI document and request bodies.
Every route documents every status it can answer (problem+json), /metrics is text/plain
and can be closed with a token, a JSON body with a key twice is 400 `duplicate_key`, an
unparseable one 400 `invalid_json`; odd input never answers 500."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from switchboard.api_support import EXTRA_STATUSES
from switchboard.app import create_app

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


@pytest.fixture
def spec(client):
    return client.get("/api/v1/openapi.json").json()


def _operations(spec):
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            yield method, path, operation


def test_openapi_lists_every_status_a_route_can_answer(spec):
    checked = 0
    for method, path, operation in _operations(spec):
        if not path.startswith("/api/"):
            continue
        statuses = {int(code) for code in operation["responses"]}
        expected = {401, 403, 404, 409, 412, 422}
        if "requestBody" in operation:
            expected |= {400, 413}
        expected |= set(EXTRA_STATUSES.get((method, path), ()))
        assert expected <= statuses, (method, path, sorted(expected - statuses))
        for code, response in operation["responses"].items():
            if int(code) >= 400:  # every error is problem+json, and only that
                assert response["content"] == PROBLEM, (method, path, code)
                assert response["description"]
        checked += 1
    assert checked >= 50
    assert "Problem" in spec["components"]["schemas"]


def test_the_routes_that_can_answer_429_or_502_say_so(spec):
    assert "429" in spec["paths"]["/api/v1/auth/token"]["post"]["responses"]
    assert "502" in spec["paths"]["/api/v1/accounts/{account_id}/mivb/catalog"]["get"]["responses"]
    assert "502" in spec["paths"]["/api/v1/accounts/{account_id}/users/{user_id}/mivb/phones"]["post"]["responses"]
    for method, path in EXTRA_STATUSES:  # the table names routes that exist
        assert method in spec["paths"][path], (method, path)


def test_metrics_is_documented_as_text_plain(spec, client):
    metrics = spec["paths"]["/metrics"]["get"]["responses"]
    assert list(metrics["200"]["content"]) == ["text/plain"]
    assert metrics["401"]["content"] == PROBLEM
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")


# ------------------------------------------------------------------ /metrics behind a token

@pytest.fixture
def closed_metrics(settings, session_factory):
    app = create_app(settings.model_copy(update={"metrics_token": "s3cret-metrics-token"}), session_factory)
    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Bearer ", "Basic czNjcmV0LW1ldHJpY3MtdG9rZW4=",
                                           "s3cret-metrics-token", "Bearer s3cret-metrics-token-and-more"])
def test_metrics_token_closes_metrics(closed_metrics, authorization):
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = closed_metrics.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"] == "Bearer"
    assert "switchboard_http_requests_total" not in response.text


def test_metrics_token_opens_metrics(closed_metrics):
    for scheme in ("Bearer", "bearer"):
        response = closed_metrics.get("/metrics", headers={"Authorization": f"{scheme} s3cret-metrics-token"})
        assert response.status_code == 200
        assert "switchboard_http_requests_total" in response.text
    assert closed_metrics.get("/healthz").status_code == 200  # the rest stays as it was


# ------------------------------------------------------------------ bodies

def _post_raw(client, headers, body: bytes, url="/api/v1/accounts"):
    return client.post(url, headers={**headers, "content-type": "application/json"}, content=body)


@pytest.mark.parametrize("body", [
    b'{"name": "Acme", "name": "Evil"}',
    b'{"name": "Acme", "city": "A", "city": "B"}',
    b'{"name": "Acme", "country": null, "country": "FR"}',
], ids=["top level", "second field", "null then value"])
def test_duplicate_keys_in_a_json_body_are_400(client, tenant_a, login, body):
    headers = login(tenant_a.partner_admin.email)
    response = _post_raw(client, headers, body)
    assert response.status_code == 400, response.text
    error = response.json()["errors"][0]
    assert error["code"] == "duplicate_key"
    assert client.get("/api/v1/accounts", headers=headers, params={"search": "Acme"}).json()["total"] == 0


def test_a_duplicate_key_anywhere_in_the_body_is_400(client, tenant_a, login):
    # Nested objects too (the phone's external number), on a route whose schema nests.
    headers = login(tenant_a.partner_admin.email)
    url = f"/api/v1/accounts/{tenant_a.account.id}/users/{tenant_a.user.id}/mivb/phones"
    body = b'{"type": "hot_desk", "external_phone": {"number": "+33612345678", "number": "+33699999999"}}'
    response = _post_raw(client, headers, body, url)
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "duplicate_key"


@pytest.mark.parametrize("body", [
    b"{not json",
    b'{"name": "Acme"',
    b'{"name": NaN}',
    b'{"name": Infinity}',
    b'{"licences": ' + b"9" * 5000 + b"}",  # more digits than Python reads
    b"[" * 100_000 + b"]" * 100_000,  # deeper than the parser recurses
    b'{"name": "\xff\xfe"}',  # not UTF-8
], ids=["garbage", "truncated", "NaN", "Infinity", "5000 digits", "deep nesting", "invalid UTF-8"])
def test_an_unparseable_body_is_400_never_500(client, tenant_a, login, body):
    headers = login(tenant_a.partner_admin.email)
    response = _post_raw(client, headers, body)
    assert response.status_code == 400, response.text[:300]
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["code"] == "invalid_json"


def test_fine_bodies_still_pass_the_guard(client, tenant_a, login):
    headers = login(tenant_a.partner_admin.email)
    body = json.dumps({"name": "Ünïcödé Kunde 東京", "city": "Québec"}).encode()
    created = _post_raw(client, headers, body)
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "Ünïcödé Kunde 東京"


# ------------------------------------------------------------------ never 500

ODD_STRINGS = ["x" * 5000, "\\%_", "'; DROP TABLE users; --", "😀/../..", "0" * 32, "-99999999999999999999", " "]


def _fill(path: str, value: str, ids: dict[str, str]) -> str:
    from urllib.parse import quote

    out = path
    for name, real in ids.items():
        out = out.replace("{" + name + "}", real)
    while "{" in out:
        start, end = out.index("{"), out.index("}")
        out = out[:start] + quote(value, safe="") + out[end + 1:]
    return out


def test_odd_input_never_answers_500_and_every_answer_is_documented(client, spec, tenant_a, login):
    """A small, deterministic cousin of a schemathesis run: every API operation, with odd
    path parameters, odd query values and odd bodies; every answer is a documented status."""
    headers = login(tenant_a.partner_admin.email)
    ids = {"account_id": tenant_a.account.id}
    seen: set[int] = set()
    for method, path, operation in _operations(spec):
        if not path.startswith("/api/") or path == "/api/v1/me/password" or (method, path) == (
                "delete", "/api/v1/accounts/{account_id}"):  # keep the account the walk runs in
            continue
        documented = {int(code) for code in operation["responses"]}
        queries = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
        bodies = [None] if "requestBody" not in operation else [b'{"a": {"b": [1, 2]}', b"[]",
                                                               json.dumps({"name": ODD_STRINGS[0]}).encode()]
        for value in ODD_STRINGS:
            url = _fill(path, value, ids if value != "0" * 32 else {})
            params = {name: value for name in queries}
            for body in bodies:
                kwargs = {} if body is None else {"content": body, "headers": {**headers, "content-type":
                                                                                "application/json"}}
                response = client.request(method, url, params=params, **({"headers": headers} | kwargs))
                assert response.status_code < 500, (method, url, params, body, response.text[:300])
                assert response.status_code in documented, (method, path, response.status_code, response.text[:200])
                seen.add(response.status_code)
    assert {400, 404, 422} <= seen


@pytest.mark.parametrize("opening, closing", [("[", "]"), ('{"a": ', "}")], ids=["lists", "objects"])
@pytest.mark.parametrize("depth", [900, 990, 5000])
def test_deeply_nested_bodies_are_4xx_never_500(client, tenant_a, login, opening, closing, depth):
    # Deep enough to exhaust a recursive walk of the parsed body, if not the parser.
    headers = login(tenant_a.partner_admin.email)
    body = '{"name": "x", "city": ' + opening * depth + "1" + closing * depth + "}"
    response = _post_raw(client, headers, body.encode())
    assert response.status_code in (400, 422), response.text[:300]
