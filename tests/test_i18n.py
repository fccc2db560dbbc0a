"""Translations: the French catalogue covers every message, pages render in the reader's
language, and the language is negotiated as HTTP says."""

from __future__ import annotations

import re
import shutil

import pytest

from switchboard import i18n_catalog
from switchboard.core import i18n
from switchboard.accounts import service as accounts
from tests.factories import PASSWORD, make_account, make_user, system_ctx

FRENCH = {"Accept-Language": "fr-CA,fr;q=0.9"}
ENGLISH = {"Accept-Language": "en"}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _sign_in(client, email: str, **headers):
    token = _CSRF.search(client.get("/login", headers=headers).text).group(1)
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token},
                           headers=headers, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response


def _message_ids(catalog) -> set[str]:
    ids: set[str] = set()
    for message in catalog:
        if message.id:
            ids.update([message.id] if isinstance(message.id, str) else message.id)
    return ids


# ---------------------------------------------------------------- the catalogue


def test_every_message_has_a_french_translation_with_the_same_placeholders():
    problems = i18n_catalog.missing_translations("fr")
    assert problems == [], "Run `make messages` and translate:\n" + "\n".join(problems)


def test_message_ids_are_never_built_at_run_time():
    problems: list[i18n_catalog.Problem] = []
    i18n_catalog.extract(problems)
    assert [str(p) for p in problems] == []


def test_extraction_finds_messages_in_templates_and_python():
    ids = _message_ids(i18n_catalog.extract())
    assert {
        "Sign in",  # template _()
        "%(num)s problems to fix",  # template ngettext
        "Wrong e-mail or password.",  # Unauthorized(code, message)
        "Account %(name)s created.",  # flash(request, message)
        "%(name)s is now an account administrator.",  # message = "..." if ... else "..."; flash(request, message)
        "%(name)s is now a user.",
        "You cannot change your own role.",  # a helper's parameter handed on to Conflict(...)
        "Must be at least %(min_length)s characters long.",  # validation._MESSAGES
        "Enter a valid e-mail address.",  # code, message, params = "...", "...", {}
        "Not allowed for your role",  # Forbidden.title, the message of a bare Forbidden()
    } <= ids
    # mivb_sim, testing and migrations are not part of the console
    for message in i18n_catalog.extract():
        assert all("mivb_sim/" not in path and "testing/" not in path for path, _ in message.locations)


def test_validation_messages_are_all_extracted():
    from switchboard.core.validation import _MESSAGES

    assert {message for _code, message in _MESSAGES.values()} <= _message_ids(i18n_catalog.extract())


@pytest.fixture
def scratch_sources(tmp_path, monkeypatch):
    """A copy of the package's sources the test may change, and a copy of the catalogues."""
    sources = tmp_path / "switchboard"
    shutil.copytree(i18n_catalog.PACKAGE_DIR, sources,
                    ignore=shutil.ignore_patterns("__pycache__", "static", "mivb_sim", "testing", "migrations"))
    monkeypatch.setattr(i18n_catalog, "SOURCE_DIRS", (sources,))
    monkeypatch.setattr(i18n_catalog, "LOCALE_DIR", sources / "locale")
    return sources


def test_the_check_catches_an_untranslated_template_text(scratch_sources):
    assert i18n_catalog.missing_translations("fr") == []
    login = scratch_sources / "console" / "templates" / "login.html"
    login.write_text(login.read_text().replace("{% endblock %}", '<p>{{ _("New text") }}</p>\n{% endblock %}'))
    assert i18n_catalog.missing_translations("fr") == ["missing translation: 'New text'"]


def test_the_check_catches_untranslated_python_messages(scratch_sources):
    module = scratch_sources / "accounts" / "newthing.py"
    module.write_text(
        "from switchboard.core.errors import Conflict, NotFound\n"
        "from switchboard.console.web import flash\n\n"
        "class Gone(NotFound):\n    title = 'It is gone'\n\n"
        "def refuse(ctx, why):\n    raise Conflict('taken', why)\n\n"
        "def page(request, ok):\n"
        "    refuse(None, 'Refused for a reason.')\n"
        "    note = 'All good.' if ok else 'Not good.'\n"
        "    flash(request, note)\n"
        "    raise Gone('gone', message='Vanished.')\n"
    )
    missing = i18n_catalog.missing_translations("fr")
    assert sorted(missing) == sorted(f"missing translation: {text!r}" for text in (
        "It is gone", "Refused for a reason.", "All good.", "Not good.", "Vanished."))


