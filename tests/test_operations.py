"""Operational endpoints, OpenAPI, request ids, body limits."""

from __future__ import annotations


def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"


def test_readiness_reports_a_broken_database(settings):
    from fastapi.testclient import TestClient

    from switchboard.app import create_app
    from switchboard.core.db import make_engine, make_session_factory

    broken = make_session_factory(make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    with TestClient(create_app(settings, broken)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["ready"] is False


def test_metrics_count_requests_by_route_template(client, tenant_a, login):
    headers = login(tenant_a.partner_admin.email)
    client.get(f"/api/v1/accounts/{tenant_a.account.id}", headers=headers)
    text = client.get("/metrics").text
    assert 'switchboard_http_requests_total{method="GET",route="/api/v1/accounts/{account_id}",status="200"} 1.0' in text
    assert tenant_a.account.id not in text


def test_openapi_and_docs_page(client):
    spec = client.get("/api/v1/openapi.json").json()
    assert spec["info"]["title"] == "Switchboard API"
    for path in ("/api/v1/auth/token", "/api/v1/accounts", "/api/v1/accounts/{account_id}/users/{user_id}",
                 "/api/v1/accounts/{account_id}/audit"):
        assert path in spec["paths"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200 and "/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs.text
    assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200
    assert client.get("/static/vendor/htmx/htmx.min.js").status_code == 200


def test_request_id_is_echoed_or_made(client):
    assert client.get("/healthz", headers={"X-Request-ID": "abcdef0123456789"}).headers["x-request-id"] == "abcdef0123456789"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"}).headers["x-request-id"]
    assert made.isalnum() and len(made) == 32


def test_oversized_bodies_are_refused(client, tenant_a, login, settings):
    headers = login(tenant_a.partner_admin.email)
    big = b'{"name": "' + b"x" * (settings.max_body_bytes + 10) + b'"}'
    response = client.post("/api/v1/accounts", headers={**headers, "content-type": "application/json"}, content=big)
    assert response.status_code == 413
    assert response.json()["errors"][0]["code"] == "body_too_large"

    def chunks():  # no Content-Length: the limit applies while streaming
        for _ in range(settings.max_body_bytes // 1000 + 5):
            yield b"x" * 1000

    streamed = client.post("/api/v1/accounts", headers={**headers, "content-type": "application/json"}, content=chunks())
    assert streamed.status_code == 413


def test_unknown_api_route_is_problem_json(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["code"] == "not_found"


def test_sync_queue_in_metrics_and_readiness(client, session, tenant_a):
    from switchboard.sync.models import SyncJob

    session.add_all([SyncJob(account_id=tenant_a.account.id, user_id="u1", kind="push_user", state="queued"),
                     SyncJob(account_id=tenant_a.account.id, user_id="u2", kind="push_user", state="queued",
                             attempts=2)])
    session.commit()
    text = client.get("/metrics").text
    assert 'switchboard_sync_jobs{state="queued"} 2.0' in text
    assert client.get("/readyz").json()["checks"]["pbx"] == {"connections": 0, "accounts_retrying": 1}
