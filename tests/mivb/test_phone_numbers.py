"""Numbers as people type them (issue 10, item 10): one rule, core.validation.phone_number,
reads a number in the account's country with libphonenumber's data, stores E.164 and shows
it back in the viewer's format; the API, the console, the CSV import and the simulator
agree on it."""

from __future__ import annotations

import re

import phonenumbers
import pytest
from hypothesis import given, settings, strategies as st
from pydantic_core import PydanticCustomError

from switchboard.core.errors import ValidationFailed
from switchboard.core.validation import display_phone_number, phone_number, phone_number_field
from switchboard.mivb_sim.state import is_e164
from tests.console.helpers import post_form, sign_in


# ---------------------------------------------------------------- the rule


@pytest.mark.parametrize("typed, region, stored", [
    ("06 12 34 56 78", "FR", "+33612345678"),
    ("06.12.34.56.78", "FR", "+33612345678"),
    ("0033 6 12 34 56 78", "FR", "+33612345678"),
    ("+33 6 12 34 56 78", None, "+33612345678"),
    ("(613) 555-0100", "CA", "+16135550100"),
    ("(613) 555-0100", "US", "+16135550100"),
    ("613-555-0100", "ca", "+16135550100"),
    ("+1 613 555 0100", "FR", "+16135550100"),  # international wins over the account's country
    ("٠٦ ١٢ ٣٤ ٥٦ ٧٨", "FR", "+33612345678"),  # Arabic-Indic digits
])
def test_numbers_as_people_write_them(typed, region, stored):
    assert phone_number(typed, region) == stored


@pytest.mark.parametrize("typed, region, code", [
    ("+12345678", None, "invalid_phone_number"),  # no numbering plan has it
    ("+12345678", "CA", "invalid_phone_number"),
    ("06 12 34 56 78", None, "invalid_phone_number"),  # national, and the account has no country
    ("0612", "FR", "invalid_phone_number"),
    ("+33 1 23 45 67 89 ext. 12", "FR", "invalid_phone_number"),  # an extension would be lost
    ("call me", "FR", "invalid_phone_number"),
    ("   ", "FR", "required"),
    ("30000000000000", "DE", "invalid_phone_number"),  # Germany's plan has it, E.164 is 15 digits at most
])
def test_what_is_refused(typed, region, code):
    with pytest.raises(PydanticCustomError) as caught:
        phone_number(typed, region)
    assert caught.value.type == code


def test_a_service_refusal_names_the_field():
    with pytest.raises(ValidationFailed) as caught:
        phone_number_field("+12345678", "CA", "external_phone.number")
    error = caught.value.errors[0]
    assert (error.code, error.field) == ("invalid_phone_number", "external_phone.number")
    assert error.render() == ("Not a valid phone number: write it as it is dialled in the account's country (CA), "
                              "such as (506) 234-5678, or with + and the country code.")


def test_numbers_are_shown_for_the_viewer():
    assert display_phone_number("+33612345678", "FR") == "06 12 34 56 78"
    assert display_phone_number("+33612345678", "CA") == "+33 6 12 34 56 78"
    assert display_phone_number("+16135550100", "CA") == "(613) 555-0100"
    assert display_phone_number("+12025550100", "CA") == "(202) 555-0100"  # one numbering plan: +1
    assert display_phone_number("+16135550100", None) == "+1 613-555-0100"
    assert display_phone_number(None, "FR") == ""


@settings(max_examples=400, deadline=None)
@given(text=st.one_of(st.text(max_size=50),
                      st.from_regex(r"\+?[0-9 ().\-]{0,20}", fullmatch=True),
                      st.text(alphabet="+0123456789 ()-.x#*", max_size=30)),
       region=st.sampled_from([None, "FR", "CA", "US", "GB", "DE", "BE", "CH", "ZZ", "fr", ""]))
def test_any_text_is_a_stored_number_or_a_refusal(text, region):
    try:
        stored = phone_number(text, region)
    except PydanticCustomError as exc:
        assert exc.type in ("invalid_phone_number", "required")
        return
    parsed = phonenumbers.parse(stored, None)
    assert phonenumbers.is_valid_number(parsed)
    assert phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == stored
    assert phone_number(stored) == stored and is_e164(stored)  # the simulator takes it too


def test_the_simulator_takes_e164_numbers_of_a_numbering_plan():
    assert is_e164("+33612345678") and is_e164("+16135550100")
    for refused in ("+12345678", "+33 6 12 34 56 78", "0612345678", "+3361234567a", None, 33612345678):
        assert not is_e164(refused)


