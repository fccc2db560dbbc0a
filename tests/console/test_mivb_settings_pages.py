"""System Settings > MiVoice Business in the console: every form saves, refuses with the
admin's input kept and the errors beside the fields and in the lists at the top and the
bottom of its section, needs its CSRF token; account admins read the page and cannot
change it; "Test connection" works with htmx and without JavaScript."""

from __future__ import annotations

import re
from datetime import timedelta


from switchboard.core.db import utcnow
from switchboard.pbx.models import MivbCatalog
from tests.conftest import SIM_AUTH
from tests.console.helpers import csrf_from, post_form, sign_in
from tests.mivb_fixtures import Mivb


SETTINGS_PATH = "/accounts/{account_id}/settings/mivb"


def _page(account_id: str) -> str:
    return SETTINGS_PATH.format(account_id=account_id)


def _api(mivb: Mivb, path: str) -> dict:
    response = mivb.client.get(mivb.url(path), headers=mivb.partner)
    assert response.status_code == 200, response.text
    return response.json()


def _section(html: str, section_id: str) -> str:
    """The HTML of one section card of the page."""
    start = html.index(f'<section class="card" id="{section_id}"')
    return html[start:html.index("</section>", start)]


# ---------------------------------------------------------------- checklist and connection


def test_checklist_lists_what_is_missing_then_connection_is_saved(client, tenant_a, sim, sim_api):
    sign_in(client, tenant_a.partner_admin.email)
    page = _page(tenant_a.account.id)
    html = client.get(page).text
    setup = _section(html, "setup")
    for text in ("Not set up yet", "A connection to the customer", "directory number (DN) range", "A DID range",
                 "Service categories with their licence counts"):
        assert text in setup
    assert "Connect the MiVoice Business first" in html

    response = post_form(client, page, f"{page}/connection", {
        "url": sim.url, "username": SIM_AUTH[0], "password": SIM_AUTH[1]})
    assert response.status_code == 303
    assert response.headers["location"] == f"{page}#connection"
    html = client.get(page).text
    assert "Connection saved." in _section(html, "connection")  # the message is in its section
    setup = _section(html, "setup")
    assert "A connection to the customer" not in setup and "directory number (DN) range" in setup
    catalogue = _section(html, "catalogue")
    assert "User templates" in catalogue and "Telephony User" in catalogue and "Read from the PBX on" in catalogue
    assert f'value="{sim.url}"' in html and SIM_AUTH[1] not in html  # the password never comes back
    assert "Not tested since it was saved." in html


def test_connection_refusal_keeps_input_and_never_echoes_the_password(client, tenant_a):
    sign_in(client, tenant_a.partner_admin.email)
    page = _page(tenant_a.account.id)
    response = post_form(client, page, f"{page}/connection", {
        "url": "ftp://pbx.example", "username": "gateway-user", "password": "very-secret-1"})
    assert response.status_code == 422
    html = response.text
    assert 'id="error-connection-url"' in html and 'aria-invalid="true"' in html
    assert html.count("Must be an http:// or https:// address.") == 3  # beside the field, top and bottom lists
    assert 'id="errors-top"' in html and 'id="errors-bottom"' in html
    assert 'href="#field-connection-url"' in html and 'id="field-connection-url"' in html
    assert 'value="ftp://pbx.example"' in html and 'value="gateway-user"' in html
    assert "very-secret-1" not in html
    connection = _section(html, "connection")
    assert 'id="errors-top"' in connection and 'id="errors-bottom"' in connection


def test_connection_needs_the_password_on_every_save(client, mivb_account, tenant_a, sim):
    sign_in(client, tenant_a.partner_admin.email)
    page = _page(mivb_account.account_id)
    assert "Enter the password each time you save" in client.get(page).text
    response = post_form(client, page, f"{page}/connection", {
        "url": sim.url, "username": SIM_AUTH[0], "password": "", "version": "1"})
    assert response.status_code == 422
    assert 'id="error-connection-password"' in response.text and "This field is required." in response.text
    assert f'value="{sim.url}"' in response.text


