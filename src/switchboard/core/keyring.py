"""The secret keys of a process, newest first: the first one encrypts secrets and signs
sessions and API tokens; every one decrypts and verifies. Keeping the previous keys lets a
key rotation (`switchboard secrets rotate-key`) happen while servers and workers run.

Where the keys come from (docs/operator-guide.md, "Rotating the secret key"):

- **environment mode** (``SWITCHBOARD_SECRET_KEY`` is set): ``SWITCHBOARD_SECRET_KEY_NEW``
  (the key being rotated to, if any), ``SWITCHBOARD_SECRET_KEY``, then the keys of
  ``SWITCHBOARD_PREVIOUS_SECRET_KEYS`` (comma separated). Fixed for the life of the process.
- **file mode** (the embedded default): ``var/secret_key.new`` (or
  ``SWITCHBOARD_SECRET_KEY_NEW``), ``var/secret_key``, then the lines of
  ``var/previous_secret_keys`` and ``SWITCHBOARD_PREVIOUS_SECRET_KEYS``. The files are read
  again whenever one of them changes, so a running process follows a rotation."""

from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path
from typing import Callable, Sequence

NEW_KEY_FILE = "secret_key.new"
CURRENT_KEY_FILE = "secret_key"
PREVIOUS_KEYS_FILE = "previous_secret_keys"


def split_keys(text: str) -> list[str]:
    """Keys separated by commas, spaces or new lines (a generated key holds none of them)."""
    return [key for key in text.replace(",", " ").split() if key]


def new_key() -> str:
    return secrets.token_urlsafe(48)


class KeyRing:
    """Keys newest first. ``keys()`` is cheap: it loads again only when a watched file
    changed (its identity, size or modification time)."""

    def __init__(self, load: Callable[[], Sequence[str]], watch: Sequence[Path] = ()) -> None:
        self._load = load
        self._watch = tuple(watch)
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._keys: tuple[str, ...] = ()

    @classmethod
    def of(cls, *keys: str) -> "KeyRing":
        fixed = _unique(keys)
        if not fixed:
            raise ValueError("a key ring needs at least one key")
        return cls(lambda: fixed)

    def keys(self) -> tuple[str, ...]:
        stamp = tuple(_stamp(path) for path in self._watch)
        if self._stamp is None or stamp != self._stamp:
            with self._lock:
                keys = _unique(self._load())
                if not keys:
                    raise RuntimeError("no secret key is configured")
                self._keys, self._stamp = keys, stamp
        return self._keys

    @property
    def primary(self) -> str:
        return self.keys()[0]


def as_ring(keys: "str | Sequence[str] | KeyRing") -> KeyRing:
    if isinstance(keys, KeyRing):
        return keys
    return KeyRing.of(keys) if isinstance(keys, str) else KeyRing.of(*keys)


def _unique(keys: Sequence[str | None]) -> tuple[str, ...]:
    seen: list[str] = []
    for key in keys:
        if key and key not in seen:
            seen.append(key)
    return tuple(seen)


def _stamp(path: Path) -> tuple | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class KeyFiles:
    """The key files under var/ (file mode), each written whole (temporary file, fsync,
    rename) and readable by the owner only."""

    def __init__(self, var_dir: Path) -> None:
        self.var_dir = Path(var_dir)
        self.new = self.var_dir / NEW_KEY_FILE
        self.current = self.var_dir / CURRENT_KEY_FILE
        self.previous = self.var_dir / PREVIOUS_KEYS_FILE

    @property
    def watched(self) -> tuple[Path, Path, Path]:
        return (self.new, self.current, self.previous)

    def read(self, path: Path) -> list[str]:
        try:
            return split_keys(path.read_text())
        except FileNotFoundError:
            return []

    def current_key(self) -> str:
        """The current key, generated once when there is none yet."""
        self.var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.current.exists():
            try:
                fd = os.open(self.current, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process made it first
                pass
            else:
                with os.fdopen(fd, "w") as fh:
                    fh.write(new_key())
                    fh.flush()
                    os.fsync(fh.fileno())
        os.chmod(self.current, 0o600)
        keys = self.read(self.current)
        if not keys:
            raise RuntimeError(f"{self.current} holds no key")
        return keys[0]

    def stage_new_key(self, key: str | None = None) -> str:
        """The key being rotated to: the staged one when a rotation was interrupted, else
        ``key`` or a generated one, written to ``secret_key.new``."""
        staged = self.read(self.new)
        if staged:
            return staged[0]
        key = key or new_key()
        self.write(self.new, key + "\n")
        return key

    def retire_current(self) -> bool:
        """Ends a rotation: the current key joins the previous keys, then the new key
        replaces it. Every step leaves a key ring that still holds both keys, so a crash
        between them loses nothing and running the rotation again finishes it. Returns
        whether there was a rotation to end."""
        new = self.read(self.new)
        if not new:
            return False
        old = self.read(self.current)
        previous = self.read(self.previous)
        kept = [key for key in old[:1] + previous if key != new[0]]
        self.write(self.previous, "".join(f"{key}\n" for key in _unique(kept)))
        os.chmod(self.new, 0o600)
        os.replace(self.new, self.current)
        _fsync_dir(self.var_dir)
        return True

    def forget_previous(self) -> None:
        self.previous.unlink(missing_ok=True)
        _fsync_dir(self.var_dir)

    def write(self, path: Path, text: str) -> None:
        self.var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(self.var_dir)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
