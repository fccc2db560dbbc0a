"""Backups and restores (docs/reliability.md, "Backups").

SQLite: SQLite's online backup API copies a consistent snapshot while the server and the
workers keep writing, into one self-contained file. PostgreSQL: ``pg_dump -Fc`` and
``pg_restore``; Switchboard prints the commands, or runs them.

A restore always checks that the file is a Switchboard database whose schema this version
knows (its Alembic revision or an older one), then upgrades it to the current schema. It
refuses to overwrite a database that another process has open unless forced.

A backup holds the secrets encrypted, never the key that decrypts them: the secret key
(var/secret_key and var/previous_secret_keys, or SWITCHBOARD_SECRET_KEY) is kept apart."""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import MetaData, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from switchboard.core.collation import NAME_COLLATION
from switchboard.core.db import is_sqlite
from switchboard.core.errors import Conflict, ServiceError, ValidationFailed
from switchboard.migrations import alembic_config, upgrade

# Tables that make a database a Switchboard one (besides alembic_version).
CORE_TABLES = {"partners", "accounts", "users"}
# SQLite's unix VFS: every connection to a WAL database holds a shared lock on this byte
# of the -shm file for as long as it is open (the "DMS" lock; sqlite3 os_unix.c).
_SHM_DMS_BYTE = 128


@dataclass
class Copied:
    path: Path
    revision: str
    head: str
    size: int = 0


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def check_revision(revision: str | None) -> str:
    """The revision of a backup, if this version of Switchboard can upgrade from it."""
    if not revision:
        raise ValidationFailed("not_switchboard", "This file is not a Switchboard database (no schema revision).")
    try:
        known = ScriptDirectory.from_config(alembic_config("sqlite://")).get_revision(revision)
    except CommandError:
        known = None
    if known is None:
        raise ValidationFailed(
            "revision_unknown", "This backup has schema revision %(revision)s, which this version of Switchboard "
            "does not know (a newer version made it): restore it with that version or a later one.",
            revision=revision)
    return revision


# ----------------------------------------------------------------------------- SQLite


def sqlite_path(database_url: str) -> Path:
    path = make_url(database_url).database
    if not path or path == ":memory:":
        raise ServiceError("no_database_file", "This database is not a file: there is nothing to back up.")
    return Path(path)


def backup_sqlite(database_url: str, destination: Path, *, force: bool = False) -> Copied:
    """Copies the live database into ``destination`` (written whole, owner-only)."""
    source = sqlite_path(database_url)
    if not source.exists():
        raise ServiceError("no_database_file", "There is no database at %(path)s.", path=str(source))
    destination = destination.resolve()
    if destination.exists() and not force:
        raise Conflict("file_exists", "%(path)s exists already; add --force to replace it.", path=str(destination))
    if destination == source.resolve():
        raise ServiceError("same_file", "The backup cannot be the database itself.")
    tmp = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    try:
        src = sqlite3.connect(source, timeout=30)
        dst = sqlite3.connect(tmp)
        try:
            # One step: the copy is one snapshot, taken under a read transaction, which
            # in WAL mode never blocks the server's writes.
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            revision = _check_sqlite(dst, known=False)  # a newer version's database is backed up too
        finally:
            dst.close()
            src.close()
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, destination)
    finally:
        tmp.unlink(missing_ok=True)
    return Copied(destination, revision, head_revision(), destination.stat().st_size)


def _check_sqlite(connection: sqlite3.Connection, *, known: bool = True) -> str:
    """The database's schema revision, once it is sure to be a Switchboard database (and,
    if ``known``, one this version can upgrade)."""
    try:
        ok = connection.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError:
        ok, tables = False, set()
    if not ok:
        raise ValidationFailed("not_a_database", "This file is not a SQLite database, or it is damaged.")
    if not CORE_TABLES <= tables or "alembic_version" not in tables:
        raise ValidationFailed("not_switchboard", "This file is not a Switchboard database (no schema revision).")
    row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    return check_revision(row[0] if row else None) if known else (row[0] if row else "none")


def sqlite_in_use(path: Path) -> bool:
    """Whether another process has the database open (a server, a worker). Must be asked
    before this process opens it: POSIX locks are per process."""
    shm = Path(f"{path}-shm")
    try:
        fd = os.open(shm, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _SHM_DMS_BYTE)
    except OSError:
        return True
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, _SHM_DMS_BYTE)
        return False
    finally:
        os.close(fd)


def restore_sqlite(database_url: str, source: Path, *, force: bool = False) -> Copied:
    """Replaces the database with the backup ``source``, then upgrades its schema."""
    target = sqlite_path(database_url)
    if not source.is_file():
        raise ValidationFailed("file_not_found", "There is no file at %(path)s.", path=str(source))
    if target.exists() and source.resolve() == target.resolve():
        raise ServiceError("same_file", "The backup cannot be the database itself.")
    if target.exists() and sqlite_in_use(target) and not force:
        raise Conflict("database_in_use", "The database %(path)s is open in another process (a server or a worker): "
                       "stop them first, or add --force.", path=str(target))
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    try:
        revision = _check_sqlite(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        dst = sqlite3.connect(target, timeout=30)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    os.chmod(target, 0o600)
    upgrade(database_url)
    return Copied(target, revision, head_revision(), target.stat().st_size)


# ------------------------------------------------------------------------- PostgreSQL


def libpq_uri(database_url: str) -> str:
    """The URL for pg_dump and pg_restore, without its password (given in PGPASSWORD)."""
    url = make_url(database_url)
    return url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)


