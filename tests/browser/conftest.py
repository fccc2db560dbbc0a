"""Browser tests: a real headless Chromium (Playwright, sync API) against the real console,
served by uvicorn on a loopback port with its own fresh database.

- ``live_server`` (module scope): a new database (SWITCHBOARD_TEST_DB picks sqlite or
  postgresql), migrated, served by uvicorn in a background thread. Tests seed data through
  ``tests.factories`` with ``live_server.session_factory`` (the factories commit).
- ``browser`` (session scope): Debian's Chromium. Missing Chromium skips these tests on a
  workstation, and fails them under CI=true.
- ``page``: a new browser context per test (1366x800, en-US, 10 s timeouts). At teardown it
  fails the test if the page raised a JavaScript error, a script/stylesheet/image failed to
  load or the Content-Security-Policy blocked something, and saves a screenshot of a failed
  test. ``new_page(locale)`` opens more, each in a context of its own (another browser, another
  language), checked the same way.
- ``screenshot``: saves ``test-output/screenshots/<backend>/<name>.png`` (repo-root relative).
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest
import uvicorn
from sqlalchemy.orm import sessionmaker

from switchboard.app import create_app
from switchboard.core.config import Settings
from switchboard.core.db import make_engine, make_session_factory
from switchboard.migrations import upgrade
from switchboard.testing.databases import temporary_database

# Debian's Chromium; the variable exists only to check the skip/fail behaviour without it.
CHROMIUM = os.environ.get("SWITCHBOARD_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-quic", "--no-first-run",
]
DEFAULT_TIMEOUT_MS = 10_000
HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
SCREENSHOT_DIR = REPO_ROOT / "test-output" / "screenshots"
BACKEND = os.environ.get("SWITCHBOARD_TEST_DB", "sqlite")


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


# ------------------------------------------------------------------ marking and skipping

def pytest_collection_modifyitems(config, items):
    """Every test under tests/browser is marked ``browser``; without Chromium they are skipped
    (outside CI only: under CI=true the ``browser`` fixture fails them instead)."""
    # This hook sees the whole session's items, not only this directory's.
    missing = not os.access(CHROMIUM, os.X_OK) and not _in_ci()
    for item in items:
        if HERE not in Path(str(item.path)).resolve().parents:
            continue
        item.add_marker(pytest.mark.browser)
        if missing:
            item.add_marker(pytest.mark.skip(
                reason=f"Chromium not found at {CHROMIUM} (install Debian's chromium: `make chromium`); "
                       "browser tests skipped. Under CI=true this is a failure."))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Keep each phase's report on the item so the page fixture can see a failed test.
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


# ------------------------------------------------------------------ the live server

@dataclass
class LiveServer:
    base_url: str
    session_factory: sessionmaker
    backend: str
    app: object = None

    def url(self, path: str) -> str:
        return self.base_url + path


def _loopback_socket() -> socket.socket:
    # Bound here and handed to uvicorn: no window in which another process takes the port.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _wait_until_up(base_url: str, thread: threading.Thread, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("the uvicorn thread stopped before answering /healthz")
        try:
            if httpx.get(base_url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError as exc:
            last_error = exc
        time.sleep(0.05)
    raise RuntimeError(f"the live server did not answer /healthz within {timeout:.0f} s: {last_error!r}")


@pytest.fixture(scope="module")
def live_server(tmp_path_factory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("live")
    with temporary_database(BACKEND, tmp) as url:
        upgrade(url)
        engine = make_engine(url)
        session_factory = make_session_factory(engine)
        settings = Settings(var_dir=tmp, secret_key="browser-tests-secret-key-for-switchboard", database_url=url)
        app = create_app(settings, session_factory)
        sock = _loopback_socket()
        port = sock.getsockname()[1]
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                                lifespan="on")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="live-uvicorn",
                                  daemon=True)
        thread.start()
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(base_url, thread)
            yield LiveServer(base_url=base_url, session_factory=session_factory, backend=BACKEND, app=app)
        finally:
            server.should_exit = True
            thread.join(timeout=15)
            sock.close()
            engine.dispose()
            if thread.is_alive():  # reported after the database is gone, not instead of it
                pytest.fail("the live uvicorn server did not shut down within 15 s")


@pytest.fixture(scope="module")
def session_factory(live_server) -> sessionmaker:
    """The live server's session factory (overrides the rolled-back one of tests/conftest.py):
    what a test commits through it is what the browser sees."""
    return live_server.session_factory


# ------------------------------------------------------------------ the browser

@pytest.fixture(scope="session")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        message = f"Chromium not found at {CHROMIUM}; the browser tests cannot run"
        if _in_ci():
            pytest.fail(message + " (CI=true: this is a failure, not a skip)", pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    except Exception:
        playwright.stop()
        raise
    yield browser
    browser.close()
    playwright.stop()


@dataclass
class PageProblems:
    """What went wrong in the page behind the test's back."""

    js_errors: list[str] = field(default_factory=list)
    broken_assets: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    aborted: list = field(default_factory=list)  # (what, navigations when asked, navigation counter)
    closing: bool = False  # the test is over: closing the context aborts what still loads

    def unexplained_aborts(self) -> list[str]:
        return [what for what, asked, counter in self.aborted if counter["count"] == asked]


