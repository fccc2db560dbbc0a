"""Issue 10, items 7, 8 and 11 in a real browser: each person's language (a French browser
on an English account, a choice that outlasts signing out), French pages that show no
English message and fit their boxes, and the smaller fixes (the external number's error,
the upgrade that keeps the phones, the account named in the account admin's top bar, the
category cards' radio beside its label).

Layout is measured, not eyeballed: boxes from getBoundingClientRect, with a pixel or two
of slack for rounding. Screenshots go to test-output/screenshots/ (30-…) for a person to
look at."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_mivb_flows import Setup, configure, make_setup, open_user, sign_in
from tests.english_leaks import english_messages
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def setup(live_server, sim, sim_api) -> Setup:
    return make_setup(live_server, sim)


def sign_in_fr(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Courriel").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator("main h1").first).to_be_visible()


def html_lang(page: Page) -> str:
    return page.locator("html").get_attribute("lang")


def assert_no_english(page: Page, name: str) -> None:
    leaks = english_messages(page.content())
    assert not leaks, f"English on the French page {name}: {leaks}"
    # and the longer French fits the window: no sideways scrolling
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the French page {name} is {overflow}px wider than the window"


def box(locator) -> dict:
    return locator.evaluate("e => { const r = e.getBoundingClientRect(); "
                            "return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; }")


def middle(locator) -> float:
    b = box(locator)
    return (b["top"] + b["bottom"]) / 2


def assert_inside(inner, outer, what: str) -> None:
    i, o = box(inner), box(outer)
    assert i["left"] >= o["left"] - 1 and i["right"] <= o["right"] + 1, f"{what} overflows: {i} outside {o}"


def first_line(locator) -> dict:
    """The box of the first line of the element's text."""
    return locator.evaluate("e => { const range = document.createRange(); range.selectNodeContents(e); "
                            "const r = range.getClientRects()[0]; "
                            "return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; }")


def lines_of(locator) -> int:
    """How many lines the element's text takes."""
    return locator.evaluate("e => { const range = document.createRange(); range.selectNodeContents(e); "
                            "const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top))); "
                            "return tops.size; }")


# ---------------------------------------------------------------- item 8: each person's language


def test_a_french_browser_on_an_english_account_gets_french(new_page, setup: Setup, screenshot):
    page = new_page("fr-FR")
    page.goto("/login")
    assert html_lang(page) == "fr"
    sign_in_fr(page, setup.admin_email)
    expect(page.get_by_role("heading", name="Utilisateurs")).to_be_visible()
    assert html_lang(page) == "fr"
    screenshot(page, "30-fr-browser-english-account-users")


