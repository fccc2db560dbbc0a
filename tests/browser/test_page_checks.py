"""The checks every browser test makes behind its back (tests/browser/conftest.py) are right:
a script the server refuses or the network drops fails the test, but a script Chromium stops
loading because the test moved on to another page does not (CI failed once on that: a
``goto`` right after signing in aborted htmx.min.js of the page being left)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import _new_page

pytestmark = pytest.mark.browser

HTMX = "**/static/vendor/htmx/htmx.min.js"


def test_a_script_aborted_by_leaving_the_page_is_not_a_broken_asset(browser, live_server):
    context, page, problems = _new_page(browser, live_server)
    held = []
    page.route(HTMX, lambda route: held.append(route))  # never answered while the test is here
    page.goto("/login", wait_until="commit")
    for _ in range(200):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the page never asked for htmx.min.js"
    page.unroute(HTMX)
    page.goto("/login")  # leave the page while its script still loads
    page.wait_for_load_state("load")
    problems.closing = True
    context.close()
    assert problems.aborted, "leaving the page did not abort the script it was loading"
    assert problems.unexplained_aborts() == []
    assert problems.broken_assets == []


def _sign_in_page_whose_script_fails(browser, live_server, error: str):
    """The problems seen on the sign-in page when htmx.min.js fails with `error`."""
    context, page, problems = _new_page(browser, live_server)
    page.route(HTMX, lambda route: route.abort(error))
    page.goto("/login")
    page.wait_for_load_state("load")
    problems.closing = True
    context.close()
    return problems


def test_a_script_the_network_drops_is_a_broken_asset(browser, live_server):
    problems = _sign_in_page_whose_script_fails(browser, live_server, "failed")
    assert any("htmx.min.js" in item for item in problems.broken_assets), problems


def test_a_script_aborted_with_no_navigation_is_still_reported(browser, live_server):
    problems = _sign_in_page_whose_script_fails(browser, live_server, "aborted")
    assert any("htmx.min.js" in item for item in problems.unexplained_aborts()), problems
