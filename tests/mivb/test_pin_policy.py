"""The account's pin policy through the API, with non-default policies: its minimum
length to the digit, each of its flags on its own, and every DN of the user (not only the
first phone's)."""

from __future__ import annotations

import itertools
import re

import pytest

from switchboard.mivb import pins
from tests.console.helpers import post_form, sign_in

ALL_OFF = {"min_length": 0, "forbid_repeated": False, "forbid_sequences": False, "forbid_dn": False}


def _policy(client, m, **changes):
    response = client.put(m.url("/mivb/pin-policy"), headers=m.partner, json={**ALL_OFF, **changes})
    assert response.status_code == 200, response.text
    assert response.json() == {**ALL_OFF, **changes}


def _pin(client, m, user_id, value):
    return client.patch(m.user_url(user_id, "/mivb"), headers=m.admin, json={"programming": {"user_pin": value}})


def _refusal(response) -> str:
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == "programming.user_pin"
    return error["message"]


@pytest.fixture
def two_phones(client, mivb_account):
    """A user with a desk phone on 2000 and a hot desk on 2001."""
    m = mivb_account
    user_id = m.new_user("Entry")
    added = client.post(m.user_url(user_id, "/mivb/phones"), headers=m.admin, json={"type": "hot_desk"})
    assert added.status_code == 201, added.text
    dns = [p["dn"] for p in client.get(m.user_url(user_id, "/mivb"), headers=m.admin).json()["phones"]]
    assert dns == ["2000", "2001"]
    return m, user_id


@pytest.mark.parametrize("minimum", [1, 5, 8])
def test_a_pin_one_digit_shorter_than_the_minimum_is_refused(client, two_phones, minimum):
    m, user_id = two_phones
    _policy(client, m, min_length=minimum)
    pin = "48219375"[:minimum]
    if minimum > 1:
        assert f"at least {minimum} digits" in _refusal(_pin(client, m, user_id, pin[:-1]))
    assert _pin(client, m, user_id, pin).status_code == 200


def test_with_no_minimum_an_empty_pin_removes_it(client, two_phones):
    m, user_id = two_phones
    _policy(client, m, min_length=0)
    assert _pin(client, m, user_id, "").status_code == 200
    assert client.get(m.user_url(user_id, "/mivb"), headers=m.admin).json()["programming"]["user_pin"] is None
    _policy(client, m, min_length=1)
    assert "at least 1 digits" in _refusal(_pin(client, m, user_id, ""))


@pytest.mark.parametrize("flag, pin, fragment", [
    ("forbid_repeated", "7777", "repeat one digit"),
    ("forbid_sequences", "3456", "straight sequence"),
    ("forbid_sequences", "6543", "straight sequence"),
    ("forbid_dn", "2000", "directory numbers"),
    ("forbid_dn", "2001", "directory numbers"),  # the second phone's DN, not only the first's
])
def test_each_flag_refuses_its_pins_alone_and_nothing_when_off(client, two_phones, flag, pin, fragment):
    m, user_id = two_phones
    _policy(client, m, min_length=4)
    assert _pin(client, m, user_id, pin).status_code == 200  # every flag off: allowed
    _policy(client, m, min_length=4, **{flag: True})
    assert fragment in _refusal(_pin(client, m, user_id, pin))
    for other in {"forbid_repeated", "forbid_sequences", "forbid_dn"} - {flag}:
        _policy(client, m, min_length=4, **{other: True})  # another flag does not refuse it
        assert _pin(client, m, user_id, pin).status_code == 200, other


def test_digits_of_other_scripts_are_not_a_pin(client, two_phones):
    m, user_id = two_phones
    for pin in ("²³⁴⁵", "٤٨٢١", "４８２１"):  # superscripts used to answer 500
        response = _pin(client, m, user_id, pin)
        assert response.status_code == 422, pin
        assert response.json()["errors"][0]["code"] == "invalid_pin"


@pytest.fixture
def six_digit_dns(client, mivb_account, monkeypatch):
    """A user with phones on 2000, 482193 and 487654; the pin generator will draw the
    third phone's DN, then the second's, then 551278."""
    m = mivb_account
    user_id = m.new_user("Entry")  # a desk phone on 2000
    six = client.post(m.url("/mivb/dn-ranges"), headers=m.partner, json={"start": "480000", "end": "489999"})
    assert six.status_code == 201, six.text
    for dn in ("482193", "487654"):
        added = client.post(m.user_url(user_id, "/mivb/phones"), headers=m.admin, json={"type": "hot_desk", "dn": dn})
        assert added.status_code == 201, added.text
    _policy(client, m, min_length=6, forbid_dn=True)
    stream = iter(itertools.chain("487654", "482193", "551278"))
    monkeypatch.setattr(pins.secrets, "choice", lambda alphabet: next(stream))
    return m, user_id


def test_the_generated_pin_is_not_any_of_the_users_dns(client, six_digit_dns):
    m, user_id = six_digit_dns
    generated = client.post(m.user_url(user_id, "/mivb/user-pin/generate"), headers=m.admin)
    assert generated.status_code == 200, generated.text
    assert generated.json()["user_pin"] == "551278"
    revealed = client.get(m.user_url(user_id, "/mivb?reveal=true"), headers=m.admin).json()
    assert revealed["programming"]["user_pin"] == "551278"


def test_the_console_suggests_a_pin_that_is_not_any_of_the_users_dns(client, six_digit_dns, tenant_a):
    m, user_id = six_digit_dns
    sign_in(client, tenant_a.account_admin.email)
    page = f"/accounts/{m.account_id}/users/{user_id}"
    version = client.get(m.user_url(user_id, "/mivb"), headers=m.admin).json()["version"]
    suggested = post_form(client, page, f"{page}/mivb/user-pin/suggest", {
        "group": "", "location": "", "department": "", "user_pin": "", "pin_edited": "0", "version": str(version)})
    assert suggested.status_code == 200
    assert re.search(r'id="field-programming-user_pin"[^>]*value="(\d+)"', suggested.text).group(1) == "551278"
