"""Issue 10, item 8: each person's language. A page speaks the person's own choice (stored
on them, so it lasts across sign-ins and browsers), else the browser's, else the
account's default language; the choice is also read and set through the API (/me)."""

from __future__ import annotations

from sqlalchemy import select

from switchboard.accounts.models import User
from tests.console.helpers import csrf_from, sign_in
from tests.factories import make_account, make_user

FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}
ENGLISH = {"Accept-Language": "en-US,en;q=0.9"}


def _lang(html: str) -> str:
    return html.split('<html lang="', 1)[1].split('"', 1)[0]


def _stored(session, user_id: str) -> User:
    session.expire_all()
    return session.scalar(select(User).where(User.id == user_id))


def _choose(client, page: str, lang: str, **headers):
    token = csrf_from(client.get(page, headers=headers).text)
    return client.post("/language", data={"csrf_token": token, "lang": lang, "next": page}, headers=headers,
                       follow_redirects=False)


def test_a_french_browser_on_an_english_account_gets_french(client, tenant_a):
    assert tenant_a.account.default_language == "en"
    client.headers.update(FRENCH)
    sign_in(client, tenant_a.account_admin.email)
    html = client.get(f"/accounts/{tenant_a.account.id}/users").text
    assert _lang(html) == "fr" and "Gestion des utilisateurs" in html and "User Management" not in html


def test_the_browser_comes_before_the_account_and_the_account_without_a_browser_language(client, session, tenant_a):
    account = make_account(session, tenant_a.partner, "Quincaillerie Pelletier", default_language="fr")
    admin = make_user(session, account, role="account_admin")
    sign_in(client, admin.email)
    page = f"/accounts/{account.id}/users"
    assert _lang(client.get(page, headers=ENGLISH).text) == "en"
    assert _lang(client.get(page, headers={"Accept-Language": "de, es;q=0.8"}).text) == "fr"  # none supported
    assert _lang(client.get(page).text) == "fr"  # no header at all


def test_the_choice_is_stored_on_the_person_and_lasts_across_sign_ins(client, app, session, tenant_a):
    admin = tenant_a.account_admin
    page = f"/accounts/{tenant_a.account.id}/users"
    client.headers.update(ENGLISH)
    sign_in(client, admin.email)
    version = _stored(session, admin.id).version
    chosen = _choose(client, page, "fr")
    assert chosen.status_code == 303 and chosen.headers["location"] == page
    stored = _stored(session, admin.id)
    assert stored.language == "fr"
    # a preference, not an edit: an admin's form loaded before stays valid
    assert stored.version == version
    assert _lang(client.get(page).text) == "fr"

    # signed out: the sign-in page still speaks it; signed in again: French
    token = csrf_from(client.get(page).text)
    assert client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert _lang(client.get("/login").text) == "fr"
    sign_in(client, admin.email)
    assert _lang(client.get(page).text) == "fr"

    # another browser (an English one, a new cookie jar): the person's choice still wins
    from starlette.testclient import TestClient

    with TestClient(app, headers=ENGLISH) as other:
        sign_in(other, admin.email)
        assert _lang(other.get(page).text) == "fr"
        # and back to English from there, for every browser
        _choose(other, page, "en")
    assert _lang(client.get(page).text) == "en"
    assert _stored(session, admin.id).language == "en"


def test_a_choice_made_before_signing_in_belongs_to_the_browser_only(client, session, tenant_a):
    client.headers.update(ENGLISH)
    _choose(client, "/login", "fr")
    assert _lang(client.get("/login").text) == "fr"
    sign_in(client, tenant_a.user.email)
    assert _lang(client.get(f"/accounts/{tenant_a.account.id}/users/{tenant_a.user.id}").text) == "fr"
    assert _stored(session, tenant_a.user.id).language is None  # nothing stored on the person


def test_the_api_reads_and_sets_the_language(client, login, session, tenant_a):
    headers = login(tenant_a.user.email)
    assert client.get("/api/v1/me", headers=headers).json()["language"] is None
    changed = client.patch("/api/v1/me", headers=headers, json={"language": "fr"})
    assert changed.status_code == 200 and changed.json()["language"] == "fr"
    assert client.get("/api/v1/me", headers=headers).json()["language"] == "fr"
    assert client.patch("/api/v1/me", headers=headers, json={}).json()["language"] == "fr"  # nothing sent, nothing changed
    refused = client.patch("/api/v1/me", headers=headers, json={"language": "de"})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "language"
    assert client.patch("/api/v1/me", headers=headers, json={"colour": "blue"}).status_code == 422
    # the console follows what the API set
    client.headers.update(ENGLISH)
    sign_in(client, tenant_a.user.email)
    assert _lang(client.get(f"/accounts/{tenant_a.account.id}/users/{tenant_a.user.id}").text) == "fr"
    # null forgets the choice: the browser's language again
    assert client.patch("/api/v1/me", headers=headers, json={"language": None}).json()["language"] is None
    assert _stored(session, tenant_a.user.id).language is None
    assert _lang(client.get(f"/accounts/{tenant_a.account.id}/users/{tenant_a.user.id}").text) == "en"


def test_the_openapi_document_describes_the_language(app):
    spec = app.openapi()
    assert "patch" in spec["paths"]["/api/v1/me"]
    assert "language" in spec["components"]["schemas"]["Me"]["properties"]
    assert "language" in spec["components"]["schemas"]["MeUpdate"]["properties"]
