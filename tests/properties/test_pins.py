"""The user pin policy and its generator, against an oracle written from the policy's
rules (never against pins.check itself): every rule, every flag, every min length, every
DN of the user."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from switchboard.core.errors import ValidationFailed
from switchboard.core.validation import validate
from switchboard.mivb import pins
from switchboard.mivb.schemas import PinPolicy
from tests.properties.strategies import DIGITS, oracle_pin_problems

MESSAGES = {
    "A user pin has digits only.": "format",
    "A user pin has at most 8 digits.": "too_long",
    "The user pin must have at least %(min)s digits.": "min_length",
    "The user pin may not repeat one digit (such as 1111).": "repeated",
    "The user pin may not be a straight sequence (such as 1234 or 9876).": "sequence",
    "The user pin may not be one of the user's directory numbers.": "dn",
}

policies = st.builds(pins.Policy, min_length=st.integers(0, 8), forbid_repeated=st.booleans(),
                     forbid_sequences=st.booleans(), forbid_dn=st.booleans())
# Pins near the rules: short and long, repeated digits, runs up and down, other characters.
pin_like = st.one_of(
    st.text(DIGITS, max_size=10),
    st.builds(lambda d, n: d * n, st.sampled_from(DIGITS), st.integers(1, 9)),
    st.builds(lambda start, n, step: "".join(str((start + step * i) % 10) for i in range(n)),
              st.integers(0, 9), st.integers(1, 9), st.sampled_from([1, -1])),
    st.text(DIGITS + "a ²٣-", max_size=9),
)
dn_lists = st.lists(st.one_of(st.text(DIGITS, min_size=1, max_size=7), st.text(DIGITS + "*#", min_size=1,
                                                                                 max_size=7)), max_size=4)


def broken(problems: list) -> set[str]:
    return {MESSAGES[p.message] for p in problems}


@given(pin_like, policies, dn_lists)
@example("123", pins.Policy(min_length=4, forbid_repeated=False, forbid_sequences=False, forbid_dn=False), [])
@example("2001", pins.Policy(forbid_dn=True), ["2000", "2001"])
@example("2001", pins.Policy(forbid_dn=False), ["2000", "2001"])
@example("1111", pins.Policy(forbid_repeated=False), [])
@example("1234", pins.Policy(forbid_sequences=False), [])
@example("98765432", pins.Policy(min_length=8), [])
@example("²³⁴⁵", pins.Policy(), [])
@example("123", pins.Policy(min_length=0), [])
@example("321", pins.Policy(min_length=3), [])
@example("11", pins.Policy(min_length=0), [])
@example("0123456789", pins.Policy(), [])
@example("٤٨٢١", pins.Policy(), [])
def test_check_breaks_exactly_the_rules_the_policy_sets(pin, policy, dns):
    problems = pins.check(pin, policy, dns, field="f")
    assert broken(problems) == oracle_pin_problems(pin, policy.min_length, policy.forbid_repeated,
                                                   policy.forbid_sequences, policy.forbid_dn, dns)
    assert all(p.field == "f" for p in problems)
    assert len(problems) == len(broken(problems))
    for p in problems:
        assert p.code == ("invalid_pin" if MESSAGES[p.message] in ("format", "too_long") else "pin_policy")
        if MESSAGES[p.message] == "min_length":
            assert p.params == {"min": policy.min_length}


@given(st.integers(0, 8), st.text(DIGITS, min_size=1, max_size=8))
def test_a_pin_one_digit_short_of_the_minimum_is_refused_and_the_minimum_is_enough(min_length, digits):
    policy = pins.Policy(min_length=min_length, forbid_repeated=False, forbid_sequences=False, forbid_dn=False)
    exact = (digits * 8)[:min_length]
    assert pins.check(exact, policy, []) == []
    if min_length:
        assert broken(pins.check(exact[:-1], policy, [])) == {"min_length"}


@given(st.lists(st.text(DIGITS, min_size=4, max_size=8), min_size=1, max_size=8), st.data())
def test_the_pin_is_checked_against_every_dn_of_the_user(dns, data):
    pin = data.draw(st.sampled_from(dns))
    policy = pins.Policy(min_length=0, forbid_repeated=False, forbid_sequences=False, forbid_dn=True)
    assert broken(pins.check(pin, policy, dns)) == {"dn"}
    assert pins.check(pin, policy, [dn for dn in dns if dn != pin]) == []


# ---------------------------------------------------------------- the generator

@given(policies, dn_lists)
def test_generated_pins_follow_every_rule_of_the_policy(policy, dns):
    pin = pins.generate(policy, dns)
    assert len(pin) == min(8, max(policy.min_length, 6))
    assert oracle_pin_problems(pin, policy.min_length, policy.forbid_repeated, policy.forbid_sequences,
                               policy.forbid_dn, dns) == set()


def _feed(monkeypatch, *candidates: str) -> list[str]:
    """secrets.choice hands out these digits in turn: the generator sees these candidates."""
    stream = iter(itertools.chain.from_iterable(candidates))
    drawn: list[str] = []

    def choice(alphabet):
        digit = next(stream)
        assert alphabet == "0123456789"
        drawn.append(digit)
        return digit

    monkeypatch.setattr(pins.secrets, "choice", choice)
    return drawn


@pytest.mark.parametrize("policy, dns, refused, expected", [
    (pins.Policy(), [], ["111111", "123456", "987654"], "482193"),
    (pins.Policy(), ["2000", "482193"], ["482193"], "551278"),
    (pins.Policy(), ["2000", "1234", "551278"], ["551278"], "482193"),  # not only the first DN
    (pins.Policy(min_length=8), [], ["22222222", "23456789", "87654321"], "48219375"),
])
def test_the_generator_draws_again_until_every_rule_holds(monkeypatch, policy, dns, refused, expected):
    drawn = _feed(monkeypatch, *refused, expected)
    assert pins.generate(policy, dns) == expected
    assert "".join(drawn) == "".join([*refused, expected])


@pytest.mark.parametrize("policy, dns, candidate", [
    (pins.Policy(forbid_repeated=False), [], "111111"),
    (pins.Policy(forbid_sequences=False), [], "123456"),
    (pins.Policy(forbid_dn=False), ["482193"], "482193"),
])
def test_the_generator_keeps_what_a_policy_allows(monkeypatch, policy, dns, candidate):
    _feed(monkeypatch, candidate)
    assert pins.generate(policy, dns) == candidate


@given(st.integers(0, 8))
def test_generated_pins_are_six_digits_unless_the_minimum_is_higher(min_length):
    assert len(pins.generate(pins.Policy(min_length=min_length), [])) == max(6, min_length)


# ---------------------------------------------------------------- the policy itself

@given(st.fixed_dictionaries({}, optional={
    "min_length": st.one_of(st.integers(-2, 10), st.text(DIGITS, max_size=2)),
    "forbid_repeated": st.booleans(), "forbid_sequences": st.booleans(), "forbid_dn": st.booleans()}))
def test_a_policy_takes_a_min_length_from_0_to_8(body):
    minimum = int(body.get("min_length", 4) or 0) if body.get("min_length", 4) != "" else None
    if minimum is None or not 0 <= minimum <= 8:
        with pytest.raises(ValidationFailed) as caught:
            validate(PinPolicy, body)
        assert caught.value.errors[0].field == "min_length"
        return
    policy = validate(PinPolicy, body)
    assert policy.min_length == minimum
    for flag in ("forbid_repeated", "forbid_sequences", "forbid_dn"):
        assert getattr(policy, flag) is body.get(flag, True)


@given(policies)
def test_requirements_list_the_rules_the_policy_sets(policy):
    rules = pins.requirements(policy)
    assert rules[0] == "Digits only, at most 8."
    assert ("At least %(min)s digits." in rules) is (policy.min_length > 0)
    assert ("Not one digit repeated (1111)." in rules) is policy.forbid_repeated
    assert ("Not a straight sequence (1234, 9876)." in rules) is policy.forbid_sequences
    assert ("Not one of the user's DNs." in rules) is policy.forbid_dn
    assert len(rules) == 1 + (policy.min_length > 0) + policy.forbid_repeated + policy.forbid_sequences + policy.forbid_dn


def test_the_field_is_the_programming_pin_unless_told():
    (problem,) = pins.check("1", pins.Policy(), [])
    assert problem.field == "programming.user_pin"
