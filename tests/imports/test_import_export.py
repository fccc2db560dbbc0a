"""Bulk CSV: export, import (dry run and apply, all or nothing or partial), the round trip,
and what a row means (phones matched by DN, empty cells keep, `****` keeps the pin)."""

from __future__ import annotations

import csv
import io

from sqlalchemy import func, select

from switchboard.audit.models import AuditEntry
from switchboard.jobs.runner import JobRunner
from switchboard.sync.models import SyncJob
from tests.console.helpers import sign_in
from tests.imports.conftest import errors_of, statuses


def _configured(client, m):
    """Users with every phone type, groups, pins and advanced settings."""
    premium = m.new_user("Premium")  # desk + SIP, an MDUG
    client.patch(m.user_url(premium, "/mivb"), headers=m.admin, json={"programming": {
        "user_pin": "4821", "location": "Lyon", "department": "Support"}})
    desk = next(p for p in client.get(m.user_url(premium, "/mivb"), headers=m.admin).json()["phones"]
                if p["type"] == "desk_phone")
    client.patch(m.user_url(premium, f"/mivb/phones/{desk['id']}"), headers=m.admin, json={
        "mac": "08:00:0f:aa:bb:01", "advanced": {"cos_day": 3, "cor_night1": 4, "language": "fr"}})
    agent = m.new_user("Telephony")
    response = client.post(m.user_url(agent, "/mivb/phones"), headers=m.admin, json={
        "type": "hot_desk", "acd_agent": True, "external_phone": {"number": "+33612345678"}})
    assert response.status_code == 201, response.text
    sip = m.new_user("Entry")
    client.patch(m.user_url(sip, "/mivb"), headers=m.admin, json={"programming": {"group": "Sales PRG"}})
    bare = m.new_user()
    product_only = m.new_user()
    client.post(m.user_url(product_only, "/products"), headers=m.admin, json={"product": "mivb"})
    return premium, agent, sip, bare, product_only


def _export(client, m) -> str:
    response = client.get(m.url("/users/export"), headers=m.admin)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    return response.text


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def _counts(session_factory) -> tuple[int, int]:
    with session_factory() as session:
        return (session.scalar(select(func.count()).select_from(AuditEntry)),
                session.scalar(select(func.count()).select_from(SyncJob)))


def test_export_then_import_changes_nothing(client, mivb_account, run_import, session_factory):
    m = mivb_account
    _configured(client, m)
    exported = _export(client, m)
    rows = _rows(exported)
    assert {r["phone1_type"] for r in rows} >= {"desk_phone", "generic_sip"}
    agent_row = next(r for r in rows if r["phone2_type"] == "hot_desk")
    assert agent_row["phone2_external_number"] == "'+33612345678"  # neutralised: a formula to a spreadsheet
    assert agent_row["phone2_acd_agent"] == "yes"
    before = _counts(session_factory)
    for mode in ("dry_run", "apply"):
        job = run_import(exported, mode=mode)
        assert job["state"] == "succeeded", job
        assert set(statuses(job).values()) == {"unchanged"}, errors_of(job)
    assert _counts(session_factory) == before  # nothing written, not even a push
    assert _export(client, m) == exported


def test_an_import_creates_users_with_their_service_and_phones(client, mivb_account, run_import):
    m = mivb_account
    tag = m.account_id[:8]
    text = ("email;first_name;last_name;mivb;service_category;location;user_pin;phone1_type;phone1_voicemail;"
            "phone2_type;phone2_acd_agent\r\n"
            f"ana@{tag}.example;Ana;Lee;yes;Telephony;Paris;4821;desk_phone;yes;hot_desk;yes\r\n"
            f"\"bo@{tag}.example\";\"Bo, Jr\";Kim;yes;Entry;;auto;generic_sip;no;;\r\n").encode("utf-8-sig")
    dry = run_import(text)
    assert statuses(dry) == {1: "created", 2: "created"}
    assert client.get(m.url(f"/users?search=ana@{tag}"), headers=m.admin).json()["total"] == 0  # nothing written
    job = run_import(text, mode="apply")
    assert job["state"] == "succeeded" and statuses(job) == {1: "created", 2: "created"}
    users = client.get(m.url(f"/users?search={tag}.example"), headers=m.admin).json()["items"]
    ana = next(u for u in users if u["first_name"] == "Ana")
    config = client.get(m.user_url(ana["id"], "/mivb?reveal=true"), headers=m.admin).json()
    assert config["service_category_name"] == "Telephony"
    assert config["programming"]["location"] == "Paris" and config["programming"]["user_pin"] == "4821"
    assert [(p["type"], p["voicemail"], p["acd_agent"]) for p in config["phones"]] == [
        ("desk_phone", True, False), ("hot_desk", True, True)]  # voicemail: the template's default
    desk = config["phones"][0]
    assert desk["dn"].startswith("20") and desk["did"] and config["sync"]["state"] == "pending"
    bo = next(u for u in users if u["first_name"] == "Bo, Jr")
    bo_config = client.get(m.user_url(bo["id"], "/mivb"), headers=m.admin).json()
    assert [p["type"] for p in bo_config["phones"]] == ["generic_sip"] and bo_config["programming"]["user_pin"] == "****"
    assert {r["sync_state"] for r in job["result"]["rows"]} == {"pending"}


