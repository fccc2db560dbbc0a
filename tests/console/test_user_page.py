"""The user page's MiVB parts through the test client: forms, CSRF, and a number of
database queries that does not grow with the phones shown."""

from __future__ import annotations

import json

import pytest
from tests.console.helpers import csrf_from, post_form, session_cookie, sign_in
from tests.mivb_fixtures import Mivb
from tests.statements import counting_statements


@pytest.fixture
def count_queries(db_connection):
    with counting_statements(db_connection) as statements:
        yield statements


def _page(m: Mivb, user_id: str) -> str:
    return f"/accounts/{m.account_id}/users/{user_id}"


def test_user_page_queries_do_not_grow_with_phones(client, mivb_account, tenant_a, count_queries):
    m = mivb_account
    few, many = m.new_user("Entry"), m.new_user("Entry")
    for _ in range(6):
        client.post(m.user_url(many, "/mivb/phones"), headers=m.admin, json={"type": "hot_desk"})
    sign_in(client, tenant_a.account_admin.email)
    client.get(_page(m, few))  # warm caches (catalogue) so both measures are alike
    counts = []
    for user_id in (few, many):
        count_queries.clear()
        assert client.get(_page(m, user_id)).status_code == 200
        counts.append(len(count_queries))
    assert counts[0] == counts[1], counts


def test_add_product_choose_category_and_phones_without_javascript(client, mivb_account, tenant_a, sim_api):
    m = mivb_account
    user_id = m.new_user()
    sign_in(client, tenant_a.account_admin.email)
    page = _page(m, user_id)
    added = post_form(client, page, f"{page}/products/mivb/add", {})
    assert added.status_code == 303 and "dialog=add-product" in added.headers["location"]
    html = client.get(added.headers["location"]).text
    assert "Added" in html and "MiVoice Business (no service assigned)" in html and "Complete setup" in html
    chooser = client.get(f"{page}?dialog=category").text
    assert "Choose a service category" in chooser and "3 licences left" in chooser
    applied = post_form(client, page, f"{page}/mivb/service", {"service_category": m.categories["Telephony"]})
    assert applied.status_code == 303
    html = client.get(page).text
    assert "MiVoice Business — Telephony" in html and "Upgrade service" in html

    refused = post_form(client, page, f"{page}/mivb/phones", {"type": "hot_desk", "external_phone": "on",
                                                              "external_number": "0612"})
    assert refused.status_code == 422
    assert 'value="0612"' in refused.text and "Select a phone" in refused.text  # the dialog stays open, input kept
    added = post_form(client, page, f"{page}/mivb/phones", {"type": "generic_sip"})
    assert added.status_code == 303  # Post/Redirect/Get: the credentials come with the page it leads to
    cookie_after_post = json.dumps(session_cookie(client))
    sip = client.get(added.headers["location"])
    assert sip.status_code == 200 and "SIP credentials of the new phone" in sip.text
    password = sip.text.split('id="sip-password">')[1].split("<")[0]
    assert password and password not in client.get(page).text  # shown once only
    assert password not in cookie_after_post  # kept server-side, never in the cookie


def test_forged_posts_are_refused(client, mivb_account, tenant_a):
    m = mivb_account
    user_id = m.new_user("Entry")
    sign_in(client, tenant_a.account_admin.email)
    page = _page(m, user_id)
    for action in ("/mivb/programming", "/mivb/phones", "/mivb/sync", "/products/mivb/remove"):
        response = client.post(page + action, data={"type": "desk_phone", "csrf_token": "forged"})
        assert response.status_code == 403, action
    assert client.get(m.user_url(user_id, "/mivb"), headers=m.admin).json()["phones"][0]["type"] == "generic_sip"
    assert csrf_from(client.get(page).text)


def test_plain_user_sees_own_configuration_read_only(client, mivb_account, tenant_a):
    m = mivb_account
    m.configure(tenant_a.user.id, "Telephony")
    sign_in(client, tenant_a.user.email)
    html = client.get(_page(m, tenant_a.user.id)).text
    assert "User configuration" in html and "Desk phone" in html
    assert "+ Add phone" not in html and "Auto-generate" not in html and "Change history" not in html
    response = client.post(_page(m, tenant_a.user.id) + "/mivb/phones",
                           data={"type": "desk_phone", "csrf_token": csrf_from(html)})
    assert response.status_code == 403