def test_test_connection_with_htmx_and_without_javascript(client, mivb_account, tenant_a, sim_api):
    m = mivb_account
    sign_in(client, tenant_a.partner_admin.email)
    page = _page(m.account_id)
    token = csrf_from(client.get(page).text)

    swapped = client.post(f"{page}/connection/test", headers={"HX-Request": "true", "X-CSRF-Token": token})
    assert swapped.status_code == 200
    assert "<html" not in swapped.text  # only what goes into #connection-test
    assert "Connected to MiVB-SIM, version" in swapped.text and 'data-test-ok="true"' in swapped.text

    plain = client.post(f"{page}/connection/test", data={"csrf_token": token}, follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"] == f"{page}#connection"
    assert "Connected to MiVB-SIM, version" in _section(client.get(page).text, "connection")
    assert "succeeded." in _section(client.get(page).text, "connection")  # then the result on record

    sim_api.post("/_sim/faults", json={"down": True}).raise_for_status()
    down = client.post(f"{page}/connection/test", headers={"HX-Request": "true", "X-CSRF-Token": token})
    assert down.status_code == 200
    assert "The connection failed:" in down.text and 'data-test-ok="false"' in down.text
    html = client.get(page).text  # the page still works with the PBX down
    assert "failed:" in _section(html, "connection")
    assert "User templates" in _section(html, "catalogue")


def test_catalogue_refresh_and_stale_notice(client, mivb_account, tenant_a, sim_api, session):
    m = mivb_account
    sign_in(client, tenant_a.partner_admin.email)
    page = _page(m.account_id)
    response = post_form(client, page, f"{page}/catalog/refresh", {})
    assert response.status_code == 303 and response.headers["location"] == f"{page}#catalogue"
    assert "Catalogue read again from the PBX." in _section(client.get(page).text, "catalogue")

    sim_api.post("/_sim/faults", json={"down": True}).raise_for_status()
    response = post_form(client, page, f"{page}/catalog/refresh", {})
    assert response.status_code == 303
    assert "The PBX could not be read" in _section(client.get(page).text, "catalogue")

    cached = session.get(MivbCatalog, m.account_id)
    cached.fetched_at = utcnow() - timedelta(days=2)
    session.commit()
    assert "may be out of date" in _section(client.get(page).text, "catalogue")


# ---------------------------------------------------------------- number ranges


def test_dn_ranges_add_refuse_and_delete(client, mivb_account, tenant_a):
    m = mivb_account
    sign_in(client, tenant_a.partner_admin.email)
    page = _page(m.account_id)
    html = client.get(page).text
    dn = _section(html, "dn-ranges")
    assert "2049" in dn and 'class="meter' in dn

    added = post_form(client, page, f"{page}/dn-ranges", {"prefix": "", "start": "2100", "end": "2199"})
    assert added.status_code == 303 and added.headers["location"] == f"{page}#dn-ranges"
    assert "DN range 2100–2199 added." in _section(client.get(page).text, "dn-ranges")

    overlap = post_form(client, page, f"{page}/dn-ranges", {"prefix": "", "start": "2040", "end": "2060"})
    assert overlap.status_code == 409
    dn = _section(overlap.text, "dn-ranges")
    assert "These DNs overlap the DN range" in dn and 'id="error-dn-start"' in dn
    assert 'value="2040"' in dn and 'value="2060"' in dn
    assert 'id="errors-top"' in dn and 'id="errors-bottom"' in dn

    mismatch = post_form(client, page, f"{page}/dn-ranges", {"prefix": "*", "start": "2300", "end": "23"})
    assert mismatch.status_code == 422
    assert 'id="error-dn-end"' in mismatch.text and 'value="*"' in mismatch.text

    m.new_user("Telephony")  # a desk phone takes the first DN of the fixture's range
    in_use = post_form(client, page, f"{page}/dn-ranges/{m.dn_range}/delete", {"version": "1"})
    assert in_use.status_code == 409
    assert f'id="error-dn-{m.dn_range}-delete"' in in_use.text
    assert in_use.text.count("This range cannot be deleted: 1 of its DNs are on phones.") == 3

    new_range = next(r for r in _api(m, "/mivb/dn-ranges")["items"] if r["start"] == "2100")
    deleted = post_form(client, page, f"{page}/dn-ranges/{new_range['id']}/delete",
                        {"version": str(new_range["version"])})
    assert deleted.status_code == 303
    assert "DN range deleted." in client.get(page).text
    assert [r["start"] for r in _api(m, "/mivb/dn-ranges")["items"]] == ["2000"]


def test_did_ranges_add_refuse_and_delete(client, mivb_account, tenant_a):
    m = mivb_account
    sign_in(client, tenant_a.partner_admin.email)
    page = _page(m.account_id)
    did = _section(client.get(page).text, "did-ranges")
    # an account without a country: numbers in the international format
    assert "+33 1 40 00 00 00" in did and "2000–2019" in did  # the first-DN mapping

    added = post_form(client, page, f"{page}/did-ranges",
                      {"start": "+33150000000", "end": "+33150000009", "first_dn": ""})
    assert added.status_code == 303
    html = client.get(page).text
    assert "DID range +33 1 50 00 00 00–+33 1 50 00 00 09 added." in html and "No mapping" in html

    refused = post_form(client, page, f"{page}/did-ranges", {"start": "0150000000", "end": "+33150000099",
                                                             "first_dn": "2100"})
    assert refused.status_code == 422
    did = _section(refused.text, "did-ranges")
    assert 'id="error-did-start"' in did and "with + and the country code" in did
    assert 'value="0150000000"' in did and 'value="2100"' in did

    overlap = post_form(client, page, f"{page}/did-ranges", {"start": "+33140000010", "end": "+33140000030",
                                                             "first_dn": ""})
    assert overlap.status_code == 409 and "These DIDs overlap the DID range" in overlap.text

    new_range = next(r for r in _api(m, "/mivb/did-ranges")["items"] if r["start"] == "+33150000000")
    deleted = post_form(client, page, f"{page}/did-ranges/{new_range['id']}/delete",
                        {"version": str(new_range["version"])})
    assert deleted.status_code == 303 and "DID range deleted." in client.get(page).text
    stale = post_form(client, page, f"{page}/did-ranges/{m.did_range}/delete", {"version": "7"})
    assert stale.status_code == 412 and f'id="error-did-{m.did_range}-delete"' in stale.text


# ---------------------------------------------------------------- service categories


def test_categories_add_edit_delete_and_refusals(client, mivb_account, tenant_a):
    m = mivb_account
    sign_in(client, tenant_a.partner_admin.email)
    page = _page(m.account_id)
    html = _section(client.get(page).text, "categories")
    assert "Premium User" in html and "Desk phone" in html and "0 of 3 used" in html
    assert '<option value="Hot Desk Agent"' in html  # templates come from the PBX catalogue

    added = post_form(client, page, f"{page}/categories", {
        "name": "Gold", "template": "Premium User", "licences": "7", "type_desk_phone": "on"})
    assert added.status_code == 303 and added.headers["location"] == f"{page}#categories"
    assert "Service category Gold added." in client.get(page).text
    gold = next(c for c in _api(m, "/mivb/service-categories")["items"] if c["name"] == "Gold")
    assert gold["licences"] == 7 and gold["allowed_phone_types"] == ["desk_phone"]

    duplicate = post_form(client, page, f"{page}/categories", {
        "name": "entry", "template": "Entry User", "licences": "2", "type_hot_desk": "on"})
    assert duplicate.status_code == 409
    section = _section(duplicate.text, "categories")
    assert 'id="error-category-new-name"' in section
    assert section.count("A service category with this name already exists.") == 3
    assert 'value="entry"' in section and 'value="2"' in section
    new_form = section[section.index('action="/accounts'):]
    new_form = section[section.index(f'action="{page}/categories#categories"'):]
    assert 'name="type_hot_desk" value="on" checked' in new_form
    assert 'name="type_desk_phone" value="on" checked' not in new_form

    entry = m.categories["Entry"]
    edited = post_form(client, page, f"{page}/categories/{entry}", {
        "name": "Entry", "template": "Entry User", "licences": "9", "version": "1",
        "type_desk_phone": "on", "type_generic_sip": "on", "type_hot_desk": "on"})
    assert edited.status_code == 303
    entry_out = next(c for c in _api(m, "/mivb/service-categories")["items"] if c["id"] == entry)
    assert entry_out["licences"] == 9 and entry_out["allowed_phone_types"] is None  # all three: every type

    m.new_user("Entry")
    m.new_user("Entry")
    below = post_form(client, page, f"{page}/categories/{entry}", {
        "name": "Entry", "template": "Entry User", "licences": "1", "version": "2", "type_generic_sip": "on"})
    assert below.status_code == 409
    section = _section(below.text, "categories")
    assert f'id="error-category-{entry}-licences"' in section
    assert "Users with this category: 2. The licence count cannot go below that." in section
    card = section[section.index(f'id="category-{entry}"'):]
    assert '<details class="edit" open>' in card[:card.index("</article>")]  # the refused form stays open
    assert 'value="1"' in card[:card.index("</article>")]

    in_use = post_form(client, page, f"{page}/categories/{entry}/delete", {"version": "2"})
    assert in_use.status_code == 409
    assert f'id="error-category-{entry}-delete"' in in_use.text
    assert "Users with this category: 2. Give them another one first." in in_use.text

    deleted = post_form(client, page, f"{page}/categories/{gold['id']}/delete", {"version": str(gold["version"])})
    assert deleted.status_code == 303 and "Service category deleted." in client.get(page).text
    assert "Gold" not in [c["name"] for c in _api(m, "/mivb/service-categories")["items"]]


# ---------------------------------------------------------------- licences and PIN policy


def test_addon_licences_save_and_refuse(client, mivb_account, tenant_a):
    m = mivb_account
    sign_in(client, tenant_a.partner_admin.email)
    page = _page(m.account_id)
    assert "0 of 2 used" in _section(client.get(page).text, "licences")
    saved = post_form(client, page, f"{page}/licences", {"ehdu": "4", "acd_agent": "3"})
    assert saved.status_code == 303 and saved.headers["location"] == f"{page}#licences"
    html = _section(client.get(page).text, "licences")
    assert "Add-on licences saved." in html and "0 of 4 used" in html and "0 of 3 used" in html

    refused = post_form(client, page, f"{page}/licences", {"ehdu": "many", "acd_agent": "-1"})
    assert refused.status_code == 422
    html = _section(refused.text, "licences")
    assert 'id="error-licences-ehdu"' in html and "Must be a whole number." in html
    assert 'id="error-licences-acd_agent"' in html and "Must be at least 0." in html
    assert 'value="many"' in html and 'value="-1"' in html
    assert _api(m, "/mivb/licences")["ehdu"] == 4


def test_pin_policy_save_refuse_and_stale_version(client, mivb_account, tenant_a):
    m = mivb_account
    sign_in(client, tenant_a.partner_admin.email)
    page = _page(m.account_id)
    version = client.get(m.url("/mivb/pin-policy"), headers=m.partner).headers["etag"].strip('"')
    saved = post_form(client, page, f"{page}/pin-policy", {
        "min_length": "6", "forbid_repeated": "on", "forbid_dn": "on", "version": version})
    assert saved.status_code == 303 and saved.headers["location"] == f"{page}#pin-policy"
    assert _api(m, "/mivb/pin-policy") == {"min_length": 6, "forbid_repeated": True, "forbid_sequences": False,
                                           "forbid_dn": True}
    assert "PIN policy saved." in _section(client.get(page).text, "pin-policy")

    refused = post_form(client, page, f"{page}/pin-policy", {"min_length": "12", "forbid_sequences": "on",
                                                             "version": str(int(version) + 1)})
    assert refused.status_code == 422
    html = _section(refused.text, "pin-policy")
    assert 'id="error-pin-min_length"' in html and "Must be at most 8." in html and 'value="12"' in html
    assert 'id="field-pin-forbid_sequences" name="forbid_sequences" value="on" checked' in html
    assert 'id="field-pin-forbid_repeated" name="forbid_repeated" value="on" checked' not in html

    stale = post_form(client, page, f"{page}/pin-policy", {"min_length": "5", "version": version})
    assert stale.status_code == 412
    assert 'id="error-pin-save"' in stale.text and "changed by someone else" in stale.text
    assert _api(m, "/mivb/pin-policy")["min_length"] == 6


# ---------------------------------------------------------------- CSRF, roles, tenancy


def _post_routes(m: Mivb) -> list[tuple[str, dict[str, str]]]:
    page = _page(m.account_id)
    entry = m.categories["Entry"]
    return [
        (f"{page}/connection", {"url": "http://evil.example", "username": "x", "password": "y"}),
        (f"{page}/dn-ranges", {"start": "3000", "end": "3099"}),
        (f"{page}/dn-ranges/{m.dn_range}/delete", {}),
        (f"{page}/did-ranges", {"start": "+33160000000", "end": "+33160000009"}),
        (f"{page}/did-ranges/{m.did_range}/delete", {}),
        (f"{page}/categories", {"name": "Sneaky", "template": "Entry User", "licences": "1"}),
        (f"{page}/categories/{entry}", {"name": "Sneaky", "template": "Entry User", "licences": "99"}),
        (f"{page}/categories/{entry}/delete", {}),
        (f"{page}/licences", {"ehdu": "99", "acd_agent": "99"}),
        (f"{page}/pin-policy", {"min_length": "0"}),
    ]


def _unchanged(m: Mivb) -> None:
    assert _api(m, "/mivb/connection")["url"] != "http://evil.example"
    assert [r["start"] for r in _api(m, "/mivb/dn-ranges")["items"]] == ["2000"]
    assert [r["start"] for r in _api(m, "/mivb/did-ranges")["items"]] == ["+33140000000"]
    names = sorted(c["name"] for c in _api(m, "/mivb/service-categories")["items"])
    assert names == ["Desk only", "Entry", "Premium", "Telephony"]
    assert _api(m, "/mivb/licences")["ehdu"] == 2
    assert _api(m, "/mivb/pin-policy")["min_length"] == 4


def test_every_form_needs_its_csrf_token(client, mivb_account, tenant_a):
    m = mivb_account
    sign_in(client, tenant_a.partner_admin.email)
    page = _page(m.account_id)
    client.get(page)
    routes = _post_routes(m) + [(f"{page}/connection/test", {}), (f"{page}/catalog/refresh", {})]
    for action, data in routes:
        missing = client.post(action, data=data, follow_redirects=False)
        assert missing.status_code == 403, action
        assert "This form has expired" in missing.text
        forged = client.post(action, data={**data, "csrf_token": "forged"}, follow_redirects=False)
        assert forged.status_code == 403, action
    _unchanged(m)


def test_account_admin_reads_the_settings_without_forms_and_cannot_post(client, mivb_account, tenant_a):
    m = mivb_account
    sign_in(client, tenant_a.account_admin.email)
    page = _page(m.account_id)
    response = client.get(page)
    assert response.status_code == 200
    html = response.text
    assert "Only your partner administrator can change them." in html
    for section in ("connection", "catalogue", "dn-ranges", "did-ranges", "categories", "licences", "pin-policy"):
        assert f'id="{section}"' in html
    assert "2049" in html and "Telephony User" in html and "0 of 2 used" in html and "Minimum length: 4 digits" in html
    actions = re.findall(r'<form method="post" action="([^"]+)"', html)
    # Only reading is left: test the connection and read the catalogue again (and sign out, language).
    assert sorted(a for a in actions if a.startswith(page)) == [f"{page}/catalog/refresh#catalogue",
                                                                f"{page}/connection/test#connection"]
    assert 'name="password"' not in html and "Delete" not in _section(html, "dn-ranges")

    token = csrf_from(html)
    for action, data in _post_routes(m):
        forged = client.post(action, data={**data, "csrf_token": token}, follow_redirects=False)
        assert forged.status_code == 403, action
        assert "Only a partner administrator can do this." in forged.text
    _unchanged(m)
    tested = client.post(f"{page}/connection/test", headers={"HX-Request": "true", "X-CSRF-Token": token})
    assert tested.status_code == 200 and "Connected to MiVB-SIM" in tested.text


def test_plain_users_and_other_tenants_get_nothing(client, mivb_account, tenant_a, tenant_b):
    m = mivb_account
    page = _page(m.account_id)
    sign_in(client, tenant_a.user.email)
    assert client.get(page).status_code == 403
    sign_in(client, tenant_b.partner_admin.email)
    response = client.get(page)
    assert response.status_code == 404 and tenant_a.account.name not in response.text
    token = csrf_from(client.get(_page(tenant_b.account.id)).text)
    for action, data in _post_routes(m):
        assert client.post(action, data={**data, "csrf_token": token}, follow_redirects=False).status_code == 404
    _unchanged(m)


def test_a_form_target_opened_directly_goes_to_the_page(client, tenant_a):
    sign_in(client, tenant_a.partner_admin.email)
    page = _page(tenant_a.account.id)
    response = client.get(f"{page}/dn-ranges", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == page


def test_every_input_attribute_stands_on_its_own(client, mivb_account, tenant_a):
    """The settings forms ran attributes together ("requiredmaxlength=…", "requiredmin=…"),
    so the browser had neither: each attribute of every input is separated now."""
    sign_in(client, tenant_a.partner_admin.email)
    html = client.get(_page(mivb_account.account_id)).text
    known = {"id", "name", "type", "value", "required", "maxlength", "placeholder", "inputmode", "autocomplete",
             "min", "max", "class", "checked", "disabled", "step", "pattern", "form", "readonly", "size"}
    inputs = re.findall(r"<input\b[^>]*>", html)
    assert inputs
    for tag in inputs:
        attributes = re.match(r'<input((?:\s+[\w:-]+(?:="[^"]*")?)*)\s*/?>$', tag)
        assert attributes, tag  # each attribute after a space
        names = re.findall(r'\s([\w:-]+)(?:="[^"]*")?', attributes.group(1))
        assert all(n in known or n.startswith(("aria-", "hx-", "data-")) for n in names), tag
    assert re.search(r'<input[^>]* required maxlength="\d+"', html)
