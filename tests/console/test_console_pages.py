"""Console pages through the test client: sign-in, cookies, CSRF, forms that keep input."""

from __future__ import annotations

from tests.console.helpers import csrf_from, post_form, sign_in


def test_pages_need_sign_in_and_come_back_after(client, tenant_a):
    target = f"/accounts/{tenant_a.account.id}/users"
    response = client.get(target, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=%2Faccounts%2F{tenant_a.account.id}%2Fusers"
    page = client.get(response.headers["location"])
    token = csrf_from(page.text)
    signed_in = client.post("/login", data={"email": tenant_a.account_admin.email, "password": "correct-horse-battery",
                                            "csrf_token": token, "next": target}, follow_redirects=False)
    assert signed_in.headers["location"] == target


def test_session_cookie_is_httponly_and_samesite_lax(client, tenant_a):
    response = sign_in(client, tenant_a.partner_admin.email)
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert response.headers["location"] == "/accounts"


def test_open_redirects_are_ignored(client, tenant_a):
    token = csrf_from(client.get("/login").text)
    response = client.post("/login", data={"email": tenant_a.partner_admin.email, "password": "correct-horse-battery",
                                           "csrf_token": token, "next": "//evil.example/"}, follow_redirects=False)
    assert response.headers["location"] == "/accounts"


def test_wrong_password_shows_one_generic_message(client, tenant_a):
    token = csrf_from(client.get("/login").text)
    response = client.post("/login", data={"email": tenant_a.user.email, "password": "nope", "csrf_token": token})
    assert response.status_code == 401
    assert "Wrong e-mail or password." in response.text
    assert f'value="{tenant_a.user.email}"' in response.text  # the e-mail typed is kept


def test_forms_without_a_valid_csrf_token_are_refused(client, tenant_a):
    sign_in(client, tenant_a.partner_admin.email)
    response = client.post("/accounts/new", data={"name": "Sneaky"})
    assert response.status_code == 403
    assert "This form has expired" in response.text
    forged = client.post("/accounts/new", data={"name": "Sneaky", "csrf_token": "forged"})
    assert forged.status_code == 403
    assert "No account matches your search." in client.get("/accounts?search=Sneaky").text


def test_login_form_itself_needs_csrf(client, tenant_a):
    response = client.post("/login", data={"email": tenant_a.user.email, "password": "correct-horse-battery"})
    assert response.status_code == 403


def test_account_form_refusal_keeps_input_and_marks_fields(client, tenant_a):
    sign_in(client, tenant_a.partner_admin.email)
    response = post_form(client, "/accounts/new", "/accounts/new", {
        "name": "Alpha Customer", "country": "CA", "city": "Gatineau", "default_language": "en"})
    assert response.status_code == 409
    html = response.text
    assert 'id="error-name"' in html and "An account with this name already exists." in html
    assert 'value="Gatineau"' in html and 'value="Alpha Customer"' in html
    assert html.count("An account with this name already exists.") == 3  # beside the field, top and bottom lists


def test_create_user_then_search_then_toggle_and_delete(client, tenant_a):
    sign_in(client, tenant_a.account_admin.email)
    users = f"/accounts/{tenant_a.account.id}/users"
    created = post_form(client, f"{users}/new", f"{users}/new", {
        "first_name": "Hélène", "last_name": "Quenneville", "email": "helene@example.com", "role": "user", "password": ""})
    assert created.status_code == 303
    user_url = created.headers["location"]
    detail = client.get(user_url).text
    assert "Products and licenses" in detail and "User Hélène Quenneville created." in detail

    found = client.get(f"{users}?search=quenne").text
    assert "helene@example.com" in found and tenant_a.user.email not in found
    partial = client.get(f"{users}?search=quenne", headers={"HX-Request": "true"}).text
    assert partial.lstrip().startswith('<div id="users-table">')  # htmx gets the table only

    toggled = post_form(client, user_url, f"{user_url}/toggle-admin", {"version": "1"})
    assert toggled.status_code == 303
    assert "is now an account administrator" in client.get(user_url).text
    deleted = post_form(client, f"{user_url}/delete", f"{user_url}/delete", {"version": "2"})
    assert deleted.status_code == 303
    assert client.get(user_url).status_code == 404


def test_stale_edit_form_is_refused_not_overwritten(client, tenant_a):
    sign_in(client, tenant_a.partner_admin.email)
    edit = f"/accounts/{tenant_a.account.id}/edit"
    first = post_form(client, edit, edit, {"name": "Alpha Customer", "city": "First", "version": "1",
                                            "default_language": "en"})
    assert first.status_code == 303
    second = post_form(client, edit, edit, {"name": "Alpha Customer", "city": "Second", "version": "1",
                                             "default_language": "en"})
    assert second.status_code == 412
    assert "changed by someone else" in second.text and 'value="Second"' in second.text


def test_plain_user_sees_own_profile_without_admin_actions(client, tenant_a):
    response = sign_in(client, tenant_a.user.email)
    own = response.headers["location"]
    assert own == f"/accounts/{tenant_a.account.id}/users/{tenant_a.user.id}"
    html = client.get(own).text
    assert "Products and licenses" in html and "toggle-admin" not in html and "/edit" not in html
    assert client.get(f"/accounts/{tenant_a.account.id}/users").status_code == 403
    assert client.get(f"/accounts/{tenant_a.account.id}/users/{tenant_a.account_admin.id}").status_code == 404


def test_other_tenant_pages_are_not_found(client, tenant_a, tenant_b):
    sign_in(client, tenant_b.account_admin.email)
    for url in (f"/accounts/{tenant_a.account.id}/users", f"/accounts/{tenant_a.account.id}/users/{tenant_a.user.id}",
                f"/accounts/{tenant_a.account.id}/settings/mivb", f"/accounts/{tenant_a.account.id}/edit"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert tenant_a.account.name not in response.text and tenant_a.user.email not in response.text


def test_mivb_settings_page_lists_what_is_missing(client, tenant_a):
    sign_in(client, tenant_a.account_admin.email)
    html = client.get(f"/accounts/{tenant_a.account.id}/settings/mivb").text
    assert "Not set up yet" in html and "directory number (DN) range" in html


def test_sign_out(client, tenant_a):
    sign_in(client, tenant_a.account_admin.email)
    page = client.get(f"/accounts/{tenant_a.account.id}/users")
    response = client.post("/logout", data={"csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert response.headers["location"] == "/login"
    assert client.get(f"/accounts/{tenant_a.account.id}/users", follow_redirects=False).status_code == 303


def test_refused_user_form_asks_for_the_password_again(client, tenant_a):
    sign_in(client, tenant_a.account_admin.email)
    users = f"/accounts/{tenant_a.account.id}/users"
    response = post_form(client, f"{users}/new", f"{users}/new", {
        "first_name": "Dup", "last_name": "Licate", "email": tenant_a.user.email, "role": "user",
        "password": "a-secret-password"})
    assert response.status_code == 409
    assert "a-secret-password" not in response.text
    assert "Enter the password again" in response.text
