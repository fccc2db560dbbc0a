"""Engine, sessions and the declarative base shared by every capability's models."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import DateTime, Engine, MetaData, String, TypeDecorator, create_engine, event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, sessionmaker

from switchboard.core.collation import register_sqlite
from switchboard.core.integrity import conflict_for

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every engine (SQLite hands them back naive otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use switchboard.core.db.utcnow()")
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


class IdMixin:
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)


@event.listens_for(IdMixin, "init", propagate=True)
def _id_at_construction(_target, _args, kwargs) -> None:
    """An object has its id as soon as it is made, not at its INSERT: a service can refer
    to what it has just added without flushing it first (core.uow.batching_flushes)."""
    if kwargs.get("id") is None:
        kwargs["id"] = new_id()


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow
    )


class VersionedMixin:
    """An integer bumped on every update; it is the object's ETag."""

    version: Mapped[int] = mapped_column(default=1)

    # SQLAlchemy then updates "WHERE version = <read version>": a write that raced
    # another one fails (StaleDataError) instead of silently overwriting it.
    @declared_attr.directive
    def __mapper_args__(cls):
        return {"version_id_col": cls.version}


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, echo: bool = False) -> Engine:
    # hide_parameters: an error (and its traceback in the log) shows the SQL, never the
    # values sent with it (e-mails, password hashes, encrypted secrets, what a client typed).
    if is_sqlite(url):
        engine = create_engine(
            url, echo=echo, hide_parameters=True, connect_args={"check_same_thread": False, "timeout": 30}
        )
        _configure_sqlite(engine)
    else:
        engine = create_engine(url, echo=echo, hide_parameters=True, pool_pre_ping=True, pool_size=10,
                               max_overflow=20)
    _translate_conflicts(engine)
    return engine


def _translate_conflicts(engine: Engine) -> None:
    """A declared unique constraint that fires becomes its Conflict (core.integrity)."""

    @event.listens_for(engine, "handle_error")
    def _on_error(context):
        if isinstance(context.sqlalchemy_exception, IntegrityError):
            conflict = conflict_for(context.sqlalchemy_exception, Base.metadata)
            if conflict is not None:
                raise conflict from context.sqlalchemy_exception


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT and delays BEGIN; take it over
    # so nested transactions (tests, partial rollbacks) behave as on PostgreSQL.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
        register_sqlite(dbapi_connection)  # the order names are sorted by (core/collation.py)

    # IMMEDIATE: a transaction takes the write lock when it starts. SQLite has one writer
    # anyway; taking the lock up front makes concurrent processes (server, workers) wait
    # for each other instead of failing when a reader later tries to write. A reading
    # request (read_mostly) begins without it and reads its snapshot while others write;
    # should it try to write, NeedsWriteLock stops it before SQLite is asked, and the
    # request runs again holding the lock from the start.
    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(DEFERRED) else "BEGIN IMMEDIATE")

    @event.listens_for(engine, "before_cursor_execute")
    def _no_write_without_the_lock(conn, _cursor, statement, _parameters, _context, _executemany):
        if conn.get_execution_options().get(DEFERRED) and statement.lstrip()[:7].upper().startswith(_WRITES):
            raise NeedsWriteLock()


DEFERRED = "switchboard_deferred"
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class NeedsWriteLock(Exception):
    """A read_mostly transaction on SQLite tried to write: run the work again in a
    session of the ordinary factory (its transactions take the write lock first)."""


def read_mostly(factory: sessionmaker) -> sessionmaker:
    """Sessions for work that usually only reads (a GET). On SQLite their transactions do
    not take the write lock, so they read while the workers write; a write in one raises
    NeedsWriteLock. Elsewhere (PostgreSQL; a factory bound to a connection, as in the
    tests), the factory itself."""
    bind = factory.kw.get("bind")
    if not isinstance(bind, Engine) or bind.dialect.name != "sqlite":
        return factory
    made = factory.__dict__.get("_read_mostly")
    if made is None:
        made = factory._read_mostly = sessionmaker(bind=bind.execution_options(**{DEFERRED: True}),
                                                   expire_on_commit=False, autoflush=True)
    return made


def make_session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
