"""The simulated PBX: its configuration and the MiVB rules it enforces. No HTTP here.

A `Pbx` holds plain JSON-ready dicts, so what it stores is exactly what it answers and
what it writes to the state file.
"""

import copy
import json
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import phonenumbers

from . import defaults
from .schema import PhoneIn, SeedIn, UserIn

DN_RE = re.compile(r"^(?=.{1,7}$)[0-9*#]{0,4}[0-9]+$")  # optional 1-4 char prefix, then digits
def is_e164(value: Any) -> bool:
    """A public number as a MiVB takes it: E.164 ('+', the country code, the national
    number) of a number that its country's numbering plan has (libphonenumber's data, the
    rule Switchboard checks too)."""
    if not isinstance(value, str) or not value.startswith("+") or len(value) > 16:
        return False
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return False
    return (phonenumbers.is_valid_number(parsed)
            and phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == value)


MAC_RE = re.compile(r"^[0-9A-Fa-f]{12}$")
PIN_RE = re.compile(r"^[0-9]{0,8}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")

MAX_PHONES_PER_USER = 8
MAX_GROUP_MEMBERS = 8
LOG_LIMIT = 10_000  # keeps the in-memory log (and the state file) bounded on long runs
STATE_FORMAT = 1

LICENCE_NAMES = {
    "ip_users": "IP user",
    "ehdu": "External Hot Desk User",
    "acd_agents": "ACD agent",
    "mdu": "Multi-Device User",
}


@dataclass(frozen=True)
class PbxError:
    code: str
    field: str | None
    message: str
    phone: str | None = None
    licence: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "field": self.field, "message": self.message}
        if self.phone is not None:
            out["phone"] = self.phone
        if self.licence is not None:
            out["licence"] = self.licence
        return out


@dataclass
class PhoneResult:
    phone: str
    status: str  # applied | rejected | removed
    errors: list[PbxError] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"phone": self.phone, "status": self.status, "errors": [e.as_dict() for e in self.errors]}


@dataclass
class PutResult:
    user: dict[str, Any] | None
    results: list[PhoneResult]
    errors: list[PbxError]
    changed: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "results": [r.as_dict() for r in self.results],
            "errors": [e.as_dict() for e in self.errors],
        }


class SeedError(ValueError):
    """The seed or state file cannot be turned into a consistent PBX."""


def _licence_uses(phone: dict[str, Any]) -> set[str]:
    """The per-phone licences a stored phone consumes."""
    uses = set()
    if phone["type"] == "hot_desk":
        if phone["external_phone"] is not None:
            uses.add("ehdu")
        if phone["acd_agent"]:
            uses.add("acd_agents")
    return uses


def _in_use(kind: str, value: str, holders: dict[tuple[str, str], str]) -> str:
    label = {"dn": "Directory number", "did": "DID", "mac": "MAC address"}[kind]
    return f"{label} {value} is already in use on this PBX ({holders[(kind, value)]})."


