"""Issue 10 through the test client, as a browser without JavaScript: no bare 405 anywhere,
refused forms answer 422 with links and a language form that lead to GET pages, Auto-generate
fills the pin in without saving it, and the change history says what changed in words."""

from __future__ import annotations

import re

from tests.console.helpers import console_routes, csrf_from, post_form, sign_in
from tests.conftest import SIM_AUTH
from tests.mivb_fixtures import Mivb

_HREF = re.compile(r'(?:href|action|formaction)="([^"]*)"')


def _page(m: Mivb, user_id: str) -> str:
    return f"/accounts/{m.account_id}/users/{user_id}"


def _section(html: str, element_id: str) -> str:
    start = html.index(f'id="{element_id}"')
    return html[start:html.index("</section>", start)]


# ------------------------------------------------------------------ no bare 405

def test_a_get_on_any_console_form_address_lands_on_its_page(client, mivb_account, tenant_a):
    m = mivb_account
    user_id = m.new_user("Telephony")
    phone_id = client.get(m.user_url(user_id, "/mivb"), headers=m.admin).json()["phones"][0]["id"]
    ids = {"account_id": m.account_id, "user_id": user_id, "phone_id": phone_id, "range_id": m.dn_range,
           "category_id": m.categories["Entry"], "job_id": "no-such-job"}
    sign_in(client, tenant_a.partner_admin.email)
    routes = console_routes(client.app)
    post_only = [path for method, path in routes if method == "POST" and ("GET", path) not in routes]
    assert len(post_only) > 20
    for template in post_only:
        url = template.format(**ids)
        response = client.get(url, follow_redirects=False)
        assert response.status_code == 303, (url, response.status_code)
        target = response.headers["location"]
        if url.startswith(_page(m, user_id) + "/"):
            assert target == _page(m, user_id), url  # the user page's forms land on the user page
        landed = client.get(target)
        assert landed.status_code != 405 and "Method not allowed" not in landed.text, url


def test_another_method_on_a_console_page_is_the_error_page(client, tenant_a):
    sign_in(client, tenant_a.account_admin.email)
    response = client.put(f"/accounts/{tenant_a.account.id}/users")
    assert response.status_code == 405
    assert response.headers["content-type"].startswith("text/html")
    assert "Something went wrong" in response.text and "This page cannot be opened this way." in response.text
    assert '<a href="/">' in response.text  # the page shell, with its way back
    api = client.put("/api/v1/accounts")  # the API keeps its problem+json
    assert api.status_code == 405 and api.headers["content-type"].startswith("application/problem+json")


# ------------------------------------------------------------------ refused forms

def test_a_refused_form_answers_422_with_links_and_language_that_lead_to_get_pages(client, mivb_account, tenant_a):
    m = mivb_account
    user_id = m.new_user("Entry")
    sign_in(client, tenant_a.account_admin.email)
    page = _page(m, user_id)
    refused = post_form(client, page, f"{page}/mivb/programming", {"user_pin": "7777", "pin_edited": "1"})
    assert refused.status_code == 422 and "may not repeat one digit" in refused.text
    assert f'name="next" value="{page}"' in refused.text  # the language form comes back to the page
    links = [url for url in _HREF.findall(refused.text) if not url.startswith("#")]
    assert links and all(url.startswith("/") for url in links), [u for u in links if not u.startswith("/")]
    for url in {u.split("#")[0] for u in links}:
        if "/mivb/" in url or url.endswith(("/toggle-admin", "/logout", "/language")):
            continue  # forms' addresses (a GET of them is the test above)
        assert client.get(url, follow_redirects=False).status_code in (200, 303), url
    chosen = client.post("/language", data={"lang": "fr", "next": page, "csrf_token": csrf_from(refused.text)},
                         follow_redirects=False)
    assert chosen.headers["location"] == page
    assert "Programmation de service" in client.get(page).text


def test_a_refused_form_is_never_a_5xx(client, tenant_a, login, sim, sim_api):
    """With the PBX down and no catalogue read yet, adding a category cannot check its
    template: the form comes back refused, 422, not 502."""
    partner = login(tenant_a.partner_admin.email)
    base = f"/api/v1/accounts/{tenant_a.account.id}/mivb"
    assert client.put(f"{base}/connection", headers=partner, json={
        "url": sim.url, "username": SIM_AUTH[0], "password": SIM_AUTH[1]}).status_code == 200
    sim_api.post("/_sim/faults", json={"down": True}).raise_for_status()
    sign_in(client, tenant_a.partner_admin.email)
    page = f"/accounts/{tenant_a.account.id}/settings/mivb"
    refused = post_form(client, page, f"{page}/categories", {
        "name": "Entry", "template": "Entry User", "licences": "3", "type_desk_phone": "on"})
    assert refused.status_code == 422, refused.status_code
    assert "The PBX catalogue cannot be read" in refused.text
    assert f'name="next" value="{page}"' in refused.text


# ------------------------------------------------------------------ Auto-generate

