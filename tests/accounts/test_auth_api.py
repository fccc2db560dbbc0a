"""Sign-in: tokens, the single answer for bad credentials, lock-out, own password."""

from __future__ import annotations

from datetime import timedelta

import pytest

from switchboard.accounts import auth as accounts
from switchboard.core.db import utcnow
from switchboard.core.errors import TooManyRequests, Unauthorized
from tests.factories import PASSWORD


def _token(client, email, password=PASSWORD):
    return client.post("/api/v1/auth/token", json={"email": email, "password": password})


def test_token_then_me(client, tenant_a):
    response = _token(client, tenant_a.account_admin.email.upper())  # e-mail case does not matter
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"}).json()
    assert me == {
        "id": tenant_a.account_admin.id, "email": tenant_a.account_admin.email,
        "first_name": tenant_a.account_admin.first_name, "last_name": tenant_a.account_admin.last_name,
        "role": "account_admin", "partner_id": tenant_a.partner.id, "account_id": tenant_a.account.id,
        "language": None,
    }


def test_unknown_email_and_wrong_password_get_the_same_answer(client, tenant_a):
    unknown = _token(client, "nobody@nowhere.example")
    wrong = _token(client, tenant_a.user.email, "not-the-password")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()
    assert unknown.json()["errors"][0]["code"] == "invalid_credentials"
    assert unknown.headers["content-type"].startswith("application/problem+json")


def test_missing_or_bad_token_is_401(client, tenant_a):
    assert client.get("/api/v1/me").status_code == 401
    bad = client.get("/api/v1/me", headers={"Authorization": "Bearer forged.token.value"})
    assert bad.status_code == 401
    assert bad.json()["errors"][0]["code"] == "invalid_token"


def test_user_without_password_cannot_sign_in(client, session, tenant_a):
    from tests.factories import make_user

    silent = make_user(session, tenant_a.account, password=None)
    assert _token(client, silent.email, "").status_code == 422  # empty password is malformed
    assert _token(client, silent.email, "anything-at-all").status_code == 401


def test_five_failures_lock_the_email_even_for_the_right_password(client, tenant_a):
    for _ in range(5):
        assert _token(client, tenant_a.user.email, "wrong-password").status_code == 401
    locked = _token(client, tenant_a.user.email)
    assert locked.status_code == 429
    assert locked.json()["errors"][0]["code"] == "signin_locked"
    # another e-mail is not affected
    assert _token(client, tenant_a.account_admin.email).status_code == 200


def test_unknown_email_locks_the_same_way(client):
    for _ in range(5):
        _token(client, "ghost@nowhere.example", "x")
    assert _token(client, "ghost@nowhere.example", "x").status_code == 429


def test_lock_lasts_fifteen_minutes_and_needs_failures_within_five(session, tenant_a):
    email = tenant_a.user.email
    start = utcnow()
    # four failures, then a fifth six minutes later: outside the window, no lock
    for minute in (0, 1, 2, 3, 9):
        with pytest.raises(Unauthorized):
            accounts.authenticate(session, email, "bad", now=start + timedelta(minutes=minute))
    assert accounts.authenticate(session, email, PASSWORD, now=start + timedelta(minutes=9, seconds=1))
    # success cleared the failures; five quick ones now lock
    t0 = start + timedelta(minutes=10)
    for second in range(5):
        with pytest.raises(Unauthorized):
            accounts.authenticate(session, email, "bad", now=t0 + timedelta(seconds=second))
    with pytest.raises(TooManyRequests):
        accounts.authenticate(session, email, PASSWORD, now=t0 + timedelta(minutes=14))
    assert accounts.authenticate(session, email, PASSWORD, now=t0 + timedelta(minutes=15, seconds=5)).id == tenant_a.user.id


def test_changing_own_password_revokes_old_tokens(client, tenant_a, login):
    headers = login(tenant_a.user.email)
    wrong = client.post("/api/v1/me/password", headers=headers,
                        json={"current_password": "nope", "new_password": "a-brand-new-pass"})
    assert wrong.status_code == 403
    short = client.post("/api/v1/me/password", headers=headers,
                        json={"current_password": PASSWORD, "new_password": "short"})
    assert short.status_code == 422 and short.json()["errors"][0]["field"] == "new_password"
    ok = client.post("/api/v1/me/password", headers=headers,
                     json={"current_password": PASSWORD, "new_password": "a-brand-new-pass"})
    assert ok.status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert _token(client, tenant_a.user.email, "a-brand-new-pass").status_code == 200


def test_token_request_is_validated(client):
    response = client.post("/api/v1/auth/token", json={"email": "a@b.example", "password": "x", "extra": 1})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"code": "unknown_field", "message": "Unknown field.", "field": "extra"}]
    not_json = client.post("/api/v1/auth/token", content=b"{not json", headers={"content-type": "application/json"})
    assert not_json.status_code == 400  # unparseable: a bad request (issue 9, finding 12)
    assert not_json.json()["errors"][0]["code"] == "invalid_json"
