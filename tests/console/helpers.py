"""Driving console forms with the test client, as a browser without JavaScript would."""

from __future__ import annotations

import base64
import json
import re

from tests.factories import PASSWORD

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def sign_in(client, email: str, password: str = PASSWORD):
    token = csrf_from(client.get("/login").text)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token},
                       follow_redirects=False)


def post_form(client, page_url: str, action: str, data: dict[str, str]):
    """GET the page (for its CSRF token) then POST the form."""
    token = csrf_from(client.get(page_url).text)
    return client.post(action, data={**data, "csrf_token": token}, follow_redirects=False)


def console_routes(app) -> list[tuple[str, str]]:
    """(method, path template) of every console page and form, read from the app's route
    table (so a page added tomorrow is walked tomorrow): what is not the API, the static
    files or the operational endpoints."""
    found: list[tuple[str, str]] = []

    def walk(routes, prefix: str = "") -> None:
        for route in routes:
            original = getattr(route, "original_router", None)
            if original is not None:
                walk(original.routes, prefix + route.include_context.prefix)
                continue
            path = prefix + getattr(route, "path", "")
            methods = getattr(route, "methods", None)
            if not methods or path.startswith("/api/") or path in ("/healthz", "/readyz", "/metrics"):
                continue
            found.extend((method, path) for method in sorted(methods - {"HEAD"}))

    walk(app.routes)
    return sorted(set(found))


def session_cookie(client) -> dict:
    """What the signed session cookie carries (readable by whoever holds the browser)."""
    raw = client.cookies.get("switchboard_session") or ""
    payload = raw.split(".")[0]
    return json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4))) if payload else {}
