"""Finding 5 of the security review (issue 9): the console and the API documentation work
under a Content-Security-Policy without inline script or style. The page fixture fails a
test when the policy blocks anything, so every browser test checks it on its pages; these
check the pieces that used inline code before."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from switchboard.core.uow import unit_of_work
from tests.browser.test_console_foundation import sign_in
from tests.factories import make_tenant

pytestmark = pytest.mark.browser


def test_the_language_selector_works_without_an_inline_handler(page: Page, live_server):
    with unit_of_work(live_server.session_factory) as session:
        tenant = make_tenant(session, f"Csp{uuid.uuid4().hex[:6]}")
    sign_in(page, tenant.partner_admin.email)
    expect(page.get_by_role("heading", name="Accounts", exact=True)).to_be_visible()
    page.get_by_label("Language").select_option(label="Français")
    expect(page.get_by_role("heading", name="Comptes", exact=True)).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "fr")


def test_the_api_docs_start_without_an_inline_script(page: Page, live_server, screenshot):
    response = page.goto("/api/v1/docs")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    # Swagger UI's bundle is large: on a loaded machine it may take longer than the usual 10 s.
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Switchboard API", timeout=30_000)
    operation = page.locator(".opblock-summary-path", has_text=re.compile(r"^/api/v1/auth/token$")).first
    expect(operation).to_be_visible()
    operation.click()
    expect(page.locator(".opblock-body").first).to_be_visible()
    screenshot(page, "api-docs")
