"""Finding 4 of the security review (issue 9): a NUL byte, or any other control
character, anywhere in a request answered 500 on PostgreSQL (and was stored on SQLite).
Every engine now refuses it with 422 `invalid_character`, in JSON bodies, console forms,
query strings, path parameters and the sign-in."""

from __future__ import annotations

import json

import pytest
from pydantic import Field
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from switchboard.core.errors import ValidationFailed
from switchboard.core.validation import LineBreaksAllowed, StrictSchema, validate
from tests.console.helpers import csrf_from, sign_in

# NUL, other C0 controls, DEL, C1 controls (NEL included), and a lone surrogate (which
# cannot be encoded to UTF-8, so PostgreSQL's driver fails on it).
BAD = ["\x00", "\x01", "\x08", "\x0b", "\x1b", "\x1f", "\x7f", "\x80", "\x85", "\x9f", "\t", "\n", "\r", "\ud800"]


def _problem_code(response) -> str:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return response.json()["errors"][0]["code"]


def _api_cases(tenant):
    account = f"/api/v1/accounts/{tenant.account.id}"
    return {
        "json body": ("POST", "/api/v1/accounts", {"json": {"name": "Acme\x00Corp"}}),
        "json body, nested key": ("PATCH", account, {"json": {"name": "Fine", "addr\x00ess": "x"}}),
        "query string": ("GET", "/api/v1/accounts?search=a%00b", {}),
        "query string name": ("GET", "/api/v1/accounts?se%00arch=ab", {}),
        "path parameter": ("GET", "/api/v1/accounts/abc%00def", {}),
        "path parameter, nested": ("GET", f"{account}/users/u%00x", {}),
        "sign-in e-mail": ("POST", "/api/v1/auth/token", {"json": {"email": "a\x00@b.example", "password": "x"}}),
        "sign-in password": ("POST", "/api/v1/auth/token", {"json": {"email": tenant.user.email, "password": "x\x00"}}),
    }


@pytest.mark.parametrize("case", ["json body", "json body, nested key", "query string", "query string name",
                                  "path parameter", "path parameter, nested", "sign-in e-mail", "sign-in password"])
def test_a_nul_byte_anywhere_is_422_never_500(client, tenant_a, login, case):
    method, url, kwargs = _api_cases(tenant_a)[case]
    headers = {} if "sign-in" in case else login(tenant_a.partner_admin.email)
    response = client.request(method, url, headers=headers, **kwargs)
    assert response.status_code == 422, response.text
    assert _problem_code(response) == "invalid_character"


def test_a_nul_byte_is_never_stored(client, tenant_a, login):
    headers = login(tenant_a.partner_admin.email)
    client.post("/api/v1/accounts", headers=headers, json={"name": "Nul\x00Stored"})
    listed = client.get("/api/v1/accounts", headers=headers, params={"search": "Nul"}).json()
    assert listed["total"] == 0


@pytest.mark.parametrize("char", BAD, ids=[f"U+{ord(c):04X}" for c in BAD])
def test_control_characters_in_json_bodies_are_422_invalid_character(client, tenant_a, login, char):
    headers = login(tenant_a.partner_admin.email)
    # json.dumps escapes every character (a lone surrogate cannot be sent as UTF-8).
    body = json.dumps({"name": "Acme", "city": f"Gati{char}neau"})
    response = client.post("/api/v1/accounts", headers={**headers, "content-type": "application/json"}, content=body)
    assert response.status_code == 422, response.text
    error = response.json()["errors"][0]
    assert (error["code"], error["field"]) == ("invalid_character", "city")


@pytest.mark.parametrize("char", ["\x00", "\x1f", "\x7f", "\x85", "\n"], ids=["NUL", "US", "DEL", "NEL", "LF"])
def test_control_characters_in_query_and_path_are_422(client, tenant_a, login, char):
    from urllib.parse import quote

    headers = login(tenant_a.partner_admin.email)
    query = client.get(f"/api/v1/accounts?search={quote(char)}", headers=headers)
    assert (query.status_code, _problem_code(query)) == (422, "invalid_character")
    path = client.get(f"/api/v1/accounts/{quote(char)}/users", headers=headers)
    assert (path.status_code, _problem_code(path)) == (422, "invalid_character")


def test_a_nul_byte_in_the_console_sign_in_is_a_422_page(client, tenant_a):
    token = csrf_from(client.get("/login").text)
    response = client.post("/login", data={"email": f"{tenant_a.user.email}\x00", "password": "correct-horse-battery",
                                           "csrf_token": token}, follow_redirects=False)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert "control character" in response.text


@pytest.mark.parametrize("where", ["form", "query", "path"])
def test_a_nul_byte_in_console_forms_queries_and_paths_is_a_422_page(client, tenant_a, where):
    sign_in(client, tenant_a.partner_admin.email)
    if where == "form":
        token = csrf_from(client.get("/accounts/new").text)
        response = client.post("/accounts/new", data={"name": "Evil\x00Corp", "csrf_token": token},
                               follow_redirects=False)
    elif where == "query":
        response = client.get("/accounts?search=%00")
    else:
        response = client.get(f"/accounts/{tenant_a.account.id}%00/users")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert "control character" in response.text
    if where == "form":
        assert "No account matches your search." in client.get("/accounts?search=Evil").text


def test_a_nul_byte_in_a_static_file_path_is_not_500(client):
    assert client.get("/static/app%00.css").status_code in (404, 422)


class _Nested(StrictSchema):
    label: str


class _Outer(StrictSchema):
    name: str = Field(max_length=50)
    items: list[_Nested] = []
    extra: dict[str, str] = {}
    note: LineBreaksAllowed[str | None] = None


@pytest.mark.parametrize("data, field", [
    ({"name": "a\x00"}, "name"),
    ({"name": "a", "items": [{"label": "ok"}, {"label": "b\x7f"}]}, "items"),
    ({"name": "a", "extra": {"k\x1b": "v"}}, "extra"),
    ({"name": "a", "note": "line\x00"}, "note"),
])
def test_every_input_schema_refuses_control_characters(data, field):
    # The services validate console forms, CLI input and CSV rows through the same schemas.
    with pytest.raises(ValidationFailed) as refused:
        validate(_Outer, data)
    assert [(e.code, e.field) for e in refused.value.errors][0] == ("invalid_character", field)


def test_line_breaks_only_where_a_field_allows_them():
    assert validate(_Outer, {"name": "a", "note": "two\nlines\twith a tab"}).note == "two\nlines\twith a tab"
    with pytest.raises(ValidationFailed):
        validate(_Outer, {"name": "a\nb"})


def test_database_errors_never_carry_the_request_parameters(engine):
    # A traceback in the log must not show what was sent (e-mails, passwords, secrets).
    with pytest.raises(DBAPIError) as failed, engine.connect() as connection:
        connection.execute(text("SELECT secret FROM no_such_table WHERE secret = :value"),
                           {"value": "hunter2-secret"})
    assert "hunter2-secret" not in str(failed.value)