def test_the_check_catches_fuzzy_and_broken_translations(scratch_sources):
    po = scratch_sources / "locale" / "fr" / "LC_MESSAGES" / "messages.po"
    text = po.read_text()
    text = text.replace('msgstr "Compte %(name)s créé."', 'msgstr "Compte %(nom)s créé."')
    text = text.replace('msgid "Sign out"', '#, fuzzy\nmsgid "Sign out"')
    text = text.replace('msgstr "Trop de tentatives"', 'msgstr "Trop de tentatives (100%)"')
    po.write_text(text)
    assert sorted(i18n_catalog.missing_translations("fr")) == sorted([
        "placeholders differ: 'Account %(name)s created.' -> 'Compte %(nom)s créé.'",
        "fuzzy translation: 'Sign out'",
        "translation breaks %-formatting (write a literal % as %%): 'Too many attempts'",
    ])


def test_update_keeps_translations_and_drops_obsolete_ones(scratch_sources, capsys):
    po = scratch_sources / "locale" / "fr" / "LC_MESSAGES" / "messages.po"
    po.write_text(po.read_text() + '\nmsgid "A text nobody uses any more"\nmsgstr "Un texte oublié"\n')
    login = scratch_sources / "console" / "templates" / "login.html"
    login.write_text(login.read_text().replace("{% endblock %}", '<p>{{ _("New text") }}</p>\n{% endblock %}'))
    i18n_catalog.update()
    text = po.read_text()
    assert 'msgstr "Se connecter"' in text
    assert "A text nobody uses any more" not in text
    assert i18n_catalog._read(po, "fr").get("New text") is not None  # untranslated, or a fuzzy guess
    assert [line for line in i18n_catalog.missing_translations("fr") if "New text" in line]
    assert 'msgid "New text"' in (scratch_sources / "locale" / "messages.pot").read_text()


def test_the_pot_file_is_up_to_date():
    """`make messages` was run after the last change of a message id."""
    written = i18n_catalog._read(i18n_catalog.pot_path())
    assert _message_ids(written) == _message_ids(i18n_catalog.extract())


def test_check_command_exits_zero(capsys):
    assert i18n_catalog.main(["check"]) == 0


def test_placeholders():
    assert i18n_catalog.placeholders("Page %(page)s of %(pages)s, 100%%") == ["%(page)s", "%(pages)s"]
    assert i18n_catalog.placeholders("%(num)d ok") == ["%(num)d"]


# ---------------------------------------------------------------- pages in French


def test_login_page_follows_the_browser_language(client):
    french = client.get("/login", headers=FRENCH).text
    assert '<html lang="fr">' in french
    assert "Connexion à Switchboard" in french and "Se connecter" in french and "Courriel" in french
    english = client.get("/login", headers=ENGLISH).text
    assert '<html lang="en">' in english
    assert "Sign in to Switchboard" in english and "Se connecter" not in english
    assert '<html lang="en">' in client.get("/login").text  # no header: English


def test_french_errors_and_plural_on_a_refused_sign_in(client, tenant_a):
    token = _CSRF.search(client.get("/login", headers=FRENCH).text).group(1)
    response = client.post("/login", headers=FRENCH, data={
        "email": tenant_a.user.email, "password": "wrong", "csrf_token": token})
    assert response.status_code == 401
    assert "Courriel ou mot de passe incorrect." in response.text
    assert f'value="{tenant_a.user.email}"' in response.text


def test_french_account_shows_its_users_page_in_french(client, session, tenant_a):
    account = make_account(session, tenant_a.partner, "Boulangerie Tremblay", default_language="fr")
    admin = make_user(session, account, role="account_admin", first_name="Josée")
    make_user(session, account, first_name="Marc")
    _sign_in(client, admin.email)  # no Accept-Language: the account's language decides
    page = client.get(f"/accounts/{account.id}/users")
    assert page.status_code == 200
    html = page.text
    assert '<html lang="fr">' in html
    for text in ("Gestion des utilisateurs", "Utilisateurs", "Paramètres du système", "+ Ajouter un utilisateur",
                 "Administrateur du compte", "Emplacement", "Se déconnecter", "Courriel", "Rôle"):
        assert text in html, text
    assert "User Management" not in html and "Sign out" not in html


def test_french_flash_and_validation_messages(client, session, tenant_a):
    account = make_account(session, tenant_a.partner, "Garage Gagnon", default_language="fr")
    admin = make_user(session, account, role="account_admin", first_name="Luc")
    user = make_user(session, account, first_name="Anne", last_name="Roy")
    _sign_in(client, admin.email)
    page = client.get(f"/accounts/{account.id}/users/{user.id}")
    token = _CSRF.search(page.text).group(1)
    toggled = client.post(f"/accounts/{account.id}/users/{user.id}/toggle-admin",
                          data={"csrf_token": token, "version": str(user.version)})
    assert "Anne Roy est maintenant administrateur du compte." in toggled.text
    refused = client.post(f"/accounts/{account.id}/users/new", data={
        "csrf_token": token, "first_name": "", "last_name": "X", "email": "not-an-address", "role": "user"})
    assert refused.status_code == 422
    assert "Ce champ est obligatoire." in refused.text
    assert "Saisissez une adresse de courriel valide." in refused.text


