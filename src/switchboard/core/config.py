"""Settings from environment variables (prefix SWITCHBOARD_), with embedded defaults."""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from switchboard.core.keyring import KeyFiles, KeyRing, split_keys


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """Comma-separated CIDRs ("10.20.0.0/16, 192.0.2.7, fd00::/8") as networks."""
    networks = []
    for item in text.split(","):
        if item.strip():
            try:
                networks.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError:
                raise ValueError(f"not a network (CIDR): {item.strip()!r}") from None
    return tuple(networks)


def _default_var_dir() -> Path:
    return Path(os.environ.get("SWITCHBOARD_VAR_DIR", Path.cwd() / "var"))


def private_dir(path: Path) -> Path:
    """Creates `path` readable by its owner only (0700), or takes group and other
    permissions away from an existing one: var/ holds the secret key and the database."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        os.chmod(path, mode & 0o700)
    return path


def private_file(path: Path, *, tighten: bool = True) -> Path:
    """Creates `path` empty and owner-only (0600) if missing; with `tighten`, makes an
    existing one owner-only. SQLite gives its -wal and -shm files the database file's
    permissions."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        if tighten and path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
    return path


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None: another engine, or an in-memory database)."""
    if not url.startswith("sqlite"):
        return None
    path = url.split(":///", 1)[1].split("?", 1)[0] if ":///" in url else ""
    if path in ("", ":memory:") or path.startswith("file:"):
        return None
    return Path(path)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_", extra="ignore")

    var_dir: Path = Field(default_factory=_default_var_dir)
    database_url: str = ""
    secret_key: str = ""
    # Key rotation (core/keyring.py): the key being rotated to, and the keys that only
    # decrypt and verify (comma separated).
    secret_key_new: str = ""
    previous_secret_keys: str = ""
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Cookies get the Secure flag when the console is served over HTTPS.
    secure_cookies: bool = False
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    token_ttl_seconds: int = Field(default=12 * 3600, ge=60)
    sql_echo: bool = False
    # How long a PBX catalogue read is trusted before it is read again.
    catalog_ttl_seconds: int = Field(default=600, ge=0)
    # How old the PBX's list of DNs in use may be when a write hands out numbers.
    dns_in_use_max_age_seconds: int = Field(default=5, ge=0)
    # Where PBX gateways may be (comma-separated CIDRs). Empty: anywhere. When set, a
    # connection address outside them is refused and never connected to.
    pbx_allowed_networks: str = ""
    # When set, /metrics answers only requests with "Authorization: Bearer <token>".
    metrics_token: str = ""
    # The most pushes in flight to any one PBX at a time, every worker process together
    # (sync.slots: places shared through the database).
    sync_max_in_flight_per_pbx: int = Field(default=4, ge=1, le=64)

    @field_validator("pbx_allowed_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)
        return value

    def allowed_pbx_networks(self) -> tuple[Network, ...]:
        return parse_networks(self.pbx_allowed_networks)

    def resolved_database_url(self) -> str:
        """The configured URL, or a SQLite file under var/. A SQLite file is created
        owner-only (0600) before SQLite opens it, in an owner-only var/ (0700)."""
        url = self.database_url or f"sqlite:///{self.var_dir / 'switchboard.core.db'}"
        path = sqlite_file(url)
        if path is not None and not self.database_url:
            private_dir(self.var_dir)
            private_file(path)
        elif path is not None and path.parent.is_dir():
            # A file the operator named: created owner-only, an existing one left as it is.
            private_file(path, tighten=False)
        return url

    def resolved_secret_key(self) -> str:
        """The configured key, or one generated once and kept under var/ (owner-only)."""
        if self.secret_key:
            return self.secret_key
        private_dir(self.var_dir)
        return KeyFiles(self.var_dir).current_key()

    def key_ring(self) -> KeyRing:
        """Every key of this process, newest first (core/keyring.py)."""
        previous = split_keys(self.previous_secret_keys)
        if self.secret_key:
            fixed = [self.secret_key_new, self.secret_key, *previous]
            return KeyRing(lambda: fixed)
        files = KeyFiles(private_dir(self.var_dir))

        def load() -> list[str]:
            new = [self.secret_key_new] if self.secret_key_new else files.read(files.new)[:1]
            return [*new, files.current_key(), *files.read(files.previous), *previous]

        return KeyRing(load, watch=files.watched)


@lru_cache
def get_settings() -> Settings:
    return Settings()
