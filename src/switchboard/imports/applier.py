"""Applying an import file to an account, row by row, through the same services as a
single edit (so every rule of a single edit holds), each row in a savepoint: a refused
row leaves nothing, an unchanged row writes nothing (its savepoint is rolled back).

A row describes the user's whole MiVB configuration. Its phones are matched to the
user's phones by DN; a listed phone without a DN is new (or takes a phone its service
category's template has just created, of the same type); a phone of the user that the row
does not list is removed. A file without phone columns leaves phones alone; empty cells
keep what is there.

Rows that create users are applied in batches (`apply_batch`): each batch in one savepoint
whose services' flushes wait for its end (core.uow.batching_flushes), so its users,
services, phones and pushes go in a few INSERTs of many rows each. A batch that raises
anything is rolled back and applied again in halves, down to single rows, which go
through `apply`: what is refused is refused alone with the same errors, as if every row
had been applied one by one (tests/imports/test_import_batches.py holds the two ways equal)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, select

from switchboard.accounts import service as accounts
from switchboard.accounts.models import User
from switchboard.accounts.tenancy import require_account_admin
from switchboard.audit.service import MASK
from switchboard.core.context import ServiceContext
from switchboard.core.errors import ErrorItem, ServiceError, ValidationFailed
from switchboard.core.uow import batching_flushes
from switchboard.core.validation import normalize_email, phone_number
from switchboard.imports.csv_format import MAX_PHONES, PHONE_FIELDS, CsvFile, Row, phone_column
from switchboard.imports.exporter import user_row
from switchboard.jobs.runner import RowResult
from switchboard.mivb import limits
from switchboard.mivb import service as mivb
from switchboard.mivb.models import MivbService, Phone, ServiceCategory
from switchboard.mivb.phone_types import ADVANCED_FIELDS, PHONE_TYPES
from switchboard.mivb.schemas import normalise_mac
from switchboard.mivb.store import service_query
from switchboard.pbx.catalog import get_catalog

YES_NO = {"yes": True, "no": False}
_PHONE_FIELD_COLUMN = {"external_phone": "external_number", "external_phone.number": "external_number",
                       "confirm_dn_change": "dn"}
_SERVICE_FIELD_COLUMN = {"product": "mivb", "programming.group": "group", "programming.user_pin": "user_pin",
                         "programming.location": "location", "programming.department": "department"}


class _Unchanged(Exception):
    def __init__(self, user_id: str) -> None:
        self.user_id = user_id


class _RowRefused(Exception):
    def __init__(self, errors: list[ErrorItem]) -> None:
        self.errors = errors


def _column(field: str | None, phone: int | None) -> str | None:
    """The CSV column a service error's field is about."""
    if field is None:
        return phone_column(phone, "type") if phone else None
    if phone is not None:
        name = _PHONE_FIELD_COLUMN.get(field) or field.removeprefix("advanced.")
        return phone_column(phone, name) if name in PHONE_FIELDS else phone_column(phone, "type")
    return _SERVICE_FIELD_COLUMN.get(field, field)


def _as_cells(errors: list[ErrorItem], row: int, phone: int | None = None) -> list[ErrorItem]:
    return [ErrorItem(e.code, e.message, _column(e.field, phone), e.params, row=row) for e in errors]


def _email_keys(row: Row) -> tuple[str, ...]:
    """The keys a row's user may be found by (as typed, and as the e-mail is stored)."""
    email = row.get("email")
    return (email.strip().lower(), normalize_email(email)) if email else ()


def _problem(row: Row, column: str | None, code: str, message: str, **params: Any) -> ErrorItem:
    return ErrorItem(code, message, column, params, row=row.number)


