"""Issue 10, item 7: a French page shows no English message id, and French typography.

The console's main pages are rendered in French (a French browser on an English account),
with real data: an account connected to the simulator, a user with the MiVB product, a
desk phone, a SIP phone and a hot desk, a change history, a push the PBX refused, a PBX
that is down for the connection test, a checked import and users on the PBX to adopt. On
each, no message id of the catalogue that French translates differently may appear in
English (tests/english_leaks.py says how they are looked for)."""

from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po

from switchboard import i18n_catalog
from switchboard.jobs.runner import JobRunner
from switchboard.pbx.mivb_gateway import MivbGatewayConnector
from switchboard.sync.worker import RetryPolicy, Worker
from tests.conftest import SIM_AUTH
from tests.console.helpers import csrf_from, sign_in
from tests.english_leaks import english_messages, texts_of
from tests.mivb_fixtures import Mivb

FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9"}


@pytest.fixture
def world(client, app, session_factory, mivb_account: Mivb, tenant_a, sim, sim_api):
    """Every kind of thing the pages show, the account's default language left English."""
    m = mivb_account
    assert tenant_a.account.default_language == "en"
    user_id = m.new_user("Premium")
    hot = client.post(m.user_url(user_id, "/mivb/phones"), headers=m.admin, json={
        "type": "hot_desk", "acd_agent": True, "external_phone": {"number": "+33612345678"}})
    assert hot.status_code == 201, hot.text
    config = client.get(m.user_url(user_id, "/mivb"), headers=m.admin).json()
    desk = next(p for p in config["phones"] if p["type"] == "desk_phone")
    changed = client.patch(m.user_url(user_id, f"/mivb/phones/{desk['id']}"), headers=m.admin,
                           json={"voicemail": not desk["voicemail"]})
    assert changed.status_code == 200, changed.text
    # The PBX refuses the desk phone's DN: errors at the top and bottom, on the phone, in the queue.
    sim_api.post("/_sim/faults", json={"reject": {"dn": desk["dn"]}}).raise_for_status()
    worker = Worker(session_factory, app.state.runtime, retry=RetryPolicy(0.01, 0.02, 1))
    while worker.run_once():
        pass
    sim_api.delete("/_sim/faults").raise_for_status()
    # Users the account does not manage, on the PBX: one matching a user of ours by e-mail.
    pbx = MivbGatewayConnector(sim.url, *SIM_AUTH)
    try:
        for key, first, last, email in (("legacy-1", "Léa", "Ancienne", tenant_a.user.email),
                                        ("legacy-2", "Hugo", "Inconnu", None)):
            outcome = pbx.push_user(key, {"first_name": first, "last_name": last, "email": email,
                                          "template": "Entry User", "phones": [
                                              {"key": "p1", "type": "generic_sip", "dn": f"29{len(key)}{key[-1]}",
                                               "sip": {"username": key, "password": "x" * 16}}]})
            assert outcome.ok, outcome.errors
    finally:
        pbx.close()
    return {"m": m, "user_id": user_id, "desk": desk, "sim_api": sim_api}


def _french_client(client):
    client.headers.update(FRENCH)
    return client


