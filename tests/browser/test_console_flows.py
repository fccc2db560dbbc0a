"""Issue 10, the console's flows in a real browser: pages shown after a form keep working,
a reload never sends a form again, errors the PBX reports later come and go while the page
is open, and Auto-generate keeps the edits not saved yet.

The sync worker here is stepped by the tests (``worker.run_once()``), not a thread: what
the page shows before and after a push is then certain, never a matter of timing."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select, update

from switchboard.accounts.tenancy import actor_for
from switchboard.audit.models import AuditEntry
from switchboard.core.context import ServiceContext
from switchboard.core.uow import unit_of_work
from switchboard.mivb import service as mivb
from switchboard.mivb.models import MivbService, Phone
from switchboard.sync import queue as sync
from switchboard.sync.models import SyncJob
from switchboard.sync.worker import RetryPolicy, Worker
from tests.browser.test_mivb_flows import (
    Setup,
    _admin,
    add_phone,
    configure,
    make_setup,
    open_user,
    phones,
    sign_in,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def worker(live_server):
    """A sync worker the tests step by hand."""
    runner = Worker(live_server.session_factory, live_server.app.state.runtime, lease_seconds=10,
                    retry=RetryPolicy(base_seconds=0.2, cap_seconds=1.0, max_attempts=50))
    yield runner
    runner.close()


@pytest.fixture
def setup(live_server, sim, sim_api) -> Setup:
    # Pushes earlier tests left queued are dropped: every test account uses the same DNs on
    # the one simulator, which sim_api has just reset.
    with unit_of_work(live_server.session_factory) as session:
        session.execute(update(SyncJob).where(SyncJob.state.in_(("queued", "running"))).values(state="superseded"))
    return make_setup(live_server, sim)


def drain(worker: Worker) -> None:
    """Runs every push that is due, until none is left."""
    while worker.run_once():
        pass


def counts(live_server, user_id: str) -> dict[str, int]:
    """What a form sent twice would add twice: products, phones, sync jobs, change-log entries."""
    with live_server.session_factory() as session:
        def count(model, *where) -> int:
            return session.scalar(select(func.count()).select_from(model).where(*where)) or 0
        return {"products": count(MivbService, MivbService.user_id == user_id),
                "phones": count(Phone, Phone.user_id == user_id),
                "jobs": count(SyncJob, SyncJob.user_id == user_id),
                "changes": count(AuditEntry, AuditEntry.subject_id == user_id)}


def config_of(live_server, setup: Setup, *, reveal: bool = False) -> dict:
    with unit_of_work(live_server.session_factory) as session:
        ctx = ServiceContext(session=session, actor=actor_for(_admin(session, setup)),
                             runtime=live_server.app.state.runtime)
        return mivb.get_config(ctx, setup.account_id, setup.user_id, reveal=reveal)


def flash(page: Page, text):
    return page.locator(".flash", has_text=text)


def no_bare_405(page: Page) -> None:
    expect(page.locator("body")).not_to_contain_text("Method not allowed")


# ------------------------------------------------------------------ 1. pages after a form

def test_pages_shown_after_a_form_keep_their_links_and_language_working(page: Page, setup: Setup, live_server,
                                                                         screenshot):
    configure(live_server, setup, "Entry")
    user_page = f"/accounts/{setup.account_id}/users/{setup.user_id}"
    sign_in(page, setup.admin_email)
    open_user(page, setup)

    # a refused save: the page comes back at the form's address, with 422, and every link works
    page.get_by_label("User pin", exact=True).click()
    page.get_by_label("User pin", exact=True).fill("7777")
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.get_by_role("button", name="Continue").click()
    assert sent.value.status == 422
    expect(page.locator("#errors-top")).to_contain_text("may not repeat one digit")
    page.get_by_role("link", name="+ Add phone").click()
    no_bare_405(page)
    expect(page.get_by_role("dialog", name="Select a phone")).to_be_visible()
    assert page.url.endswith(f"{user_page}?dialog=add-phone#add-phone")

    # a refused phone: "Upgrade service" still opens its dialog
    page.get_by_role("dialog", name="Select a phone").get_by_label("Phones").select_option(label="Hot desk")
    page.get_by_label("External phone", exact=True).check()
    page.get_by_label("External number").fill("0612")
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.get_by_role("dialog", name="Select a phone").get_by_role("button", name="Add").click()
    assert sent.value.status == 422
    page.get_by_role("link", name="Upgrade service").click()
    no_bare_405(page)
    expect(page.get_by_role("dialog", name="Upgrade service")).to_be_visible()

    # a generic SIP phone: its credentials, then "+ Add phone" again
    add_phone(page, "Generic SIP phone")
    expect(page.locator("#new-sip")).to_contain_text("SIP credentials of the new phone")
    assert page.url.split("#")[0].endswith(user_page)
    page.get_by_role("link", name="+ Add phone").click()
    no_bare_405(page)
    expect(page.get_by_role("dialog", name="Select a phone")).to_be_visible()

    # the language selector after a refused save: the same page, in French
    page.get_by_label("User pin", exact=True).click()
    page.get_by_label("User pin", exact=True).fill("7777")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#errors-top")).to_be_visible()
    page.locator("#lang-select").select_option("fr")
    no_bare_405(page)
    expect(page.get_by_role("heading", name="Programmation de service")).to_be_visible()
    assert page.url.split("#")[0].endswith(user_page)
    screenshot(page, "30-after-a-refused-save-in-french")


def test_a_get_on_a_form_address_lands_on_its_page(page: Page, setup: Setup, live_server):
    configure(live_server, setup, "Entry")
    sign_in(page, setup.admin_email)
    user_page = f"/accounts/{setup.account_id}/users/{setup.user_id}"
    for action in ("/mivb/programming", "/mivb/phones", "/mivb/user-pin/suggest", "/mivb/sync",
                   "/products/mivb/add", "/toggle-admin"):
        page.goto(user_page + action)
        no_bare_405(page)
        assert page.url.endswith(user_page), action
        expect(page.get_by_role("heading", name=setup.user_name)).to_be_visible()


# ------------------------------------------------------------------ 2. a reload sends nothing again

def test_a_reload_after_each_write_writes_nothing_again(page: Page, setup: Setup, live_server, screenshot):
    sign_in(page, setup.admin_email)
    open_user(page, setup)

    def written_once(action, shown) -> None:
        before = counts(live_server, setup.user_id)
        action()
        expect(shown()).to_be_visible()
        after = counts(live_server, setup.user_id)
        assert after != before, "the form wrote nothing"
        page.reload()
        no_bare_405(page)
        assert counts(live_server, setup.user_id) == after, "the reload sent the form again"

    written_once(lambda: (page.get_by_role("link", name="+ Add product").click(),
                          page.get_by_role("dialog", name="Add a product").get_by_role("button", name="Add").click()),
                 lambda: page.get_by_role("dialog", name="Add a product").get_by_text("Added"))

    def choose_entry():
        page.get_by_role("link", name="Complete setup").click()
        chooser = page.get_by_role("dialog", name="Choose a service category")
        chooser.locator("label.choice", has_text="Entry").click()
        chooser.get_by_role("button", name="Apply").click()
    written_once(choose_entry, lambda: flash(page, "Service category applied."))

    def programming():
        page.get_by_label("Location").select_option("Lyon")
        page.get_by_role("button", name="Continue").click()
    written_once(programming, lambda: flash(page, "Service programming saved."))

    written_once(lambda: add_phone(page, "Generic SIP phone"), lambda: page.locator("#new-sip"))
    expect(page.locator("#new-sip")).to_have_count(0)  # the reload shows the credentials no more
    written_once(lambda: add_phone(page, "Hot desk", acd=True), lambda: flash(page, re.compile(r"Phone \d+ added")))

    def desk_on_dn():
        page.get_by_label("Or a desk phone on DN").select_option(index=0)
        page.locator("form:has(#field-add-dn)").get_by_role("button", name="Add").click()
    written_once(desk_on_dn, lambda: flash(page, re.compile(r"Phone \d+ added")))

    def voicemail_on():
        row = phones(page).last
        row.get_by_text("Configure").click()
        row.get_by_label("Voicemail", exact=True).check()
        row.get_by_role("button", name="Save").click()
    written_once(voicemail_on, lambda: flash(page, re.compile(r"Phone \d+ saved")))

    def remove_phone():
        row = phones(page).last
        row.get_by_text("Configure").click()
        row.get_by_role("button", name="Remove phone").click()
    written_once(remove_phone, lambda: flash(page, "Phone removed; its numbers are free again."))

    # Auto-generate writes nothing at all, before or after a reload
    before = counts(live_server, setup.user_id)
    page.get_by_role("button", name="Auto-generate").click()
    expect(page.locator(".pin-field[data-suggested]")).to_be_visible()
    page.reload()
    assert counts(live_server, setup.user_id) == before
    screenshot(page, "31-after-reloads")


# ------------------------------------------------------------------ 3. PBX errors come and go live

def test_errors_the_pbx_reports_later_come_and_go_while_the_page_is_open(page: Page, setup: Setup, live_server,
                                                                          sim_api, worker, screenshot):
    desk = configure(live_server, setup, "Telephony")["phones"][0]
    drain(worker)
    sim_api.post("/_sim/faults", json={"reject": {"dn": desk["dn"]}}).raise_for_status()
    with unit_of_work(live_server.session_factory) as session:  # another admin's "push again"
        ctx = ServiceContext(session=session, actor=actor_for(_admin(session, setup)),
                             runtime=live_server.app.state.runtime)
        sync.push_now(ctx, setup.account_id, setup.user_id)
    sign_in(page, setup.admin_email)
    open_user(page, setup)
    page.evaluate("window.stillTheSamePage = true")
    top, bottom = page.locator("#errors-top"), page.locator("#errors-bottom")
    icon = page.locator(f"#phone-state-{desk['id']} .phone-error-icon")
    expect(page.locator("#sync-panel [data-sync-state]")).to_have_attribute("data-sync-state", "pending")
    expect(top).to_be_hidden()
    expect(icon).to_have_count(0)

    drain(worker)  # the PBX refuses the phone while the admin looks at the page
    for summary in (top, bottom):
        expect(summary).to_contain_text(desk["dn"])
        expect(summary).to_contain_text("said the PBX")
    expect(icon).to_be_visible()
    expect(page.locator("#sync-panel")).to_have_attribute("data-busy", "false")  # settled: no more polling
    expect(page.locator("#sync-panel")).not_to_have_attribute("hx-trigger", re.compile("every"))
    assert page.evaluate("window.stillTheSamePage") is True
    screenshot(page, "32-pbx-error-arrived-live")

    # fixed on the PBX, pushed again from the page: the lists and the icon go, still no reload
    sim_api.delete("/_sim/faults").raise_for_status()
    page.get_by_role("button", name="Retry now").click()
    expect(page.locator("#sync-panel")).to_have_attribute("data-busy", "true")
    drain(worker)
    expect(page.locator("#sync-panel [data-sync-state]")).to_have_attribute("data-sync-state", "synced")
    expect(top).to_be_hidden()
    expect(bottom).to_be_hidden()
    expect(top).not_to_contain_text(desk["dn"])
    expect(icon).to_have_count(0)
    expect(page.locator(f"#phone-state-{desk['id']} [data-sync-state=synced]")).to_be_visible()
    assert page.evaluate("window.stillTheSamePage") is True


# ------------------------------------------------------------------ 4. Auto-generate keeps the edits

def test_auto_generate_fills_the_pin_and_keeps_the_edits_not_saved_yet(page: Page, setup: Setup, live_server):
    configure(live_server, setup, "Entry")
    saved = config_of(live_server, setup, reveal=True)["programming"]
    before = counts(live_server, setup.user_id)
    sign_in(page, setup.admin_email)
    open_user(page, setup)
    page.get_by_label("Location").select_option("Lyon")
    page.get_by_label("Department").select_option("Finance")

    with page.expect_response(lambda r: r.request.method == "POST"):
        page.get_by_role("button", name="Auto-generate").click()
    expect(page.get_by_label("Location")).to_have_value("Lyon")  # the edits are still there…
    expect(page.get_by_label("Department")).to_have_value("Finance")
    expect(page.locator(".pin-field[data-suggested]")).to_be_visible()
    pin = page.get_by_label("User pin", exact=True)
    expect(pin).to_have_value(re.compile(r"^\d{4,8}$"))
    expect(pin).to_be_focused()
    expect(page.locator(".pin-rules li.broken")).to_have_count(0)
    suggested = pin.input_value()
    assert counts(live_server, setup.user_id) == before  # …and nothing is saved yet
    assert config_of(live_server, setup, reveal=True)["programming"] == saved

    page.get_by_role("button", name="Continue").click()  # all of them saved together
    expect(page.get_by_text("Service programming saved.")).to_be_visible()
    programming = config_of(live_server, setup, reveal=True)["programming"]
    assert (programming["location"], programming["department"], programming["user_pin"]) == \
        ("Lyon", "Finance", suggested)