def _numbers(phone: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, value) of every PBX-unique number a phone holds."""
    found = [("dn", phone["dn"])]
    if phone["did"] is not None:
        found.append(("did", phone["did"]))
    if phone["mac"] is not None:
        found.append(("mac", phone["mac"]))
    return found


@dataclass
class _Tally:
    """What a set of configured users holds: numbers (→ who holds them), licence and capacity
    use, and phones per group."""

    numbers: Mapping[tuple[str, str], str]
    usage: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("users", "devices", "ip_users", "ehdu", "acd_agents", "mdu"), 0))
    group_members: dict[str, int] = field(default_factory=dict)


RESERVED = ""  # the holder of a reserved number (no user key is empty)


class _Others(Mapping[tuple[str, str], str]):
    """The numbers held on the PBX but by one user: a view of the kept holders, not a copy,
    so checking a PUT costs the same on a full PBX as on an empty one."""

    def __init__(self, holders: dict[tuple[str, str], str], exclude: str | None) -> None:
        self._holders = holders
        self._exclude = exclude

    def __getitem__(self, number: tuple[str, str]) -> str:
        holder = self._holders[number]
        if holder == self._exclude:
            raise KeyError(number)
        return "reserved number" if holder == RESERVED else "another user"

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return (number for number, holder in self._holders.items() if holder != self._exclude)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class Pbx:
    """One PBX. Every public method takes the lock, so concurrent requests are safe."""

    def __init__(self, seed: SeedIn | None = None, state_file: Path | None = None) -> None:
        self._seed = seed or SeedIn()
        self._state_file = state_file
        self._lock = threading.RLock()
        self.revision = 0
        self.log: list[dict[str, Any]] = []
        self._next_box_id = 1
        if state_file is not None and state_file.exists():
            self._load_state_file(state_file)
            if state_file.stat().st_mode & 0o077:  # written by an older version: owner-only now
                os.chmod(state_file, 0o600)
        else:
            self._apply_seed()
            self._save()

    # ----- reading -------------------------------------------------------------------

    def system_info(self) -> dict[str, Any]:
        with self._lock:
            usage = self._usage()
            return {
                **self.system,
                "capacity": dict(self.capacity),
                "usage": {"users": usage["users"], "devices": usage["devices"]},
                "licences": {
                    name: {"total": total, "used": usage[name]} for name, total in self.licences.items()
                },
            }

    def catalog_view(self) -> dict[str, Any]:
        with self._lock:
            taken = set(self.catalog["reserved_dns"])
            taken.update(p["dn"] for user in self.users.values() for p in user["phones"])
            return {**copy.deepcopy(self.catalog), "dns_in_use": sorted(taken)}

    def list_users(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    "user_key": u["user_key"],
                    "first_name": u["first_name"],
                    "last_name": u["last_name"],
                    "email": u["email"],
                    "template": u["template"],
                    "group": u["group"],
                    "dns": [p["dn"] for p in u["phones"]],
                }
                for u in self.users.values()
            ]

    def get_user(self, user_key: str) -> dict[str, Any] | None:
        with self._lock:
            user = self.users.get(user_key)
            return copy.deepcopy(user)

    def snapshot(self) -> dict[str, Any]:
        """Everything that survives a restart: what the state file holds."""
        with self._lock:
            return copy.deepcopy(
                {
                    "format": STATE_FORMAT,
                    "revision": self.revision,
                    "next_box_id": self._next_box_id,
                    "system": self.system,
                    "licences": self.licences,
                    "capacity": self.capacity,
                    "catalog": self.catalog,
                    "users": list(self.users.values()),
                    "log": self.log,
                }
            )

    def sim_state(self) -> dict[str, Any]:
        """The snapshot plus views derived from it, for tests and demos."""
        with self._lock:
            state = self.snapshot()
            placed = [(u["user_key"], p) for u in self.users.values() for p in u["phones"]]
            state["usage"] = self._usage()
            state["did_routes"] = sorted(
                ({"did": p["did"], "dn": p["dn"], "user_key": k, "phone": p["key"]}
                 for k, p in placed if p["did"] is not None),
                key=lambda route: route["did"],
            )
            state["voicemail_boxes"] = sorted(
                ({**p["voicemail_box"], "user_key": k, "phone": p["key"]}
                 for k, p in placed if p["voicemail_box"] is not None),
                key=lambda box: box["box_id"],
            )
            state["hot_desk_profiles"] = [
                {
                    "dn": p["dn"],
                    "user_key": k,
                    "phone": p["key"],
                    "acd_agent": p["acd_agent"],
                    "external_number": (p["external_phone"] or {}).get("number"),
                }
                for k, p in placed
                if p["type"] == "hot_desk"
            ]
            return state

    # ----- changing ------------------------------------------------------------------

    def put_user(self, user_key: str, desired: UserIn, reject_dn: str | None = None) -> PutResult:
        """Make the user look like `desired`: user-level all-or-nothing, then phone by phone.

        `reject_dn` is the fault-injection hook: a phone with that DN is refused.
        """
        with self._lock:
            result = self._put(user_key, desired, reject_dn)
            if result.changed:
                self._save()
            return result

    def delete_user(self, user_key: str) -> bool:
        """Remove a user with its devices, DIDs and voicemail boxes. False if it was not there."""
        with self._lock:
            if user_key not in self.users:
                return False
            self._store(user_key, None)
            self._record("delete_user", user_key)
            self._save()
            return True

    def reset(self) -> None:
        """Back to the seeded configuration; the revision keeps counting up. The log then holds
        the `reset` entry only: reloading the seed users is not a client write."""
        with self._lock:
            self.log.clear()
            self._record("reset", None)
            self._apply_seed()
            self._save()

    # ----- seed and state file -------------------------------------------------------

    def _apply_seed(self) -> None:
        seed = self._seed
        self.system = {**defaults.SYSTEM, **seed.system.model_dump(exclude_none=True)}
        self.licences = {**defaults.LICENCES, **seed.licences.model_dump(exclude_none=True)}
        self.capacity = {**defaults.CAPACITY, **seed.capacity.model_dump(exclude_none=True)}
        # Only the catalogue lists left out (None) keep their default; nulls inside a given list
        # (a hot desk template phone's model, a template without location) are values.
        given = {name: value for name, value in seed.catalog.model_dump().items() if value is not None}
        self.catalog = {**copy.deepcopy(defaults.CATALOG), **given}
        self._check_catalog()
        self.users: dict[str, dict[str, Any]] = {}
        self._rebuild()
        # Seed users are what the PBX held before any client: loaded through the PUT rules
        # (the group member limit aside, under legacy_group_limits) but not logged.
        for user in seed.users:
            assert user.user_key is not None  # guaranteed by SeedIn
            result = self._put(user.user_key, user, reject_dn=None,
                               group_limit=not seed.legacy_group_limits, record=False)
            if result.errors:
                details = "; ".join(e.message for e in result.errors)
                raise SeedError(f"seed user {user.user_key!r} is not valid on this PBX: {details}")

    def _check_catalog(self) -> None:
        """A template must only point at things the catalogue has, or every user built from it
        would be refused."""
        cat = self.catalog
        for t in cat["templates"]:
            problems = []
            if t["cos"] not in cat["cos"]:
                problems.append(f"COS {t['cos']}")
            if t["cor"] not in cat["cor"]:
                problems.append(f"COR {t['cor']}")
            if t["language"] not in cat["languages"]:
                problems.append(f"language {t['language']!r}")
            if t["location"] is not None and t["location"] not in cat["locations"]:
                problems.append(f"location {t['location']!r}")
            if t["department"] is not None and t["department"] not in cat["departments"]:
                problems.append(f"department {t['department']!r}")
            models = {m["name"] for m in cat["device_models"]}
            problems += [f"model {p['model']!r}" for p in t["phones"]
                         if p["model"] is not None and p["model"] not in models]
            if problems:
                raise SeedError(f"template {t['name']!r} refers to unknown {', '.join(problems)}")

    def _load_state_file(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != STATE_FORMAT:
                raise SeedError(f"{path} has an unknown state format {data.get('format')!r}")
            self.revision = data["revision"]
            self._next_box_id = data["next_box_id"]
            self.system = data["system"]
            self.licences = data["licences"]
            self.capacity = data["capacity"]
            self.catalog = data["catalog"]
            self.users = {u["user_key"]: u for u in data["users"]}
            self.log = data["log"]
            self._rebuild()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SeedError(f"cannot load state file {path}: {exc}") from exc

    def _save(self) -> None:
        """Write the state file atomically, so a crash never leaves half a file, and readable
        by its owner only (0600): it holds the PBX's users, pins and SIP passwords."""
        if self._state_file is None:
            return
        tmp = self._state_file.with_name(f".{self._state_file.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # a leftover temporary file keeps its old mode otherwise
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self.snapshot(), fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self._state_file)

    def _record(self, op: str, user_key: str | None) -> None:
        self.revision += 1
        self.log.append({"seq": self.revision, "op": op, "user_key": user_key})
        del self.log[:-LOG_LIMIT]

    # ----- usage ---------------------------------------------------------------------

    def _group(self, name: str | None) -> dict[str, Any] | None:
        return next((g for g in self.catalog["groups"] if g["name"] == name), None)

    def _usage(self) -> dict[str, int]:
        return dict(self._held.usage)

    def _rebuild(self) -> None:
        """The tally of every user, from scratch (after a seed or a state file loads)."""
        self._holders: dict[tuple[str, str], str] = {("dn", dn): RESERVED for dn in self.catalog["reserved_dns"]}
        self._held = _Tally(self._holders)
        for key, user in self.users.items():
            self._count(self._held, key, user, +1)

    def _store(self, user_key: str, user: dict[str, Any] | None) -> None:
        """Replace (or remove, with None) a user, keeping the tally of every user up to date."""
        previous = self.users.get(user_key)
        if previous is not None:
            self._count(self._held, user_key, previous, -1)
        if user is None:
            self.users.pop(user_key, None)
        else:
            self.users[user_key] = user  # an update keeps the user's place in the listing
            self._count(self._held, user_key, user, +1)

    def _tally(self, exclude: str | None = None) -> _Tally:
        """The rest of the PBX: every user but `exclude`, from the kept tally."""
        usage, groups = dict(self._held.usage), dict(self._held.group_members)
        rest = _Tally(_Others(self._holders, exclude), usage, groups)
        user = self.users.get(exclude) if exclude is not None else None
        if user is not None:
            self._count(rest, exclude, user, -1)
        return rest

    def _count(self, tally: _Tally, user_key: str, user: dict[str, Any], sign: int) -> None:
        """Add one stored user to a tally (sign +1) or take it out (-1). Only the kept tally's
        numbers change; a view of the rest leaves them to `_Others`."""
        usage = tally.usage
        usage["users"] += sign
        usage["ip_users"] += sign
        group = self._group(user["group"])
        if group is not None:
            tally.group_members[group["name"]] = tally.group_members.get(group["name"], 0) + sign * len(user["phones"])
            if group["type"] == "mdug":
                usage["mdu"] += sign
        for phone in user["phones"]:
            usage["devices"] += sign
            for licence in _licence_uses(phone):
                usage[licence] += sign
            if tally is self._held:
                for number in _numbers(phone):
                    if sign > 0:
                        self._holders.setdefault(number, user_key)
                    elif self._holders.get(number) == user_key:
                        del self._holders[number]

    # ----- the PUT -------------------------------------------------------------------

    def _put(self, user_key: str, desired: UserIn, reject_dn: str | None, group_limit: bool = True,
             record: bool = True) -> PutResult:
        """`group_limit=False` skips the group member limit (legacy seed users only);
        `record=False` changes without a revision or log entry (seed loading)."""
        previous = self.users.get(user_key)
        tally = self._tally(exclude=user_key)  # the rest of the PBX: every user but this one
        user_errors = self._check_user(desired, previous, tally, group_limit)
        if user_errors:
            return PutResult(copy.deepcopy(previous), [], user_errors, changed=False)

        template = next(t for t in self.catalog["templates"] if t["name"] == desired.template)
        old_phones = {p["key"]: p for p in previous["phones"]} if previous else {}
        candidates = [self._build_phone(p, template) for p in desired.phones]
        others = tally.numbers

        rejected: dict[int, list[PbxError]] = {}
        for i, (phone_in, cand) in enumerate(zip(desired.phones, candidates)):
            errors = self._check_phone(i, phone_in, cand, others, reject_dn)
            if errors:
                rejected[i] = errors
        # A rejection keeps that phone's old numbers and licences, which can in turn collide
        # with a phone accepted so far; repeat until stable (rejections only grow).
        while conflicts := self._check_together(tally.usage, candidates, old_phones, rejected):
            for i, errors in conflicts.items():
                rejected.setdefault(i, []).extend(errors)

        phones, results = [], []
        for i, cand in enumerate(candidates):
            old = old_phones.get(cand["key"])
            if i in rejected:
                results.append(PhoneResult(cand["key"], "rejected", rejected[i]))
                if old is not None:
                    phones.append(old)
            else:
                cand["voicemail_box"] = self._voicemail_box(cand, old)
                results.append(PhoneResult(cand["key"], "applied"))
                phones.append(cand)
        desired_keys = {p.key for p in desired.phones}
        results += [PhoneResult(key, "removed") for key in old_phones if key not in desired_keys]

        user = {
            "user_key": user_key,
            "first_name": desired.first_name,
            "last_name": desired.last_name,
            "email": desired.email,
            "template": desired.template,
            "group": desired.group,
            "user_pin": desired.user_pin,
            "location": desired.location,
            "department": desired.department,
            "phones": phones,
        }
        changed = user != previous
        if changed:
            self._store(user_key, user)
            if record:
                self._record("create_user" if previous is None else "update_user", user_key)
        errors = [e for r in results for e in r.errors]
        return PutResult(copy.deepcopy(user), results, errors, changed)

    def _check_user(self, desired: UserIn, previous: dict[str, Any] | None, tally: _Tally,
                    group_limit: bool) -> list[PbxError]:
        cat = self.catalog
        errors = []

        def refuse(code: str, field: str | None, message: str, licence: str | None = None) -> None:
            errors.append(PbxError(code, field, message, licence=licence))

        for name, label in (("first_name", "first name"), ("last_name", "last name")):
            if not getattr(desired, name).strip():
                refuse("name_required", name, f"The user's {label} must not be empty.")
        if desired.email is not None and not EMAIL_RE.match(desired.email):
            refuse("email_invalid", "email", f"'{desired.email}' is not a valid e-mail address.")
        if desired.template not in {t["name"] for t in cat["templates"]}:
            refuse("unknown_template", "template", f"User template '{desired.template}' does not exist on this PBX.")
        if not PIN_RE.match(desired.user_pin):
            refuse("pin_invalid", "user_pin", "The user PIN must be digits only, at most 8 of them.")
        if desired.location is not None and desired.location not in cat["locations"]:
            refuse("unknown_location", "location", f"Location '{desired.location}' is not configured on this PBX.")
        if desired.department is not None and desired.department not in cat["departments"]:
            refuse("unknown_department", "department",
                   f"Department '{desired.department}' is not configured on this PBX.")
        if len(desired.phones) > MAX_PHONES_PER_USER:
            refuse("too_many_phones", "phones",
                   f"A user can have at most {MAX_PHONES_PER_USER} phones; {len(desired.phones)} were given.")

        usage = tally.usage  # without this user: the same for every check below
        if desired.group is not None:
            group = self._group(desired.group)
            if group is None:
                refuse("unknown_group", "group", f"Group '{desired.group}' does not exist on this PBX.")
            else:
                errors += self._check_group(desired, previous, group, tally, group_limit)
                was_mdu = previous is not None and (self._group(previous["group"]) or {}).get("type") == "mdug"
                if group["type"] == "mdug" and not was_mdu and usage["mdu"] >= self.licences["mdu"]:
                    refuse("licence_exhausted", "group", self._exhausted("mdu"), licence="mdu")
        if previous is None:
            if usage["users"] >= self.capacity["users"]:
                refuse("capacity_users", None,
                       f"The PBX already has its maximum of {self.capacity['users']} users.")
            if usage["ip_users"] >= self.licences["ip_users"]:
                refuse("licence_exhausted", None, self._exhausted("ip_users"), licence="ip_users")
        return errors

    def _check_group(self, desired: UserIn, previous: dict[str, Any] | None, group: dict[str, Any],
                     tally: _Tally, group_limit: bool) -> list[PbxError]:
        """Group members are phones (DNs), counted over every user in the group. Only growth is
        refused: a group seeded over its limit (legacy_group_limits) keeps its members, and a
        member may change or leave, but the group cannot grow while it is over."""
        members_elsewhere = tally.group_members.get(group["name"], 0)
        total = members_elsewhere + len(desired.phones)
        held = members_elsewhere + (len(previous["phones"]) if previous and previous["group"] == group["name"] else 0)
        if group_limit and total > MAX_GROUP_MEMBERS and total > held:
            return [PbxError("group_full", "group",
                             f"Group '{group['name']}' can hold at most {MAX_GROUP_MEMBERS} members; "
                             f"it would have {total}.")]
        if group["kind"] == "external_twin":
            types = sorted(
                "external" if p.type == "hot_desk" and p.external_phone is not None
                else "device" if p.type in ("desk_phone", "generic_sip") else "other"
                for p in desired.phones
            )
            if members_elsewhere or types != ["device", "external"]:
                return [PbxError("group_twin_invalid", "group",
                                 f"External twin group '{group['name']}' must hold exactly two phones of one user: "
                                 "a desk or SIP phone and a hot desk phone with an external number.")]
        return []

    def _exhausted(self, licence: str) -> str:
        return (f"No {LICENCE_NAMES[licence]} licence is left: all {self.licences[licence]} are in use.")

    def _build_phone(self, phone: PhoneIn, template: dict[str, Any]) -> dict[str, Any]:
        """The phone as it would be stored: normalised, template defaults filled in."""
        adv = phone.advanced.model_dump() if phone.advanced else {}
        defaults_from_template = {
            "cos_day": template["cos"], "cos_night1": template["cos"], "cos_night2": template["cos"],
            "cor_day": template["cor"], "cor_night1": template["cor"], "cor_night2": template["cor"],
            "language": template["language"],
        }
        advanced = {name: adv.get(name) if adv.get(name) is not None else value
                    for name, value in defaults_from_template.items()}
        model = phone.model
        if phone.type == "generic_sip" and model is None:
            model = next((m["name"] for m in self.catalog["device_models"] if m["type"] == "generic_sip"), None)
        mac = phone.mac
        if mac is not None and MAC_RE.match(mac):
            mac = mac.upper()
        return {
            "key": phone.key,
            "type": phone.type,
            "dn": phone.dn,
            "did": phone.did,
            "model": model,
            "mac": mac,
            "voicemail": phone.voicemail,
            "acd_agent": phone.acd_agent,
            "external_phone": {"number": phone.external_phone.number} if phone.external_phone else None,
            "advanced": advanced,
            "sip": phone.sip.model_dump() if phone.sip else None,
        }

    def _check_phone(self, index: int, phone: PhoneIn, cand: dict[str, Any],
                     others: dict[tuple[str, str], str], reject_dn: str | None) -> list[PbxError]:
        """Rules that hold for one phone on its own, against the rest of the PBX."""
        cat = self.catalog
        errors = []

        def refuse(code: str, field: str, message: str) -> None:
            errors.append(PbxError(code, f"phones[{index}].{field}", message, phone=phone.key))

        if reject_dn is not None and cand["dn"] == reject_dn:
            refuse("rejected", "dn", f"The PBX rejected the programming of DN {cand['dn']}.")
        if not DN_RE.match(cand["dn"]):
            refuse("dn_invalid", "dn", f"'{cand['dn']}' is not a valid directory number: use 1 to 7 digits, "
                                       "optionally after a prefix of up to 4 characters from 0-9 * #.")
        elif ("dn", cand["dn"]) in others:
            refuse("dn_in_use", "dn", _in_use("dn", cand["dn"], others))
        if cand["did"] is not None:
            if not is_e164(cand["did"]):
                refuse("did_invalid", "did",
                       f"'{cand['did']}' is not a valid DID: use E.164 ('+', the country code, then the number) "
                       "of a number that its country's numbering plan has.")
            elif ("did", cand["did"]) in others:
                refuse("did_in_use", "did", _in_use("did", cand["did"], others))

        models = {m["name"]: m["type"] for m in cat["device_models"]}
        kind = cand["type"]
        if kind == "desk_phone" and models.get(cand["model"]) != "desk_phone":
            choices = ", ".join(name for name, t in models.items() if t == "desk_phone")
            refuse("unknown_model", "model", f"'{cand['model']}' is not a desk phone model of this PBX; "
                                             f"choose one of {choices}.")
        if kind == "generic_sip" and models.get(cand["model"]) != "generic_sip":
            refuse("unknown_model", "model", f"'{cand['model']}' is not a generic SIP model of this PBX.")
        if kind == "generic_sip" and (phone.sip is None or not phone.sip.username or not phone.sip.password):
            refuse("sip_required", "sip", "A generic SIP phone needs a SIP username and password.")
        if kind == "hot_desk":
            if phone.model is not None:
                refuse("field_not_allowed", "model", "A hot desk profile has no device, so it has no model.")
            if phone.mac is not None:
                refuse("field_not_allowed", "mac", "A hot desk profile has no device, so it has no MAC address.")
            if phone.external_phone is not None:
                number = phone.external_phone.number
                if not number or not is_e164(number):
                    refuse("ehdu_number_required", "external_phone.number",
                           "An external hot desk user needs an external number in E.164 form ('+', the country "
                           "code, then the number) that its country's numbering plan has.")
        else:
            for name, label in (("acd_agent", "ACD agent"), ("external_phone", "an external phone")):
                if getattr(phone, name):
                    refuse("field_not_allowed", name, f"Only a hot desk profile can be {label}.")
        if kind != "generic_sip" and phone.sip is not None:
            refuse("field_not_allowed", "sip", "Only a generic SIP phone has SIP credentials.")
        if cand["mac"] is not None and kind != "hot_desk":
            if not MAC_RE.match(cand["mac"]):
                refuse("mac_invalid", "mac", f"'{cand['mac']}' is not a MAC address: use 12 hexadecimal digits.")
            elif ("mac", cand["mac"]) in others:
                refuse("mac_in_use", "mac", _in_use("mac", cand["mac"], others))

        adv = cand["advanced"]
        for name in ("cos_day", "cos_night1", "cos_night2"):
            if adv[name] not in cat["cos"]:
                refuse("unknown_cos", f"advanced.{name}", f"Class of service {adv[name]} does not exist on this PBX.")
        for name in ("cor_day", "cor_night1", "cor_night2"):
            if adv[name] not in cat["cor"]:
                refuse("unknown_cor", f"advanced.{name}",
                       f"Class of restriction {adv[name]} does not exist on this PBX.")
        if adv["language"] not in cat["languages"]:
            refuse("unknown_language", "advanced.language", f"Language '{adv['language']}' is not available.")
        return errors

    def _check_together(self, base: dict[str, int], candidates: list[dict[str, Any]],
                        old_phones: dict[str, dict[str, Any]],
                        rejected: dict[int, list[PbxError]]) -> dict[int, list[PbxError]]:
        """Rules between this user's phones: numbers unique among them, and licences and
        device capacity that new uses would exceed (`base`: the usage of every other user).
        Returns errors for phones not yet rejected."""
        kept = [old_phones[c["key"]] for i, c in enumerate(candidates) if i in rejected and c["key"] in old_phones]
        accepted = [i for i in range(len(candidates)) if i not in rejected]
        conflicts: dict[int, list[PbxError]] = {}

        def refuse(i: int, code: str, field: str, message: str, licence: str | None = None) -> None:
            path = f"phones[{i}].{field}" if field else f"phones[{i}]"
            error = PbxError(code, path, message, phone=candidates[i]["key"], licence=licence)
            conflicts.setdefault(i, []).append(error)

        holder = {}
        for phone in kept:
            holder.update(dict.fromkeys(_numbers(phone), f"phone {phone['key']} of this user, which keeps its settings"))
        for i in accepted:
            clashes = [number for number in _numbers(candidates[i]) if number in holder]
            for kind, value in clashes:
                refuse(i, f"{kind}_in_use", kind, _in_use(kind, value, holder))
            if not clashes:
                holder.update(dict.fromkeys(_numbers(candidates[i]), f"phone {candidates[i]['key']} of this user"))

        # Phones that already held a licence (or a device slot) keep it; only new uses can be refused.
        still = [i for i in accepted if i not in conflicts]
        for licence in ("ehdu", "acd_agents"):
            used = base[licence] + sum(licence in _licence_uses(p) for p in kept)
            fresh = []
            for i in still:
                if licence in _licence_uses(candidates[i]):
                    old = old_phones.get(candidates[i]["key"])
                    if old is not None and licence in _licence_uses(old):
                        used += 1
                    else:
                        fresh.append(i)
            for i in fresh:
                if used >= self.licences[licence]:
                    field = "external_phone" if licence == "ehdu" else "acd_agent"
                    refuse(i, "licence_exhausted", field, self._exhausted(licence), licence=licence)
                else:
                    used += 1
        devices = base["devices"] + len(kept) + sum(candidates[i]["key"] in old_phones for i in still)
        for i in still:
            if candidates[i]["key"] not in old_phones:
                if devices >= self.capacity["devices"]:
                    refuse(i, "capacity_devices", "",
                           f"The PBX already has its maximum of {self.capacity['devices']} devices.")
                else:
                    devices += 1
        return conflicts

    def _voicemail_box(self, phone: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any] | None:
        """Keep the box while the DN stays; a new DN means a new box, as on a MiVB."""
        if not phone["voicemail"]:
            return None
        if old is not None and old["voicemail_box"] is not None and old["voicemail_box"]["dn"] == phone["dn"]:
            return old["voicemail_box"]
        box = {"box_id": self._next_box_id, "dn": phone["dn"]}
        self._next_box_id += 1
        return box
