"""Secrets at rest: the columns that hold them, which key encrypted each one, and their
re-encryption under a new key while servers and workers run (`switchboard secrets
rotate-key`; docs/operator-guide.md, "Rotating the secret key").

Every column named ``*_encrypted`` holds a secret encrypted by the runtime's SecretBox.
Rotation finds them in the models' metadata, so a new one is covered the day it is added
(tests/maintenance/test_rotate_key.py also checks the migrated schema against this list).

A rotation runs in batches, each its own unit of work, and goes over the whole database
again until a pass finds nothing left to re-encrypt (a process that encrypted a secret
just before it learnt the new key is caught by the next pass). It is restartable: the key
being rotated to is kept in ``var/secret_key.new`` (or given in
``SWITCHBOARD_SECRET_KEY_NEW``) until every secret is under it, and a secret already under
it is skipped."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import partial
from typing import Callable, Iterator

from sqlalchemy import Column, Table, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from switchboard.core.config import Settings
from switchboard.core.errors import Conflict, ServiceError
from switchboard.core.keyring import KeyFiles
from switchboard.core.security import SecretBox
from switchboard.core.uow import unit_of_work
from switchboard.models_registry import metadata

SUFFIX = "_encrypted"
# Passes after the first: enough for writes that raced the switch to the new key; more
# means a process still encrypts with an old key (it does not read var/ or was not restarted).
MAX_PASSES = 5

Progress = Callable[[int, int, int], None]  # (pass number, secrets done, secrets in all)


@dataclass(frozen=True)
class EncryptedColumn:
    table: Table
    column: Column

    @property
    def name(self) -> str:
        return f"{self.table.name}.{self.column.name}"

    @property
    def key(self) -> Column:
        (primary_key,) = self.table.primary_key.columns
        return primary_key


def encrypted_columns() -> list[EncryptedColumn]:
    """Every column that holds a secret, by the naming rule ``*_encrypted``."""
    found = []
    for table in metadata.tables.values():
        for column in table.columns:
            if column.name.endswith(SUFFIX):
                if len(table.primary_key.columns) != 1:
                    raise RuntimeError(f"{table.name}: a table holding secrets needs a one-column primary key")
                found.append(EncryptedColumn(table, column))
    return sorted(found, key=lambda c: c.name)


@dataclass
class Rotation:
    mode: str  # "files" (var/) or "environment"
    total: int = 0
    re_encrypted: int = 0
    passes: int = 0
    # Secrets that no key of the ring decrypts, as "table.column key" (never a value).
    unreadable: list[str] = field(default_factory=list)
    # False when secrets under an old key kept appearing until the last pass.
    settled: bool = True
    # The key files were switched: var/secret_key is the new key, the old one is previous.
    finished: bool = False


@dataclass
class SecretsStatus:
    current: int = 0
    previous: int = 0
    unreadable: list[str] = field(default_factory=list)
    by_column: dict[str, int] = field(default_factory=dict)


def rotate_key(settings: Settings, factory: sessionmaker, *, batch_size: int = 500,
               progress: Progress | None = None) -> Rotation:
    """Re-encrypts every secret under the new key, then (file mode) makes it the current
    key and keeps the old one as a previous key."""
    box, mode = _begin(settings)
    rotation = Rotation(mode=mode)
    columns = encrypted_columns()
    rotation.total = _count(factory, columns)
    unreadable: set[str] = set()
    for number in range(1, MAX_PASSES + 1):
        changed = _pass(factory, box, columns, batch_size, number, rotation.total, progress, unreadable)
        rotation.passes = number
        rotation.re_encrypted += changed
        if not changed:
            break
    else:
        rotation.settled = False
    rotation.unreadable = sorted(unreadable)
    if rotation.settled and mode == "files":
        rotation.finished = KeyFiles(settings.var_dir).retire_current()
    return rotation


def _begin(settings: Settings) -> tuple[SecretBox, str]:
    """The secret box of the rotation: the new key first, then every key in use."""
    if settings.secret_key:
        if not settings.secret_key_new:
            raise ServiceError(
                "new_key_required",
                "The secret key is given in SWITCHBOARD_SECRET_KEY: give every process the new key in "
                "SWITCHBOARD_SECRET_KEY_NEW (and restart them), then run the rotation with it.")
        return SecretBox(settings.key_ring()), "environment"
    files = KeyFiles(settings.var_dir)
    current = files.current_key()
    staged = files.read(files.new)
    wanted = settings.secret_key_new
    if wanted and staged and staged[0] != wanted:
        raise Conflict("rotation_under_way",
                       "A rotation to another key is under way (var/secret_key.new): run it to its end first.")
    if wanted != current:  # the new key given is already current: only re-encrypt what is not under it
        files.stage_new_key(wanted or None)
    return SecretBox(settings.key_ring()), "files"


def _count(factory: sessionmaker, columns: list[EncryptedColumn]) -> int:
    with unit_of_work(factory) as session:
        return sum(session.scalar(select(func.count()).select_from(c.table).where(c.column.is_not(None))) or 0
                   for c in columns)


def _each_batch(factory: sessionmaker, column: EncryptedColumn, batch_size: int,
                handle: Callable[[Session, list], None], lock: bool = True) -> Iterator[int]:
    """Hands the column's rows to ``handle`` batch after batch in primary key order, each
    batch in its own unit of work with its rows locked (PostgreSQL; on SQLite the
    transaction holds the write lock), and yields the batch's size once it is committed."""
    last = None
    while True:
        with unit_of_work(factory) as session:
            query = (select(column.key, column.column).where(column.column.is_not(None))
                     .order_by(column.key).limit(batch_size))
            if lock:
                query = query.with_for_update()
            if last is not None:
                query = query.where(column.key > last)
            rows = session.execute(query).all()
            handle(session, rows)
        yield len(rows)
        if len(rows) < batch_size:
            return
        last = rows[-1][0]


