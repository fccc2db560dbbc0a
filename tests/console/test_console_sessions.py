"""Finding 3 of the security review (issue 9): signing out did not end the console session.
The cookie held the user's id; a copy taken before sign-out kept working, and the server
refreshed it. Console sessions are now rows (accounts.sessions) the cookie only names by a
random token: sign-out, a new password, a new role or the user's deletion end them."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from switchboard.accounts import sessions
from switchboard.accounts.models import UserSession
from switchboard.core.db import utcnow
from tests.console.helpers import csrf_from, post_form, sign_in
from tests.factories import PASSWORD

COOKIE = "switchboard_session"


def cookie_data(value: str) -> dict:
    """What Starlette's signed session cookie holds (base64 JSON before the signature)."""
    payload = value.split(".", 1)[0]
    return json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.fixture
def thief(app):
    """A second browser, into which a copy of the victim's cookie is put."""
    with TestClient(app) as other:
        yield other


def _copy_cookie(client, thief) -> str:
    [cookie] = [c for c in client.cookies.jar if c.name == COOKIE]
    thief.cookies.set(COOKIE, cookie.value, domain=cookie.domain, path=cookie.path)
    return cookie.value


def _works(browser, url: str) -> bool:
    response = browser.get(url, follow_redirects=False)
    assert response.status_code in (200, 303), response.status_code
    return response.status_code == 200


def _rows(session, user_id: str) -> list[UserSession]:
    session.expire_all()
    return list(session.scalars(select(UserSession).where(UserSession.user_id == user_id)))


def test_signing_out_ends_the_console_session(client, thief, tenant_a):
    sign_in(client, tenant_a.account_admin.email)
    page = f"/accounts/{tenant_a.account.id}/users"
    _copy_cookie(client, thief)
    assert _works(thief, page)  # the copy is as good as the original while signed in

    signed_out = post_form(client, page, "/logout", {})
    assert signed_out.headers["location"] == "/login"

    refused = thief.get(page, follow_redirects=False)
    assert refused.status_code == 303 and refused.headers["location"].startswith("/login")
    # The server no longer refreshes the dead token: the cookie it answers with names no session.
    left = thief.cookies.get(COOKIE)
    assert left is None or "sid" not in cookie_data(left)
    assert not _works(client, page)


def test_the_console_cookie_carries_no_user_id(client, session, tenant_a):
    response = sign_in(client, tenant_a.user.email)
    assert response.status_code == 303
    data = cookie_data(client.cookies.get(COOKIE))
    assert set(data) <= {"sid", "csrf", "lang", "flash"}, data
    assert tenant_a.user.id not in json.dumps(data) and "uid" not in data and "tv" not in data
    # The token is random and only its hash is stored.
    rows = _rows(session, tenant_a.user.id)
    assert len(rows) == 1 and rows[0].id != data["sid"] and len(rows[0].id) == 64
    assert rows[0].expires_at > utcnow() + timedelta(hours=11)


def test_a_password_change_ends_every_console_session_but_this_one_goes_on(client, thief, session, tenant_a):
    sign_in(client, tenant_a.user.email)
    own = f"/accounts/{tenant_a.account.id}/users/{tenant_a.user.id}"
    _copy_cookie(client, thief)
    changed = post_form(client, "/me/password", "/me/password",
                        {"current_password": PASSWORD, "new_password": "a-new-secret-phrase"})
    assert changed.status_code == 303
    assert not _works(thief, own)
    assert _works(client, own)  # the browser that changed it is signed in again, with a new session
    assert len(_rows(session, tenant_a.user.id)) == 1


def test_a_role_change_ends_the_users_console_sessions_and_api_tokens(client, thief, session, tenant_a, login):
    sign_in(thief, tenant_a.user.email)
    token = login(tenant_a.user.email)
    own = f"/accounts/{tenant_a.account.id}/users/{tenant_a.user.id}"
    assert _works(thief, own)
    admin = login(tenant_a.account_admin.email)
    promoted = client.patch(f"/api/v1/accounts/{tenant_a.account.id}/users/{tenant_a.user.id}", headers=admin,
                            json={"role": "account_admin"})
    assert promoted.status_code == 200
    assert not _works(thief, own)
    assert client.get("/api/v1/me", headers=token).status_code == 401
    assert _rows(session, tenant_a.user.id) == []


def test_a_password_reset_by_an_admin_ends_the_users_console_sessions(client, thief, session, tenant_a, login):
    sign_in(thief, tenant_a.user.email)
    own = f"/accounts/{tenant_a.account.id}/users/{tenant_a.user.id}"
    admin = login(tenant_a.account_admin.email)
    reset = client.patch(f"/api/v1/accounts/{tenant_a.account.id}/users/{tenant_a.user.id}", headers=admin,
                         json={"password": "reset-by-the-admin"})
    assert reset.status_code == 200
    assert not _works(thief, own)
    assert _rows(session, tenant_a.user.id) == []


def test_deleting_a_user_ends_its_console_sessions(client, thief, session, tenant_a, login):
    sign_in(thief, tenant_a.user.email)
    own = f"/accounts/{tenant_a.account.id}/users/{tenant_a.user.id}"
    assert len(_rows(session, tenant_a.user.id)) == 1
    admin = login(tenant_a.account_admin.email)
    deleted = client.delete(f"/api/v1/accounts/{tenant_a.account.id}/users/{tenant_a.user.id}", headers=admin)
    assert deleted.status_code == 204
    assert not _works(thief, own)
    assert _rows(session, tenant_a.user.id) == []  # the foreign key's cascade


def test_an_expired_session_is_refused_and_cleaned_up_at_the_next_sign_in(client, thief, session, tenant_a):
    sign_in(thief, tenant_a.user.email)
    own = f"/accounts/{tenant_a.account.id}/users/{tenant_a.user.id}"
    row = _rows(session, tenant_a.user.id)[0]
    row.expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    assert not _works(thief, own)
    sign_in(client, tenant_a.account_admin.email)  # anyone's sign-in sweeps expired rows
    assert _rows(session, tenant_a.user.id) == []


def test_sessions_service_refuses_garbage_tokens(session, tenant_a):
    assert sessions.resume(session, None) is None
    assert sessions.resume(session, "") is None
    assert sessions.resume(session, "x" * 10_000) is None
    assert sessions.resume(session, {"uid": tenant_a.user.id}) is None
    token = sessions.start(session, tenant_a.user, ttl_seconds=60)
    assert sessions.resume(session, token).id == tenant_a.user.id
    sessions.end(session, token)
    assert sessions.resume(session, token) is None
