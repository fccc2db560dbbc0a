"""Accounts through the API: partner admins only, scoped to their partner."""

from __future__ import annotations

from tests.factories import PASSWORD, make_account


def test_partner_admin_creates_views_edits_and_deletes(client, tenant_a, login):
    headers = login(tenant_a.partner_admin.email)
    created = client.post("/api/v1/accounts", headers=headers, json={
        "name": "Nouvelle Société", "country": "fr", "city": "Lyon", "address": "1 rue de la Paix",
        "postal_code": "69001", "province": "Rhône", "default_language": "fr"})
    assert created.status_code == 201, created.text
    account = created.json()
    assert account["country"] == "FR" and account["default_language"] == "fr"
    assert account["partner_id"] == tenant_a.partner.id
    etag = created.headers["etag"]

    fetched = client.get(f"/api/v1/accounts/{account['id']}", headers=headers)
    assert fetched.json()["name"] == "Nouvelle Société" and fetched.headers["etag"] == etag

    patched = client.patch(f"/api/v1/accounts/{account['id']}", headers={**headers, "If-Match": etag},
                           json={"city": "Paris"})
    assert patched.status_code == 200 and patched.json()["city"] == "Paris"
    assert patched.headers["etag"] != etag

    stale = client.patch(f"/api/v1/accounts/{account['id']}", headers={**headers, "If-Match": etag},
                         json={"city": "Marseille"})
    assert stale.status_code == 412
    assert stale.json()["errors"][0]["code"] == "version_mismatch"
    assert client.get(f"/api/v1/accounts/{account['id']}", headers=headers).json()["city"] == "Paris"

    stale_delete = client.delete(f"/api/v1/accounts/{account['id']}", headers={**headers, "If-Match": etag})
    assert stale_delete.status_code == 412
    assert client.delete(f"/api/v1/accounts/{account['id']}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/accounts/{account['id']}", headers=headers).status_code == 404


def test_account_names_are_unique_per_partner_ignoring_case(client, tenant_a, tenant_b, login):
    headers = login(tenant_a.partner_admin.email)
    taken = client.post("/api/v1/accounts", headers=headers, json={"name": "ALPHA customer"})
    assert taken.status_code == 409
    assert taken.json()["errors"][0] == {"code": "name_taken", "field": "name",
                                         "message": "An account with this name already exists."}
    # another partner may use the same name
    other = client.post("/api/v1/accounts", headers=login(tenant_b.partner_admin.email),
                        json={"name": "Alpha Customer"})
    assert other.status_code == 201


def test_bad_input_names_each_field_and_changes_nothing(client, tenant_a, login):
    headers = login(tenant_a.partner_admin.email)
    response = client.post("/api/v1/accounts", headers=headers, json={
        "name": "x" * 201, "country": "ZZ", "default_language": "de", "postal_code": 12345, "colour": "red"})
    assert response.status_code == 422
    fields = {e["field"]: e["code"] for e in response.json()["errors"]}
    assert fields == {"name": "too_long", "country": "invalid_country", "default_language": "invalid_choice",
                      "postal_code": "invalid_type", "colour": "unknown_field"}
    listing = client.get("/api/v1/accounts", headers=headers).json()
    assert listing["total"] == 1


def test_list_search_and_paging(client, session, tenant_a, login):
    for i in range(7):
        make_account(session, tenant_a.partner, f"Bulk {i:02d}", city="Québec" if i % 2 else "Laval")
    headers = login(tenant_a.partner_admin.email)
    page = client.get("/api/v1/accounts?limit=3&offset=2&search=bulk", headers=headers).json()
    assert page["total"] == 7
    assert [a["name"] for a in page["items"]] == ["Bulk 02", "Bulk 03", "Bulk 04"]
    by_city = client.get("/api/v1/accounts?search=QUÉBEC", headers=headers).json()
    assert {a["name"] for a in by_city["items"]} == {"Bulk 01", "Bulk 03", "Bulk 05"}
    # LIKE wildcards in the search are literal characters
    assert client.get("/api/v1/accounts?search=%25", headers=headers).json()["total"] == 0
    for bad in ("limit=0", "limit=501", "offset=-1", "limit=abc"):
        response = client.get(f"/api/v1/accounts?{bad}", headers=headers)
        assert response.status_code == 422, bad
        assert response.json()["errors"][0]["field"] == bad.split("=")[0]


def test_account_admin_reads_own_account_but_cannot_manage_accounts(client, tenant_a, login):
    headers = login(tenant_a.account_admin.email)
    assert client.get(f"/api/v1/accounts/{tenant_a.account.id}", headers=headers).status_code == 200
    assert [a["id"] for a in client.get("/api/v1/accounts", headers=headers).json()["items"]] == [tenant_a.account.id]
    assert client.post("/api/v1/accounts", headers=headers, json={"name": "Mine"}).status_code == 403
    assert client.patch(f"/api/v1/accounts/{tenant_a.account.id}", headers=headers,
                        json={"city": "x"}).status_code == 403
    assert client.delete(f"/api/v1/accounts/{tenant_a.account.id}", headers=headers).status_code == 403


def test_deleting_an_account_removes_its_users(client, tenant_a, login):
    headers = login(tenant_a.partner_admin.email)
    user_token = login(tenant_a.user.email)  # the right password: it works before
    assert client.get("/api/v1/me", headers=user_token).status_code == 200
    assert client.delete(f"/api/v1/accounts/{tenant_a.account.id}", headers=headers).status_code == 204
    # the user is gone: the right password no longer signs in, the token taken before is dead
    response = client.post("/api/v1/auth/token", json={"email": tenant_a.user.email, "password": PASSWORD})
    assert response.status_code == 401 and response.json()["errors"][0]["code"] == "invalid_credentials"
    assert client.get("/api/v1/me", headers=user_token).status_code == 401
    # the e-mail is free again
    other = client.post("/api/v1/accounts", headers=headers, json={"name": "Again"}).json()
    again = client.post(f"/api/v1/accounts/{other['id']}/users", headers=headers, json={
        "first_name": "Re", "last_name": "Used", "email": tenant_a.user.email})
    assert again.status_code == 201


def test_if_match_must_be_an_etag(client, tenant_a, login):
    headers = login(tenant_a.partner_admin.email)
    response = client.patch(f"/api/v1/accounts/{tenant_a.account.id}", headers={**headers, "If-Match": "garbage"},
                            json={"city": "x"})
    assert response.status_code == 412
    star = client.patch(f"/api/v1/accounts/{tenant_a.account.id}", headers={**headers, "If-Match": "*"},
                        json={"city": "Star"})
    assert star.status_code == 200
