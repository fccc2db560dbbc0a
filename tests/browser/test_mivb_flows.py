"""Every MiVB flow of the source page in a real browser, as an account admin, against the
real mivb-sim process with a sync worker running: product, category, programming with an
auto-generated pin, each phone type, sync; a PBX refusal shown in the error lists and on
the phone, fixed and synced again."""

from __future__ import annotations

import itertools
import re
import threading
import uuid
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from switchboard.core.uow import unit_of_work
from switchboard.accounts.tenancy import actor_for
from switchboard.core.context import ServiceContext
from switchboard.mivb import service as mivb
from switchboard.numbering import service as numbering
from switchboard.pbx import service as pbx
from switchboard.sync.worker import RetryPolicy, Worker
from tests.conftest import SIM_AUTH
from tests.factories import PASSWORD, make_account, make_partner, make_user

pytestmark = pytest.mark.browser
_did_blocks = itertools.count(1)


@pytest.fixture(scope="module")
def worker(live_server):
    """A sync worker thread beside the live server, as `make run` has one."""
    stop = threading.Event()
    runner = Worker(live_server.session_factory, live_server.app.state.runtime, lease_seconds=10,
                    retry=RetryPolicy(base_seconds=0.2, cap_seconds=1.0, max_attempts=50))
    thread = threading.Thread(target=runner.run_forever, args=(stop, 0.2), daemon=True)
    thread.start()
    yield runner
    stop.set()
    thread.join(timeout=15)


@dataclass
class Setup:
    account_id: str
    admin_email: str
    user_id: str
    user_name: str
    partner_email: str


@pytest.fixture
def setup(live_server, sim, sim_api, worker) -> Setup:
    return make_setup(live_server, sim)


def make_setup(live_server, sim) -> Setup:
    """An account connected to the simulator with ranges, licences and two categories, its
    admin, and a user without products."""
    tag = uuid.uuid4().hex[:6]
    with unit_of_work(live_server.session_factory) as session:
        partner, partner_admin = make_partner(session, f"Flow Partner {tag}")
        account = make_account(session, partner, f"Flow Customer {tag}")
        admin = make_user(session, account, role="account_admin", first_name="Flo", last_name=f"Admin{tag}")
        user = make_user(session, account, first_name="Noémie", last_name=f"Phone{tag}", password=None)
        ctx = ServiceContext(session=session, actor=actor_for(partner_admin), runtime=live_server.app.state.runtime)
        # every test account shares the one simulator, on purpose
        pbx.set_connection(ctx, account.id, {"url": sim.url, "username": SIM_AUTH[0], "password": SIM_AUTH[1],
                                             "shared": True})
        session.commit()  # the catalogue read below calls the PBX: never inside a write
        pbx.get_catalog(ctx, account.id)
        numbering.create_dn_range(ctx, account.id, {"start": "3000", "end": "3099"})
        block = next(_did_blocks)  # DIDs are unique across accounts: one block each
        numbering.create_did_range(ctx, account.id, {"start": f"+33155{block:03d}000", "end": f"+33155{block:03d}099",
                                                     "first_dn": "3000"})
        mivb.set_addon_licences(ctx, account.id, {"ehdu": 3, "acd_agent": 3})
        for name, template, licences in (("Entry", "Entry User", 10), ("Telephony", "Telephony User", 10)):
            mivb.create_category(ctx, account.id, {"name": name, "template": template, "licences": licences})
        return Setup(account.id, admin.email, user.id, user.full_name, partner_admin.email)


def sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Users")).to_be_visible()


def open_user(page: Page, s: Setup) -> None:
    page.goto(f"/accounts/{s.account_id}/users/{s.user_id}")
    expect(page.get_by_role("heading", name=s.user_name)).to_be_visible()


def add_phone(page: Page, type_label: str, *, acd: bool = False, external: str | None = None) -> None:
    page.get_by_role("link", name="+ Add phone").click()
    dialog = page.get_by_role("dialog", name="Select a phone")
    dialog.get_by_label("Phones").select_option(label=type_label)
    options = dialog.get_by_role("group", name="Additional options")
    if type_label == "Hot desk":
        expect(options).to_be_visible()
        if acd:
            options.get_by_label("ACD agent").check()
        if external:
            options.get_by_label("External phone", exact=True).check()
            options.get_by_label("External number").fill(external)
    else:
        expect(options).to_be_hidden()
    dialog.get_by_role("button", name="Add").click()