# ---------------------------------------------------------------- API and console


def _phones_url(m, user_id, phone_id=""):
    return m.user_url(user_id, "/mivb/phones" + (f"/{phone_id}" if phone_id else ""))


@pytest.fixture
def french_account(mivb_account, session, tenant_a):
    return in_france(mivb_account, session, tenant_a)


def in_france(mivb_account, session, tenant_a):
    tenant_a.account.country = "FR"
    session.commit()
    return mivb_account


def test_api_reads_numbers_in_the_accounts_country(client, french_account):
    m = french_account
    user_id = m.new_user("Entry")
    added = client.post(_phones_url(m, user_id), headers=m.admin, json={
        "type": "hot_desk", "external_phone": {"number": "06 12 34 56 78"}, "dn": "2015", "did": "01 40 00 00 15"})
    assert added.status_code == 201, added.text
    assert added.json()["external_phone"] == {"number": "+33612345678"} and added.json()["did"] == "+33140000015"
    changed = client.patch(_phones_url(m, user_id, added.json()["id"]), headers=m.admin,
                           json={"external_phone": {"number": "+1 (613) 555-0100"}})
    assert changed.status_code == 200 and changed.json()["external_phone"] == {"number": "+16135550100"}
    refused = client.post(_phones_url(m, user_id), headers=m.admin, json={
        "type": "hot_desk", "external_phone": {"number": "+12345678"}})
    assert refused.status_code == 422
    assert [(e["code"], e["field"]) for e in refused.json()["errors"]] == [("invalid_phone_number",
                                                                          "external_phone.number")]


def test_an_account_without_a_country_takes_international_numbers(client, mivb_account):
    m = mivb_account
    user_id = m.new_user("Entry")
    national = client.post(_phones_url(m, user_id), headers=m.admin, json={
        "type": "hot_desk", "external_phone": {"number": "06 12 34 56 78"}})
    assert national.status_code == 422 and national.json()["errors"][0]["field"] == "external_phone.number"
    assert client.post(_phones_url(m, user_id), headers=m.admin, json={
        "type": "hot_desk", "external_phone": {"number": "+33 6 12 34 56 78"}}).status_code == 201


def test_did_ranges_in_the_accounts_country(client, french_account):
    m = french_account
    created = client.post(m.url("/mivb/did-ranges"), headers=m.partner, json={
        "start": "01 50 00 00 00", "end": "01 50 00 00 09"})
    assert created.status_code == 201, created.text
    assert (created.json()["start"], created.json()["end"]) == ("+33150000000", "+33150000009")


def test_console_shows_and_reads_national_numbers(client, french_account, tenant_a):
    m = french_account
    user_id = m.new_user("Entry")
    sign_in(client, tenant_a.account_admin.email)
    page = f"/accounts/{m.account_id}/users/{user_id}"
    added = post_form(client, page, f"{page}/mivb/phones", {
        "type": "hot_desk", "external_phone": "on", "external_number": "06 12 34 56 78"})
    assert added.status_code == 303, added.text
    html = client.get(page).text
    assert "External phone 06 12 34 56 78" in html and "+33612345678" not in html
    phone = next(p for p in client.get(m.user_url(user_id, "/mivb"), headers=m.admin).json()["phones"]
                 if p["type"] == "hot_desk")
    assert phone["external_phone"] == {"number": "+33612345678"}
    # the phone's own form shows the number as the account writes it, and takes it back unchanged
    field = re.search(r'<input id="field-phone-[0-9a-f]+-external_phone-number" name="(\w+)" type="text" '
                      r'value="06 12 34 56 78"', html)
    assert field, "the phone's form shows the number as the account writes it"
    saved = post_form(client, page, f"{page}/mivb/phones/{phone['id']}", {
        "version": str(phone["version"]), "external_phone": "on", field.group(1): "07 98 76 54 32"})
    assert saved.status_code == 303, saved.text
    assert client.get(m.user_url(user_id, f"/mivb/phones/{phone['id']}"), headers=m.admin).json()[
        "external_phone"] == {"number": "+33798765432"}
    refused = post_form(client, page, f"{page}/mivb/phones", {
        "type": "hot_desk", "external_phone": "on", "external_number": "+12345678"})
    assert refused.status_code == 422 and 'href="#field-add-phone-external_phone-number"' in refused.text
    assert "dialled in the account&#39;s country (FR), such as 01 23 45 67 89" in refused.text
