"""Throw-away databases for tests: a SQLite file, or a PostgreSQL database created and
dropped around the run."""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def postgres_admin_url() -> str:
    return os.environ.get("SWITCHBOARD_TEST_POSTGRES_URL", DEFAULT_POSTGRES_ADMIN_URL)


def postgres_available(timeout: int = 3) -> tuple[bool, str]:
    try:
        engine = create_engine(postgres_admin_url(), connect_args={"connect_timeout": timeout})
        with engine.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar()
        engine.dispose()
        return True, f"PostgreSQL {version}"
    except Exception as exc:  # report, the caller decides how loud to be
        return False, f"{type(exc).__name__}: {exc}".splitlines()[0]


@contextlib.contextmanager
def temporary_database(backend: str, directory: Path) -> Iterator[str]:
    """Yields the URL of a new, empty database; removes it afterwards."""
    if backend == "sqlite":
        path = Path(directory) / f"switchboard-{uuid.uuid4().hex[:8]}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
        return
    if backend != "postgresql":
        raise ValueError(f"unknown test database backend {backend!r}")
    name = f"switchboard_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_admin_url()).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
