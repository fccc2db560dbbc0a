"""Reading a PBX's users that the account does not manage, and judging each: who it matches
in Switchboard (by e-mail), which service category it would get (the one whose template
it has; the caller may map templates to categories), and what stands in the way.

A conflict is an error (the user cannot be adopted as it is) or a warning (it can: the
numbers are kept and flagged)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from switchboard.accounts.models import User
from switchboard.accounts.tenancy import require_account_admin
from switchboard.core.context import ServiceContext
from switchboard.core.errors import message_source
from switchboard.core.i18n import N_
from switchboard.core.uow import end_read_transaction
from switchboard.mivb.models import MivbService, Phone, ServiceCategory
from switchboard.mivb.phone_types import PHONE_TYPES
from switchboard.mivb.rules import GROUP_MAX_PHONES, allowed
from switchboard.numbering.allocation import account_mappings, did_ranges_in_order, dn_ranges_in_order, mapped_did
from switchboard.numbering.spans import Span
from switchboard.pbx.connection import PbxUnavailable, open_connector, target_of
from switchboard.pbx.connector import PbxError
from switchboard.sync.drift import owned_keys, same_name

WARNINGS = frozenset({"dn_outside_ranges", "did_outside_ranges"})


@dataclass
class Conflict:
    code: str
    message: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def blocking(self) -> bool:
        return self.code not in WARNINGS

    def render(self, gettext=lambda text: text) -> str:
        text = gettext(self.message)
        return text % self.params if self.params else text

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.render(), "severity": "warning" if not self.blocking else "error"}

    def as_stored(self) -> dict[str, Any]:
        """as_json, with its message id and values (a job's result, shown later in French)."""
        return {**self.as_json(), **message_source(self.message, self.params)}


@dataclass
class Candidate:
    """One unmanaged PBX user, as read, with its match, category and conflicts."""

    key: str
    data: dict[str, Any]
    match: User | None = None
    category: ServiceCategory | None = None
    conflicts: list[Conflict] = field(default_factory=list)

    @property
    def adoptable(self) -> bool:
        return not any(c.blocking for c in self.conflicts)

    def view(self) -> dict[str, Any]:
        phones = [{name: phone.get(name) for name in ("key", "type", "dn", "did", "model", "mac", "voicemail",
                                                        "acd_agent", "external_phone")}
                  for phone in self.data.get("phones", []) if isinstance(phone, dict)]
        return {"key": self.key, "first_name": self.data.get("first_name"), "last_name": self.data.get("last_name"),
                "email": self.data.get("email"), "template": self.data.get("template"),
                "group": self.data.get("group"), "location": self.data.get("location"),
                "department": self.data.get("department"), "phones": phones,
                "match": {"user_id": self.match.id, "by": "email"} if self.match is not None else None,
                "service_category": self.category.id if self.category is not None else None,
                "service_category_name": self.category.name if self.category is not None else None,
                "adoptable": self.adoptable, "conflicts": [c.as_json() for c in self.conflicts]}


@dataclass
class PbxReading:
    pbx_users: int
    managed: int
    candidates: list[Candidate]


def read(ctx: ServiceContext, account_id: str, *, keys: set[str] | None = None,
         categories: dict[str, str] | None = None) -> PbxReading:
    """Reads the PBX (outside any write) and judges its unmanaged users."""
    require_account_admin(ctx, account_id)
    managed, removed = owned_keys(ctx, account_id)
    owned = set(managed) | set(removed)
    target = target_of(ctx, account_id)
    end_read_transaction(ctx.session)
    connector = open_connector(ctx, target)
    try:
        listing = [u for u in connector.list_users() if isinstance(u, dict) and isinstance(u.get("user_key"), str)]
        wanted = [u["user_key"] for u in listing if u["user_key"] not in owned and (keys is None or u["user_key"] in keys)]
        users = {key: data for key in wanted if isinstance(data := connector.read_user(key), dict)}
    except PbxError as exc:
        raise PbxUnavailable(exc.code, "The PBX's users cannot be read: %(reason)s", reason=exc.message) from None
    finally:
        connector.close()
    group_phones = Counter()
    for entry in listing:
        if entry.get("group"):
            group_phones[entry["group"]] += len(entry.get("dns") or [])
    candidates = [Candidate(key, users[key]) for key in wanted if key in users]
    _judge(ctx, account_id, candidates, group_phones, categories or {})
    return PbxReading(len(listing), len(managed), candidates)


def _judge(ctx: ServiceContext, account_id: str, candidates: list[Candidate], group_phones: Counter,
           mapping: dict[str, str]) -> None:
    session = ctx.session
    categories = session.scalars(select(ServiceCategory).where(ServiceCategory.account_id == account_id)
                                 .order_by(ServiceCategory.name_key)).all()
    by_id = {c.id: c for c in categories}
    emails = Counter((c.data.get("email") or "").strip().lower() for c in candidates if c.data.get("email"))
    keys = [(c.data.get("email") or "").strip().lower() for c in candidates if c.data.get("email")]
    users = {u.email_key: u for u in session.scalars(select(User).where(User.email_key.in_(keys)))} if keys else {}
    configured = set(session.scalars(select(MivbService.user_id).where(MivbService.account_id == account_id,
                                                                        MivbService.pbx_key.is_not(None))))
    spans = [Span.of_dn_range(r) for r in dn_ranges_in_order(session, account_id)]
    did_spans = [Span.of_did_range(r) for r in did_ranges_in_order(session, account_id)]
    mappings = account_mappings(session, account_id)
    dids = [p.get("did") for c in candidates for p in c.data.get("phones", []) if p.get("did")]
    held_elsewhere = set(session.scalars(select(Phone.did).where(Phone.did.in_(dids), Phone.account_id != account_id))) \
        if dids else set()
    for candidate in candidates:
        data = candidate.data
        email = (data.get("email") or "").strip().lower()
        if email and emails[email] > 1:
            candidate.conflicts.append(Conflict("email_duplicate", N_("%(count)s users of the PBX have the e-mail "
                                                "%(email)s."), {"count": emails[email], "email": data.get("email")}))
        user = users.get(email)
        if user is not None and user.account_id != account_id:
            candidate.conflicts.append(Conflict("email_taken", N_("A user of another account has the e-mail "
                                                                  "%(email)s."), {"email": data.get("email")}))
        elif user is not None and emails[email] == 1:
            candidate.match = user
            if user.id in configured:
                candidate.conflicts.append(Conflict("already_managed", N_("%(name)s already has a MiVoice Business "
                                                    "service in Switchboard."), {"name": user.full_name}))
            if (same_name(user.first_name), same_name(user.last_name)) != (
                    same_name(data.get("first_name") or ""), same_name(data.get("last_name") or "")):
                candidate.conflicts.append(Conflict(
                    "name_mismatch", N_("Switchboard calls this user %(ours)s, the PBX %(theirs)s: make them the same "
                                        "first."), {"ours": user.full_name,
                                                    "theirs": f"{data.get('first_name')} {data.get('last_name')}"}))
        candidate.category = _category(data, categories, by_id, mapping)
        if candidate.category is None:
            candidate.conflicts.append(Conflict("template_unmapped", N_("No service category uses the template "
                                                "%(template)s: choose one for it."), {"template": data.get("template")}))
        if data.get("group") and group_phones[data["group"]] > GROUP_MAX_PHONES:
            candidate.conflicts.append(Conflict("group_full", N_("The group %(name)s has %(count)s phones on the PBX, "
                                                "more than %(max)s."), {"name": data["group"],
                                                                       "count": group_phones[data["group"]],
                                                                       "max": GROUP_MAX_PHONES}))
        _judge_phones(candidate, spans, did_spans, mappings, held_elsewhere)
    _judge_licences(session, candidates)


def _judge_licences(session, candidates: list[Candidate]) -> None:
    """Adopting them all in order: who would find no licence of their category left."""
    used = dict(session.execute(select(MivbService.service_category_id, func.count())
                                .where(MivbService.service_category_id.in_({c.category.id for c in candidates
                                                                             if c.category is not None}))
                                .group_by(MivbService.service_category_id)).all()) if candidates else {}
    for candidate in candidates:
        category = candidate.category
        if category is None or not candidate.adoptable:
            continue
        if used.get(category.id, 0) >= category.licences:
            candidate.conflicts.append(Conflict("licence_exhausted", N_("No licence of the category %(name)s would "
                                                "be left (%(total)s)."), {"name": category.name,
                                                                           "total": category.licences}))
        else:
            used[category.id] = used.get(category.id, 0) + 1


def _category(data: dict[str, Any], categories, by_id, mapping: dict[str, str]) -> ServiceCategory | None:
    template = data.get("template")
    if template in mapping:
        return by_id.get(mapping[template])
    types = [p.get("type") for p in data.get("phones", [])]
    fitting = [c for c in categories if c.template == template and all(allowed(c, t) for t in types if t)]
    return fitting[0] if fitting else None


def _judge_phones(candidate: Candidate, spans, did_spans, mappings, held_elsewhere: set[str]) -> None:
    outside, mismatched = [], []
    for phone in candidate.data.get("phones", []):
        dn, did = phone.get("dn"), phone.get("did")
        if not isinstance(dn, str):
            continue
        if not any(dn in span for span in spans):
            outside.append(dn)
            continue
        expected = mapped_did(mappings, dn)
        if did and expected is not None and did != expected:
            mismatched.append(dn)
        elif did and not any(did in span for span in did_spans):
            candidate.conflicts.append(Conflict("did_outside_ranges", N_("DID %(did)s is in no DID range: it is kept "
                                                "and counted nowhere."), {"did": did}))
        if did in held_elsewhere:
            candidate.conflicts.append(Conflict("did_taken", N_("DID %(did)s belongs to another account."),
                                                {"did": did}))
        if candidate.category is not None and phone.get("type") in PHONE_TYPES \
                and not allowed(candidate.category, phone["type"]):
            candidate.conflicts.append(Conflict("phone_type_not_allowed", N_("The category %(name)s does not allow a "
                                                "phone of type %(type)s."), {"name": candidate.category.name,
                                                                             "type": phone["type"]}))
    if outside:
        candidate.conflicts.append(Conflict("dn_outside_ranges", N_("DN %(dns)s is in no DN range: kept as it is, "
                                            "and not handed out again."), {"dns": ", ".join(outside)}))
    if mismatched:
        candidate.conflicts.append(Conflict("did_mapping_mismatch", N_("The DID of DN %(dns)s is not the one its DID "
                                            "range maps to it."), {"dns": ", ".join(mismatched)}))