def test_a_language_choice_outlasts_signing_out_and_follows_the_person(page: Page, new_page, setup: Setup):
    sign_in(page, setup.admin_email)  # an English browser
    assert html_lang(page) == "en"
    page.locator("#lang-select").select_option("fr")  # submits itself
    expect(page.get_by_role("heading", name="Utilisateurs")).to_be_visible()
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.get_by_role("heading", name="Connexion à Switchboard")).to_be_visible()
    sign_in_fr(page, setup.admin_email)
    expect(page.get_by_role("heading", name="Utilisateurs")).to_be_visible()

    # another browser, in English: the person's choice comes with them
    other = new_page("en-US")
    other.goto("/login")
    assert html_lang(other) == "en"  # the sign-in page speaks the browser's language
    other.get_by_label("E-mail").fill(setup.admin_email)
    other.get_by_label("Password").fill(PASSWORD)
    other.get_by_role("button", name="Sign in").click()
    expect(other.get_by_role("heading", name="Utilisateurs")).to_be_visible()
    # back to English from there: English for this person everywhere
    other.locator("#lang-select").select_option("en")
    expect(other.get_by_role("heading", name="Users")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Users")).to_be_visible()


# ---------------------------------------------------------------- item 7: French pages


def test_french_pages_speak_french_and_fit(new_page, setup: Setup, live_server, screenshot):
    configure(live_server, setup, "Telephony")
    page = new_page("fr-FR")

    # the partner admin's MiVB settings: category cards and the PIN policy
    sign_in_fr(page, setup.partner_email)
    page.goto(f"/accounts/{setup.account_id}/settings/mivb")
    expect(page.get_by_role("heading", name=re.compile("Paramètres du système"))).to_be_visible()
    assert_no_english(page, "settings")
    cards = page.locator(".catcard")
    expect(cards).to_have_count(2)
    for index in range(cards.count()):
        card = cards.nth(index)
        expect(card).to_contain_text("Utilisation")
        for part in ("dd", ".usage", "meter"):
            items = card.locator(part)
            for n in range(items.count()):
                assert_inside(items.nth(n), card, f"{part} of category card {index}")
    page.locator("#categories").scroll_into_view_if_needed()
    screenshot(page, "31-fr-settings")
    for name in ("forbid_repeated", "forbid_sequences", "forbid_dn"):
        checkbox, label = page.locator(f"#field-pin-{name}"), page.locator(f"label[for=field-pin-{name}]")
        line = first_line(label)
        assert line["top"] - 2 <= middle(checkbox) <= line["bottom"] + 2, f"the {name} checkbox is off its label's line"
        assert box(checkbox)["right"] <= line["left"], f"the {name} checkbox is not beside its label"

    # the account admin's pages of the user
    page.get_by_role("button", name="Se déconnecter").click()
    sign_in_fr(page, setup.admin_email)
    assert_no_english(page, "users")
    page.goto(f"/accounts/{setup.account_id}/users/{setup.user_id}")
    expect(page.get_by_role("heading", name=setup.user_name)).to_be_visible()
    assert_no_english(page, "user")
    generate = page.get_by_role("button", name="Générer automatiquement")
    assert lines_of(generate) == 1, "Générer automatiquement wraps"
    pin = page.get_by_label("Code utilisateur", exact=True)
    assert abs(middle(generate) - middle(pin)) < 4, "Générer automatiquement is not beside the pin"
    assert_inside(generate, page.locator("#configuration"), "the Générer automatiquement button")
    expect(page.locator("#configuration")).to_contain_text(re.compile("Messagerie vocale\u00a0: (activée|désactivée)"))
    screenshot(page, "32-fr-user-page")

    page.get_by_role("link", name="Mettre à niveau le service").click()
    dialog = page.locator("#category")
    expect(dialog).to_contain_text("conserve les téléphones")
    assert_no_english(page, "category dialog")
    for choice in dialog.locator("label.choice").all():
        radio, label = choice.locator("input[type=radio]"), choice.locator(".select-label")
        assert abs(middle(radio) - middle(label)) < 4, "the radio and its label are not aligned"
        assert box(radio)["right"] <= box(label)["left"], "the radio is not beside its label"
    screenshot(page, "33-fr-upgrade-dialog")

    page.goto(f"/accounts/{setup.account_id}/users/{setup.user_id}?dialog=add-phone#add-phone")
    assert_no_english(page, "add phone dialog")
    page.goto(f"/accounts/{setup.account_id}/sync")
    assert_no_english(page, "sync status")
    page.goto(f"/accounts/{setup.account_id}/users/import")
    assert_no_english(page, "import")


# ---------------------------------------------------------------- item 11


def test_the_external_number_error_names_the_field_and_says_it_is_required(page: Page, setup: Setup,
                                                                            live_server, screenshot):
    configure(live_server, setup, "Telephony")
    sign_in(page, setup.admin_email)
    open_user(page, setup)
    page.get_by_role("link", name="+ Add phone").click()
    dialog = page.get_by_role("dialog", name="Select a phone")
    dialog.get_by_label("Phones").select_option(label="Hot desk")
    dialog.get_by_label("External phone", exact=True).check()
    dialog.get_by_role("button", name="Add").click()
    dialog = page.get_by_role("dialog", name="Select a phone")
    expect(dialog).to_contain_text("External number: This field is required.")
    number = dialog.get_by_label("External number")
    expect(number).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#errors-top")).to_contain_text("External number — This field is required.")
    page.locator("#errors-top").get_by_role("link").first.click()
    expect(number).to_be_focused()
    screenshot(page, "34-external-number-required")


def test_an_upgrade_says_it_keeps_the_phones(page: Page, setup: Setup, live_server):
    config = configure(live_server, setup, "Entry")
    sign_in(page, setup.admin_email)
    open_user(page, setup)
    page.get_by_role("link", name="Upgrade service").click()
    dialog = page.get_by_role("dialog", name="Upgrade service")
    expect(dialog).to_contain_text("An upgrade keeps the user's phones and service programming as they are")
    dialog.locator("label.choice", has_text="Telephony").click()
    dialog.get_by_role("button", name="Apply").click()
    expect(page.locator(".flash")).to_have_text(
        "Service upgraded to Telephony: the phones and the service programming are kept.")
    expect(page.locator("li.phone")).to_have_count(len(config["phones"]))


def test_the_account_admin_top_bar_names_the_account(page: Page, setup: Setup, live_server):
    from switchboard.accounts.models import Account

    with live_server.session_factory() as session:
        name = session.get(Account, setup.account_id).name
    sign_in(page, setup.admin_email)
    for path in ("/users", "/sync", "/settings/mivb", "/users/import", f"/users/{setup.user_id}"):
        page.goto(f"/accounts/{setup.account_id}{path}")
        expect(page.locator("header.topbar")).to_contain_text(name)
    page.goto("/me/password")
    expect(page.locator("header.topbar")).to_contain_text(name)
