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


def test_entries_of_one_request_share_a_request_id(client, mivb_account):
    m = mivb_account
    user_id = m.new_user()
    assert client.post(m.user_url(user_id, "/products"), headers=m.admin, json={"product": "mivb"}).status_code == 201
    # one request, three entries: the template's two phones and the service itself
    chosen = client.put(m.user_url(user_id, "/mivb/service"), headers={**m.admin, "X-Request-ID": "reqTemplate0001"},
                        json={"service_category": m.categories["Premium"]})
    assert chosen.status_code == 200 and chosen.headers["x-request-id"] == "reqTemplate0001"
    entries = _audit(client, m.admin, m.account_id, subject_id=user_id)["items"]
    ours = [e for e in entries if e["request_id"] == "reqTemplate0001"]
    assert sorted(e["object_type"] for e in ours) == ["mivb_service", "phone", "phone"], entries
    others = [e for e in entries if e["request_id"] != "reqTemplate0001"]
    assert others and all(e["request_id"] for e in others)  # the product's request had an id of its own
    # without X-Request-ID, two requests get two ids
    client.patch(m.url(""), headers=m.partner, json={"city": "One"})
    client.patch(m.url(""), headers=m.partner, json={"city": "Two"})
    updates = [e for e in _audit(client, m.admin, m.account_id, object_id=m.account_id)["items"]
               if e["action"] == "update"][:2]
    assert [e["after"]["city"] for e in updates] == ["Two", "One"]
    assert updates[0]["request_id"] != updates[1]["request_id"]


def test_a_no_op_update_writes_nothing(client, tenant_a, login):
    headers = login(tenant_a.partner_admin.email)
    url = f"/api/v1/accounts/{tenant_a.account.id}"
    got = client.get(url, headers=headers)
    before = _audit(client, headers, tenant_a.account.id)["total"]
    same = client.patch(url, headers={**headers, "If-Match": got.headers["etag"]}, json={"city": "Alphaville"})
    assert same.status_code == 200, same.text
    assert same.json() == got.json()  # same version, same updated_at
    assert same.headers["etag"] == got.headers["etag"]
    assert _audit(client, headers, tenant_a.account.id)["total"] == before
    # a real change, for contrast: a new version and one entry
    changed = client.patch(url, headers={**headers, "If-Match": same.headers["etag"]}, json={"city": "Betaville"})
    assert changed.status_code == 200 and changed.json()["version"] == got.json()["version"] + 1
    assert _audit(client, headers, tenant_a.account.id)["total"] == before + 1


def test_only_admins_of_the_account_read_its_log(client, tenant_a, tenant_b, login):
    assert client.get(f"/api/v1/accounts/{tenant_a.account.id}/audit",
                      headers=login(tenant_a.user.email)).status_code == 403
    assert client.get(f"/api/v1/accounts/{tenant_a.account.id}/audit",
                      headers=login(tenant_b.account_admin.email)).status_code == 404
