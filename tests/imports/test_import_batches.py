"""Rows that create users are applied in batches (imports/applier.py, `apply_batch`): the
services' flushes wait for the batch's end, and a batch that raises is applied again in
halves down to single rows. Whatever the file, the result must be the one of applying
every row alone: the same row results, users, services, phones and numbers, pushes, sync
states and change log. Each file below runs twice as a dry run (applied, then rolled
back), once in batches and once row by row, and what each run wrote is compared."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from sqlalchemy import select

from switchboard.accounts import service as accounts
from switchboard.accounts.models import User
from switchboard.core.uow import _AT_COMMIT
from switchboard.imports.applier import Importer
from switchboard.jobs import runner as job_runner
from switchboard.mivb.models import MivbService, Phone
from switchboard.pbx.models import MivbCatalog
from switchboard.sync.models import SyncJob, SyncStatus
from tests.imports.conftest import make_room
from tests.statements import counting_statements

HEADER = ("email,first_name,last_name,role,mivb,service_category,user_pin,phone1_type,phone1_dn,phone1_voicemail,"
          "phone2_type,phone2_acd_agent")


def _row(email: str, *, role: str = "", mivb: str = "yes", category: str = "Telephony", pin: str = "",
         dn: str = "", hot_desk: bool = False, name: str = "Batch") -> str:
    return ",".join([email, name, "Row", role, mivb, category if mivb == "yes" else "", pin,
                     "desk_phone" if mivb == "yes" else "", dn, "yes" if mivb == "yes" else "",
                     "hot_desk" if hot_desk else "", "yes" if hot_desk else ""])


def _clean_file(tag: str, rows: int) -> str:
    return "\n".join([HEADER] + [_row(f"clean{n}@{tag}.example", hot_desk=n % 5 == 0) for n in range(1, rows + 1)]) + "\n"


def _mixed_file(tag: str, existing_email: str) -> str:
    """Every way a row of a batch can fail, among rows that pass: limits reached in the
    middle of a batch, refused cells, an e-mail twice, DNs by name (one out of range), an
    existing user between new ones, a pin to generate, a user without the product."""
    rows = [_row(f"mixed{n}@{tag}.example", hot_desk=n == 5) for n in range(1, 11)]
    rows.append(_row(f"mixed11@{tag}.example", role="owner"))  # refused cell
    rows += [_row(f"mixed{n}@{tag}.example", category="Entry") for n in range(12, 17)]  # 3 Entry licences
    rows.append(_row(existing_email, name="Renamed"))  # an existing user: applied alone
    rows += [_row(f"mixed{n}@{tag}.example", hot_desk=n % 2 == 0) for n in range(18, 26)]  # ACD licences run out
    rows.append(_row(f"mixed26@{tag}.example", dn="300150"))
    rows.append(_row(f"mixed27@{tag}.example", dn="9999"))  # in no range
    rows.append(_row(f"mixed2@{tag}.example"))  # twice in the file
    rows += [_row(f"mixed{n}@{tag}.example", pin="auto" if n == 30 else "") for n in range(29, 36)]
    rows.append(_row(f"mixed36@{tag}.example", mivb="no"))
    rows += [_row(f"mixed{n}@{tag}.example") for n in range(37, 41)]
    return "\n".join([HEADER] + rows) + "\n"


def _labels(value: Any, names: dict[str, str]) -> Any:
    """`value` with every id replaced by what names it (a user's e-mail, a phone's DN);
    the id of what is gone (a template's phone the row replaced) by a mark."""
    if isinstance(value, dict):
        return {names.get(k, k): _labels(v, names) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_labels(v, names) for v in value]
    if not isinstance(value, str):
        return value
    return names.get(value, "(gone)" if re.fullmatch(r"[0-9a-f]{32}", value) else value)


def _written(session, account_id: str, secret_box) -> dict[str, Any]:
    users = session.scalars(select(User).where(User.account_id == account_id)).all()
    names = {u.id: u.email for u in users}
    phones = session.scalars(select(Phone).where(Phone.account_id == account_id)).all()
    names.update({p.id: f"phone {p.dn}" for p in phones})
    services = session.scalars(select(MivbService).where(MivbService.account_id == account_id)).all()
    columns = ("type", "position", "model", "mac", "dn", "did", "voicemail", "acd_agent", "external_number",
               "sip_username")
    return _labels({
        # (versions left out: they count a row's UPDATEs, fewer when a batch inserts it as it ends)
        "users": sorted((u.email, u.first_name, u.last_name, u.role) for u in users),
        "services": sorted((names[s.user_id], s.service_category_id, s.template, s.group, s.location, s.department,
                            s.language, s.desired_revision, s.pbx_key,
                            bool(s.user_pin_encrypted and secret_box.decrypt(s.user_pin_encrypted)))
                           for s in services),
        "phones": sorted((names[p.user_id], *(getattr(p, c) for c in columns)) for p in phones),
        "pushes": sorted((names.get(j.user_id, j.user_id), j.kind, j.state, j.revision, names.get(j.pbx_key, j.pbx_key))
                         for j in session.scalars(select(SyncJob).where(SyncJob.account_id == account_id))),
        "sync_states": sorted((names[s.user_id], s.state, sorted(names[p] for p in s.phones))
                              for s in session.scalars(select(SyncStatus).where(SyncStatus.account_id == account_id))),
        "change_log": sorted(repr(_labels({k: v for k, v in values.items() if k not in ("id", "at", "request_id")},
                                          names))
                             for _, _, values in session.info.get(_AT_COMMIT, [])),
    }, names)


@pytest.fixture
def both_ways(client, app, session_factory, mivb_account, monkeypatch, db_connection):
    """Runs a file as a dry run in batches, then row by row; returns what each run wrote
    (as its unit of work held it before the rollback), with its result and statements."""
    m = mivb_account
    original = job_runner.HANDLERS["import"]

    def run(data: str) -> list[dict[str, Any]]:
        runs = []
        for batches in (True, False):
            seen: dict[str, Any] = {}

            def handler(ctx, job, progress, checkpoint, seen=seen):
                results = original(ctx, job, progress, checkpoint)
                seen["written"] = _written(ctx.session, m.account_id, app.state.runtime.secret_box)
                return results

            with monkeypatch.context() as patch:
                patch.setitem(job_runner.HANDLERS, "import", handler)
                if not batches:
                    patch.setattr(Importer, "apply_batch", lambda self, rows: [self.apply(row) for row in rows])
                submitted = client.post(m.url("/imports?mode=dry_run&on_error=partial"),
                                        headers={**m.admin, "content-type": "text/csv"}, content=data.encode())
                assert submitted.status_code == 202, submitted.text
                with counting_statements(db_connection) as statements:
                    assert job_runner.JobRunner(session_factory, app.state.runtime).run_once()
            job = client.get(f"/api/v1/jobs/{submitted.json()['id']}", headers=m.admin).json()
            assert job["state"] == "succeeded", job
            runs.append({"rows": [(r["row"], r["status"], r["errors"]) for r in job["result"]["rows"]],
                         "written": seen["written"],
                         "statements": [" ".join(x.split()) for x in statements]})
        return runs

    return run


def test_a_clean_file_in_batches_writes_what_row_by_row_writes_in_far_fewer_statements(client, mivb_account,
                                                                                      both_ways):
    m = mivb_account
    make_room(client, m, 120, "300399")
    batched, alone = both_ways(_clean_file(m.account_id[:8], 120))
    assert batched["rows"] == alone["rows"]
    assert {status for _, status, _ in batched["rows"]} == {"created"}
    for key in batched["written"]:
        assert batched["written"][key] == alone["written"][key], key
    assert len(batched["written"]["phones"]) == 120 + 24
    print(f"statements: {len(batched['statements'])} in batches, {len(alone['statements'])} row by row")
    assert len(batched["statements"]) * 3 < len(alone["statements"])
    # The account's first DN range (50 numbers) is full after 50 phones: whether someone
    # gave a number back is asked once, not again for each of the other 94 phones.
    asked = [x for x in batched["statements"] if x.startswith("SELECT dn_ranges.next_hint, dn_ranges.given_back")]
    assert len(asked) <= 1


def test_a_file_whose_batches_fail_in_every_way_ends_as_row_by_row(client, mivb_account, both_ways):
    m = mivb_account
    make_room(client, m, 40, "300199")
    assert client.put(m.url("/mivb/licences"), headers=m.partner, json={"ehdu": 2, "acd_agent": 3}).status_code == 200
    existing = client.get(m.user_url(m.new_user("Telephony")), headers=m.admin).json()["email"]
    batched, alone = both_ways(_mixed_file(m.account_id[:8], existing))
    assert batched["rows"] == alone["rows"]
    refused = {row: [e["code"] for e in errors] for row, status, errors in batched["rows"] if status == "failed"}
    assert refused == {11: ["invalid_choice"], 15: ["licence_exhausted"], 16: ["licence_exhausted"],
                       22: ["licence_exhausted"], 24: ["licence_exhausted"], 27: ["dn_out_of_range"],
                       28: ["duplicate_in_file"]}, refused
    assert batched["written"] == alone["written"]
    assert len(batched["written"]["change_log"]) > 40


def test_a_flush_failing_inside_a_rule_that_tries_and_catches_sends_the_batch_row_by_row(
        client, mivb_account, run_import, session_factory, monkeypatch):
    """A user made by someone else after the import read the file's e-mails: row by row,
    creating it fails at once (email_taken). In a batch its INSERT waits, and the first
    query that flushes it may be the group check of a template with a group type, which
    tries each group and catches what it raises: the failed flush leaves the savepoint
    unusable. The batch must still end as row by row, not fail the job."""
    m = mivb_account
    tag = m.account_id[:8]
    taken = client.get(m.user_url(m.new_user()), headers=m.admin).json()["email"]
    with session_factory() as session, session.begin():  # Telephony's template gets a group type
        catalog = session.get(MivbCatalog, m.account_id)
        data = copy.deepcopy(catalog.data)
        for template in data["templates"]:
            if template["name"] == "Telephony User":
                template["group_type"] = "prg"
        catalog.data = data
    read = accounts.users_by_email

    def read_before_it_was_made(ctx, keys):  # the file's e-mails, read before `taken` was made
        found = read(ctx, keys)
        for key, user in list(found.items()):
            if user.email == taken:
                del found[key]
                ctx.cache[("email_free", key)] = True
        return found

    monkeypatch.setattr(accounts, "users_by_email", read_before_it_was_made)
    rows = [_row(f"late{n}@{tag}.example", name=f"Late{n}") for n in (1, 2)] + [_row(taken)] + [
        _row(f"late{n}@{tag}.example", name=f"Late{n}") for n in (4, 5)]
    job = run_import("\n".join([HEADER] + rows) + "\n", mode="apply", on_error="partial")
    assert job["state"] == "succeeded", job
    outcome = {r["row"]: (r["status"], [e["code"] for e in r["errors"]]) for r in job["result"]["rows"]}
    assert outcome == {1: ("created", []), 2: ("created", []), 3: ("failed", ["email_taken"]),
                       4: ("created", []), 5: ("created", [])}, outcome
    groups = {client.get(m.user_url(r["user_id"]) + "/mivb", headers=m.admin).json()["programming"]["group"]
              for r in job["result"]["rows"] if r["status"] == "created"}
    assert groups <= {"Sales PRG", "Support PRG"} and groups, groups
