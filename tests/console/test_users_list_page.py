"""The users list with its MiVB columns: extensions, licences, location and sync state of
each user, the filter by sync state (console and API), the bulk "Assign MiVoice Business"
action (all or nothing), and a query count that does not grow with the rows shown."""

from __future__ import annotations

import re

from sqlalchemy import select

from switchboard.sync.models import SyncStatus
from tests.console.helpers import csrf_from, post_form, sign_in
from tests.statements import counting_statements



def _users(account_id: str) -> str:
    return f"/accounts/{account_id}/users"


def _row(html: str, user_id: str) -> str:
    start = html.index(f'<tr id="user-{user_id}"')
    return html[start:html.index("</tr>", start)]


def _set_state(session, user_id: str, state: str) -> None:
    status = session.scalar(select(SyncStatus).where(SyncStatus.user_id == user_id))
    status.state = state
    session.commit()


def test_mivb_columns_and_sync_badges(client, mivb_account, tenant_a):
    m = mivb_account
    telephony = m.new_user("Telephony")
    premium = m.new_user("Premium")
    sign_in(client, tenant_a.account_admin.email)
    html = client.get(_users(m.account_id)).text
    row = _row(html, telephony)
    assert "2000" in row and "MiVoice Business Service: Telephony" in row and "Head Office" in row
    assert 'data-sync-state="pending"' in row
    row = _row(html, premium)
    assert re.search(r"200\d, 200\d", row) and "MiVoice Business Service: Premium" in row  # two phones
    plain = _row(html, tenant_a.user.id)
    assert "data-sync-state" not in plain and "MiVoice Business" not in plain  # no MiVB service: no badge


def test_filter_by_sync_state_in_the_page_and_the_api(client, mivb_account, tenant_a, session):
    m = mivb_account
    failed = m.new_user("Telephony")
    synced = m.new_user("Telephony")
    pending = m.new_user("Entry")
    _set_state(session, failed, "failed")
    _set_state(session, synced, "synced")
    sign_in(client, tenant_a.account_admin.email)
    users = _users(m.account_id)

    html = client.get(f"{users}?sync_state=failed").text
    assert f'id="user-{failed}"' in html and f'id="user-{synced}"' not in html and f'id="user-{pending}"' not in html
    assert 'data-sync-state="failed"' in html and '<option value="failed" selected>' in html
    assert "1 result" in html
    partial = client.get(f"{users}?sync_state=synced", headers={"HX-Request": "true"}).text
    assert partial.lstrip().startswith('<div id="users-table">')
    assert f'id="user-{synced}"' in partial and f'id="user-{failed}"' not in partial
    everyone = client.get(f"{users}?sync_state=").text
    assert all(f'id="user-{u}"' in everyone for u in (failed, synced, pending, tenant_a.user.id))
    assert f'id="user-{tenant_a.user.id}"' not in client.get(f"{users}?sync_state=pending").text

    api = client.get(m.url("/users"), params={"sync_state": "failed"}, headers=m.admin)
    assert api.status_code == 200
    assert [u["id"] for u in api.json()["items"]] == [failed] and api.json()["total"] == 1
    assert client.get(m.url("/users"), params={"sync_state": "nope"}, headers=m.admin).status_code == 422
    assert client.get(m.url("/users"), params={"sync_state": "pending"}, headers=m.admin).json()["total"] == 1


def test_list_users_service_checks_the_sync_state(session, tenant_a):
    import pytest

    from switchboard.accounts import service as accounts
    from switchboard.core.errors import ValidationFailed
    from tests.factories import ctx_for

    with pytest.raises(ValidationFailed) as refused:
        accounts.list_users(ctx_for(session, tenant_a.account_admin), tenant_a.account.id, sync_state="unknown")
    assert refused.value.errors[0].field == "sync_state"
    total, rows = accounts.list_users(ctx_for(session, tenant_a.account_admin), tenant_a.account.id,
                                      sync_state="synced")
    assert (total, rows) == (0, [])


def test_the_licences_left_are_counted_in_the_singular_and_in_french(client, mivb_account, tenant_a):
    """"(1 licences left)" read wrong: the count takes the plural form its language gives it."""
    m = mivb_account
    for _ in range(4):  # Telephony has 5 licences
        m.new_user("Telephony")
    sign_in(client, tenant_a.account_admin.email)
    assert "Telephony (1 licence left)" in client.get(_users(m.account_id)).text
    french = client.get(_users(m.account_id), headers={"Accept-Language": "fr-FR,fr;q=0.9"}).text
    assert "Telephony (1 licence restante)" in french and "Premium (5 licences restantes)" in french


