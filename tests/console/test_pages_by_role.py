"""Finding 11 of the security review (issue 9): a plain user could open the console's
account edit and delete pages (and an account admin the account pages), forms they could
not use. A page above the person's role does not exist for them: 404, on GET and POST,
and the lists do not offer it. The REST API keeps its 403 for an action above the role
on a known, own object (shared/API.md)."""

from __future__ import annotations

from tests.console.helpers import csrf_from, sign_in

ACCOUNT_PAGES = ("/accounts/new", "/accounts/{account}/edit", "/accounts/{account}/delete")
USER_PAGES = ("/accounts/{account}/users/new", "/accounts/{account}/users/{other}/edit",
              "/accounts/{account}/users/{other}/delete", "/accounts/{account}/users/{self}/edit",
              "/accounts/{account}/users/{self}/delete")
USER_FORMS = ("/accounts/{account}/users/{other}/toggle-admin", "/accounts/{account}/users/{self}/toggle-admin")
FORM_DATA = {"name": "Taken Over", "first_name": "Eve", "last_name": "Intruder", "email": "eve@intruder.example",
             "role": "account_admin", "default_language": "en"}


def _urls(templates, tenant, me) -> list[str]:
    other = tenant.account_admin if me.id == tenant.user.id else tenant.user
    return [t.format(account=tenant.account.id, other=other.id, self=me.id) for t in templates]


def _state(client, tenant, login):
    headers = login(tenant.partner_admin.email)
    account = client.get(f"/api/v1/accounts/{tenant.account.id}", headers=headers).json()
    users = client.get(f"/api/v1/accounts/{tenant.account.id}/users", headers=headers).json()
    accounts = client.get("/api/v1/accounts", headers=headers).json()
    return account, [(u["id"], u["role"], u["email"], u["version"]) for u in users["items"]], accounts["total"]


def _all_not_found(client, urls: list[str], *, posts_too: bool = True, forms: list[str] = ()) -> None:
    token = csrf_from(client.get("/me/password").text)
    for url in urls:
        page = client.get(url)
        assert page.status_code == 404, (url, page.status_code)
        assert "Not found" in page.text
    for url in (urls if posts_too else []) + list(forms):
        sent = client.post(url, data={**FORM_DATA, "csrf_token": token}, follow_redirects=False)
        assert sent.status_code == 404, (url, sent.status_code, sent.text[:200])


def test_a_plain_user_gets_404_on_the_console_account_and_user_admin_pages(client, tenant_a, login):
    before = _state(client, tenant_a, login)
    sign_in(client, tenant_a.user.email)
    _all_not_found(client, _urls(ACCOUNT_PAGES + USER_PAGES, tenant_a, tenant_a.user),
                   forms=_urls(USER_FORMS, tenant_a, tenant_a.user))
    assert _state(client, tenant_a, login) == before


def test_an_account_admin_gets_404_on_the_account_pages(client, tenant_a, login):
    before = _state(client, tenant_a, login)
    sign_in(client, tenant_a.account_admin.email)
    _all_not_found(client, _urls(ACCOUNT_PAGES, tenant_a, tenant_a.account_admin))
    assert _state(client, tenant_a, login) == before
    # ... and still opens the pages of the users it manages.
    for url in _urls(USER_PAGES[:3], tenant_a, tenant_a.account_admin):
        assert client.get(url).status_code == 200, url


def test_a_partner_admin_opens_every_account_and_user_page(client, tenant_a):
    sign_in(client, tenant_a.partner_admin.email)
    for url in _urls(ACCOUNT_PAGES + USER_PAGES[:3], tenant_a, tenant_a.account_admin):
        assert client.get(url).status_code == 200, url


def test_the_accounts_list_offers_account_actions_only_to_who_can_manage_accounts(client, tenant_a):
    account = tenant_a.account.id
    for person, offered in ((tenant_a.partner_admin, True), (tenant_a.account_admin, False), (tenant_a.user, False)):
        sign_in(client, person.email)
        html = client.get("/accounts").text
        assert tenant_a.account.name in html, person.role
        for marker in ("+ Add account", 'href="/accounts/new"', f'href="/accounts/{account}/edit"',
                       f'href="/accounts/{account}/delete"'):
            assert (marker in html) is offered, (person.role, marker)


def test_the_api_keeps_403_for_an_own_account_above_the_role(client, tenant_a, login):
    url = f"/api/v1/accounts/{tenant_a.account.id}"
    for person in (tenant_a.account_admin, tenant_a.user):
        headers = login(person.email)
        assert client.delete(url, headers=headers).status_code == 403, person.role
        assert client.patch(url, headers=headers, json={"name": "Renamed"}).status_code == 403, person.role
        assert client.post("/api/v1/accounts", headers=headers, json={"name": "Mine"}).status_code == 403
