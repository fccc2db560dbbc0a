"""Finding 8 of the security review (issue 9): look-alike e-mails and names that lie about
themselves were accepted. E-mails are NFKC-normalised and must not mix scripts; names
(people, accounts, partners, service categories) refuse bidi overrides and isolates,
zero-width characters and control characters."""

from __future__ import annotations

import pytest

from switchboard.accounts import service as accounts
from switchboard.core.errors import ValidationFailed
from tests.factories import PASSWORD, system_ctx

TRAPS = {
    "right-to-left override": "Invoice\u202egpj.exe",
    "isolate": "Bob\u2066Admin\u2069",
    "zero-width space": "Ad\u200bmin",
    "zero-width joiner": "Ad\u200dmin",
    "byte order mark": "\ufeffAlice",
    "escape sequence": "Eve\x1b[2J",
    "newline": "Line\nBreak",
    "bell": "Ding\x07",
}


def _users(account_id: str) -> str:
    return f"/api/v1/accounts/{account_id}/users"


def _refused(response, field: str, code: str) -> str:
    assert response.status_code == 422, response.text
    errors = {e["field"]: e for e in response.json()["errors"]}
    assert errors[field]["code"] == code, errors
    return errors[field]["message"]


def test_names_with_bidi_overrides_zero_width_or_control_characters_are_refused(client, tenant_a, login):
    partner = login(tenant_a.partner_admin.email)
    users = _users(tenant_a.account.id)
    for what, trap in TRAPS.items():
        for field in ("first_name", "last_name"):
            body = {"first_name": "Ok", "last_name": "Fine", "email": "trap@example.com", field: trap}
            message = _refused(client.post(users, headers=partner, json=body), field, "invalid_characters")
            assert "invisible formatting characters" in message, what
        edit = client.patch(f"{users}/{tenant_a.user.id}", headers=partner, json={"last_name": trap})
        _refused(edit, "last_name", "invalid_characters")
        account = client.post("/api/v1/accounts", headers=partner, json={"name": trap})
        _refused(account, "name", "invalid_characters")
        renamed = client.patch(f"/api/v1/accounts/{tenant_a.account.id}", headers=partner, json={"name": trap})
        _refused(renamed, "name", "invalid_characters")
        category = client.post(f"/api/v1/accounts/{tenant_a.account.id}/mivb/service-categories", headers=partner,
                               json={"name": trap, "template": "Entry User", "licences": 1})
        _refused(category, "name", "invalid_characters")
    # Letters of any language, accents and apostrophes are names.
    fine = client.post(users, headers=partner, json={"first_name": "Zoë-Chloé", "last_name": "O'Brien Nguyễn Đặng",
                                                     "email": "zoe.obrien@example.com"})
    assert fine.status_code == 201, fine.text


def test_partner_names_refuse_invisible_characters(session):
    for field, value in (("name", "Acme\u200b Telecom"), ("admin_first_name", "Pat\u202e"),
                         ("admin_last_name", "Ops\x00")):
        with pytest.raises(ValidationFailed) as refused:
            accounts.create_partner(system_ctx(session), {"name": "Acme Telecom", "admin_email": "ops@acme.example",
                                                          "admin_password": PASSWORD, field: value})
        assert [(e.field, e.code) for e in refused.value.errors] == [(field, "invalid_characters")]


@pytest.mark.parametrize("email", [
    "p\u0430ypal@example.com",  # Cyrillic "а" among Latin letters, local part
    "billing@p\u0430ypal.com",  # ... in the domain
    "admin@xn--80ak6aa92e.com",  # "аррӏе.com" written in Cyrillic, given as punycode
    "\u03bfffice@example.com",  # Greek omicron
])
def test_mixed_script_emails_are_refused(client, tenant_a, login, email):
    headers = login(tenant_a.account_admin.email)
    response = client.post(_users(tenant_a.account.id), headers=headers,
                           json={"first_name": "Look", "last_name": "Alike", "email": email})
    message = _refused(response, "email", "mixed_scripts")
    assert message.startswith("An e-mail address must not mix letters of different scripts")


def test_emails_are_nfkc_normalised_before_their_key_is_lowercased(client, tenant_a, login):
    headers = login(tenant_a.account_admin.email)
    users = _users(tenant_a.account.id)
    # Full-width letters are the plain ones after NFKC.
    created = client.post(users, headers=headers, json={
        "first_name": "Full", "last_name": "Width", "email": "\uff26\uff55\uff4c\uff4c@Example.com",
        "password": "full-width-password"})
    assert created.status_code == 201, created.text
    assert created.json()["email"] == "Full@example.com"
    # The same address typed another way is the same user.
    again = client.post(users, headers=headers, json={"first_name": "Again", "last_name": "Width",
                                                      "email": "full@EXAMPLE.com"})
    assert again.status_code == 409 and again.json()["errors"][0]["code"] == "email_taken"
    # Sign-in normalises what is typed the same way.
    signed_in = client.post("/api/v1/auth/token", json={"email": "\uff46\uff55\uff4c\uff4c@example.com",
                                                        "password": "full-width-password"})
    assert signed_in.status_code == 200
    # An address in one other script is an address.
    cyrillic = client.post(users, headers=headers, json={"first_name": "Иван", "last_name": "Петров",
                                                         "email": "иван@пример.рф"})
    assert cyrillic.status_code == 201, cyrillic.text
