"""Properties of the text validators: names, e-mails, MAC addresses, and the control
characters no input may hold. Oracles follow the documented rules."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from pydantic_core import PydanticCustomError

from switchboard.core.errors import ValidationFailed
from switchboard.core.validation import (
    Email,
    PlainText,
    StrictSchema,
    first_control_character,
    has_control_character,
    normalize_email,
    scripts_of,
    unsafe_character,
    validate,
)
from switchboard.core.validation import _one_script
from switchboard.mivb.schemas import normalise_mac
from tests.properties.strategies import translated

# The characters a name may not hold, as documented: control characters (category Cc),
# bidi embeddings, overrides and isolates, zero-width characters and marks, BOM, word
# joiner, Arabic letter mark, line and paragraph separators.
INVISIBLE = ({chr(c) for c in range(0x202A, 0x202F)} | {chr(c) for c in range(0x2066, 0x206A)}
             | {chr(c) for c in range(0x200B, 0x2010)} | {"\ufeff", "\u2060", "\u061c", "\u2028", "\u2029"})
TRAPS = sorted(INVISIBLE | {chr(c) for c in range(0x20)} | {"\x7f"} | {chr(c) for c in range(0x80, 0xA0)})
# What no input at all may hold (names or not): C0 and C1 controls, DEL.
CONTROLS = {chr(c) for c in range(0x20)} | {chr(c) for c in range(0x7F, 0xA0)}


class Named(StrictSchema):
    name: PlainText
    email: Email | None = None


def refusal(body: dict) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        validate(Named, body)
    assert all(translated(e.message) for e in caught.value.errors), caught.value.errors
    return {e.field: e.code for e in caught.value.errors}


def is_trap(char: str) -> bool:
    return char in INVISIBLE or unicodedata.category(char) == "Cc"


names = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


# ---------------------------------------------------------------- names

@given(names)
@example("Zoë-Chloé O'Brien Nguyễn Đặng")
@example("Invoice\u202egpj.exe")
@example("\u2028Bob")
def test_a_name_is_refused_exactly_when_it_holds_a_trap(name):
    trapped = any(unicodedata.category(c) == "Cc" for c in name) or any(is_trap(c) for c in name.strip())
    if trapped:
        assert refusal({"name": name}) == {"name": "invalid_character"}
    else:
        assert validate(Named, {"name": name}).name == name.strip()
    assert (unsafe_character(name) is not None) is any(is_trap(c) for c in name)
    if unsafe_character(name) is not None:
        assert unsafe_character(name) == next(c for c in name if is_trap(c))


@given(st.text(st.characters(whitelist_categories=("L",)), min_size=2, max_size=12), st.sampled_from(TRAPS),
       st.integers(1, 11))
def test_any_trap_inside_a_name_is_refused(letters, trap, at):
    at = min(at, len(letters) - 1)
    name = letters[:at] + trap + letters[at:]
    assert refusal({"name": name}) == {"name": "invalid_character"}
    if unicodedata.category(trap) != "Cc":  # the name's own rule, which names the character
        with pytest.raises(ValidationFailed) as caught:
            validate(Named, {"name": name})
        assert caught.value.errors[0].params == {"codepoint": f"{ord(trap):04X}"}


# ---------------------------------------------------------------- e-mails

LATIN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
atoms = st.text(LATIN + "0123456789_-+", min_size=1, max_size=8)
local_parts = st.lists(atoms, min_size=1, max_size=3).map(".".join)
labels = st.text(LATIN + "0123456789", min_size=1, max_size=10)
domains = st.builds(lambda parts, tld: ".".join([*parts, tld]), st.lists(labels, min_size=1, max_size=3),
                    st.text(LATIN, min_size=2, max_size=6))
LOOKALIKES = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441", "x": "\u0445"}


@given(local_parts, domains)
@example("Zoe.Lambert", "Example.COM")
def test_a_plain_address_keeps_its_local_part_and_lowers_its_domain(local, domain):
    email = validate(Named, {"name": "n", "email": f"{local}@{domain}"}).email
    assert email == f"{local}@{domain.lower()}"
    # the key it is found by: what the same person types at sign-in gives the same key
    assert normalize_email(email) == normalize_email(f" {local}@{domain} ") == f"{local}@{domain}".lower()
    assert normalize_email(normalize_email(email)) == normalize_email(email)


@given(local_parts, domains)
def test_full_width_letters_are_the_plain_ones(local, domain):
    wide = "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in local)
    email = validate(Named, {"name": "n", "email": f"{wide}@{domain}"}).email
    assert email == f"{local}@{domain.lower()}"
    assert normalize_email(f"{wide}@{domain}") == normalize_email(email)


@given(local_parts, domains, st.data())
def test_a_look_alike_letter_among_latin_ones_is_refused(local, domain, data):
    swappable = [i for i, c in enumerate(local) if c in LOOKALIKES]
    assume(swappable and sum(c.isalpha() for c in local + domain) >= 2)
    i = data.draw(st.sampled_from(swappable))
    forged = local[:i] + LOOKALIKES[local[i]] + local[i + 1:]
    assert refusal({"name": "n", "email": f"{forged}@{domain}"}) == {"email": "mixed_scripts"}
    assert scripts_of(forged + domain) == {"LATIN", "CYRILLIC"}


@given(local_parts, domains, st.sampled_from(TRAPS), st.data())
def test_a_trap_inside_an_address_is_refused(local, domain, trap, data):
    at = data.draw(st.integers(0, len(local)))
    email = "x" + local[:at] + trap + local[at:] + "@" + domain  # inside: not trimmed as whitespace
    assert refusal({"name": "n", "email": email})["email"] in {"invalid_email", "invalid_character"}


@given(st.text(max_size=40))
def test_the_email_key_is_stable(text):
    key = normalize_email(text)
    assert normalize_email(key) == key
    assert normalize_email(text.upper()) == normalize_email(text.lower()) or not text.isascii()


# ---------------------------------------------------------------- MAC addresses

hex_digits = st.text("0123456789abcdefABCDEF", min_size=12, max_size=12)


@given(hex_digits, st.sampled_from(["", ":", "-", ".", " "]), st.sampled_from([2, 4, 12]))
@example("08000f123456", ":", 2)
def test_a_mac_is_twelve_hex_digits_however_it_is_written(digits, separator, group):
    written = separator.join(digits[i:i + group] for i in range(0, 12, group))
    assert normalise_mac(written) == digits.upper()
    assert normalise_mac(normalise_mac(written)) == digits.upper()
    assert normalise_mac(f" {written.lower()}\t") == digits.upper()


@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=20))
@example("08:00:0F:12:34")
@example("08000F12345G")
@example("08000F1234\ufb00")  # the ligature "ﬀ" upper-cases to "FF": not hex digits
@example("08000F123456\n")
@example("0x08000F1234")
def test_anything_else_is_refused(value):
    kept = "".join(c for c in value if not (c.isspace() or c in ":.-"))
    is_mac = len(kept) == 12 and all(c in "0123456789abcdefABCDEF" for c in kept)
    if value in ("", None):
        assert normalise_mac(value) is None
    elif is_mac:
        assert normalise_mac(value) == kept.upper()
    else:
        with pytest.raises(PydanticCustomError) as caught:
            normalise_mac(value)
        assert caught.value.type == "invalid_mac" and translated(caught.value.message_template)


def test_no_mac_is_none():
    assert normalise_mac(None) is None and normalise_mac("") is None


# ---------------------------------------------------------------- control characters anywhere

KEY = st.text("abc", min_size=1, max_size=3)
leaves = st.one_of(st.text(max_size=6), st.integers(), st.none(), st.booleans())
bodies = st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(st.one_of(KEY, st.text(max_size=3)), inner,
                                                                      max_size=4)), max_leaves=12)


def texts_in(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in [*(texts_in(k)), *texts_in(v)]]
    if isinstance(value, list):
        return [t for item in value for t in texts_in(item)]
    return []


def at(value, path: str):
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        value = value[int(part[1:-1])] if part.startswith("[") else value[part]
    return value


@given(bodies)
@example({"a": ["ok", {"b": "x\x00y"}]})
@example(["fine", "\u0085"])
@example({"tab\t": "key holds it"})
def test_a_control_character_is_found_wherever_it_is(body):
    bad = [t for t in texts_in(body) if any(c in CONTROLS or 0xD800 <= ord(c) <= 0xDFFF for c in t)]
    assert has_control_character(body) is bool(bad)
    path = first_control_character(body)
    assert (path is not None) is bool(bad)
    if bad and all(k and set(k) <= set("abc") for k in _keys(body)):  # a path that reads back
        target = at(body, path) if path else body
        assert any(c in CONTROLS for t in texts_in(target) for c in t)


def _keys(value) -> list[str]:
    if isinstance(value, dict):
        return [k for k, v in value.items() for k in [k, *_keys(v)]]
    if isinstance(value, list):
        return [k for item in value for k in _keys(item)]
    return []


@given(st.text(max_size=10), st.sampled_from(["\t", "\n", "\r"]))
def test_line_breaks_are_allowed_only_where_a_field_says_so(text, brk):
    value = text + brk
    others = any(c in CONTROLS - {"\t", "\n", "\r"} for c in text)
    assert has_control_character(value) is True
    assert has_control_character(value, line_breaks=True) is others


def test_letters_of_one_writing_system_are_one_script():
    assert scripts_of("山田たろうカタカナ") == {"CJK"}  # kanji, hiragana and katakana written together
    assert scripts_of("Zoë-Chloé 42") == {"LATIN"}
    assert scripts_of("Ζωή") == {"GREEK"} and scripts_of("2000 *#") == set()


def test_an_email_that_is_not_text_is_refused_not_a_crash():
    with pytest.raises(ValidationFailed) as caught:
        validate(Named, {"name": "n", "email": 5})
    assert [e.field for e in caught.value.errors] == ["email"]


@pytest.mark.parametrize("trap", ["\u200b", "\u202e", "\x1b"])
def test_the_email_rule_itself_refuses_invisible_characters(trap):
    """email-validator refuses these first; the rule stands on its own all the same."""
    with pytest.raises(PydanticCustomError) as caught:
        _one_script(f"a{trap}b@example.com")
    assert (caught.value.type, caught.value.message_template) == ("invalid_email", "Enter a valid e-mail address.")
    assert _one_script("ab@example.com") == "ab@example.com"


def test_a_pydantic_model_is_searched_like_its_fields():
    assert has_control_character(Named.model_construct(name="a\x00b")) is True
    assert has_control_character(Named(name="ab")) is False


@pytest.mark.parametrize("body, path", [
    ("\x00", ""), ({"a": "\x00"}, "a"), ({"a": ["x", "y\x00"]}, "a[1]"), ({"a": {"b": "\x07"}}, "a.b"),
    ([{"a": "ok"}, {"b": "\x1b"}], "[1].b"), ({"ok": "x", "k\x00": "v"}, ""), ({"a": {"k\n": 1}}, "a"),
])
def test_the_path_of_the_first_control_character(body, path):
    assert first_control_character(body) == path
