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