def pg_environment(database_url: str) -> dict[str, str]:
    password = make_url(database_url).password
    return {**os.environ, **({"PGPASSWORD": str(password)} if password else {})}


def pg_dump_command(database_url: str, destination: Path) -> list[str]:
    return ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={destination}",
            f"--dbname={libpq_uri(database_url)}"]


def pg_restore_command(database_url: str, source: Path) -> list[str]:
    return ["pg_restore", "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error",
            f"--dbname={libpq_uri(database_url)}", str(source)]


def _run(command: list[str], database_url: str) -> subprocess.CompletedProcess:
    if shutil.which(command[0]) is None:
        raise ServiceError("tool_missing", "%(tool)s is not installed (PostgreSQL client tools).", tool=command[0])
    result = subprocess.run(command, env=pg_environment(database_url), capture_output=True, text=True)
    if result.returncode != 0:
        raise ServiceError("tool_failed", "%(tool)s failed: %(detail)s", tool=command[0],
                           detail=(result.stderr.strip().splitlines() or ["exit status %d" % result.returncode])[-1])
    return result


def backup_postgresql(database_url: str, destination: Path, *, force: bool = False) -> Copied:
    destination = destination.resolve()
    if destination.exists() and not force:
        raise Conflict("file_exists", "%(path)s exists already; add --force to replace it.", path=str(destination))
    tmp = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    try:
        _run([*pg_dump_command(database_url, tmp)], database_url)
        revision = pg_dump_revision(tmp, database_url, known=False)
        os.replace(tmp, destination)
    finally:
        tmp.unlink(missing_ok=True)
    return Copied(destination, revision, head_revision(), destination.stat().st_size)


def pg_dump_revision(dump: Path, database_url: str, *, known: bool = True) -> str:
    """The schema revision inside a pg_dump archive, read without restoring it."""
    listing = _run(["pg_restore", "--list", str(dump)], database_url).stdout
    # "3380; 0 16385 TABLE DATA public users owner"
    tables = {line.split(" TABLE DATA ", 1)[1].split()[1] for line in listing.splitlines() if " TABLE DATA " in line}
    if not (CORE_TABLES | {"alembic_version"}) <= tables:
        raise ValidationFailed("not_switchboard", "This file is not a Switchboard database (no schema revision).")
    data = _run(["pg_restore", "--data-only", "--table=alembic_version", "--file=-", str(dump)], database_url).stdout
    lines = data.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("COPY ") and "alembic_version" in line), None)
    revision = lines[start + 1].strip() if start is not None and lines[start + 1] != "\\." else None
    return check_revision(revision) if known else (revision or "none")


def restore_postgresql(database_url: str, source: Path, *, force: bool = False) -> Copied:
    if not source.is_file():
        raise ValidationFailed("file_not_found", "There is no file at %(path)s.", path=str(source))
    revision = pg_dump_revision(source, database_url)
    engine = create_engine(database_url)
    try:
        try:
            with engine.connect() as conn:
                others = conn.scalar(text("SELECT count(*) FROM pg_stat_activity "
                                          "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        except OperationalError as exc:
            raise ServiceError("database_unreachable", "Cannot connect to the database: %(detail)s",
                               detail=str(exc.orig).strip().splitlines()[0]) from exc
        tables = inspect(engine).get_table_names()
        if others and not force:
            raise Conflict("database_in_use", "The database %(path)s is open in another process (a server or a "
                           "worker): stop them first, or add --force.", path=make_url(database_url).database)
        if tables and not force:
            raise Conflict("database_not_empty", "The database %(path)s is not empty: restore into a new database, "
                           "or add --force to replace its tables.", path=make_url(database_url).database)
        if tables:
            existing = MetaData()
            existing.reflect(engine)
            existing.drop_all(engine)
            with engine.begin() as conn:  # the schema's other objects the dump creates again
                conn.execute(text(f"DROP COLLATION IF EXISTS {NAME_COLLATION}"))
    finally:
        engine.dispose()
    _run(pg_restore_command(database_url, source), database_url)
    upgrade(database_url)
    return Copied(source, revision, head_revision(), source.stat().st_size)


def backup(database_url: str, destination: Path, *, force: bool = False) -> Copied:
    if is_sqlite(database_url):
        return backup_sqlite(database_url, destination, force=force)
    return backup_postgresql(database_url, destination, force=force)


def restore(database_url: str, source: Path, *, force: bool = False) -> Copied:
    if is_sqlite(database_url):
        return restore_sqlite(database_url, source, force=force)
    return restore_postgresql(database_url, source, force=force)