def test_a_row_describes_the_whole_configuration(client, mivb_account, run_import):
    m = mivb_account
    premium, *_ = _configured(client, m)
    rows = _rows(_export(client, m))
    row = next(r for r in rows if r["location"] == "Lyon")
    kept_dn, removed_dn = row["phone1_dn"], row["phone2_dn"]
    row.update({"first_name": "Renamed", "location": "", "user_pin": "****", "phone1_voicemail": "no",
                "phone1_cos_day": "", "phone2_type": "hot_desk", "phone2_dn": "", "phone2_did": "",
                "phone2_model": "", "phone2_voicemail": "", "phone2_acd_agent": "yes"})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(row))
    writer.writeheader()
    writer.writerow(row)
    job = run_import(buffer.getvalue(), mode="apply")
    assert statuses(job) == {1: "updated"}, errors_of(job)
    config = client.get(m.user_url(premium, "/mivb?reveal=true"), headers=m.admin).json()
    user = client.get(m.user_url(premium), headers=m.admin).json()
    assert user["first_name"] == "Renamed"
    assert config["programming"]["location"] == "Lyon"  # empty keeps
    assert config["programming"]["user_pin"] == "4821"  # **** keeps
    phones = {p["dn"]: p for p in config["phones"]}
    assert kept_dn in phones  # matched by DN
    assert removed_dn not in phones or phones[removed_dn]["type"] == "hot_desk"  # the SIP phone, not listed, went
    assert phones[kept_dn]["voicemail"] is False and phones[kept_dn]["advanced"]["cos_day"] == 3
    assert [p["type"] for p in config["phones"]] == ["desk_phone", "hot_desk"]


def test_all_or_nothing_writes_nothing_partial_applies_the_valid_rows(client, mivb_account, run_import):
    m = mivb_account
    tag = m.account_id[:8]
    text = ("email,first_name,last_name,mivb,service_category\n"
            f"imp-one@{tag}.example,One,Valid,yes,Entry\n"
            f"imp-two@{tag}.example,Two,Refused,yes,Nonexistent\n"
            f"imp-three@{tag}.example,Three,Valid,yes,Entry\n")
    refused = run_import(text, mode="apply")
    assert refused["state"] == "failed"
    assert errors_of(refused) == {2: [("unknown_category", "service_category")]}
    assert client.get(m.url("/users?search=imp-"), headers=m.admin).json()["total"] == 0
    partial = run_import(text, mode="apply", on_error="partial")
    assert partial["state"] == "succeeded" and statuses(partial) == {1: "created", 2: "failed", 3: "created"}
    names = {u["last_name"] for u in client.get(m.url("/users?search=imp-"), headers=m.admin).json()["items"]}
    assert names == {"Valid"}


def test_file_level_problems_are_refused_before_any_work(client, mivb_account):
    m = mivb_account
    url = m.url("/imports?mode=dry_run")

    def post(body: bytes):
        return client.post(url, headers={**m.admin, "content-type": "text/csv"}, content=body)

    cases = {
        b"email,first_name,nickname\nx@y.example,X,Y\n": "unknown_column",
        b"first_name,last_name\nX,Y\n": "missing_column",
        "email,first_name\nzoë@y.example,Zoë\n".encode("latin-1"): "invalid_encoding",
        b"": "empty_file",
        b"email,email\nx@y.example,x@y.example\n": "duplicate_column",
        b"email\n" + b"a@b.example\n" * 10_001: "too_many_rows",
        b"\x00\x01\x02binary": "not_csv",
    }
    for body, code in cases.items():
        response = post(body)
        assert response.status_code == 422 and response.json()["errors"][0]["code"] == code, (code, response.text)
    too_big = post(b"email\n" + b"x" * (10 * 1024 * 1024))
    assert too_big.status_code == 413


