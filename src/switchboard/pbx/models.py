from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from switchboard.core.db import Base, TimestampMixin, UTCDateTime, VersionedMixin


class MivbConnection(TimestampMixin, VersionedMixin, Base):
    """How Switchboard reaches the account's MiVB (through its gateway)."""

    __tablename__ = "mivb_connections"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    # The URL as compared between accounts (scheme, host, port, path; lower case): one
    # gateway serves one account unless a partner admin says it is shared on purpose.
    url_key: Mapped[str | None] = mapped_column(String(500), index=True)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    username: Mapped[str] = mapped_column(String(200))
    password_encrypted: Mapped[str] = mapped_column(String(1000))
    last_test_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_test_ok: Mapped[bool | None] = mapped_column(Boolean)
    last_test_detail: Mapped[str | None] = mapped_column(String(1000))


class MivbCatalog(Base):
    """The PBX catalogue as last read: templates, groups, locations, models, COS/COR…"""

    __tablename__ = "mivb_catalogs"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime())