def test_french_plural_forms():
    ngettext = i18n.template_callables("fr")["ngettext"]
    assert ngettext("%(num)s result", "%(num)s results", 0) == "0 résultat"  # French: zero is singular
    assert ngettext("%(num)s result", "%(num)s results", 1) == "1 résultat"
    assert ngettext("%(num)s result", "%(num)s results", 2) == "2 résultats"
    assert ngettext("%(num)s problem to fix", "%(num)s problems to fix", 3) == "3 problèmes à corriger"
    english = i18n.template_callables("en")["ngettext"]
    assert english("%(num)s result", "%(num)s results", 0) == "0 results"


def test_french_plurals_inside_macros(client, session, tenant_a):
    account = make_account(session, tenant_a.partner, "Fromagerie Lavoie", default_language="fr")
    admin = make_user(session, account, role="account_admin")
    make_user(session, account)
    token = _CSRF.search(client.get("/login", headers=FRENCH).text).group(1)
    refused = client.post("/login", headers=FRENCH,
                          data={"email": admin.email, "password": "wrong", "csrf_token": token})
    assert "1 problème à corriger" in refused.text
    _sign_in(client, admin.email)
    html = client.get(f"/accounts/{account.id}/users").text
    assert "2 résultats" in html and "Page 1 sur 1" in html and "results" not in html
    assert "0 résultat<" in client.get(f"/accounts/{account.id}/users", params={"search": "zzz"}).text


def test_english_account_admin_sees_english(client, tenant_a):
    _sign_in(client, tenant_a.account_admin.email)
    html = client.get(f"/accounts/{tenant_a.account.id}/users").text
    assert '<html lang="en">' in html and "User Management" in html and "Utilisateurs" not in html


def test_an_explicit_choice_beats_the_account_language(client, session, tenant_a):
    account = make_account(session, tenant_a.partner, "Café Côté", default_language="fr")
    admin = make_user(session, account, role="account_admin")
    _sign_in(client, admin.email)
    page = client.get(f"/accounts/{account.id}/users")
    token = _CSRF.search(page.text).group(1)
    client.post("/language", data={"csrf_token": token, "lang": "en", "next": f"/accounts/{account.id}/users"})
    assert '<html lang="en">' in client.get(f"/accounts/{account.id}/users").text


def test_account_language_changed_through_the_service_applies(client, session, tenant_a):
    accounts.update_account(system_ctx(session), tenant_a.account.id, {"default_language": "fr"})
    _sign_in(client, tenant_a.user.email)
    html = client.get(f"/accounts/{tenant_a.account.id}/users/{tenant_a.user.id}").text
    assert "Produits et licences" in html and "Mon profil" in html


def test_every_french_translation_renders_in_a_template():
    """Each translation survives the console's always-%-format gettext."""
    callables = i18n.template_callables("fr")
    for message in i18n_catalog.extract():
        if not message.id:
            continue
        params = {name: "x" for name in re.findall(r"%\((\w+)\)", " ".join(
            [message.id] if isinstance(message.id, str) else message.id))}
        if isinstance(message.id, str):
            assert str(callables["gettext"](message.id, **params))
        else:
            for n in (0, 1, 2, 5):
                params.pop("num", None)
                assert str(callables["ngettext"](message.id[0], message.id[1], n, **params))


# ---------------------------------------------------------------- negotiation


@pytest.mark.parametrize("header, expected", [
    (None, None),
    ("", None),
    ("fr", "fr"),
    ("fr-CA,fr;q=0.9", "fr"),
    ("en-US,en;q=0.9,fr;q=0.8", "en"),
    ("en;q=0.5,fr;q=0.8", "fr"),  # the q-value wins over the order
    ("de,fr;q=0.3,en;q=0.2", "fr"),  # unsupported languages are skipped
    ("FR-ca", "fr"),
    ("fr;q=0,en;q=0.1", "en"),  # q=0 means "not this one"
    ("fr;q=0", None),
    ("de, es", None),
    ("en;q=abc,fr;q=0.4", "fr"),  # a broken q-value counts as 0
    ("fr;q=0.7,en;q=0.7", "fr"),  # a tie keeps the header's order
])
def test_negotiate_honours_q_values(header, expected):
    assert i18n.negotiate(header) == expected