def test_auto_generate_without_javascript_fills_the_pin_in_and_keeps_what_was_typed(client, mivb_account, tenant_a):
    m = mivb_account
    user_id = m.new_user("Entry")
    before = client.get(m.user_url(user_id, "/mivb"), headers=m.admin).json()
    changes = client.get(m.url("/audit"), headers=m.admin, params={"subject_id": user_id}).json()["total"]
    sign_in(client, tenant_a.account_admin.email)
    page = _page(m, user_id)
    typed = {"group": "", "location": "Lyon", "department": "Finance", "user_pin": "", "pin_edited": "0",
             "version": str(before["version"])}
    suggested = post_form(client, page, f"{page}/mivb/user-pin/suggest", typed)
    assert suggested.status_code == 200
    html = suggested.text
    assert '<option value="Lyon" selected>' in html and '<option value="Finance" selected>' in html
    pin = re.search(r'id="field-programming-user_pin"[^>]*type="text" value="(\d{4,8})"', html).group(1)
    assert 'name="pin_edited" value="1"' in html
    assert f'name="next" value="{page}"' in html
    # nothing is saved: neither the pin nor the location, no change logged, no push
    assert client.get(m.user_url(user_id, "/mivb"), headers=m.admin).json() == before
    assert client.get(m.url("/audit"), headers=m.admin, params={"subject_id": user_id}).json()["total"] == changes

    # htmx asks for the pin field alone
    fragment = client.post(f"{page}/mivb/user-pin/suggest", data={**typed, "csrf_token": csrf_from(html)},
                           headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert 'class="field pin-field' in fragment.text and "<html" not in fragment.text
    assert "Continue" not in fragment.text

    saved = client.post(f"{page}/mivb/programming", data={**typed, "user_pin": pin, "pin_edited": "1",
                                                           "csrf_token": csrf_from(html)}, follow_redirects=False)
    assert saved.status_code == 303
    after = client.get(m.user_url(user_id, "/mivb"), headers=m.admin, params={"reveal": "true"}).json()
    assert after["programming"]["location"] == "Lyon" and after["programming"]["department"] == "Finance"
    assert after["programming"]["user_pin"] == pin


# ------------------------------------------------------------------ the change history

def _history_changes(client, m: Mivb, user_id: str) -> dict:
    """Changes of every kind, through the API: returns what they were."""
    config = client.get(m.user_url(user_id, "/mivb"), headers=m.admin).json()
    phone = config["phones"][0]
    url = m.user_url(user_id, f"/mivb/phones/{phone['id']}")
    assert client.patch(url, headers=m.admin, json={"voicemail": not phone["voicemail"]}).status_code == 200
    new_dn = str(int(phone["dn"]) + 20)
    assert client.patch(url, headers=m.admin, json={"dn": new_dn, "confirm_dn_change": True}).status_code == 200
    assert client.patch(m.user_url(user_id, "/mivb"), headers=m.admin, json={
        "programming": {"location": "Lyon", "user_pin": "4826"}}).status_code == 200
    assert client.put(m.user_url(user_id, "/mivb/service"), headers=m.admin,
                      json={"service_category": m.categories["Premium"]}).status_code == 200
    return {"phone": phone, "new_dn": new_dn, "location": config["programming"]["location"]}


def test_the_change_history_says_what_changed_in_words(client, mivb_account, tenant_a):
    m = mivb_account
    user_id = m.new_user("Entry")
    was = _history_changes(client, m, user_id)
    phone, old_dn = was["phone"], was["phone"]["dn"]
    sign_in(client, tenant_a.account_admin.email)
    html = client.get(_page(m, user_id)).text
    history = _section(html, "history")
    on_off = ("off → on", "on → off")[phone["voicemail"]]
    expected_newest_first = [
        "Service category: Entry → Premium",
        "User pin changed",
        f"Location: {was['location'] or '—'} → Lyon",
        f"DN: {old_dn} → {was['new_dn']}",
        f"Voicemail: {on_off}",
        "Service category: — → Entry",
        f"Phone {old_dn} added (Generic SIP phone)",
        "MiVoice Business Service added",
        "User created",
    ]
    at = [history.find(text) for text in expected_newest_first]
    assert -1 not in at, [t for t, i in zip(expected_newest_first, at) if i == -1]
    assert at == sorted(at), "newest first"
    for raw in ("None", "True", "False", "password", "****", "sip_", "user_pin", "cos_day"):
        assert raw not in history, raw
    # the bottom error list is right under the configuration, the history below it
    assert html.index('id="configuration"') < html.index('id="errors-bottom"') < html.index('id="history"')


def test_the_change_history_is_in_the_readers_language(client, mivb_account, tenant_a, session):
    from switchboard.accounts.models import Account

    m = mivb_account
    user_id = m.new_user("Entry")
    was = _history_changes(client, m, user_id)
    session.get(Account, m.account_id).default_language = "fr"
    session.commit()
    sign_in(client, tenant_a.account_admin.email)
    history = _section(client.get(_page(m, user_id)).text, "history")
    on_off = ("désactivée → activée", "activée → désactivée")[was["phone"]["voicemail"]]
    assert re.search(f"Messagerie vocale[ \u00a0]?: {on_off}", history)
    assert re.search("Emplacement[ \u00a0]?: .* → Lyon", history)
    assert "Téléphone SIP générique" in history
    for english in ("Voicemail", "Location", "Generic SIP phone", "Desk phone"):
        assert english not in history, english


def test_the_change_history_shows_the_latest_ten_then_more(client, mivb_account, tenant_a):
    m = mivb_account
    user_id = m.new_user("Entry")
    phone = client.get(m.user_url(user_id, "/mivb"), headers=m.admin).json()["phones"][0]
    url = m.user_url(user_id, f"/mivb/phones/{phone['id']}")
    for turn in range(12):
        assert client.patch(url, headers=m.admin, json={"voicemail": turn % 2 == 0}).status_code == 200
    total = client.get(m.url("/audit"), headers=m.admin, params={"subject_id": user_id}).json()["total"]
    assert total > 12
    sign_in(client, tenant_a.account_admin.email)
    page = _page(m, user_id)
    history = _section(client.get(page).text, "history")
    assert history.count("<time ") == 10
    more = re.search(r'href="([^"]+)">Show more</a>', history).group(1)
    assert more == f"{page}?history=20#history"
    longer = _section(client.get(more.split("#")[0]).text, "history")
    assert longer.count("<time ") == min(total, 20)
