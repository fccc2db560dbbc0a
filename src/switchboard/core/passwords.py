"""What a new password must be, wherever one is set (a user created or edited by an admin,
a partner's first admin, one's own password change).

The shape rules live here as a Pydantic type, so a schema refuses a weak password with the
other field errors of the same form: at least 12 characters, and not one of the common
passwords below (compared case-insensitively). The rules that need the person (not their
e-mail, not one of their last passwords) are checked by the accounts service when the
password is stored."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

MIN_LENGTH = 12
MAX_LENGTH = 128
# A new password may not be any of the person's last passwords (the current one included).
HISTORY = 3

# Passwords that top the public breach lists, or are built the way they are (keyboard
# rows, repeated digits, "password" plus digits). Most are shorter than MIN_LENGTH and
# refused by it anyway; the list stays complete so the length rule can change alone.
COMMON_PASSWORDS: frozenset[str] = frozenset(word.lower() for word in (
    "123456", "123456789", "12345678", "password", "qwerty", "12345", "1234567", "111111",
    "123123", "abc123", "1234567890", "password1", "iloveyou", "000000", "qwerty123",
    "1q2w3e4r", "admin", "letmein", "welcome", "monkey", "dragon", "football", "baseball",
    "sunshine", "princess", "master", "shadow", "superman", "michael", "trustno1",
    "qwertyuiop", "azerty", "azertyuiop", "motdepasse", "soleil", "bonjour", "changeme",
    "passw0rd", "p@ssw0rd", "zaq12wsx",
    # 12 characters or more
    "123456789012", "1234567890123", "12345678901234", "123456123456", "123123123123",
    "111111111111", "000000000000", "121212121212", "987654321098", "098765432109",
    "password1234", "password12345", "password123!", "password2024", "password2025",
    "password2026", "passwordpassword", "p@ssword1234", "p@ssw0rd1234", "passw0rd1234",
    "qwerty123456", "123456qwerty", "qwertyqwerty", "qwertyuiop12", "qwertyuiop123",
    "qwertyuiopasdfghjkl", "qwertyuiopasdfghjklzxcvbnm", "asdfghjkl123", "asdfghjklqwerty",
    "zxcvbnm12345", "zxcvbnmasdfghjkl", "azertyuiop12", "azertyuiop123", "1q2w3e4r5t6y",
    "1q2w3e4r5t6y7u", "q1w2e3r4t5y6", "1qaz2wsx3edc", "1qaz2wsx3edc4rfv", "zaq12wsxcde3",
    "zaq1zaq1zaq1", "qazwsxedcrfv", "qazwsxedcrfvtgb", "a1b2c3d4e5f6", "abc123456789",
    "abcdefghijkl", "abcdefg12345", "aaaaaaaaaaaa", "iloveyou1234", "iloveyouforever",
    "welcome12345", "welcome123456", "letmein12345", "changeme1234", "changemeplease",
    "administrator", "administrator1", "admin1234567", "adminadmin123", "trustno1trustno1",
    "monkey123456", "football1234", "baseball1234", "superman1234", "starwars1234",
    "princess1234", "sunshine1234", "michael12345", "dragon123456", "correcthorsebatterystaple",
    "motdepasse123", "motdepasse1234", "bonjour123456", "soleil123456",
))


def is_common(password: str) -> bool:
    return password.lower() in COMMON_PASSWORDS


def _not_common(value: str) -> str:
    if is_common(value):
        raise PydanticCustomError("password_common",
                                  "This password is one of the most common ones. Choose another one.")
    return value


def same_as_email(password: str, email: str | None) -> bool:
    return bool(email) and password.strip().lower() == str(email).strip().lower()


# A password being set: long enough, not a common one.
NewPassword = Annotated[str, Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH), AfterValidator(_not_common)]
