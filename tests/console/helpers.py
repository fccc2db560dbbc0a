"""Driving console forms with the test client, as a browser without JavaScript would."""

from __future__ import annotations

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
