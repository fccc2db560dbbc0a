"""The checks every browser test makes behind its back (tests/browser/conftest.py) are right:
a script the server refuses or the network drops fails the test, but a script Chromium stops
loading because the test moved on to another page does not (CI failed once on that: a
``goto`` right after signing in aborted htmx.min.js of the page being left)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.browser.conftest import _new_page

pytestmark = pytest.mark.browser

HTMX = "**/static/vendor/htmx/htmx.min.js"


class _SlowScriptSite:
    """A page whose script takes 20 s to come, served on a port of its own: leaving the page
    meanwhile makes Chromium abort a real network request, as it did in CI."""

    def __init__(self) -> None:
        asked, release = threading.Event(), threading.Event()
        self.asked, self.release = asked, release

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the standard library's name)
                if self.path == "/slow.js":
                    asked.set()
                    release.wait(20)
                    body, kind = b"void 0;", "text/javascript"
                elif self.path == "/":
                    body, kind = b'<!doctype html><title>t</title><script src="/slow.js"></script>', "text/html"
                else:
                    body, kind = b"<!doctype html><title>next</title>", "text/html"
                try:
                    self.send_response(200)
                    self.send_header("content-type", kind)
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the browser went away: that is the point
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_a_script_aborted_by_leaving_the_page_is_not_a_broken_asset(browser, live_server):
    site = _SlowScriptSite()
    context, page, problems = _new_page(browser, live_server)
    try:
        page.goto(site.url + "/", wait_until="commit")
        assert site.asked.wait(10), "the page never asked for its script"
        page.goto(site.url + "/next")  # leave the page while its script still loads
        for _ in range(340):  # up to 17 s, before the script comes (20 s): Chromium reports late on a loaded machine
            if problems.aborted:
                break
            page.wait_for_timeout(50)
    finally:
        problems.closing = True
        context.close()
        site.close()
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


def test_an_abort_counts_only_when_no_navigation_came_after_it():
    from tests.browser.conftest import PageProblems

    navigations = {"count": 1}
    problems = PageProblems()
    problems.aborted.append(("failed /static/a.js: net::ERR_ABORTED", 1, navigations))
    assert problems.unexplained_aborts() == ["failed /static/a.js: net::ERR_ABORTED"]
    navigations["count"] = 2  # the page it belonged to was left
    assert problems.unexplained_aborts() == []