def test_bulk_assign_gives_every_ticked_user_the_category(client, mivb_account, tenant_a):
    m = mivb_account
    first, second = m.new_user(), m.new_user()
    sign_in(client, tenant_a.account_admin.email)
    users = _users(m.account_id)
    html = client.get(users).text
    assert f'action="/accounts/{m.account_id}/users/assign-mivb"' in html
    assert "Telephony (5 licences left)" in html
    token = csrf_from(html)
    response = client.post(f"{users}/assign-mivb", data={
        "csrf_token": token, "user_ids": [first, second], "service_category": m.categories["Telephony"],
        "search": "", "sync_state": "", "page": "1"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"{users}?page=1"
    html = client.get(users).text
    assert "MiVoice Business assigned to 2 users." in html
    for user_id in (first, second):
        row = _row(html, user_id)
        assert "MiVoice Business Service: Telephony" in row and 'data-sync-state="pending"' in row
        assert re.search(r">\s*20\d\d\s*<", row)


def test_bulk_assign_is_all_or_nothing_and_names_the_refused_user(client, mivb_account, tenant_a):
    m = mivb_account
    m.new_user("Entry")
    m.new_user("Entry")  # Entry has 3 licences: 1 left
    ticked = [m.new_user(), m.new_user()]
    sign_in(client, tenant_a.account_admin.email)
    users = _users(m.account_id)
    html = client.get(users).text
    refused_name = re.search(r'aria-label="Select ([^"]+)"[^>]*>', _row(html, ticked[1])).group(1)
    response = client.post(f"{users}/assign-mivb", data={
        "csrf_token": csrf_from(html), "user_ids": ticked, "service_category": m.categories["Entry"],
        "search": "Voice", "sync_state": "", "page": "1"}, follow_redirects=False)
    assert response.status_code == 409
    html = response.text
    message = f"{refused_name}: No licence of the category Entry is left (3 in use)."
    assert html.count(message) == 3  # in the refused user's row, and in the lists at the top and bottom
    assert f'href="#field-user-{ticked[1]}"' in html
    assert f'id="error-user-{ticked[1]}"' in _row(html, ticked[1])
    for user_id in ticked:  # what the admin ticked and chose is kept (an attribute of its own)
        assert re.search(rf'value="{user_id}"[^>]*\schecked[\s>]', _row(html, user_id))
    assert f'<option value="{m.categories["Entry"]}" selected>' in html
    assert 'value="Voice"' in html  # and the search
    fresh = client.get(users).text
    for user_id in ticked:  # nobody changed
        assert "MiVoice Business" not in _row(fresh, user_id)


def test_bulk_assign_needs_a_selection_a_category_and_csrf(client, mivb_account, tenant_a):
    m = mivb_account
    user_id = m.new_user()
    sign_in(client, tenant_a.account_admin.email)
    users = _users(m.account_id)
    nobody = post_form(client, users, f"{users}/assign-mivb", {"service_category": m.categories["Entry"]})
    assert nobody.status_code == 422 and "Select at least one user." in nobody.text
    assert 'href="#field-users"' in nobody.text and 'id="field-users"' in nobody.text
    no_category = post_form(client, users, f"{users}/assign-mivb", {"user_ids": user_id, "service_category": ""})
    assert no_category.status_code == 422 and 'id="error-service_category"' in no_category.text
    forged = client.post(f"{users}/assign-mivb", data={"user_ids": user_id, "service_category": m.categories["Entry"]},
                         follow_redirects=False)
    assert forged.status_code == 403
    assert "MiVoice Business" not in _row(client.get(users).text, user_id)


def test_users_list_without_categories_offers_no_bulk_action(client, tenant_a):
    sign_in(client, tenant_a.account_admin.email)
    html = client.get(_users(tenant_a.account.id)).text
    assert "assign-mivb" not in html and "create a service category first" in html
    assert 'name="user_ids"' not in html


# ---------------------------------------------------------------- query count



def test_users_list_query_count_does_not_grow_with_the_rows(client, mivb_account, tenant_a, db_connection):
    """NetBox-style baseline: the page reads its MiVB columns for all rows at once."""
    m = mivb_account
    response = client.patch(m.url(f"/mivb/service-categories/{m.categories['Telephony']}"), headers=m.partner,
                            json={"licences": 40})
    assert response.status_code == 200, response.text
    for user_id in (tenant_a.account_admin.id, tenant_a.user.id):
        m.configure(user_id, "Telephony")
    for _ in range(3):
        m.new_user("Telephony")
    sign_in(client, tenant_a.account_admin.email)
    users = _users(m.account_id)
    client.get(users)  # warm up: anything done once per process is not counted

    def measure() -> tuple[int, str]:
        with counting_statements(db_connection) as statements:
            page = client.get(users)
        assert page.status_code == 200
        return len(statements), page.text

    small, html = measure()
    assert html.count("data-sync-state=") == 5 and html.count('name="user_ids"') == 5
    for _ in range(20):
        m.new_user("Telephony")
    large, html = measure()
    assert html.count("data-sync-state=") == 25 and html.count('name="user_ids"') == 25  # a full page
    assert small > 5  # the listener sees the page's queries
    assert small == large, f"{small} queries for 5 users with MiVB phones, {large} for 25"