def test_ragged_rows_and_bad_cells_are_reported_per_row_and_cell(mivb_account, run_import):
    tag = mivb_account.account_id[:8]
    job = run_import(f"email,first_name,last_name,role,mivb,phone1_type,phone1_voicemail\n"
                     f"a@{tag}.example,A,B,user,yes,desk_phone,yes,extra\n"
                     f"b@{tag}.example,A,B,boss,maybe,fax,perhaps\n"
                     f",A,B,,,,\n")
    assert errors_of(job) == {
        1: [("ragged_row", None)],
        2: [("invalid_choice", "role"), ("invalid_choice", "mivb"), ("invalid_choice", "phone1_type"),
            ("invalid_choice", "phone1_voicemail")],
        3: [("required", "email")],
    }
    assert all(e.get("row") for row in job["result"]["rows"] for e in row["errors"])


def test_the_result_downloads_as_csv_with_status_and_errors(client, mivb_account, run_import):
    m = mivb_account
    tag = m.account_id[:8]
    job = run_import(f"email,first_name,last_name,mivb,service_category\n"
                     f"ok@{tag}.example,Ok,Row,yes,Entry\nko@{tag}.example,Ko,Row,yes,Nope\n")
    result = client.get(f"/api/v1/jobs/{job['id']}/result.csv", headers=m.admin)
    assert result.status_code == 200 and result.headers["content-type"].startswith("text/csv")
    rows = _rows(result.text)
    assert [(r["email"], r["status"]) for r in rows] == [(f"ok@{tag}.example", "created"),
                                                        (f"ko@{tag}.example", "failed")]
    assert "service_category" in rows[1]["errors"] and rows[0]["errors"] == ""


def test_another_tenants_job_and_result_are_not_found(client, mivb_account, run_import, tenant_b, login):
    job = run_import("email\nsomeone@example.com\n")
    intruder = login(tenant_b.partner_admin.email)
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=intruder).status_code == 404
    assert client.get(f"/api/v1/jobs/{job['id']}/result.csv", headers=intruder).status_code == 404
    assert client.get(f"/api/v1/accounts/{mivb_account.account_id}/jobs", headers=intruder).status_code == 404
    assert client.get(f"/api/v1/jobs/{'0' * 32}", headers=intruder).status_code == 404


def test_jobs_are_listed_newest_first(client, mivb_account, run_import):
    first = run_import("email\na@example.com\n")
    second = run_import("email\nb@example.com\n")
    listed = client.get(mivb_account.url("/jobs"), headers=mivb_account.admin).json()
    assert [j["id"] for j in listed["items"]][:2] == [second["id"], first["id"]]


def test_a_killed_job_runs_again_from_scratch(client, app, session_factory, mivb_account, run_import):
    """A worker that dies mid-job leaves nothing committed; another takes it over when the
    lease has run out and applies the file once."""
    m = mivb_account
    tag = m.account_id[:8]
    text = "email,first_name,last_name,mivb,service_category\n" + "".join(
        f"killed-{i}@{tag}.example,K{i},Killed,yes,Entry\n" for i in range(3))
    submitted = client.post(m.url("/imports?mode=apply"), headers={**m.admin, "content-type": "text/csv"},
                            content=text.encode())
    job_id = submitted.json()["id"]
    dead = JobRunner(session_factory, app.state.runtime, worker_id="dead", lease_seconds=0)
    assert dead.claim() == job_id  # ... and dies before committing anything
    assert client.get(m.url("/users?search=killed-"), headers=m.admin).json()["total"] == 0
    JobRunner(session_factory, app.state.runtime, worker_id="heir").run_once()
    assert client.get(f"/api/v1/jobs/{job_id}", headers=m.admin).json()["state"] == "succeeded"
    dead.run(job_id)  # the dead worker wakes up: the job is no longer its own, it changes nothing
    users = client.get(m.url("/users?search=killed-"), headers=m.admin).json()
    assert users["total"] == 3


def test_a_pin_in_the_file_is_never_shown_back(client, mivb_account, run_import, tenant_a):
    m = mivb_account
    tag = m.account_id[:8]
    job = run_import(f"email,first_name,last_name,mivb,service_category,user_pin\n"
                     f"pin@{tag}.example,Pin,Holder,yes,Entry,4827\n")
    assert "4827" not in client.get(f"/api/v1/jobs/{job['id']}/result.csv", headers=m.admin).text
    sign_in(client, tenant_a.account_admin.email)
    page = client.get(f"/accounts/{m.account_id}/jobs/{job['id']}")
    assert page.status_code == 200 and "4827" not in page.text and "****" in page.text