def _new_page(browser, live_server, locale: str = "en-US"):
    """A page in a new browser context, and what goes wrong in it behind the test's back."""
    context = browser.new_context(viewport={"width": 1366, "height": 800}, locale=locale,
                                  base_url=live_server.base_url)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    context.set_default_navigation_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    problems = PageProblems()
    page.on("pageerror", lambda error: problems.js_errors.append(f"{page.url}: {error}"))
    # An inline script, handler or style the Content-Security-Policy blocked: Chromium says so
    # on the console only, and the page quietly misbehaves.
    page.on("console", lambda message: problems.csp_violations.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text else None)

    def on_response(response):
        if response.status >= 400 and response.request.resource_type in ("script", "stylesheet", "image", "font"):
            problems.broken_assets.append(f"{response.status} {response.url}")

    page.on("response", on_response)

    # A test that moves on (a click, a goto) while the page it leaves still loads a script makes
    # Chromium abort that request: net::ERR_ABORTED, harmless. An abort still counts when the
    # page that asked for the asset is still the page shown (nothing navigated since).
    navigations = {"count": 0}
    asked_during: dict = {}

    def on_navigated(frame):
        if frame == page.main_frame:
            navigations["count"] += 1

    def on_request(req):
        asked_during[req] = navigations["count"]

    def on_failed(req):
        if req.resource_type not in ("script", "stylesheet", "image", "font") or problems.closing:
            return
        failure = req.failure or ""
        if "ERR_ABORTED" in failure:
            problems.aborted.append((f"failed {req.url}: {failure}", asked_during.get(req, 0), navigations))
        else:
            problems.broken_assets.append(f"failed {req.url}: {failure}")

    page.on("framenavigated", on_navigated)
    page.on("request", on_request)
    page.on("requestfailed", on_failed)
    return context, page, problems


def _check_problems(problems: PageProblems) -> None:
    assert not problems.js_errors, f"JavaScript errors in the page: {problems.js_errors}"
    assert not problems.broken_assets, f"assets that failed to load: {problems.broken_assets}"
    aborted = problems.unexplained_aborts()
    assert not aborted, f"assets aborted with no navigation to explain it: {aborted}"
    assert not problems.csp_violations, f"blocked by the Content-Security-Policy: {problems.csp_violations}"


@pytest.fixture
def page(request, browser, live_server):
    context, page, problems = _new_page(browser, live_server)
    yield page
    call = getattr(request.node, "rep_call", None)
    failure_shot = SCREENSHOT_DIR / live_server.backend / f"FAILED-{_safe_name(request.node.name)}.png"
    if call is not None and call.failed:
        try:
            save_screenshot(page, failure_shot.stem, live_server.backend)
        except Exception:  # a screenshot is a courtesy; never hide the real failure
            pass
    else:
        failure_shot.unlink(missing_ok=True)  # no stale picture of a failure that is gone
    problems.closing = True
    context.close()
    _check_problems(problems)


@pytest.fixture
def new_page(request, browser, live_server):
    """``new_page(locale="fr-FR")``: a page in a browser context of its own (another browser,
    another language: the context's locale is its Accept-Language), checked like ``page``."""
    opened = []

    def _open(locale: str = "en-US"):
        context, page, problems = _new_page(browser, live_server, locale)
        opened.append((context, page, problems))
        return page

    yield _open
    call = getattr(request.node, "rep_call", None)
    for number, (context, page, problems) in enumerate(opened, 1):
        if call is not None and call.failed:
            try:
                save_screenshot(page, f"FAILED-{_safe_name(request.node.name)}-{number}", live_server.backend)
            except Exception:
                pass
        problems.closing = True
        context.close()
    for _, _, problems in opened:
        _check_problems(problems)


# ------------------------------------------------------------------ screenshots

def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "screenshot"


def save_screenshot(page, name: str, backend: str = BACKEND) -> Path:
    """A full-page PNG under test-output/screenshots/<backend>/<name>.png; returns its path."""
    directory = SCREENSHOT_DIR / backend
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{_safe_name(name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def screenshot(live_server) -> Callable[..., Path]:
    """``screenshot(page, "name")`` saves test-output/screenshots/<backend>/name.png."""
    return lambda page, name: save_screenshot(page, name, live_server.backend)
