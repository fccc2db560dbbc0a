"""The console's foundation in a real browser: sign-in, accounts and users, search, tenant
isolation, refused forms, keyboard use. Data is seeded through tests.factories against the
live server's database; every name is unique so the tests of this module never collide."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from switchboard.core.uow import unit_of_work
from switchboard.accounts.models import Account
from tests.factories import PASSWORD, Tenant, make_partner, make_tenant, make_user

pytestmark = pytest.mark.browser


def _tag() -> str:
    return uuid.uuid4().hex[:6]


def _tenant(live_server, label: str) -> Tenant:
    with unit_of_work(live_server.session_factory) as session:
        return make_tenant(session, f"{label}{_tag()}")


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def main_nav(page: Page):
    return page.get_by_role("navigation", name="Main navigation")


# ------------------------------------------------------------------ 1. the main path

def test_partner_admin_creates_account_and_user_then_finds_the_user(page: Page, live_server, screenshot):
    tag = _tag()
    with unit_of_work(live_server.session_factory) as session:
        _, partner_admin = make_partner(session, f"Browser Partner {tag}")

    # Sign in through the form.
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_role("heading", name="Sign in to Switchboard")).to_be_visible()
    screenshot(page, "01-sign-in")
    page.get_by_label("E-mail").fill(partner_admin.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # Accounts list: a new partner has none yet.
    expect(page).to_have_url(re.compile(r"/accounts$"))
    expect(page.get_by_role("heading", name="Accounts", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_role("cell", name="No accounts yet.")).to_be_visible()

    # "+ Add account": name, country, city, default language.
    account_name = f"Ingredia {tag}"
    page.get_by_role("link", name="+ Add account").click()
    expect(page.get_by_role("heading", name="New account")).to_be_visible()
    page.get_by_role("textbox", name="Name", exact=True).fill(account_name)
    page.get_by_label("Country").select_option(label="Canada")
    page.get_by_label("City").fill("Montréal")
    page.get_by_label("Default language").select_option(label="English")
    page.get_by_role("button", name="Save").click()

    # Lands on the new account's Users page.
    expect(page).to_have_url(re.compile(r"/accounts/[0-9a-f]{32}/users$"))
    expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()
    expect(page.get_by_role("status")).to_have_text(f"Account {account_name} created.")
    expect(page.get_by_role("banner")).to_contain_text(account_name)
    expect(page.get_by_role("cell", name="No users yet.")).to_be_visible()
    account_id = re.search(r"/accounts/([0-9a-f]{32})/users", page.url).group(1)

    # The accounts list shows it with what was typed.
    main_nav(page).get_by_role("link", name="Accounts").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=account_name))
    expect(row).to_have_count(1)
    expect(row.get_by_role("cell").nth(1)).to_have_text("Montréal")
    expect(row.get_by_role("cell").nth(2)).to_have_text("CA")
    expect(row.get_by_role("cell").nth(3)).to_have_text("en")
    screenshot(page, "02-accounts-list")
    row.get_by_role("link", name=account_name).click()
    expect(page).to_have_url(re.compile(rf"/accounts/{account_id}/users$"))

    # "+ Add user": first name, last name, e-mail.
    page.get_by_role("link", name="+ Add user").click()
    expect(page.get_by_role("heading", name="New user")).to_be_visible()
    email = f"gwendolyn.okafor.{tag}@ingredia.example"
    page.get_by_label("First name").fill("Gwendolyn")
    page.get_by_label("Last name").fill("Okafor")
    page.get_by_label("E-mail").fill(email)
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(rf"/accounts/{account_id}/users/[0-9a-f]{{32}}$"))
    expect(page.get_by_role("status")).to_have_text("User Gwendolyn Okafor created.")
    user_url = page.url

    # Another user of the same account, seeded: the search must filter it out.
    with unit_of_work(live_server.session_factory) as session:
        account = session.get(Account, account_id)
        other = make_user(session, account, first_name="Bartholomew", last_name="Quince",
                          email=f"bart.quince.{tag}@ingredia.example")

    # Back to the users list: both are there.
    main_nav(page).get_by_role("link", name="Users").click()
    expect(page).to_have_url(re.compile(rf"/accounts/{account_id}/users$"))
    table = page.get_by_role("table")
    expect(table.get_by_role("link", name="Okafor, Gwendolyn")).to_be_visible()
    expect(table.get_by_role("link", name="Quince, Bartholomew")).to_be_visible()

    # Live filtering through htmx: no page load, only the table is swapped.
    page.evaluate("window.__samePage = true")
    search = page.get_by_role("searchbox", name="Search users")
    with page.expect_response(lambda r: "search=wendo" in r.url
                              and r.request.headers.get("hx-request") == "true") as swap:
        search.press_sequentially("wendo", delay=40)
    assert swap.value.status == 200
    expect(table.get_by_role("link", name="Okafor, Gwendolyn")).to_be_visible()
    expect(table.get_by_role("link", name="Quince, Bartholomew")).to_have_count(0)
    expect(table).to_contain_text(email)
    expect(page.get_by_role("navigation", name="Pages")).to_contain_text("1 result")
    assert page.evaluate("window.__samePage === true"), "the live search reloaded the whole page"
    expect(page).to_have_url(re.compile(r"[?&]search=wendo"))  # hx-push-url keeps the address shareable
    screenshot(page, "03-users-list-search")

    # Submitting the form works too (and is what a browser without JavaScript does).
    search.fill("quince")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"[?&]search=quince"))
    expect(table.get_by_role("link", name="Quince, Bartholomew")).to_be_visible()
    expect(table.get_by_role("link", name="Okafor, Gwendolyn")).to_have_count(0)

    no_js = page.context.browser.new_context(storage_state=page.context.storage_state(),
                                             java_script_enabled=False, base_url=live_server.base_url,
                                             viewport={"width": 1366, "height": 800}, locale="en-US")
    try:
        plain = no_js.new_page()
        plain.goto(f"/accounts/{account_id}/users")
        plain.get_by_role("searchbox", name="Search users").fill("Gwendolyn Oka")
        plain.get_by_role("button", name="Search").click()
        expect(plain).to_have_url(re.compile(r"[?&]search=Gwendolyn\+Oka"))
        plain_table = plain.get_by_role("table")
        expect(plain_table.get_by_role("link", name="Okafor, Gwendolyn")).to_be_visible()
        expect(plain_table.get_by_role("link", name="Quince, Bartholomew")).to_have_count(0)
        expect(plain.get_by_role("searchbox", name="Search users")).to_have_value("Gwendolyn Oka")
    finally:
        no_js.close()

    # The user page, with its empty "Products and licenses" section.
    search.fill("")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("table").get_by_role("link", name="Okafor, Gwendolyn").click()
    expect(page).to_have_url(user_url)
    expect(page.get_by_role("heading", name="Gwendolyn Okafor", level=1)).to_be_visible()
    expect(page.get_by_role("definition").filter(has_text=email)).to_be_visible()
    products = page.locator("section").filter(has=page.get_by_role("heading", name="Products and licenses"))
    expect(products).to_be_visible()
    expect(products).to_contain_text("No products assigned yet.")
    assert other.email not in page.content()
    screenshot(page, "04-user-page")


# ------------------------------------------------------------------ 2. tenant isolation

def test_account_admin_cannot_open_another_accounts_pages(page: Page, live_server, screenshot):
    alpha = _tenant(live_server, "Alpha")
    bravo = _tenant(live_server, "Bravo")

    sign_in(page, bravo.account_admin.email)
    expect(page).to_have_url(re.compile(rf"/accounts/{bravo.account.id}/users$"))
    expect(page.get_by_role("table")).to_contain_text(bravo.user.email)

    for path in (f"/accounts/{alpha.account.id}/users",
                 f"/accounts/{alpha.account.id}/users/{alpha.user.id}",
                 f"/accounts/{alpha.account.id}/users/{alpha.user.id}/edit",
                 f"/accounts/{alpha.account.id}/users?search={alpha.user.first_name}"):
        response = page.goto(path)
        assert response is not None and response.status == 404, (path, response and response.status)
        expect(page.get_by_role("heading", name="Not found", level=1)).to_be_visible()
        expect(page).to_have_title(re.compile(r"^Error · Switchboard"))
        html = page.content()
        for secret in (alpha.account.name, alpha.user.email, alpha.account_admin.email,
                       alpha.user.first_name):
            assert secret not in html, f"{path} leaks {secret!r}"
        # Still signed in, as themself, in their own account.
        expect(page.get_by_role("banner")).to_contain_text(bravo.account_admin.full_name)
        expect(main_nav(page).get_by_role("link", name="Users")).to_have_attribute(
            "href", f"/accounts/{bravo.account.id}/users")
    screenshot(page, "05-not-found-other-account")


# ------------------------------------------------------------------ 3. refused forms

def test_refused_user_form_keeps_input_and_points_at_the_field(page: Page, live_server, screenshot):
    tenant = _tenant(live_server, "Refusal")
    sign_in(page, tenant.account_admin.email)
    expect(page).to_have_url(re.compile(rf"/accounts/{tenant.account.id}/users$"))

    page.get_by_role("link", name="+ Add user").click()
    page.get_by_label("First name").fill("Dorothea")
    page.get_by_label("Last name").fill("Brooke")
    page.get_by_label("E-mail").fill(tenant.user.email.upper())  # taken, whatever the case
    page.get_by_label("Role").select_option(label="Account admin")
    page.get_by_label("Password").fill("a-password-to-forget")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/users/new")) as posted:
        page.get_by_role("button", name="Save").click()
    assert posted.value.status == 409
    message = "A user with this e-mail already exists."

    # What was typed is still there (but never the password).
    expect(page.get_by_role("heading", name="New user")).to_be_visible()
    expect(page.get_by_label("First name")).to_have_value("Dorothea")
    expect(page.get_by_label("Last name")).to_have_value("Brooke")
    expect(page.get_by_label("E-mail")).to_have_value(tenant.user.email.upper())
    expect(page.get_by_label("Role")).to_have_value("account_admin")
    expect(page.get_by_label("Password")).to_have_value("")

    # The message beside the e-mail field, tied to it for assistive technology.
    email_input = page.get_by_label("E-mail")
    expect(email_input).to_have_attribute("aria-invalid", "true")
    # (The CSS "⚠ " before field errors is part of the description Chromium computes.)
    expect(email_input).to_have_accessible_description(re.compile(rf"^\W*{re.escape(message)}\s*$"))
    expect(page.get_by_label("First name")).not_to_have_attribute("aria-invalid", "true")
    beside = page.locator(".field").filter(has=email_input).get_by_text(message)
    expect(beside).to_be_visible()
    field_box, message_box = email_input.bounding_box(), beside.bounding_box()
    assert 0 <= message_box["y"] - (field_box["y"] + field_box["height"]) < 40, (field_box, message_box)

    # The error list, at the top (focused on arrival) and at the bottom.
    summaries = page.get_by_role("alert")
    expect(summaries).to_have_count(2)
    top, bottom = summaries.first, summaries.last
    for summary in (top, bottom):
        expect(summary.get_by_role("heading")).to_have_text("1 problem to fix")
        expect(summary.get_by_role("link", name=message)).to_be_visible()
    form_box = page.get_by_role("button", name="Save").bounding_box()
    assert top.bounding_box()["y"] < field_box["y"] < form_box["y"] < bottom.bounding_box()["y"]
    expect(top).to_be_focused()
    screenshot(page, "06-user-form-refused")

    # A click on the error moves focus to the field at fault; from the bottom list too.
    top.get_by_role("link", name=message).click()
    expect(email_input).to_be_focused()
    page.get_by_label("First name").focus()
    bottom.get_by_role("link", name=message).click()
    expect(email_input).to_be_focused()

    # Fixing the field is enough: the kept values go through.
    email_input.fill(f"dorothea.{_tag()}@refusal.example")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("User Dorothea Brooke created.")
    expect(page.get_by_role("heading", name="Dorothea Brooke", level=1)).to_be_visible()


# ------------------------------------------------------------------ 4. wrong password

def test_wrong_password_shows_one_generic_message_and_does_not_sign_in(page: Page, live_server, screenshot):
    tenant = _tenant(live_server, "Wrongpw")
    message = "Wrong e-mail or password."

    page.goto("/login")
    page.get_by_label("E-mail").fill(tenant.account_admin.email)
    page.get_by_label("Password").fill(PASSWORD + "-nope")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/login")) as posted:
        page.get_by_role("button", name="Sign in").click()
    assert posted.value.status == 401

    expect(page.get_by_role("alert")).to_have_count(1)
    expect(page.get_by_role("alert")).to_contain_text(message)
    expect(page.get_by_text(message)).to_have_count(1)
    expect(page.get_by_label("E-mail")).not_to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Password")).not_to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("E-mail")).to_have_value(tenant.account_admin.email)
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    expect(page.get_by_role("navigation", name="Main navigation")).to_have_count(0)
    screenshot(page, "07-sign-in-refused")

    # An unknown e-mail gets the very same answer.
    first_answer = page.locator("main").inner_text()
    page.get_by_label("E-mail").fill(f"nobody-{_tag()}@nowhere.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text(message)
    assert page.locator("main").inner_text() == first_answer

    # Not signed in: the console still sends to the sign-in page.
    response = page.goto(f"/accounts/{tenant.account.id}/users")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    assert response is not None and response.status == 200
    expect(page.get_by_role("heading", name="Sign in to Switchboard")).to_be_visible()


# ------------------------------------------------------------------ 5. keyboard only

def test_sign_in_with_the_keyboard_only(page: Page, live_server):
    tenant = _tenant(live_server, "Keys")
    page.goto("/login")

    # The first Tab stop is the skip link; then Tab on until the e-mail field.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    email_input = page.get_by_label("E-mail")
    for _ in range(10):
        if email_input.evaluate("el => el === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(email_input).to_be_focused()
    page.keyboard.type(tenant.account_admin.email)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(rf"/accounts/{tenant.account.id}/users$"))
    expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()
    expect(page.get_by_role("banner")).to_contain_text(tenant.account_admin.full_name)

    # The focus is visible where it lands: the skip link shows itself when focused.
    page.goto(f"/accounts/{tenant.account.id}/users")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None and box["x"] >= 0, f"the focused skip link is off-screen: {box}"
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