def phones(page: Page):
    return page.locator("li.phone")


def wait_synced(page: Page, timeout: float = 20_000) -> None:
    expect(page.locator("#sync-panel [data-sync-state]")).to_have_attribute("data-sync-state", "synced", timeout=timeout)


def test_the_whole_setup_flow_ends_synced(page: Page, setup: Setup, sim_api, screenshot):
    sign_in(page, setup.admin_email)
    page.get_by_role("link", name=re.compile(setup.user_name.split()[1])).click()
    products = page.get_by_role("region", name="Products and licenses")
    expect(products).to_contain_text("No products assigned yet.")
    products.get_by_role("link", name="+ Add product").click()
    dialog = page.get_by_role("dialog", name="Add a product")
    expect(dialog).to_contain_text("MiVoice Business Service")
    screenshot(page, "10-add-product-dialog")
    dialog.get_by_role("button", name="Add").click()
    expect(dialog.get_by_text("Added")).to_be_visible()
    dialog.get_by_role("link", name="Done").click()
    expect(products).to_contain_text("MiVoice Business (no service assigned)")

    products.get_by_role("link", name="Complete setup").click()
    chooser = page.get_by_role("dialog", name="Choose a service category")
    expect(chooser).to_contain_text("10 licences left")
    chooser.locator("label.choice", has_text="Entry").click()
    screenshot(page, "11-choose-category")
    chooser.get_by_role("button", name="Apply").click()
    expect(products).to_contain_text("MiVoice Business — Entry")
    configuration = page.get_by_role("region", name="User configuration")
    expect(configuration).to_be_visible()

    # programming: a pin typed by hand is checked as it is typed, then auto-generated
    pin = page.get_by_label("User pin", exact=True)
    page.get_by_role("button", name="Edit the user pin").click()
    pin.fill("1234")
    expect(page.locator(".pin-rules li.broken")).to_contain_text("Not a straight sequence (1234, 9876).")
    page.get_by_role("button", name="Auto-generate").click()  # fills the field in; Continue saves it
    expect(page.locator(".pin-field[data-suggested]")).to_be_visible()
    expect(pin).to_have_value(re.compile(r"^\d{4,8}$"))
    pin_value = pin.input_value()
    page.get_by_label("Location").select_option("Lyon")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("Service programming saved.")).to_be_visible()

    # phones: one of each type; the SIP credentials are shown once
    add_phone(page, "Generic SIP phone")
    expect(page.locator("#new-sip")).to_contain_text("SIP credentials of the new phone")
    sip_password = page.locator("#sip-password").inner_text()
    assert len(sip_password) >= 16
    open_user(page, setup)
    expect(page.locator("body")).not_to_contain_text(sip_password)
    add_phone(page, "Hot desk", acd=True, external="+33612345678")
    page.get_by_label("Or a desk phone on DN").select_option(index=0)
    page.locator("form:has(#field-add-dn)").get_by_role("button", name="Add").click()
    expect(phones(page)).to_have_count(4)  # the template's SIP phone, then the three added
    wait_synced(page)
    expect(page.locator("li.phone [data-sync-state=synced]")).to_have_count(4)
    screenshot(page, "12-user-configured-synced")

    on_pbx = {u["user_key"]: u for u in sim_api.get("/_sim/state").json()["users"]}[setup.user_id]
    assert on_pbx["user_pin"] == pin_value and on_pbx["location"] == "Lyon"
    assert sorted(p["type"] for p in on_pbx["phones"]) == ["desk_phone", "generic_sip", "generic_sip", "hot_desk"]
    hot = next(p for p in on_pbx["phones"] if p["type"] == "hot_desk")
    assert hot["acd_agent"] is True and hot["external_phone"] == {"number": "+33612345678"}
    assert sip_password in [p["sip"]["password"] for p in on_pbx["phones"] if p["sip"]]