class Importer:
    """Applies the rows of one file to one account (the caller's unit of work)."""

    def __init__(self, ctx: ServiceContext, account_id: str, csv_file: CsvFile) -> None:
        limits.applying_rows(ctx.session)  # each row checked, the locks taken only as it commits
        self.ctx = ctx
        self.account = require_account_admin(ctx, account_id)
        self.file = csv_file
        self.catalog = get_catalog(ctx, account_id, max_age=ctx.rt.dns_max_age_seconds)  # before any write: it may call the PBX
        self.categories = {c.name_key: c for c in ctx.session.scalars(
            select(ServiceCategory).where(ServiceCategory.account_id == account_id))}
        self.file_problems = self._whole_file_problems()
        # The users the rows name, read at once (the rows that create one add it).
        self.users = accounts.users_by_email(ctx, [key for row in csv_file.rows for key in _email_keys(row)])

    # ------------------------------------------------------------ whole-file rules

    def _whole_file_problems(self) -> dict[int, list[ErrorItem]]:
        """An e-mail or a DN already on an earlier row of the file: the later row is refused
        (the earlier one stands, so a partial import applies it)."""
        problems: dict[int, list[ErrorItem]] = {}
        first_email: dict[str, int] = {}
        first_dn: dict[str, int] = {}
        for row in self.file.rows:
            email = row.get("email").lower()
            if email and email in first_email:
                problems.setdefault(row.number, []).append(_problem(
                    row, "email", "duplicate_in_file", "This e-mail is already on row %(first)s of the file.",
                    first=first_email[email]))
            elif email:
                first_email[email] = row.number
            for n in range(1, MAX_PHONES + 1):
                dn = row.get(phone_column(n, "dn"))
                if dn and dn in first_dn:
                    problems.setdefault(row.number, []).append(_problem(
                        row, phone_column(n, "dn"), "duplicate_in_file", "DN %(dn)s is already on row %(first)s "
                        "of the file.", dn=dn, first=first_dn[dn]))
                elif dn:
                    first_dn[dn] = row.number
        return problems

    # ------------------------------------------------------------ one row

    def apply(self, row: Row) -> RowResult:
        email = row.get("email")
        problems = row.problems + self.file_problems.get(row.number, []) + self._cell_problems(row)
        if problems:
            return RowResult(row.number, email, "failed", errors=[p.as_stored() for p in problems])
        try:
            with self.ctx.session.begin_nested():  # the row's savepoint: kept unless the row raises
                status, user_id = self._apply(row)
                if status == "unchanged":
                    raise _Unchanged(user_id)  # nothing the row did is kept (not even a no-op push)
                limits.check(self.ctx.session)  # a row over a limit is refused alone
        except _Unchanged as unchanged:
            self._forget_rolled_back()
            return RowResult(row.number, email, "unchanged", unchanged.user_id)
        except _RowRefused as refused:
            self._forget_rolled_back()
            return RowResult(row.number, email, "failed", errors=[e.as_stored() for e in refused.errors])
        except ServiceError as exc:
            self._forget_rolled_back()
            return RowResult(row.number, email, "failed", errors=[e.as_stored() for e in _as_cells(exc.errors, row.number)])
        return RowResult(row.number, email, status, user_id)

    def creates_user(self, row: Row) -> bool:
        """Whether the row names no user of the database (one a rolled-back row made is none)."""
        user = self.users.get(row.get("email").strip().lower())
        return user is None or not inspect(user).persistent

    def apply_batch(self, rows: list[Row]) -> list[RowResult]:
        """Rows that create users, at once (see the module's doc); the results in order."""
        if len(rows) < 2:
            return [self.apply(row) for row in rows]
        refused = {row.number for row in rows
                   if row.problems or row.number in self.file_problems or self._cell_problems(row)}
        applied: dict[int, RowResult] = {}
        try:
            with self.ctx.session.begin_nested():
                with batching_flushes(self.ctx.session):
                    for row in rows:
                        if row.number not in refused:
                            status, user_id = self._apply(row)
                            applied[row.number] = RowResult(row.number, row.get("email"), status, user_id)
                limits.check(self.ctx.session)  # every count the batch raised, at once
        except Exception:  # noqa: BLE001 - whatever it was, the rows alone say it (or raise it again)
            # Not only a refusal: a rule that tries and catches (rules.template_group) may
            # meet the failure of the flush its query starts, which leaves the batch's
            # savepoint unusable (PendingRollbackError at the next statement).
            self._forget_rolled_back()
            half = len(rows) // 2
            return self.apply_batch(rows[:half]) + self.apply_batch(rows[half:])
        return [applied[row.number] if row.number in applied else self.apply(row) for row in rows]

    def _forget_rolled_back(self) -> None:
        """A rolled-back row's locks and objects are not this unit of work's any more."""
        self.ctx.forget("user", "service", "category")

    def _cell_problems(self, row: Row) -> list[ErrorItem]:
        """The cells' formats (the services check everything else)."""
        problems = []
        if not row.get("email"):
            problems.append(_problem(row, "email", "required", "This field is required."))
        if row.get("role") not in ("", "user", "account_admin"):
            problems.append(_problem(row, "role", "invalid_choice", "Must be one of: %(expected)s.",
                                     expected="user, account_admin"))
        if row.get("mivb") not in ("", "yes", "no"):
            problems.append(_problem(row, "mivb", "invalid_choice", "Must be one of: %(expected)s.", expected="yes, no"))
        category = row.get("service_category")
        if category and category.lower() not in self.categories:
            problems.append(_problem(row, "service_category", "unknown_category",
                                     "This account has no service category named %(name)s.", name=category))
        for n, cells in self._phones(row):
            if cells["type"] not in PHONE_TYPES:
                problems.append(_problem(row, phone_column(n, "type"), "invalid_choice", "Must be one of: %(expected)s.",
                                         expected=", ".join(PHONE_TYPES)))
            for name in ("voicemail", "acd_agent"):
                if cells[name] not in ("", "yes", "no"):
                    problems.append(_problem(row, phone_column(n, name), "invalid_choice",
                                             "Must be one of: %(expected)s.", expected="yes, no"))
            for name in ADVANCED_FIELDS[:-1]:
                if cells[name] and not (cells[name].isascii() and cells[name].isdigit()):
                    problems.append(_problem(row, phone_column(n, name), "invalid_number", "Must be a whole number."))
        return problems

    @staticmethod
    def _phones(row: Row) -> list[tuple[int, dict[str, str]]]:
        listed = []
        for n in range(1, MAX_PHONES + 1):
            cells = {name: row.get(phone_column(n, name)) for name in PHONE_FIELDS}
            if any(cells.values()):
                listed.append((n, cells))
        return listed

    def _apply(self, row: Row) -> tuple[str, str]:
        ctx, account_id = self.ctx, self.account.id
        key = row.get("email").strip().lower()
        user = self.users.get(key)
        if user is not None and not inspect(user).persistent:  # created by a row that was rolled back
            user = None
        if user is not None and user.account_id != account_id:
            raise ValidationFailed("email_taken", "A user with this e-mail already exists.", field="email")
        before = self._snapshot(user) if user is not None else None
        created = user is None
        if created:
            user = accounts.create_user(ctx, account_id, {
                "email": row.get("email"), "first_name": row.get("first_name"), "last_name": row.get("last_name"),
                "role": row.get("role") or "user"})
            self.users[key] = user
        else:
            changes = {name: row.get(name) for name in ("first_name", "last_name", "role")
                       if row.get(name) and row.get(name) != getattr(user, name)}
            if changes:
                accounts.update_user(ctx, account_id, user.id, changes)
        self._apply_service(row, user, created)
        if created:
            return "created", user.id
        return ("unchanged" if self._snapshot(user) == before else "updated"), user.id

    def _snapshot(self, user: User) -> tuple[dict[str, str], str | None]:
        service = self.ctx.session.scalar(service_query(user.id).execution_options(populate_existing=True))
        pin = (self.ctx.rt.secret_box.decrypt(service.user_pin_encrypted)
               if service is not None and service.user_pin_encrypted else None)
        return user_row(user, service), pin

    def _service(self, user_id: str) -> MivbService | None:
        """The user's service as this unit of work knows it (what it made or loaded first)."""
        return self.ctx.cache.get(("service", user_id)) or self.ctx.session.get(MivbService, user_id)

    def _apply_service(self, row: Row, user: User, created: bool) -> None:
        ctx, account_id = self.ctx, self.account.id
        service = None if created else self._service(user.id)
        wanted = row.get("mivb")
        if wanted == "no":
            if service is not None:
                mivb.remove_product(ctx, account_id, user.id, "mivb")
            return
        if wanted != "yes" and service is None:
            return
        if service is None:
            mivb.add_product(ctx, account_id, user.id, {"product": "mivb"})
            service = self._service(user.id)
        had = {p.id for p in service.phones}
        category = row.get("service_category")
        if category and self.categories[category.lower()].id != service.service_category_id:
            mivb.choose_category(ctx, account_id, user.id, {"service_category": self.categories[category.lower()].id},
                                 view=False)
            service = self._service(user.id)
        self._apply_programming(row, user, service)
        if self.file.has_phones and service.service_category_id is not None:
            self._apply_phones(row, user, self._service(user.id), had)

    def _apply_programming(self, row: Row, user: User, service: MivbService) -> None:
        changes: dict[str, Any] = {name: row.get(name) for name in ("group", "location", "department")
                                   if row.get(name) and row.get(name) != getattr(service, name)}
        pin = row.get("user_pin")
        if pin and pin not in (MASK, "auto"):
            current = self.ctx.rt.secret_box.decrypt(service.user_pin_encrypted) if service.user_pin_encrypted else ""
            if pin != current:
                changes["user_pin"] = pin
        if changes:
            mivb.update_config(self.ctx, self.account.id, user.id, {"programming": changes}, view=False)
        if pin == "auto":
            mivb.generate_user_pin(self.ctx, self.account.id, user.id)

    # ------------------------------------------------------------ phones

    def _apply_phones(self, row: Row, user: User, service: MivbService, had: set[str]) -> None:
        listed = self._phones(row)
        by_dn = {p.dn: p for p in service.phones}
        matched: dict[int, Phone] = {}
        for n, cells in listed:
            if cells["dn"] and cells["dn"] in by_dn:
                matched[n] = by_dn[cells["dn"]]
        fresh = [p for p in service.phones if p.id not in had and p not in matched.values()]
        for n, cells in listed:
            if not cells["dn"] and n not in matched:
                same_type = next((p for p in fresh if p.type == cells["type"]), None)
                if same_type is not None:
                    matched[n] = same_type
                    fresh.remove(same_type)
        for phone in [p for p in service.phones if p not in matched.values()]:
            self._phone_call(row, None, mivb.delete_phone, self.ctx, self.account.id, user.id, phone.id)
        for n, phone in matched.items():
            cells = dict(listed)[n]
            if cells["type"] != phone.type:
                raise _RowRefused([_problem(row, phone_column(n, "type"), "type_change",
                                            "DN %(dn)s is a %(type)s: a phone's type cannot change.",
                                            dn=phone.dn, type=phone.type)])
            changes = self._phone_changes(cells, phone, self.account.country)
            if changes:
                self._phone_call(row, n, mivb.update_phone, self.ctx, self.account.id, user.id, phone.id, changes)
        for n, cells in listed:
            if n not in matched:
                self._phone_call(row, n, mivb.add_phone, self.ctx, self.account.id, user.id, self._new_phone(cells))

    @staticmethod
    def _phone_call(row: Row, n: int | None, call, *args) -> Any:
        """A phone service call; its errors name the row's cells of phone n."""
        try:
            return call(*args)
        except ServiceError as exc:
            raise _RowRefused(_as_cells(exc.errors, row.number, n)) from None

    @staticmethod
    def _new_phone(cells: dict[str, str]) -> dict[str, Any]:
        data: dict[str, Any] = {"type": cells["type"]}
        for name in ("model", "mac", "dn", "did"):
            if cells[name]:
                data[name] = cells[name]
        for name in ("voicemail", "acd_agent"):
            if cells[name]:
                data[name] = YES_NO[cells[name]]
        if cells["external_number"]:
            data["external_phone"] = {"number": cells["external_number"]}
        advanced = {name: int(cells[name]) if name != "language" else cells[name]
                    for name in ADVANCED_FIELDS if cells[name]}
        if advanced:
            data["advanced"] = advanced
        return data

    @staticmethod
    def _phone_changes(cells: dict[str, str], phone: Phone, region: str | None) -> dict[str, Any]:
        kind = PHONE_TYPES[phone.type]
        changes: dict[str, Any] = {}
        if cells["model"] and cells["model"] != phone.model:
            changes["model"] = cells["model"]
        if cells["mac"] and kind.has_mac:
            try:
                mac = normalise_mac(cells["mac"])
            except Exception:
                mac = cells["mac"]  # let the service say what is wrong with it
            if mac != phone.mac:
                changes["mac"] = cells["mac"]
        if cells["did"] and not _same_number(cells["did"], phone.did, region):
            changes["did"] = cells["did"]
        for name in ("voicemail", "acd_agent"):
            if cells[name] and YES_NO[cells[name]] != getattr(phone, name):
                changes[name] = YES_NO[cells[name]]
        if cells["external_number"] and not _same_number(cells["external_number"], phone.external_number, region):
            changes["external_phone"] = {"number": cells["external_number"]}
        advanced = {}
        for name in ADVANCED_FIELDS:
            value = cells[name]
            if value and (int(value) if name != "language" else value) != getattr(phone, name):
                advanced[name] = int(value) if name != "language" else value
        if advanced:
            changes["advanced"] = advanced
        return changes



def _same_number(cell: str, stored: str | None, region: str | None) -> bool:
    """Whether a cell holds the stored number, however it is written ("06 12 34 56 78" is
    +33612345678 in a French account); a cell that is no number is a change the service refuses."""
    try:
        return phone_number(cell, region) == stored
    except ValueError:
        return False
