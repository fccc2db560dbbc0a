from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from switchboard.core.db import Base, IdMixin, TimestampMixin, VersionedMixin
from switchboard.core.integrity import conflict_on
from switchboard.mivb.phone_types import NAMES as PHONE_TYPE_NAMES

if TYPE_CHECKING:
    from switchboard.accounts.models import User


class MivbSettings(VersionedMixin, Base):
    """Per-account MiVB policy: PIN rules and add-on licence counts."""

    __tablename__ = "mivb_settings"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    pin_min_length: Mapped[int] = mapped_column(default=4)
    pin_forbid_repeated: Mapped[bool] = mapped_column(default=True)
    pin_forbid_sequences: Mapped[bool] = mapped_column(default=True)
    pin_forbid_dn: Mapped[bool] = mapped_column(default=True)
    ehdu_licences: Mapped[int] = mapped_column(default=0)
    acd_agent_licences: Mapped[int] = mapped_column(default=0)


class ServiceCategory(IdMixin, TimestampMixin, VersionedMixin, Base):
    __tablename__ = "mivb_service_categories"
    __table_args__ = (
        UniqueConstraint("account_id", "name_key"),
        CheckConstraint("licences >= 0", name="licences_not_negative"),
    )

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(100))
    template: Mapped[str] = mapped_column(String(100))
    licences: Mapped[int] = mapped_column(Integer)
    # None: every phone type; else a list of phone type names
    allowed_phone_types: Mapped[list[str] | None] = mapped_column(JSON)


class MivbService(TimestampMixin, VersionedMixin, Base):
    """A user's MiVB product: its category, service programming and sync state."""

    __tablename__ = "mivb_services"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    service_category_id: Mapped[str | None] = mapped_column(
        ForeignKey("mivb_service_categories.id", ondelete="RESTRICT"), index=True)
    template: Mapped[str | None] = mapped_column(String(100))
    group: Mapped[str | None] = mapped_column(String(100))
    user_pin_encrypted: Mapped[str | None] = mapped_column(String(500))
    location: Mapped[str | None] = mapped_column(String(100))
    department: Mapped[str | None] = mapped_column(String(100))
    language: Mapped[str | None] = mapped_column(String(10))
    # Bumped on every change of the desired state; the sync records what it applied.
    desired_revision: Mapped[int] = mapped_column(default=0)
    # The user's key on the PBX once the account manages it there (pushed by Switchboard,
    # or adopted with the PBX's own key): what makes a PBX user this account's.
    pbx_key: Mapped[str | None] = mapped_column(String(128))

    category: Mapped[ServiceCategory | None] = relationship()
    # Never read (lazy="raise"): it tells the unit of work that a user is inserted before
    # its service when both are flushed at once (a bulk import's batch).
    user: Mapped["User"] = relationship(lazy="raise")
    phones: Mapped[list["Phone"]] = relationship(
        back_populates="service", order_by="Phone.position", cascade="all, delete-orphan")

    @property
    def status(self) -> str:
        return "configured" if self.service_category_id else "no_service_assigned"


class Phone(IdMixin, TimestampMixin, VersionedMixin, Base):
    __tablename__ = "mivb_phones"
    __table_args__ = (
        # The last defence of allocation: one DN per PBX (= account), one DID anywhere.
        UniqueConstraint("account_id", "dn"),
        UniqueConstraint("did"),
        UniqueConstraint("mac"),
        UniqueConstraint("account_id", "sip_username"),
        CheckConstraint("type IN (%s)" % ", ".join(f"'{name}'" for name in PHONE_TYPE_NAMES), name="type_known"),
        Index("ix_mivb_phones_dn_range", "dn_range_id", "dn"),
        Index("ix_mivb_phones_did_range", "did_range_id", "did"),
    )

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("mivb_services.user_id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    type: Mapped[str] = mapped_column(String(20))
    model: Mapped[str | None] = mapped_column(String(100))
    mac: Mapped[str | None] = mapped_column(String(12))
    dn: Mapped[str] = mapped_column(String(7))
    dn_range_id: Mapped[str | None] = mapped_column(ForeignKey("dn_ranges.id", ondelete="RESTRICT"))
    did: Mapped[str | None] = mapped_column(String(16))
    did_range_id: Mapped[str | None] = mapped_column(ForeignKey("did_ranges.id", ondelete="RESTRICT"))
    voicemail: Mapped[bool] = mapped_column(default=False)
    acd_agent: Mapped[bool] = mapped_column(default=False)
    external_number: Mapped[str | None] = mapped_column(String(16))
    cos_day: Mapped[int | None] = mapped_column()
    cos_night1: Mapped[int | None] = mapped_column()
    cos_night2: Mapped[int | None] = mapped_column()
    cor_day: Mapped[int | None] = mapped_column()
    cor_night1: Mapped[int | None] = mapped_column()
    cor_night2: Mapped[int | None] = mapped_column()
    language: Mapped[str | None] = mapped_column(String(10))
    sip_username: Mapped[str | None] = mapped_column(String(64))
    sip_password_encrypted: Mapped[str | None] = mapped_column(String(500))
    # The phone's key on the PBX when it was adopted (else its id is its key there).
    pbx_key: Mapped[str | None] = mapped_column(String(64))

    service: Mapped[MivbService] = relationship(back_populates="phones")


conflict_on("uq_mivb_service_categories_account_id_name_key", "name_taken",
            "A service category with this name already exists.", field="name")
conflict_on("pk_mivb_services", "product_exists", "This user already has the MiVoice Business product.",
            field="product")
conflict_on("pk_mivb_settings", "changed_meanwhile", "The settings were changed at the same time. Try again.")
conflict_on("uq_mivb_phones_account_id_dn", "dn_taken", "This directory number is already in use.", field="dn")
conflict_on("uq_mivb_phones_did", "did_taken", "This DID is already in use.", field="did")
conflict_on("uq_mivb_phones_mac", "mac_taken", "This MAC address is already used by another phone.", field="mac")
conflict_on("uq_mivb_phones_account_id_sip_username", "sip_username_taken", "This SIP username is already in use.",
            field="sip")
