"""The full desired state of one user as the PBX gateway takes it (docs/mivb-sim.md).

Pushes always carry the whole state, never a delta: pushing twice is harmless, and a push
that follows a lost one repairs everything."""

from __future__ import annotations

from typing import Any

from switchboard.accounts.models import User
from switchboard.core.security import SecretBox
from switchboard.mivb.models import MivbService, Phone
from switchboard.mivb.phone_types import ADVANCED_FIELDS, PHONE_TYPES


def phone_state(phone: Phone, secret_box: SecretBox) -> dict[str, Any]:
    kind = PHONE_TYPES[phone.type]
    state: dict[str, Any] = {
        "key": phone.pbx_key or phone.id,
        "type": phone.type,
        "dn": phone.dn,
        "did": phone.did,
        "model": phone.model if kind.has_device else None,
        "mac": phone.mac if kind.has_mac else None,
        "voicemail": phone.voicemail,
        "acd_agent": phone.acd_agent if kind.allows("acd_agent") else False,
        "external_phone": ({"number": phone.external_number}
                           if kind.allows("external_phone") and phone.external_number else None),
        "advanced": {name: getattr(phone, name) for name in ADVANCED_FIELDS},
        "sip": None,
    }
    if kind.sip_credentials and phone.sip_username and phone.sip_password_encrypted:
        state["sip"] = {"username": phone.sip_username, "password": secret_box.decrypt(phone.sip_password_encrypted)}
    return state


# A PBX user adopted without an e-mail gets this kind of address in Switchboard (.example
# can never receive mail); the PBX keeps having none.
NO_EMAIL_DOMAIN = "@no-email.example"


def pbx_email(user: User) -> str | None:
    return None if user.email.endswith(NO_EMAIL_DOMAIN) else user.email


def user_state(user: User, service: MivbService, secret_box: SecretBox) -> dict[str, Any]:
    return {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": pbx_email(user),
        "template": service.template,
        "group": service.group,
        "user_pin": secret_box.decrypt(service.user_pin_encrypted) if service.user_pin_encrypted else "",
        "location": service.location,
        "department": service.department,
        "phones": [phone_state(p, secret_box) for p in service.phones],
    }
