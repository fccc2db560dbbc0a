"""The change log: who, when, what, before and after, secrets masked, grouped per request."""

from __future__ import annotations


def _audit(client, headers, account_id, **params):
    response = client.get(f"/api/v1/accounts/{account_id}/audit", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_every_write_is_logged_with_before_and_after(client, tenant_a, login):
    headers = login(tenant_a.account_admin.email)
    users = f"/api/v1/accounts/{tenant_a.account.id}/users"
    created = client.post(users, headers=headers, json={
        "first_name": "Log", "last_name": "Me", "email": "log.me@example.com", "password": "secret-password"}).json()
    client.patch(f"{users}/{created['id']}", headers=headers, json={"last_name": "Changed", "password": "another-secret"})
    client.delete(f"{users}/{created['id']}", headers=headers)

    entries = _audit(client, headers, tenant_a.account.id, object_id=created["id"])["items"]
    assert [e["action"] for e in entries] == ["delete", "update", "create"]  # newest first
    delete, update, create = entries
    assert create["before"] is None
    assert create["after"] == {"first_name": "Log", "last_name": "Me", "email": "log.me@example.com",
                               "role": "user", "password": "****"}
    assert update["before"]["last_name"] == "Me" and update["after"]["last_name"] == "Changed"
    assert update["after"]["password"].startswith("****")
    assert delete["after"] is None and delete["before"]["last_name"] == "Changed"
    for entry in entries:
        assert entry["actor_id"] == tenant_a.account_admin.id
        assert entry["actor_email"] == tenant_a.account_admin.email
        assert entry["object_type"] == "user"
    text = str(entries)
    assert "secret-password" not in text and "another-secret" not in text and "argon2" not in text


def test_entries_of_one_request_share_a_request_id(client, tenant_a, login):
    headers = login(tenant_a.partner_admin.email)
    client.patch(f"/api/v1/accounts/{tenant_a.account.id}", headers={**headers, "X-Request-ID": "req0000000000001"},
                 json={"city": "One"})
    client.patch(f"/api/v1/accounts/{tenant_a.account.id}", headers=headers, json={"city": "Two"})
    entries = _audit(client, headers, tenant_a.account.id, object_id=tenant_a.account.id)["items"]
    updates = [e for e in entries if e["action"] == "update"]
    assert len(updates) == 2
    assert updates[1]["request_id"] == "req0000000000001"
    assert updates[0]["request_id"] != updates[1]["request_id"]
    assert (updates[1]["before"]["city"], updates[1]["after"]["city"]) == ("Alphaville", "One")


def test_a_no_op_update_writes_nothing(client, tenant_a, login):
    headers = login(tenant_a.partner_admin.email)
    before = _audit(client, headers, tenant_a.account.id)["total"]
    client.patch(f"/api/v1/accounts/{tenant_a.account.id}", headers=headers, json={"city": "Alphaville"})
    assert _audit(client, headers, tenant_a.account.id)["total"] == before


def test_only_admins_of_the_account_read_its_log(client, tenant_a, tenant_b, login):
    assert client.get(f"/api/v1/accounts/{tenant_a.account.id}/audit",
                      headers=login(tenant_a.user.email)).status_code == 403
    assert client.get(f"/api/v1/accounts/{tenant_a.account.id}/audit",
                      headers=login(tenant_b.account_admin.email)).status_code == 404
