"""Query-count baseline of a bulk import: the statements an applied row costs stay where
they are (34 per row before the importer read its users at once and a transaction kept
its counts, locks and settings; 15 after; 9.5 since the change log is inserted at commit
and the template's programming is one UPDATE; 1.5-2 since rows that create users are
applied in batches, flushed at once). A change that adds a query per row fails here."""

from __future__ import annotations

from sqlalchemy import func, select

from switchboard.jobs.runner import JobRunner
from switchboard.mivb.models import Phone
from switchboard.sync.models import SyncJob
from tests.imports.conftest import make_room
from tests.statements import counting_statements

ROWS = 60
# Measured: 1.93 statements a row on SQLite, 1.47 on PostgreSQL (a desk phone from the
# template, every 5th row a hot desk ACD agent besides), fixed costs included (9.45 row by
# row). The margin is for the fixed costs only.
MAX_PER_ROW = 2.5
HEADER = "email,first_name,last_name,mivb,service_category,phone1_type,phone1_voicemail,phone2_type,phone2_acd_agent"


def test_an_applied_row_costs_at_most_2_and_a_half_statements(client, app, session_factory, db_connection, mivb_account):
    m = mivb_account
    make_room(client, m, ROWS, "300999")
    lines = [HEADER] + [f"count{n}@{m.account_id[:8]}.example,First{n},Last{n},yes,Telephony,desk_phone,yes,"
                        + ("hot_desk,yes" if n % 5 == 0 else ",") for n in range(1, ROWS + 1)]
    submitted = client.post(m.url("/imports?mode=apply&on_error=all_or_nothing"),
                            headers={**m.admin, "content-type": "text/csv"}, content="\n".join(lines) + "\n")
    assert submitted.status_code == 202, submitted.text

    with counting_statements(db_connection) as statements:
        assert JobRunner(session_factory, app.state.runtime).run_once()

    job = client.get(f"/api/v1/jobs/{submitted.json()['id']}", headers=m.admin).json()
    assert job["state"] == "succeeded" and job["result"]["created"] == ROWS, job["result"]
    with session_factory() as session:
        phones = session.execute(select(Phone.dn, Phone.did).where(Phone.account_id == m.account_id)).all()
        assert len({dn for dn, _ in phones}) == len(phones) == ROWS + ROWS // 5  # one DN each, none twice
        dids = [did for _, did in phones if did is not None]
        assert len(dids) == len(set(dids))
        pushes = session.scalar(select(func.count()).select_from(SyncJob).where(
            SyncJob.account_id == m.account_id, SyncJob.kind == "push_user", SyncJob.state == "queued"))
        assert pushes == ROWS  # one push per user created, its phones with it
    per_row = len(statements) / ROWS
    print(f"{per_row:.2f} statements per row")
    assert per_row <= MAX_PER_ROW, f"{per_row:.1f} statements per row"


def test_licences_counted_once_stay_exact_through_the_rows(client, mivb_account, run_import):
    """The counts a transaction keeps itself follow every row: a product removed by one row
    frees its licence for a later row; the row past the last licence is refused."""
    m = mivb_account  # Entry: 3 licences
    leaving, staying = m.new_user("Entry"), m.new_user("Entry")
    email = client.get(m.user_url(leaving), headers=m.admin).json()["email"]
    tag = m.account_id[:8]
    text = ("email,first_name,last_name,mivb,service_category\n"
            f"new1@{tag}.example,New,One,yes,Entry\n"
            f"{email},,,no,\n"
            f"new2@{tag}.example,New,Two,yes,Entry\n"
            f"new3@{tag}.example,New,Three,yes,Entry\n")
    job = run_import(text, mode="apply", on_error="partial")
    rows = {row["row"]: (row["status"], [e["code"] for e in row["errors"]]) for row in job["result"]["rows"]}
    assert rows == {1: ("created", []), 2: ("updated", []), 3: ("created", []),
                    4: ("failed", ["licence_exhausted"])}
    entry = client.get(m.url(f"/mivb/service-categories/{m.categories['Entry']}"), headers=m.admin).json()
    assert entry["licences_used"] == 3 and staying