def test_a_pbx_refusal_is_shown_everywhere_and_fixed(page: Page, setup: Setup, live_server, sim_api, screenshot):
    config = configure(live_server, setup, "Telephony")
    desk = config["phones"][0]
    sim_api.post("/_sim/faults", json={"reject": {"dn": desk["dn"]}}).raise_for_status()
    sign_in(page, setup.admin_email)
    open_user(page, setup)
    expect(page.locator("#sync-panel [data-sync-state]")).to_have_attribute("data-sync-state", "failed", timeout=20_000)
    page.reload()
    top, bottom = page.locator("#errors-top"), page.locator("#errors-bottom")
    for summary in (top, bottom):
        expect(summary).to_contain_text(desk["dn"])  # the PBX's own words name the DN
        expect(summary).to_contain_text("said the PBX")
    icon = page.locator(f"#phone-state-{desk['id']} .phone-error-icon")
    expect(icon).to_be_visible()
    screenshot(page, "13-pbx-refusal")

    top.get_by_role("link").first.click()
    expect(page.locator(f"#phone-{desk['id']}")).to_be_focused()
    page.locator("#main").focus()
    bottom.get_by_role("link").first.click()
    expect(page.locator(f"#phone-{desk['id']}")).to_be_focused()
    icon.click()
    expect(page.locator(f"#phone-{desk['id']}")).to_be_focused()

    # fix it: the PBX accepts the DN again, "Retry now" pushes, the page updates by itself
    sim_api.delete("/_sim/faults").raise_for_status()
    page.get_by_role("button", name="Retry now").click()
    wait_synced(page)
    expect(page.locator("#errors-top")).not_to_contain_text(desk["dn"])
    expect(page.locator(f"#phone-state-{desk['id']} [data-sync-state=synced]")).to_be_visible()


def test_refused_programming_keeps_input_and_points_at_the_field(page: Page, setup: Setup, live_server):
    configure(live_server, setup, "Entry")
    sign_in(page, setup.admin_email)
    open_user(page, setup)
    page.get_by_label("User pin", exact=True).click()
    page.get_by_label("User pin", exact=True).fill("7777")
    page.get_by_label("Department").select_option("Finance")
    page.get_by_role("button", name="Continue").click()
    field_error = page.locator("#error-programming-user_pin")
    expect(field_error).to_contain_text("may not repeat one digit")
    expect(page.get_by_label("User pin", exact=True)).to_have_value("7777")
    expect(page.get_by_label("Department")).to_have_value("Finance")
    expect(page.locator("#errors-bottom")).to_contain_text("may not repeat one digit")
    page.locator("#errors-top").get_by_role("link").first.click()
    expect(page.get_by_label("User pin", exact=True)).to_be_focused()


def test_a_dn_change_asks_for_confirmation(page: Page, setup: Setup, live_server, sim_api):
    config = configure(live_server, setup, "Telephony")
    desk = config["phones"][0]
    sign_in(page, setup.admin_email)
    open_user(page, setup)
    row = page.locator(f"#phone-{desk['id']}")
    row.get_by_text("Configure").click()
    row.get_by_label("DN", exact=True).fill("3090")
    row.get_by_role("button", name="Save").click()
    row = page.locator(f"#phone-{desk['id']}")
    expect(row).to_contain_text("a new DN recreates the voicemail box")
    expect(page.locator("#errors-top")).to_contain_text("tick the box to confirm")
    expect(row.get_by_label("DN", exact=True)).to_have_value("3090")
    row.get_by_label("I understand that a new DN recreates the voicemail box").check()
    row.get_by_role("button", name="Save").click()
    expect(page.locator(f"#phone-{desk['id']}")).to_contain_text("3090")
    wait_synced(page)
    on_pbx = {u["user_key"]: u for u in sim_api.get("/_sim/state").json()["users"]}[setup.user_id]
    assert on_pbx["phones"][0]["dn"] == "3090" and on_pbx["phones"][0]["voicemail_box"]["dn"] == "3090"


