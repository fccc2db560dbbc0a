"""Passwords (argon2), signed API tokens and session cookies, and encryption of secrets at
rest. Signing and encryption use a key ring (core/keyring.py): the newest key signs and
encrypts, every key verifies and decrypts, so rotating the key logs nobody out and loses
no secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from switchboard.core.keyring import KeyRing, as_ring

Keys = str | Sequence[str] | KeyRing

_hasher = PasswordHasher()
# Verifying against this when the e-mail is unknown keeps both answers equally slow.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


class _PerKeys:
    """Something built from the ring's keys, built again when the keys change."""

    def __init__(self, keys: Keys, build) -> None:
        self.ring = as_ring(keys)
        self._build = build
        self._built: tuple[tuple[str, ...], object] | None = None

    def get(self):
        keys = self.ring.keys()
        built = self._built
        if built is None or built[0] != keys:
            built = self._built = (keys, self._build(keys))
        return built[1]


class TokenSigner:
    """Bearer tokens: signed {user id, token version}; bumping the version revokes them.
    Signed with the newest key, accepted under any key of the ring."""

    def __init__(self, secret_key: Keys, ttl_seconds: int) -> None:
        # itsdangerous signs with the last key of a list and verifies with all of them.
        self._serializer = _PerKeys(secret_key, lambda keys: URLSafeTimedSerializer(
            list(reversed(keys)), salt="switchboard-api-token"))
        self.ttl_seconds = ttl_seconds

    def issue(self, user_id: str, token_version: int) -> str:
        return self._serializer.get().dumps({"uid": user_id, "tv": token_version})

    def read(self, token: str) -> tuple[str, int] | None:
        try:
            data = self._serializer.get().loads(token, max_age=self.ttl_seconds)
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("uid"), str):
            return None
        return data["uid"], int(data.get("tv", 0))


class CookieSigner:
    """The session cookie's signer (Starlette's SessionMiddleware calls ``sign`` and
    ``unsign``): the same format as its own TimestampSigner, over the whole ring."""

    def __init__(self, secret_key: Keys) -> None:
        self._signer = _PerKeys(secret_key, lambda keys: TimestampSigner(list(reversed(keys))))

    def sign(self, value: bytes) -> bytes:
        return self._signer.get().sign(value)

    def unsign(self, value: bytes, max_age: int | None = None) -> bytes:
        return self._signer.get().unsign(value, max_age=max_age)


def _fernet(secret_key: str) -> Fernet:
    key = hashlib.sha256(b"switchboard-secrets:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


class SecretBox:
    """Encrypts secrets (PBX passwords, user pins, SIP passwords) with a key derived from
    the newest application key; decrypts with any key of the ring."""

    def __init__(self, secret_key: Keys) -> None:
        self._fernets = _PerKeys(secret_key, lambda keys: (MultiFernet([_fernet(k) for k in keys]),
                                                           _fernet(keys[0])))

    @property
    def ring(self) -> KeyRing:
        return self._fernets.ring

    def encrypt(self, plaintext: str) -> str:
        return self._fernets.get()[0].encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernets.get()[0].decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("secret cannot be decrypted with this secret key") from exc

    def is_current(self, token: str) -> bool:
        """Whether the newest key encrypted this secret."""
        try:
            self._fernets.get()[1].decrypt(token.encode())
        except InvalidToken:
            return False
        return True

    def rotate(self, token: str) -> str:
        """The same secret encrypted under the newest key (its timestamp kept)."""
        try:
            return self._fernets.get()[0].rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("secret cannot be decrypted with this secret key") from exc


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)
