"""Users through the API: admins manage their account's users; a user sees only themself."""

from __future__ import annotations

from tests.factories import PASSWORD, make_user


def _users(account_id):
    return f"/api/v1/accounts/{account_id}/users"


def test_create_get_update_delete(client, tenant_a, login):
    headers = login(tenant_a.account_admin.email)
    created = client.post(_users(tenant_a.account.id), headers=headers, json={
        "first_name": "Zoé", "last_name": "Lambert", "email": "Zoe.Lambert@Example.com", "password": "zoe-password"})
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["role"] == "user" and user["can_sign_in"] is True
    assert user["extensions"] == [] and user["licences"] == [] and user["location"] is None
    assert "password" not in user and "password_hash" not in user
    url = f"{_users(tenant_a.account.id)}/{user['id']}"

    got = client.get(url, headers=headers)
    assert got.json()["email"] == "Zoe.Lambert@example.com"  # the domain is normalised
    patched = client.patch(url, headers={**headers, "If-Match": got.headers["etag"]},
                           json={"last_name": "Lambert-Roy"})
    assert patched.status_code == 200 and patched.json()["last_name"] == "Lambert-Roy"
    assert client.patch(url, headers={**headers, "If-Match": got.headers["etag"]},
                        json={"last_name": "Lost"}).status_code == 412

    signed_in = client.post("/api/v1/auth/token", json={"email": "zoe.lambert@example.com", "password": "zoe-password"})
    assert signed_in.status_code == 200
    assert client.delete(url, headers=headers).status_code == 204
    assert client.get(url, headers=headers).status_code == 404


def test_email_unique_case_insensitively_across_accounts(client, tenant_a, tenant_b, login):
    headers = login(tenant_b.partner_admin.email)
    response = client.post(_users(tenant_b.account.id), headers=headers, json={
        "first_name": "A", "last_name": "B", "email": tenant_a.user.email.upper()})
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "email_taken"
    # changing an e-mail to a taken one is refused too
    response = client.patch(f"{_users(tenant_b.account.id)}/{tenant_b.user.id}", headers=headers,
                            json={"email": tenant_a.partner_admin.email})
    assert response.status_code == 409


def test_required_fields_and_formats(client, tenant_a, login):
    headers = login(tenant_a.account_admin.email)
    response = client.post(_users(tenant_a.account.id), headers=headers, json={
        "first_name": "  ", "email": "not-an-email", "role": "partner_admin", "password": "short"})
    assert response.status_code == 422
    errors = {e["field"]: e["code"] for e in response.json()["errors"]}
    assert errors == {"first_name": "required", "last_name": "required", "email": "invalid_email",
                      "role": "invalid_choice", "password": "too_short"}


def test_toggle_between_user_and_account_admin(client, tenant_a, login):
    headers = login(tenant_a.account_admin.email)
    url = f"{_users(tenant_a.account.id)}/{tenant_a.user.id}"
    assert client.patch(url, headers=headers, json={"role": "account_admin"}).json()["role"] == "account_admin"
    # the promoted user can now manage users
    promoted = login(tenant_a.user.email)
    assert client.get(_users(tenant_a.account.id), headers=promoted).status_code == 200
    assert client.patch(url, headers=headers, json={"role": "user"}).json()["role"] == "user"
    # a role change revokes the user's tokens; signed in again, they are a user
    assert client.get(_users(tenant_a.account.id), headers=promoted).status_code == 401
    assert client.get(_users(tenant_a.account.id), headers=login(tenant_a.user.email)).status_code == 403


def test_admin_cannot_demote_or_delete_themself(client, tenant_a, login):
    headers = login(tenant_a.account_admin.email)
    me = f"{_users(tenant_a.account.id)}/{tenant_a.account_admin.id}"
    demote = client.patch(me, headers=headers, json={"role": "user"})
    assert demote.status_code == 409 and demote.json()["errors"][0]["code"] == "cannot_change_self"
    assert client.delete(me, headers=headers).status_code == 409
    assert client.patch(me, headers=headers, json={"first_name": "Renamed"}).status_code == 200


def test_plain_user_sees_only_themself_read_only(client, tenant_a, login):
    headers = login(tenant_a.user.email)
    own = f"{_users(tenant_a.account.id)}/{tenant_a.user.id}"
    assert client.get(own, headers=headers).status_code == 200
    assert client.get(f"{_users(tenant_a.account.id)}/{tenant_a.account_admin.id}", headers=headers).status_code == 404
    assert client.get(_users(tenant_a.account.id), headers=headers).status_code == 403
    assert client.patch(own, headers=headers, json={"first_name": "Me"}).status_code == 403
    assert client.delete(own, headers=headers).status_code == 403
    assert client.post(_users(tenant_a.account.id), headers=headers, json={
        "first_name": "A", "last_name": "B", "email": "new@x.example"}).status_code == 403


def test_list_search_paging_and_order(client, session, tenant_a, login):
    make_user(session, tenant_a.account, first_name="Marie", last_name="Zed", email="marie@zed.example")
    make_user(session, tenant_a.account, first_name="Marc", last_name="Abel", email="marc@abel.example")
    headers = login(tenant_a.account_admin.email)
    found = client.get(f"{_users(tenant_a.account.id)}?search=mar", headers=headers).json()
    assert [u["last_name"] for u in found["items"]] == ["Abel", "Zed"]
    by_full_name = client.get(f"{_users(tenant_a.account.id)}?search=marie%20zed", headers=headers).json()
    assert by_full_name["total"] == 1
    by_email = client.get(f"{_users(tenant_a.account.id)}?search=abel.example", headers=headers).json()
    assert by_email["total"] == 1
    page = client.get(f"{_users(tenant_a.account.id)}?limit=1&offset=1", headers=headers).json()
    assert page["total"] == 4 and len(page["items"]) == 1


def test_removing_a_password_stops_sign_in(client, tenant_a, login):
    headers = login(tenant_a.account_admin.email)
    url = f"{_users(tenant_a.account.id)}/{tenant_a.user.id}"
    user_headers = login(tenant_a.user.email)
    response = client.patch(url, headers=headers, json={"password": None})
    assert response.status_code == 200 and response.json()["can_sign_in"] is False
    assert client.get("/api/v1/me", headers=user_headers).status_code == 401
    assert client.post("/api/v1/auth/token", json={"email": tenant_a.user.email, "password": PASSWORD}).status_code == 401