def configure(live_server, setup: Setup, category: str) -> dict:
    """The product and a category for the setup's user, through the service layer."""
    with unit_of_work(live_server.session_factory) as session:
        ctx = ServiceContext(session=session, actor=actor_for(_admin(session, setup)),
                             runtime=live_server.app.state.runtime)
        mivb.add_product(ctx, setup.account_id, setup.user_id, {"product": "mivb"})
        return mivb.choose_category(ctx, setup.account_id, setup.user_id,
                                    {"service_category": _category(ctx, setup, category)})


def wait_until_synced(live_server, user_id: str, timeout: float = 20) -> None:
    import time

    from switchboard.sync.models import SyncStatus

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with unit_of_work(live_server.session_factory) as session:
            status = session.get(SyncStatus, user_id)
            if status is not None and status.state == "synced":
                return
        time.sleep(0.2)
    raise AssertionError("the worker did not sync the user in time")


def _admin(session, setup: Setup):
    from sqlalchemy import select

    from switchboard.accounts.models import User

    return session.scalar(select(User).where(User.email_key == setup.admin_email))


def _category(ctx, setup: Setup, name: str) -> str:
    return next(c["id"] for c in mivb.list_categories(ctx, setup.account_id) if c["name"] == name)


def test_settings_page_as_partner_admin(page: Page, setup: Setup, live_server, sim_api, screenshot):
    page.goto("/login")
    page.get_by_label("E-mail").fill(setup.partner_email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"/accounts/{setup.account_id}/settings/mivb")
    expect(page.get_by_role("heading", name="System Settings › MiVoice Business")).to_be_visible()

    # "Test connection" answers in place (htmx), then again with the PBX down
    url_before = page.url
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#connection-test")).to_contain_text("MiVB-SIM")
    assert page.url == url_before
    sim_api.post("/_sim/faults", json={"down": True}).raise_for_status()
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#connection-test")).to_contain_text("unavailable")
    sim_api.delete("/_sim/faults").raise_for_status()

    # a DN range refused beside its field, input kept, then accepted with its usage bar
    dn_form = page.locator("form", has=page.get_by_role("heading", name="Add a DN range"))
    dn_form.get_by_label("Start").fill("4000")
    dn_form.get_by_label("End").fill("40999")
    dn_form.get_by_role("button", name="Add range").click()
    dn_form = page.locator("form", has=page.get_by_role("heading", name="Add a DN range"))
    expect(dn_form.get_by_label("End")).to_have_value("40999")
    expect(dn_form).to_contain_text("same number of digits")
    dn_form.get_by_label("End").fill("4099")
    dn_form.get_by_role("button", name="Add range").click()
    expect(page.locator("#dn-ranges")).to_contain_text("4099")
    screenshot(page, "20-mivb-settings")


def test_users_list_filters_and_assigns_in_bulk(page: Page, setup: Setup, live_server, screenshot):
    with unit_of_work(live_server.session_factory) as session:
        from switchboard.accounts.models import Account

        account = session.get(Account, setup.account_id)
        others = [make_user(session, account, first_name="Bulk", last_name=f"User{i}", password=None) for i in range(2)]
        names = [u.full_name for u in others]
        rows = [f"{u.last_name}, {u.first_name}" for u in others]
    configure(live_server, setup, "Entry")
    wait_until_synced(live_server, setup.user_id)
    sign_in(page, setup.admin_email)
    last_name = setup.user_name.split()[-1]
    expect(page.locator("#users-table")).to_contain_text(last_name)
    page.get_by_label("Sync state").select_option("synced")
    expect(page.locator("#users-table")).not_to_contain_text("Bulk")
    expect(page.locator("#users-table")).to_contain_text(last_name)
    page.get_by_label("Sync state").select_option("")
    expect(page.locator("#users-table")).to_contain_text("Bulk")
    for name in names:
        page.get_by_label(f"Select {name}").check()
    page.get_by_label("Ticked users:").select_option(label="Telephony (10 licences left)")
    page.get_by_role("button", name="Assign MiVoice Business").click()
    table = page.locator("#users-table")
    for row_name in rows:
        expect(table.locator("tr", has_text=row_name)).to_contain_text("MiVoice Business Service: Telephony")
    screenshot(page, "21-users-list-bulk-assigned")