def test_french_user_page(client, mivb_account, tenant_a, session):
    from switchboard.accounts.models import Account

    m = mivb_account
    user_id = m.new_user("Entry")
    session.get(Account, m.account_id).default_language = "fr"
    session.commit()
    sign_in(client, tenant_a.account_admin.email)
    html = client.get(_page(m, user_id)).text
    assert "Produits et licences" in html and "Programmation de service" in html and "Téléphones" in html


def test_a_licence_refusal_reads_right_in_french_whatever_the_count(client, mivb_account, tenant_a):
    """"(1 utilisées)" read wrong in French: the count now follows a colon."""
    m = mivb_account
    assert client.patch(m.url(f"/mivb/service-categories/{m.categories['Entry']}"), headers=m.partner,
                        json={"licences": 1}).status_code == 200
    m.new_user("Entry")
    user_id = m.new_user()
    assert client.post(m.user_url(user_id, "/products"), headers=m.admin, json={"product": "mivb"}).status_code == 201
    sign_in(client, tenant_a.account_admin.email)
    client.headers.update({"Accept-Language": "fr-FR,fr;q=0.9"})
    page = _page(m, user_id)
    refused = post_form(client, page, f"{page}/mivb/service", {"service_category": m.categories["Entry"]})
    assert refused.status_code == 409
    assert "Il ne reste aucune licence de la catégorie Entry (licences utilisées\u00a0: 1)." in refused.text
    assert "utilisées)" not in refused.text


def test_a_category_without_licence_left_is_refused_with_the_form_not_after_it(client, mivb_account, tenant_a):
    """The licences are checked again as the unit of work commits (mivb/limits.py); the
    console form still gets its refusal in the request: the dialog again with 409, no
    "applied" message, the category unchanged."""
    m = mivb_account
    for _ in range(3):  # Entry has 3 licences
        m.new_user("Entry")
    user_id = m.new_user()
    assert client.post(m.user_url(user_id, "/products"), headers=m.admin, json={"product": "mivb"}).status_code == 201
    sign_in(client, tenant_a.account_admin.email)
    page = _page(m, user_id)
    refused = post_form(client, page, f"{page}/mivb/service", {"service_category": m.categories["Entry"]})
    assert refused.status_code == 409
    assert "No licence of the category Entry is left (3 in use)." in refused.text
    assert "Choose a service category" in refused.text  # the dialog stays open
    html = client.get(page).text
    assert "Service category applied" not in html and "MiVoice Business (no service assigned)" in html


def test_a_form_refused_as_its_unit_commits_shows_the_refusal_and_announces_nothing(
        client, mivb_account, tenant_a, monkeypatch):
    """Another unit took the last licence between the form's check and its commit (the
    commit's check, mivb/limits.py, refuses): the error page says why, and the next page
    does not say "applied"."""
    from switchboard.core.errors import RefusedAtCommit
    from switchboard.mivb import limits, usage

    m = mivb_account
    user_id = m.new_user()
    assert client.post(m.user_url(user_id, "/products"), headers=m.admin, json={"product": "mivb"}).status_code == 201
    sign_in(client, tenant_a.account_admin.email)
    page = _page(m, user_id)

    def raced(session):
        if usage.grown(session):
            raise RefusedAtCommit("licence_exhausted", "No licence of the category Entry is left (3 in use).")

    monkeypatch.setattr(limits, "settle", raced)
    refused = post_form(client, page, f"{page}/mivb/service", {"service_category": m.categories["Entry"]})
    assert refused.status_code == 409 and "No licence of the category Entry is left" in refused.text
    assert "Service category applied" not in refused.text
    monkeypatch.undo()
    html = client.get(page).text
    assert "Service category applied" not in html and "MiVoice Business (no service assigned)" in html


def test_an_external_hot_desk_beyond_the_ehdu_licences_is_refused_with_the_form(client, mivb_account, tenant_a):
    m = mivb_account  # 2 EHDU licences
    user_id = m.new_user("Telephony")
    for dn in range(2):
        assert client.post(m.user_url(user_id, "/mivb/phones"), headers=m.admin, json={
            "type": "hot_desk", "external_phone": {"number": f"+3361234567{dn}"}}).status_code == 201
    sign_in(client, tenant_a.account_admin.email)
    page = f"/accounts/{m.account_id}/users/{user_id}"
    refused = post_form(client, page, f"{page}/mivb/phones", {"type": "hot_desk", "external_phone": "on",
                                                              "external_number": "+33612345679"})
    assert refused.status_code == 409
    assert 'value="+33612345679"' in refused.text  # the dialog stays open, what was typed kept
    assert "No external hot desk (EHDU) licence is left" in refused.text
