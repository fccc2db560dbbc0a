"""A dry run of a whole customer (2,500 users) finds exactly the errors planted in it, on
the right rows and cells; random files never make the server answer 5xx."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.imports.conftest import errors_of, make_room

USERS = 2500
HEADER = ("email,first_name,last_name,role,mivb,service_category,location,user_pin,"
          "phone1_type,phone1_model,phone1_mac,phone1_dn,phone1_voicemail,phone1_external_number,"
          "phone2_type,phone2_acd_agent")


# Ten kinds of error, each planted on five rows: (code, column, how the row is spoilt).
KINDS = [
    ("unknown_category", "service_category", {"service_category": "Platinum"}),
    ("invalid_choice", "role", {"role": "owner"}),
    ("duplicate_in_file", "email", {"email": "DUP"}),  # the e-mail of the row before
    ("duplicate_in_file", "phone1_dn", {"phone1_dn": "DUPDN"}),  # a DN of an earlier row
    ("pin_policy", "user_pin", {"user_pin": "1111"}),
    ("unknown_location", "location", {"location": "Atlantis"}),
    ("invalid_mac", "phone1_mac", {"phone1_mac": "not-a-mac"}),
    ("unknown_model", "phone1_model", {"phone1_model": "9999i"}),
    ("dn_out_of_range", "phone1_dn", {"phone1_dn": "OUT"}),  # a DN of no range
    ("field_not_allowed", "phone1_external_number", {"phone1_external_number": "+33612345678"}),
]


def _file(tag: str) -> tuple[str, dict[int, tuple[str, str]]]:
    rng = random.Random(8)
    rows = list(range(1, USERS + 1))
    planted_rows = rng.sample(rows[10:], len(KINDS) * 5)
    planted = {row: KINDS[i // 5] for i, row in enumerate(sorted(planted_rows, key=lambda r: rng.random()))}
    lines = [HEADER]
    for n in rows:
        cells = {"email": f"scale{n}@{tag}.example", "first_name": f"First{n}", "last_name": f"Last{n}",
                 "role": "", "mivb": "yes", "service_category": "Telephony", "location": "", "user_pin": "",
                 "phone1_type": "desk_phone", "phone1_model": "", "phone1_mac": "", "phone1_dn": "",
                 "phone1_voicemail": "yes", "phone1_external_number": "",
                 "phone2_type": "hot_desk" if n % 5 == 0 else "", "phone2_acd_agent": "yes" if n % 5 == 0 else ""}
        if n == 3:
            cells["phone1_dn"] = "303900"  # an explicit DN that a planted row repeats
        if n in planted:
            code, column, change = planted[n]
            cells.update(change)
            if cells["email"] == "DUP":
                cells["email"] = f"scale{n - 1}@{tag}.example".upper()
                if n - 1 in planted:  # keep every planted row the only error of its kind on its row
                    cells["email"] = f"scale1@{tag}.example"
            if cells["phone1_dn"] == "DUPDN":
                cells["phone1_dn"] = "303900"
            if cells["phone1_dn"] == "OUT":
                cells["phone1_dn"] = f"9{n:05d}"
        lines.append(",".join(cells[c] for c in HEADER.split(",")))
    return "\n".join(lines) + "\n", {n: (code, column) for n, (code, column, _) in planted.items()}


def test_a_dry_run_of_2500_users_reports_exactly_the_50_planted_errors(client, mivb_account, run_import):
    m = mivb_account
    make_room(client, m, USERS, "303999")
    text, planted = _file(m.account_id[:8])
    job = run_import(text)
    assert job["state"] == "succeeded" and job["progress"] == {"done": USERS, "total": USERS}
    found = errors_of(job)
    assert found == {row: [expected] for row, expected in planted.items()}
    assert job["result"]["created"] == USERS - 50 and job["result"]["failed"] == 50


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(
    st.binary(max_size=400),
    st.lists(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12), max_size=6),
             max_size=6).map(lambda rows: "\n".join(",".join(r) for r in rows).encode("utf-8")),
    st.lists(st.sampled_from(["email", "first_name", "last_name", "role", "mivb", "service_category",
                              "phone1_type", "phone1_dn", "phone1_voicemail", "user_pin", "x@y.example",
                              "yes", "no", "desk_phone", "hot_desk", "2001", "auto", "****", "'=1+1", ""]),
             min_size=1, max_size=20)
    .map(lambda cells: (",".join(cells[:5]) + "\n" + ",".join(cells[5:])).encode("utf-8")),
))
def test_random_files_never_answer_5xx(client, mivb_account, run_import, data):
    m = mivb_account
    response = client.post(m.url("/imports?mode=dry_run"), headers={**m.admin, "content-type": "text/csv"},
                           content=data)
    assert response.status_code in (202, 413, 422), response.text
    if response.status_code == 202:
        from switchboard.jobs.runner import JobRunner

        runner = JobRunner(client.app.state.session_factory, client.app.state.runtime)
        assert runner.run_once()
        job = client.get(f"/api/v1/jobs/{response.json()['id']}", headers=m.admin).json()
        assert job["state"] == "succeeded"
        assert not job["result"]["errors"]  # no row made the job itself fail
