"""The phone types and what each can do: one table read by the services (which fields a
type allows), the API schemas (the type names), the sync (what is pushed) and the
console (labels, which inputs a form shows). A new type, or a new capability of one, is
added here and nowhere else."""

from __future__ import annotations

from dataclasses import dataclass

from switchboard.core.i18n import N_

ADVANCED_FIELDS = ("cos_day", "cos_night1", "cos_night2", "cor_day", "cor_night1", "cor_night2", "language")
COS_FIELDS = ("cos_day", "cos_night1", "cos_night2")
COR_FIELDS = ("cor_day", "cor_night1", "cor_night2")


@dataclass(frozen=True)
class PhoneType:
    name: str
    label: str  # a gettext message id
    has_device: bool  # a device model (desk phone, SIP phone); a hot desk is a profile
    has_mac: bool
    sip_credentials: bool  # gets a SIP username and password
    options: tuple[str, ...] = ()  # additional options: acd_agent, external_phone
    advanced: tuple[str, ...] = ADVANCED_FIELDS

    def allows(self, option: str) -> bool:
        return option in self.options


DESK_PHONE = PhoneType("desk_phone", N_("Desk phone"), has_device=True, has_mac=True, sip_credentials=False)
GENERIC_SIP = PhoneType("generic_sip", N_("Generic SIP phone"), has_device=True, has_mac=False,
                        sip_credentials=True)
HOT_DESK = PhoneType("hot_desk", N_("Hot desk"), has_device=False, has_mac=False, sip_credentials=False,
                     options=("acd_agent", "external_phone"))

PHONE_TYPES: dict[str, PhoneType] = {t.name: t for t in (DESK_PHONE, GENERIC_SIP, HOT_DESK)}
NAMES: tuple[str, ...] = tuple(PHONE_TYPES)
# The types that are a device (count for an external-twin group's "desk or SIP phone").
DEVICE_TYPES: tuple[str, ...] = tuple(t.name for t in PHONE_TYPES.values() if t.has_device)


def phone_type(name: str) -> PhoneType:
    return PHONE_TYPES[name]
