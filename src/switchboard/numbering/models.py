from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from switchboard.core.db import Base, IdMixin, TimestampMixin, VersionedMixin


class DnRange(IdMixin, TimestampMixin, VersionedMixin, Base):
    """Directory numbers prefix + start … prefix + end (start and end: digits, same length)."""

    __tablename__ = "dn_ranges"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(4), default="")
    start: Mapped[str] = mapped_column(String(7))
    end: Mapped[str] = mapped_column(String(7))
    # Every DN below this one in the range is taken: allocation sweeps from here, so its
    # cost does not grow as the range fills up.
    next_hint: Mapped[str] = mapped_column(String(7))
    # How many times a number of the range was given back: an allocator moves the hint
    # only if this did not change since it read the hint (numbering.pool).
    given_back: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class DidRange(IdMixin, TimestampMixin, VersionedMixin, Base):
    """E.164 numbers start … end; with first_dn, DIDs map 1:1 onto DNs from there."""

    __tablename__ = "did_ranges"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    start: Mapped[str] = mapped_column(String(16))
    end: Mapped[str] = mapped_column(String(16))
    first_dn: Mapped[str | None] = mapped_column(String(7))
    next_hint: Mapped[str] = mapped_column(String(16))
    given_back: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class PbxReservedDn(Base):
    """DNs configured on the PBX outside Switchboard (from its catalogue): never handed out."""

    __tablename__ = "pbx_reserved_dns"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    dn: Mapped[str] = mapped_column(String(7), primary_key=True)
    # kept for ordering sweeps: same-length DNs of one prefix sort like numbers
    length: Mapped[int] = mapped_column(Integer)
