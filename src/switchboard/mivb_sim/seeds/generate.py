"""Seed files of N valid legacy users, for benchmarks: deterministic, so two runs with the
same arguments write the same file (docs/mivb-sim.md, *Generated seeds*)."""

from __future__ import annotations

from typing import Any

from .. import defaults
from ..state import DN_RE, is_e164

FIRST_NAMES = [
    "Adam", "Amelie", "Antoine", "Audrey", "Benoit", "Camille", "Charles", "Claire", "Denis", "Diane",
    "Edouard", "Elise", "Etienne", "Fanny", "Francis", "Genevieve", "Guy", "Helene", "Isaac", "Isabelle",
    "Jacob", "Jade", "Jerome", "Julie", "Kevin", "Laura", "Leo", "Lucie", "Marc", "Marie",
    "Mathieu", "Nadia", "Nicolas", "Nora", "Olivier", "Pascal", "Pierre", "Rachel", "Remi", "Sarah",
    "Simon", "Sophie", "Thomas", "Valerie", "Victor", "Vincent", "Yann", "Yasmine", "Zachary", "Zoe",
]
LAST_NAMES = [
    "Allard", "Arsenault", "Bernier", "Bisson", "Blais", "Boivin", "Brunet", "Carrier", "Champagne", "Charron",
    "Cyr", "Demers", "Desjardins", "Dion", "Dubois", "Dufour", "Dupuis", "Fournier", "Gaudreault", "Gendron",
    "Gosselin", "Guay", "Hamel", "Hebert", "Jacques", "Labelle", "Lachance", "Lalonde", "Landry", "Lapointe",
    "Leclerc", "Lefebvre", "Lemieux", "Mercier", "Michaud", "Nadeau", "Noel", "Perron", "Picard", "Poirier",
    "Poulin", "Proulx", "Richard", "Rioux", "Savard", "Thibault", "Turcotte", "Vachon", "Villeneuve", "Vallee",
]
MAX_USERS = defaults.CAPACITY["users"]  # every first/last pair is used at most once up to here
DESK_MODELS = [m["name"] for m in defaults.CATALOG["device_models"] if m["type"] == "desk_phone"]
LOCATIONS = defaults.CATALOG["locations"]
DEPARTMENTS = defaults.CATALOG["departments"]
RESERVED = set(defaults.CATALOG["reserved_dns"])
SECOND_PHONE_EVERY = 4  # users 3, 7, 11, ... (0-based) have a softphone as well


def generate_seed(count: int, first_dn: str = "5000000", first_did: str | None = None, key_prefix: str = "G",
                  email_domain: str = "bench.example") -> dict[str, Any]:
    """A seed file (as a dict) with `count` users that all load on the default PBX.

    User i (0-based) gets key `{key_prefix}{i+1:05d}`, the i-th first/last name pair and the
    e-mail `first.last@email_domain` (lower case). Phones take consecutive DNs from `first_dn`
    (skipping the reserved DNs); with `first_did`, every phone also gets the DID that maps 1:1
    onto its DN (first_did + (dn - first_dn)). One user in four has a second phone.
    """
    if not 0 <= count <= MAX_USERS:
        raise ValueError(f"count must be between 0 and {MAX_USERS} (the PBX's user capacity)")
    if not (first_dn.isdigit() and DN_RE.match(first_dn)):
        raise ValueError(f"first DN {first_dn!r} must be 1 to 7 digits")
    if first_did is not None and not is_e164(first_did):
        raise ValueError(f"first DID {first_did!r} must be a valid number in E.164: '+', the country code, the number")
    base_dn, next_dn = int(first_dn), int(first_dn)
    phone_count = 0

    def take_dn() -> tuple[str, str | None]:
        nonlocal next_dn
        while str(next_dn).zfill(len(first_dn)) in RESERVED:
            next_dn += 1
        dn = str(next_dn).zfill(len(first_dn))  # keeps a leading zero: 0100, 0101, ...
        if len(dn) > 7:
            raise ValueError(f"not enough 7-digit DNs from {first_dn} for {count} users")
        next_dn += 1
        did = None
        if first_did is not None:
            did = f"+{int(first_did[1:]) + int(dn) - base_dn}"
            if not is_e164(did):
                raise ValueError(f"not enough DIDs from {first_did} for {count} users ({did} is not a valid number)")
        return dn, did

    def phone(kind: str, key: str) -> dict[str, Any]:
        nonlocal phone_count
        phone_count += 1
        dn, did = take_dn()
        out: dict[str, Any] = {"key": key, "type": kind, "dn": dn, "did": did}
        if kind == "desk_phone":
            out["model"] = DESK_MODELS[phone_count % len(DESK_MODELS)]
            out["mac"] = f"08000F{phone_count:06X}"
            out["voicemail"] = phone_count % 2 == 0
        else:
            out["sip"] = {"username": dn, "password": f"sip-{phone_count * 7919 % 1_000_000:06d}"}
        return out

    users = []
    for i in range(count):
        first, last = FIRST_NAMES[i % len(FIRST_NAMES)], LAST_NAMES[i // len(FIRST_NAMES) % len(LAST_NAMES)]
        desk = i % 3 != 1
        phones = [phone("desk_phone" if desk else "generic_sip", "desk" if desk else "soft")]
        if i % SECOND_PHONE_EVERY == SECOND_PHONE_EVERY - 1:
            phones.append(phone("generic_sip", "soft2" if not desk else "soft"))
        template = "Premium User" if len(phones) == 2 else "Telephony User" if desk else "Entry User"
        users.append({
            "user_key": f"{key_prefix}{i + 1:05d}",
            "first_name": first,
            "last_name": last,
            "email": f"{first}.{last}@{email_domain}".lower(),
            "template": template,
            "group": None,
            "user_pin": "" if i % 5 == 4 else f"{i * 7919 % 10000:04d}",
            "location": LOCATIONS[i % len(LOCATIONS)],
            "department": DEPARTMENTS[i // 7 % len(DEPARTMENTS)],
            "phones": phones,
        })
    seed: dict[str, Any] = {"users": users}
    if count > defaults.LICENCES["ip_users"]:
        seed["licences"] = {"ip_users": count}  # one IP user licence per user
    return seed
