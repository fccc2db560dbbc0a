"""mivb.history: a change-log entry in words, as message ids with parameters (pure: no
database), and those words in the reader's language."""

from __future__ import annotations

from types import SimpleNamespace

from switchboard.core import i18n
from switchboard.mivb import history
from switchboard.mivb.history import CHANGED, Term

MASK = "****"


def entry(object_type: str, action: str, before=None, after=None, object_repr: str = "") -> SimpleNamespace:
    return SimpleNamespace(object_type=object_type, action=action, before=before, after=after,
                           object_repr=object_repr)


def phone(**changes) -> dict:
    snapshot = {"type": "desk_phone", "dn": "2012", "did": None, "model": "6920", "mac": None, "voicemail": False,
                "acd_agent": False, "external_number": None, "cos_day": 1, "cos_night1": None, "cos_night2": None,
                "cor_day": 1, "cor_night1": None, "cor_night2": None, "language": None}
    return {**snapshot, **changes}


def english(line) -> str:
    return history.text(line, lambda message: message)


def test_a_phone_change_names_the_fields_that_changed_and_nothing_else():
    described = history.describe(entry("phone", "update", phone(), phone(voicemail=True, dn="2015",
                                                                         external_number="+33612345678")))
    assert english(described.title) == "Phone 2012 changed"
    assert [english(line) for line in described.changes] == [
        "DN: 2012 → 2015", "Voicemail: off → on", "External number: — → +33612345678"]
    assert described.changes[1] == (CHANGED, {"field": Term("Voicemail"), "before": Term("off"), "after": Term("on")})


def test_a_phone_added_or_removed_is_one_line():
    added = history.describe(entry("phone", "create", after=phone(type="generic_sip", sip_password=MASK)))
    assert english(added.title) == "Phone 2012 added (Generic SIP phone)" and added.changes == []
    removed = history.describe(entry("phone", "delete", before=phone(), object_repr="a@b.example 2012"))
    assert english(removed.title) == "Phone 2012 removed" and removed.changes == []


def test_service_changes_in_words_and_secrets_never_shown():
    before = {"service_category": "Entry", "template": "Entry User", "group": None, "user_pin": MASK,
              "location": None, "department": "Sales"}
    after = {**before, "service_category": "Premium", "location": "Paris", "user_pin": MASK + " (changed)"}
    described = history.describe(entry("mivb_service", "update", before, after))
    assert english(described.title) == "MiVoice Business Service changed"
    assert [english(line) for line in described.changes] == [
        "Service category: Entry → Premium", "User pin changed", "Location: — → Paris"]
    first_pin = history.describe(entry("mivb_service", "update", {**before, "user_pin": None}, before))
    assert [english(line) for line in first_pin.changes] == ["User pin set"]


def test_user_changes_roles_and_passwords():
    before = {"first_name": "Ann", "last_name": "Lee", "email": "ann@x.example", "role": "user", "password": None}
    promoted = history.describe(entry("user", "update", before, {**before, "role": "account_admin"}))
    assert [english(line) for line in promoted.changes] == ["Role: User → Account admin"]
    password = history.describe(entry("user", "update", before, {**before, "password": MASK}))
    assert english(password.title) == "Password set" and password.changes == []
    assert english(history.describe(entry("user", "password_change", after={"password": MASK})).title) == \
        "Password changed"


def test_nothing_unknown_is_lost():
    described = history.describe(entry("mivb_service", "adopt", {"x": 1}, {"x": 2}, object_repr="a@b.example"))
    assert english(described.title) == "adopt: a@b.example"
    assert [english(line) for line in described.changes] == ["x: 1 → 2"]


def test_the_words_are_the_readers():
    french = i18n.gettext_for("fr")
    described = history.describe(entry("phone", "update", phone(), phone(voicemail=True, type="hot_desk")))
    lines = [history.text(line, french) for line in described.changes]
    assert any("Messagerie vocale" in line and "désactivée → activée" in line for line in lines), lines
    assert not any("Voicemail" in line or " off" in line for line in lines)
