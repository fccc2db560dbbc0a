"""Issue 10, roles: the user page, the users list and the MiVB settings page offer each
role exactly the actions it may take. An account admin is offered no partner-only action,
a plain user no action at all; and what a page hides from a role, the server refuses to
that role (a forged form is 403 or 404, never done)."""

from __future__ import annotations

import re

import pytest

from tests.console.helpers import csrf_from, sign_in
from tests.mivb_fixtures import Mivb

_FORM = re.compile(r'<form[^>]*method="post"[^>]*action="([^"]+)"|formaction="([^"]+)"')
_LINK = re.compile(r'<a [^>]*href="([^"]+)"')
_ACTION_LINK = re.compile(r"/(edit|delete|new|remove|import|export\.csv)$|\?dialog=")
EVERYONE = {"/language", "/logout"}

USER_PAGE_ADMIN = {
    "link /accounts/{a}/users/{u}/edit", "link /accounts/{a}/users/{u}/delete",
    "form /accounts/{a}/users/{u}/toggle-admin",
    "link /accounts/{a}/users/{u}?dialog=category", "link /accounts/{a}/users/{u}/products/mivb/remove",
    "form /accounts/{a}/users/{u}/mivb/programming", "form /accounts/{a}/users/{u}/mivb/user-pin/suggest",
    "link /accounts/{a}/users/{u}?dialog=add-phone", "form /accounts/{a}/users/{u}/mivb/phones",
    "form /accounts/{a}/users/{u}/mivb/phones/{p}", "form /accounts/{a}/users/{u}/mivb/phones/{p}/delete",
}
USERS_LIST_ADMIN = {"link /accounts/{a}/users/import", "link /accounts/{a}/users/export.csv",
                    "link /accounts/{a}/users/new", "form /accounts/{a}/users/assign-mivb"}
SETTINGS_READ = {"form /accounts/{a}/settings/mivb/connection/test", "form /accounts/{a}/settings/mivb/catalog/refresh"}
SETTINGS_EDIT = SETTINGS_READ | {
    "form /accounts/{a}/settings/mivb/connection", "form /accounts/{a}/settings/mivb/licences",
    "form /accounts/{a}/settings/mivb/pin-policy",
    "form /accounts/{a}/settings/mivb/dn-ranges", "form /accounts/{a}/settings/mivb/dn-ranges/{dn}/delete",
    "form /accounts/{a}/settings/mivb/did-ranges", "form /accounts/{a}/settings/mivb/did-ranges/{did}/delete",
    "form /accounts/{a}/settings/mivb/categories",
    *(f"form /accounts/{{a}}/settings/mivb/categories/{{{name}}}{tail}"
      for name in ("Entry", "Telephony", "Premium", "Desk only") for tail in ("", "/delete")),
}


def _actions(html: str, names: dict[str, str]) -> set[str]:
    """The actions a page offers: its forms, and its links to forms and dialogs, with ids
    written as names ({a}, {u}, {p}…)."""
    found = {f"form {a or b}" for a, b in _FORM.findall(html)}
    found |= {f"link {url}" for url in _LINK.findall(html) if _ACTION_LINK.search(url.split("#")[0])}
    normalised = set()
    for action in found:
        action = action.split("#")[0]
        for name, value in names.items():
            action = action.replace(value, "{" + name + "}")
        if action.split(" ", 1)[1] not in EVERYONE:
            normalised.add(action)
    return normalised


@pytest.fixture
def pages(client, mivb_account, tenant_a):
    m: Mivb = mivb_account
    config = m.configure(tenant_a.user.id, "Telephony")
    names = {"a": m.account_id, "u": tenant_a.user.id, "p": config["phones"][0]["id"], "dn": m.dn_range,
             "did": m.did_range, **m.categories}
    urls = {"user page": f"/accounts/{m.account_id}/users/{tenant_a.user.id}",
            "users list": f"/accounts/{m.account_id}/users",
            "settings": f"/accounts/{m.account_id}/settings/mivb"}
    return m, names, urls


def _offered(client, person, urls, names) -> dict[str, tuple[int, set[str]]]:
    client.cookies.clear()
    sign_in(client, person.email)
    offered = {}
    for page, url in urls.items():
        response = client.get(url)
        offered[page] = (response.status_code, _actions(response.text, names))
    return offered


def test_each_role_is_offered_exactly_the_actions_it_may_take(client, pages, tenant_a):
    m, names, urls = pages
    expected = {
        tenant_a.partner_admin: {"user page": USER_PAGE_ADMIN, "users list": USERS_LIST_ADMIN, "settings": SETTINGS_EDIT},
        tenant_a.account_admin: {"user page": USER_PAGE_ADMIN, "users list": USERS_LIST_ADMIN, "settings": SETTINGS_READ},
        tenant_a.user: {"user page": set(), "users list": set(), "settings": set()},
    }
    for person, by_page in expected.items():
        offered = _offered(client, person, urls, names)
        for page, actions in by_page.items():
            status, found = offered[page]
            assert found == actions, (person.role, page, sorted(found ^ actions))
            assert status == 200 if person.role != "user" or page == "user page" else status in (403, 404)


def test_what_a_page_hides_from_a_role_the_server_refuses_to_it(client, pages, tenant_a):
    m, names, urls = pages
    admin = _offered(client, tenant_a.partner_admin, urls, names)
    for person in (tenant_a.account_admin, tenant_a.user):
        offered = _offered(client, person, urls, names)
        token = csrf_from(client.get("/me/password").text)
        for page in urls:
            for action in sorted(admin[page][1] - offered[page][1]):
                kind, url = action.split(" ", 1)
                url = url.format(**names)
                if kind == "form":
                    response = client.post(url, data={"csrf_token": token, "version": "1", "type": "desk_phone"},
                                           follow_redirects=False)
                else:
                    response = client.get(url, follow_redirects=False)
                    if response.status_code == 200 and "?dialog=" in url:
                        continue  # a dialog link hidden from a plain user: the page shows no dialog to them
                assert response.status_code in (403, 404), (person.role, action, response.status_code)
    # and the account admin's read-only actions do work for them
    client.cookies.clear()
    sign_in(client, tenant_a.account_admin.email)
    token = csrf_from(client.get(urls["settings"]).text)
    for action in sorted(SETTINGS_READ):
        response = client.post(action.split(" ", 1)[1].format(**names), data={"csrf_token": token},
                               follow_redirects=False)
        assert response.status_code == 303, (action, response.status_code)


def test_a_plain_user_page_shows_no_dialog_of_an_admin(client, pages, tenant_a):
    m, names, urls = pages
    sign_in(client, tenant_a.user.email)
    for dialog in ("add-product", "category", "add-phone"):
        html = client.get(urls["user page"], params={"dialog": dialog}).text
        assert "<dialog" not in html and _actions(html, names) == set(), dialog
