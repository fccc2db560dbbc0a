"""A user's change history in words. Each change-log entry about the user, their MiVoice
Business service or one of their phones becomes a title ("Phone 2012 changed") and the
lines of what changed ("Voicemail: off → on", "Location: — → Paris", "User pin changed"),
instead of a dump of the before/after snapshots.

Pure and translatable: `describe` takes an entry (anything with `action`, `object_type`,
`object_repr`, `before`, `after`: an `audit.models.AuditEntry`) and returns message ids
with their parameters; a parameter that is itself a word to translate ("on", "Desk phone")
is a `Term`. `text` turns one line into the reader's language with their gettext. Values are
shown as people read them: booleans on/off, nothing as —, phone types and roles by name.
Secrets never appear: a pin or a password is only said to be set, changed or removed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from switchboard.core.i18n import N_
from switchboard.mivb.phone_types import PHONE_TYPES


@dataclass(frozen=True)
class Term:
    """A parameter that is a word of the interface, translated before it is put in."""

    msgid: str


Line = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Described:
    title: Line
    changes: list[Line] = field(default_factory=list)


NOTHING = "—"
CHANGED = N_("%(field)s: %(before)s → %(after)s")

# The label of each field of the snapshots (mivb.presenters, accounts.service.user_snapshot).
LABELS: dict[str, str] = {
    "service_category": N_("Service category"), "template": N_("User template"), "group": N_("Group"),
    "location": N_("Location"), "department": N_("Department"),
    "type": N_("Type"), "dn": N_("DN"), "did": N_("DID"), "model": N_("Model"), "mac": N_("MAC address"),
    "voicemail": N_("Voicemail"), "acd_agent": N_("ACD agent"), "external_number": N_("External number"),
    "cos_day": N_("COS day"), "cos_night1": N_("COS night 1"), "cos_night2": N_("COS night 2"),
    "cor_day": N_("COR day"), "cor_night1": N_("COR night 1"), "cor_night2": N_("COR night 2"),
    "language": N_("Language"), "sip_username": N_("SIP username"),
    "first_name": N_("First name"), "last_name": N_("Last name"), "email": N_("E-mail"), "role": N_("Role"),
}
ROLES = {"user": N_("User"), "account_admin": N_("Account admin"), "partner_admin": N_("Partner admin")}
# Secrets: said to be set, changed or removed, never shown (the log holds them masked).
SECRETS: dict[str, tuple[str, str, str]] = {
    "user_pin": (N_("User pin set"), N_("User pin changed"), N_("User pin removed")),
    "password": (N_("Password set"), N_("Password changed"), N_("Password removed")),
    "sip_password": (N_("SIP password set"), N_("SIP password changed"), N_("SIP password removed")),
}

TITLES: dict[tuple[str, str], str] = {
    ("phone", "create"): N_("Phone %(dn)s added (%(type)s)"),
    ("phone", "update"): N_("Phone %(dn)s changed"),
    ("phone", "delete"): N_("Phone %(dn)s removed"),
    ("mivb_service", "create"): N_("MiVoice Business Service added"),
    ("mivb_service", "update"): N_("MiVoice Business Service changed"),
    ("mivb_service", "delete"): N_("MiVoice Business Service removed"),
    ("mivb_service", "reveal"): N_("Secrets revealed"),
    ("mivb_service", "sync"): N_("Push requested"),
    ("user", "create"): N_("User created"),
    ("user", "update"): N_("User changed"),
    ("user", "delete"): N_("User deleted"),
    ("user", "password_change"): N_("Password changed"),
}
UNKNOWN = N_("%(action)s: %(object)s")


def value(name: str, raw: Any) -> Any:
    """A snapshot value as people read it."""
    if raw is None or raw == "":
        return NOTHING
    if isinstance(raw, bool):
        return Term(N_("on") if raw else N_("off"))
    if name == "type" and raw in PHONE_TYPES:
        return Term(PHONE_TYPES[raw].label)
    if name == "role" and raw in ROLES:
        return Term(ROLES[raw])
    return str(raw)


def changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[Line]:
    """What differs between two snapshots, one line per field, in the snapshot's order."""
    before, after = before or {}, after or {}
    lines: list[Line] = []
    for name in list(after) + [k for k in before if k not in after]:
        old, new = before.get(name), after.get(name)
        if old == new or isinstance(old, (list, dict)) or isinstance(new, (list, dict)):
            continue
        if name in SECRETS:
            set_, changed, removed = SECRETS[name]
            lines.append((removed if new is None else set_ if old is None else changed, {}))
            continue
        label = Term(LABELS[name]) if name in LABELS else name
        lines.append((CHANGED, {"field": label, "before": value(name, old), "after": value(name, new)}))
    return lines


def describe(entry: Any) -> Described:
    before, after = entry.before or {}, entry.after or {}
    key = (entry.object_type, entry.action)
    if key not in TITLES:
        return Described((UNKNOWN, {"action": entry.action, "object": entry.object_repr or entry.object_type}),
                         changes(entry.before, entry.after))
    params: dict[str, Any] = {}
    if entry.object_type == "phone":
        snapshot = before or after
        params["dn"] = snapshot.get("dn") or entry.object_repr.rsplit(" ", 1)[-1]
        if entry.action == "create":
            params["type"] = value("type", after.get("type"))
    lines = changes(entry.before, entry.after) if entry.action == "update" else []
    if key == ("user", "update") and len(lines) == 1 and lines[0][0] in SECRETS["password"]:
        return Described(lines[0])  # "Password changed" says it all
    return Described((TITLES[key], params), lines)


def text(line: Line, translate: Callable[[str], str]) -> str:
    """One line in the reader's language (`translate` is the reader's gettext)."""
    msgid, params = line
    translated = translate(msgid)
    if not params:
        return translated
    return translated % {name: translate(v.msgid) if isinstance(v, Term) else v for name, v in params.items()}
