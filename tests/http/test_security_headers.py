"""Finding 5 of the security review (issue 9): no security headers, inline scripts and
styles in the console. Every answer now carries a Content-Security-Policy without inline
script or style, X-Frame-Options, X-Content-Type-Options and Referrer-Policy (HSTS behind
HTTPS), and no console page holds inline code the policy would block."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import switchboard
from switchboard.app import create_app
from tests.console.helpers import console_routes, csrf_from, sign_in

EXPECTED = {
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}
# An inline <script> (one without src), an inline event handler, an inline style, a
# javascript: URL, or a <style> block.
INLINE = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),
    "event handler": re.compile(r"<[^>]+(?:\s|\})on[a-z]+\s*=", re.I),  # `}`: after a Jinja tag
    "style attribute": re.compile(r"<[^>]+(?:\s|\})style\s*=", re.I),
    "style block": re.compile(r"<style[\s>]", re.I),
    "javascript: URL": re.compile(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", re.I),
}
PACKAGE = Path(switchboard.__file__).resolve().parent
TEMPLATES = sorted(PACKAGE.glob("*/templates/**/*.html"))


def _inline_code(html: str) -> list[str]:
    return [f"{name}: {match.group(0)[:80]}" for name, pattern in INLINE.items() for match in pattern.finditer(html)]


def _assert_protected(response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (response.request.url, name, response.headers.get(name))
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    assert "unsafe-eval" not in response.headers["content-security-policy"]


def test_no_security_headers_is_fixed_on_api_console_and_static_answers(client, tenant_a, login, settings):
    headers = login(tenant_a.partner_admin.email)
    answers = [
        client.get("/api/v1/me", headers=headers),  # API 200
        client.get("/api/v1/me"),  # API 401
        client.get("/api/v1/nothing-here"),  # API 404
        client.post("/api/v1/accounts", headers=headers, json={}),  # API 422
        client.post("/api/v1/accounts", headers={**headers, "content-type": "application/json"},
                    content=b"x" * (settings.max_body_bytes + 1)),  # 413 from the size limit
        client.get("/api/v1/openapi.json"),
        client.get("/api/v1/docs"),
        client.get("/login"),  # console page
        client.get("/accounts", follow_redirects=False),  # console redirect
        client.get("/no-such-page"),  # console 404 page
        client.get("/static/app.css"),
        client.get("/static/app.js"),
        client.get("/static/vendor/htmx/htmx.min.js"),
        client.get("/healthz"),
        client.get("/metrics"),
    ]
    for response in answers:
        _assert_protected(response)
    assert all("strict-transport-security" not in r.headers for r in answers)  # plain HTTP: no HSTS


def test_hsts_only_behind_https(settings, session_factory):
    secure = settings.model_copy(update={"secure_cookies": True})
    with TestClient(create_app(secure, session_factory)) as client:
        for path in ("/login", "/api/v1/me", "/static/app.css"):
            response = client.get(path)
            assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
            _assert_protected(response)


@pytest.mark.parametrize("template", TEMPLATES, ids=[str(p.relative_to(PACKAGE)) for p in TEMPLATES])
def test_no_template_holds_inline_script_handler_or_style(template):
    assert _inline_code(template.read_text()) == []


def test_the_api_docs_page_has_no_inline_script(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    assert _inline_code(page.text) == []
    assert '<script src="/static/api-docs.js">' in page.text
    assert client.get("/static/api-docs.js").status_code == 200


def _pages(app, ids: dict[str, str]) -> list[str]:
    pages = []
    for method, path in console_routes(app):
        if method != "GET":
            continue
        if "{rest:path}" in path:
            path = path.replace("{rest:path}", "dn-ranges")
        pages.append(path.format(**ids))
    return pages


def test_every_console_page_renders_without_inline_code(client, app, mivb_account, tenant_a):
    m = mivb_account
    user_id = m.new_user("Telephony")
    config = client.get(m.user_url(user_id, "/mivb"), headers=m.admin).json()
    ids = {"account_id": m.account_id, "user_id": user_id, "phone_id": config["phones"][0]["id"],
           "range_id": m.dn_range, "category_id": m.categories["Entry"]}
    sign_in(client, tenant_a.partner_admin.email)
    rendered = 0
    for path in _pages(app, ids) + ["/accounts?search=Alpha", f"/accounts/{m.account_id}/users?search=Mia",
                                    f"/accounts/{m.account_id}/users/{'0' * 32}"]:
        response = client.get(path)
        assert response.status_code < 500, path
        _assert_protected(response)
        if response.headers.get("content-type", "").startswith("text/html"):
            assert _inline_code(response.text) == [], path
            rendered += 1
    assert rendered >= 14
    # Refused forms render the pages again with their errors: those too.
    token = csrf_from(client.get("/me/password").text)
    refused = 0
    for method, path in console_routes(app):
        if method != "POST" or path in ("/logout", "/language", "/login"):
            continue
        response = client.post(path.format(**ids), data={"csrf_token": token}, follow_redirects=False)
        assert response.status_code < 500, path
        _assert_protected(response)
        if response.headers.get("content-type", "").startswith("text/html"):
            assert _inline_code(response.text) == [], path
            refused += 1
    assert refused >= 10


def test_the_sign_in_page_as_everyone_sees_it_has_no_inline_code(client, tenant_a):
    assert _inline_code(client.get("/login").text) == []
    refused = sign_in(client, tenant_a.user.email, "wrong password")
    assert _inline_code(refused.text) == []
