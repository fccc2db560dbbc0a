"""While the database cannot be reached, the API and the console answer 503 with a reason
(problem+json with a stable code, or the error page), never a bare 500; /readyz is red."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from switchboard.app import create_app
from switchboard.core.config import Settings


def test_a_database_outage_answers_503_never_a_bare_500(tmp_path):
    unreachable = create_engine("postgresql+psycopg://postgres@127.0.0.1:9/none",
                                connect_args={"connect_timeout": 1})
    settings = Settings(var_dir=tmp_path, secret_key="outage-secret-key-for-switchboard", database_url="sqlite://")
    app = create_app(settings, sessionmaker(bind=unreachable))
    with TestClient(app, raise_server_exceptions=False) as client:
        api = client.post("/api/v1/auth/token", json={"email": "a@b.example", "password": "whatever-long-enough"})
        assert api.status_code == 503 and api.headers["content-type"] == "application/problem+json"
        assert api.json()["errors"][0]["code"] == "database_unavailable" and api.headers["retry-after"] == "5"
        form = client.get("/login")  # no database needed to show the form
        token = form.text.split('name="csrf_token" value="')[1].split('"')[0]
        signing_in = client.post("/login", data={"email": "a@b.example", "password": "whatever-long-enough",
                                                 "csrf_token": token})
        assert signing_in.status_code == 503 and "database" in signing_in.text.lower()
        assert client.get("/readyz").status_code == 503