def _get(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, f"{url}: {response.status_code}"
    html = response.text
    assert '<html lang="fr">' in html, url
    return html


def _assert_french(pages: dict[str, str]) -> None:
    leaks = {name: english_messages(html) for name, html in pages.items()}
    leaks = {name: found for name, found in leaks.items() if found}
    assert not leaks, "English on French pages:\n" + "\n".join(
        f"  {name}: {msgid!r} in {text!r}" for name, found in leaks.items() for msgid, text in found)


def test_the_checker_finds_english_and_leaves_data_alone():
    english = '<html lang="fr"><h1>Users</h1><p title="Change password">x</p><td>Entry User</td></html>'
    assert {msgid for msgid, _ in english_messages(english)} == {"Users", "Change password"}
    french = ('<html lang="fr"><h1>Utilisateurs</h1><td>Entry User</td><td>Telephony</td>'
              '<p>Modèle : Hot Desk Agent</p><span>DN 2001</span></html>')
    assert english_messages(french) == []
    # a message with values, found whatever the values are
    assert [m for m, _ in english_messages("<p>Template: Premium User</p>")] == ["Template: %(name)s"]


def test_every_main_page_in_french_shows_no_english_message(client, app, session_factory, world, tenant_a):
    m, user_id, desk = world["m"], world["user_id"], world["desk"]
    account = f"/accounts/{m.account_id}"
    user_page = f"{account}/users/{user_id}"
    _french_client(client)
    pages: dict[str, str] = {}

    # not signed in: the sign-in page, and a refused sign-in
    pages["sign-in"] = _get(client, "/login")
    token = csrf_from(pages["sign-in"])
    refused = client.post("/login", data={"email": tenant_a.account_admin.email, "password": "wrong",
                                          "csrf_token": token})
    assert refused.status_code == 401
    pages["sign-in refused"] = refused.text

    # the partner admin: accounts, an account, the MiVB settings with the PBX down
    sign_in(client, tenant_a.partner_admin.email)
    pages["accounts"] = _get(client, "/accounts")
    pages["new account"] = _get(client, "/accounts/new")
    pages["account"] = _get(client, f"{account}/edit")
    pages["delete account"] = _get(client, f"{account}/delete")
    settings = f"{account}/settings/mivb"
    pages["settings"] = _get(client, settings)
    world["sim_api"].post("/_sim/faults", json={"down": True}).raise_for_status()
    tested = client.post(f"{settings}/connection/test", data={"csrf_token": csrf_from(pages["settings"])},
                         headers={"HX-Request": "true"})
    assert tested.status_code == 200
    pages["connection test, PBX down"] = f'<html lang="fr">{tested.text}</html>'
    assert "indisponible" in tested.text, tested.text  # "The PBX is unavailable:", in French
    refreshed = client.post(f"{settings}/catalog/refresh", data={"csrf_token": csrf_from(pages["settings"])},
                            follow_redirects=True)
    pages["catalogue read, PBX down"] = refreshed.text
    world["sim_api"].delete("/_sim/faults").raise_for_status()
    pages["settings after the test"] = _get(client, settings)
    pages["users on the PBX"] = _get(client, f"{account}/pbx-users")
    checked_adoption = client.post(f"{account}/pbx-users/adopt", data={
        "csrf_token": csrf_from(pages["users on the PBX"]), "keys": ["legacy-1", "legacy-2", "nobody"],
        "mode": "dry_run"}, follow_redirects=False)
    assert checked_adoption.status_code == 303, checked_adoption.text
    assert JobRunner(session_factory, app.state.runtime).run_once()
    pages["adoption checked"] = _get(client, checked_adoption.headers["location"])
    assert "aucun utilisateur non géré avec cette clé" in pages["adoption checked"]  # a kept row error, in French

    # the account admin: users, a user with everything, dialogs, forms, sync, import
    client.cookies.clear()
    _french_client(client)
    sign_in(client, tenant_a.account_admin.email)
    pages["users"] = _get(client, f"{account}/users")
    pages["user"] = _get(client, user_page)
    assert "refus" in pages["user"].lower() or desk["dn"] in pages["user"]
    pages["user, category dialog"] = _get(client, f"{user_page}?dialog=category")
    pages["user, add phone dialog"] = _get(client, f"{user_page}?dialog=add-phone")
    refused_phone = client.post(f"{user_page}/mivb/phones", data={
        "csrf_token": csrf_from(pages["user"]), "type": "hot_desk", "external_phone": "on", "external_number": ""})
    assert refused_phone.status_code == 422
    pages["user, refused phone"] = refused_phone.text
    pages["user, edit"] = _get(client, f"{user_page}/edit")
    pages["user, remove product"] = _get(client, f"{user_page}/products/mivb/remove")
    pages["new user"] = _get(client, f"{account}/users/new")
    pages["sync status"] = _get(client, f"{account}/sync")
    pages["sync status, failed"] = _get(client, f"{account}/sync?state=failed")
    pages["settings, read only"] = _get(client, f"{account}/settings/mivb")
    pages["import"] = _get(client, f"{account}/users/import")
    csv = "email,first_name,last_name,mivb,service_category\nbad-address,Zoé,Test,yes,Nowhere\n"
    checked = client.post(f"{account}/users/import", data={"csrf_token": csrf_from(pages["import"])},
                          files={"file": ("users.csv", csv.encode(), "text/csv")}, follow_redirects=False)
    assert checked.status_code == 303, checked.text
    assert JobRunner(session_factory, app.state.runtime).run_once()
    pages["import checked"] = _get(client, checked.headers["location"])
    pages["password"] = _get(client, "/me/password")
    pages["not found"] = _get(client, f"{account}/users/nobody", status=404)

    # a plain user on their own page
    client.cookies.clear()
    _french_client(client)
    sign_in(client, tenant_a.user.email)
    pages["own page"] = _get(client, f"{account}/users/{tenant_a.user.id}")

    _assert_french(pages)


# ---------------------------------------------------------------- French typography

_NEEDS_SPACE = re.compile(r"(?<=[^\s\u00a0\u202f])([:;?!»])(?=\s|$|\")|«(?=[^\s\u00a0\u202f])")
# Machine text inside a French sentence keeps its own punctuation (a header, JSON, a URL).
_LITERALS = re.compile(r"Authorization: Bearer|\w+: true|https?://")


def test_french_translations_put_a_space_before_double_punctuation():
    """French: a (non-breaking) space before ":", ";", "?", "!" and "»", after "«"."""
    with i18n_catalog.po_path("fr").open("rb") as fh:
        catalog = read_po(fh, locale="fr")
    wrong = []
    for message in catalog:
        if not message.id:
            continue
        for text in (message.string if isinstance(message.string, (list, tuple)) else (message.string,)):
            if _NEEDS_SPACE.search(_LITERALS.sub("", text or "")):
                wrong.append(f"{message.id!r} -> {text!r}")
    assert wrong == [], "French typography:\n" + "\n".join(wrong)


def test_no_message_is_cut_around_its_colon_in_a_template():
    """A label and its colon are one message ("Voicemail: %(state)s"), so the French
    can put its space before the colon; a template never adds ":" after a message."""
    found = []
    for path, kind in i18n_catalog.source_files():
        if kind == "jinja":
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if re.search(r"\)\s*}}\s*[:;?!]", line):
                    found.append(f"{path.name}:{number}: {line.strip()}")
    assert found == []


def test_a_french_page_text_has_its_typography(client, world, tenant_a):
    m, user_id = world["m"], world["user_id"]
    _french_client(client)
    sign_in(client, tenant_a.account_admin.email)
    html = _get(client, f"/accounts/{m.account_id}/users/{user_id}")
    assert re.search(r"<span>Messagerie vocale[\u00a0\u202f]: (activée|désactivée)</span>", html)
    assert re.search(r"Nom d'utilisateur SIP[\u00a0\u202f]: <code>", html.replace("&#39;", "'"))


def test_hot_desk_is_written_one_way():
    """Issue 10, item 11: "Hot Desk" and "Hot desk" were both shown. Every message writes
    the phone type "hot desk" (a capital only to start a sentence), and French keeps the
    term. ("Hot Desk Agent" is the name of a PBX template: the PBX's data, not ours.)"""
    from switchboard.mivb.phone_types import PHONE_TYPES

    assert PHONE_TYPES["hot_desk"].label == "Hot desk"
    with i18n_catalog.po_path("fr").open("rb") as fh:
        french = read_po(fh, locale="fr")
    found = 0
    for message in i18n_catalog.extract():
        for msgid in (message.id if isinstance(message.id, (list, tuple)) else (message.id,)):
            for hit in re.findall(r"hot[\s-]?desk", msgid or "", re.IGNORECASE):
                found += 1
                assert hit in ("Hot desk", "hot desk"), f"{msgid!r} writes {hit!r}"
                entry = french.get(message.id if isinstance(message.id, str) else message.id[0])
                assert entry is not None and "hot desk" in str(entry.string).lower(), msgid
    assert found >= 3