def _pass(factory, box: SecretBox, columns, batch_size: int, number: int, total: int,
          progress: Progress | None, unreadable: set[str]) -> int:
    changed = done = 0

    def re_encrypt(column: EncryptedColumn, session: Session, rows: list) -> None:
        nonlocal changed
        for key, token in rows:
            if box.is_current(token):
                continue
            try:
                fresh = box.rotate(token)
            except ValueError:
                unreadable.add(f"{column.name} {key}")
                continue
            values = {column.column.name: fresh}
            if "updated_at" in column.table.c:  # the secret did not change: neither does the row's date
                values["updated_at"] = column.table.c.updated_at
            # Only if it is still what was read: a newer value is the next pass's business.
            changed += session.execute(update(column.table).where(column.key == key, column.column == token)
                                       .values(values)).rowcount

    for column in columns:
        for size in _each_batch(factory, column, batch_size, partial(re_encrypt, column)):
            done += size
            if progress is not None:
                progress(number, done, max(total, done))
    return changed


def status(factory: sessionmaker, box: SecretBox) -> SecretsStatus:
    """How many secrets each kind of key encrypted: the current one, a previous one, none."""
    result = SecretsStatus()

    def classify(column: EncryptedColumn, _session: Session, rows: list) -> None:
        result.by_column[column.name] = result.by_column.get(column.name, 0) + len(rows)
        for key, token in rows:
            if box.is_current(token):
                result.current += 1
                continue
            try:
                box.decrypt(token)
            except ValueError:
                result.unreadable.append(f"{column.name} {key}")
            else:
                result.previous += 1

    for column in encrypted_columns():
        for _size in _each_batch(factory, column, 1000, partial(classify, column), lock=False):
            pass
    return result


def forget_previous_keys(settings: Settings, factory: sessionmaker, *, now: bool = False) -> bool:
    """Deletes var/previous_secret_keys once no secret needs it and (unless ``now``) the
    sessions and API tokens it signed have expired. Returns whether keys given in
    SWITCHBOARD_PREVIOUS_SECRET_KEYS remain for the operator to remove."""
    left = status(factory, SecretBox(settings.key_ring()))
    if left.previous:
        raise Conflict("secrets_under_previous_key",
                       "%(count)s secrets are still encrypted with a previous key: run `switchboard secrets "
                       "rotate-key` first.", count=left.previous)
    files = KeyFiles(settings.var_dir)
    if not settings.secret_key and files.previous.exists():
        remaining = settings.token_ttl_seconds - (time.time() - files.previous.stat().st_mtime)
        if remaining > 0 and not now:
            raise Conflict("previous_key_in_grace",
                           "Sessions and API tokens signed with the previous key stay valid for %(minutes)s more "
                           "minutes; forgetting it now signs their holders out. Add --now to do it anyway.",
                           minutes=int(remaining // 60) + 1)
        files.forget_previous()
    return bool(settings.previous_secret_keys.strip())
