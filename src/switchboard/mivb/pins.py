"""User pins: the account's policy, and a generator that always satisfies it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from switchboard.core.errors import ErrorItem
from switchboard.core.i18n import N_

MAX_LENGTH = 8
# ASCII digits only: str.isdigit() also takes superscripts and other scripts' digits
# ("²³⁴⁵", "٤٨٢١"), which a phone's keypad cannot dial (and int() of "²" fails).
DIGITS = frozenset("0123456789")


@dataclass(frozen=True)
class Policy:
    min_length: int = 4
    forbid_repeated: bool = True
    forbid_sequences: bool = True
    forbid_dn: bool = True


def _is_sequence(pin: str) -> bool:
    if len(pin) < 3:
        return False
    steps = {int(b) - int(a) for a, b in zip(pin, pin[1:])}
    return steps in ({1}, {-1})


def check(pin: str, policy: Policy, dns: list[str], field: str = "programming.user_pin") -> list[ErrorItem]:
    """Every rule the pin breaks (an empty list when it is fine)."""
    if not set(pin) <= DIGITS:
        return [ErrorItem("invalid_pin", "A user pin has digits only.", field)]
    if len(pin) > MAX_LENGTH:
        return [ErrorItem("invalid_pin", "A user pin has at most 8 digits.", field)]
    problems = []
    if len(pin) < policy.min_length:
        problems.append(ErrorItem("pin_policy", "The user pin must have at least %(min)s digits.", field,
                                  {"min": policy.min_length}))
    if policy.forbid_repeated and len(pin) > 1 and len(set(pin)) == 1:
        problems.append(ErrorItem("pin_policy", "The user pin may not repeat one digit (such as 1111).", field))
    if policy.forbid_sequences and _is_sequence(pin):
        problems.append(ErrorItem("pin_policy", "The user pin may not be a straight sequence (such as 1234 or 9876).",
                                  field))
    if policy.forbid_dn and pin and pin in dns:
        problems.append(ErrorItem("pin_policy", "The user pin may not be one of the user's directory numbers.", field))
    return problems


def generate(policy: Policy, dns: list[str]) -> str:
    length = min(MAX_LENGTH, max(policy.min_length, 6))
    while True:
        pin = "".join(secrets.choice("0123456789") for _ in range(length))
        if not check(pin, policy, dns):
            return pin


def requirements(policy: Policy) -> list[str]:
    """The rules a pin must follow under `policy`, as message ids (shown beside the pin
    field; the same rules check() applies)."""
    rules = [N_("Digits only, at most 8.")]
    if policy.min_length:
        rules.append(N_("At least %(min)s digits."))
    if policy.forbid_repeated:
        rules.append(N_("Not one digit repeated (1111)."))
    if policy.forbid_sequences:
        rules.append(N_("Not a straight sequence (1234, 9876)."))
    if policy.forbid_dn:
        rules.append(N_("Not one of the user's DNs."))
    return rules
