"""The console's import form (Users > Import) through the test client, as a browser sends it."""

from __future__ import annotations

from switchboard.jobs.runner import JobRunner
from tests.console.helpers import csrf_from, sign_in


def test_the_uploaded_file_is_the_one_checked(client, app, session_factory, mivb_account, tenant_a):
    """The form's file reached the importer empty ("The file is empty") whatever was sent:
    the page looked for FastAPI's UploadFile class, not the one a parsed form holds."""
    m = mivb_account
    page = f"/accounts/{m.account_id}/users/import"
    sign_in(client, tenant_a.account_admin.email)
    csv = "email,first_name,last_name\nnew.person@example.org,Zoé,Nouvelle\n"
    sent = client.post(page, data={"csrf_token": csrf_from(client.get(page).text)},
                       files={"file": ("users.csv", csv.encode(), "text/csv")}, follow_redirects=False)
    assert sent.status_code == 303, sent.text
    assert JobRunner(session_factory, app.state.runtime).run_once()
    html = client.get(sent.headers["location"]).text
    assert "1 to create, 0 to update, 0 unchanged, 0 refused." in html
    assert "new.person@example.org" in html


def test_a_refused_all_or_nothing_apply_says_what_its_rows_would_have_done(
        client, app, session_factory, mivb_account, tenant_a, run_import):
    """It said "5 created" next to "Nothing was written", and marked its rows "created"."""
    m = mivb_account
    tag = m.account_id[:8]
    job = run_import(f"email,first_name,last_name,mivb,service_category\n"
                     f"would1@{tag}.example,Would,Be,yes,Entry\n"
                     f"would2@{tag}.example,Would,Not,yes,Platinum\n", mode="apply")
    assert job["state"] == "failed"
    sign_in(client, tenant_a.account_admin.email)
    html = client.get(f"/accounts/{m.account_id}/jobs/{job['id']}").text
    assert "1 to create, 0 to update, 0 unchanged, 1 refused." in html
    assert "created," not in html and "<td>created" not in html.replace("\n", "").replace(" ", "")
    assert "Nothing was written" in html


def test_a_partial_apply_summary_keeps_a_space_before_the_pushes(client, mivb_account, tenant_a, run_import):
    """The summary ran together: "0 refused.Pushes to the PBX: …"."""
    m = mivb_account
    job = run_import(f"email,first_name,last_name,mivb,service_category\n"
                     f"spaced@{m.account_id[:8]}.example,Spa,Ced,yes,Entry\n", mode="apply", on_error="partial")
    sign_in(client, tenant_a.account_admin.email)
    html = client.get(f"/accounts/{m.account_id}/jobs/{job['id']}").text
    assert "1 created, 0 updated, 0 unchanged, 0 refused. Pushes to the PBX:" in html
    assert "Nothing was written" not in html
