"""The console's "Sync status" page of an account: per role (admins see it, a plain user
gets 404 on the page, its CSV and its forms), the PBX's words, "Retry" and "Retry all
failed" (CSRF, Post/Redirect/Get with a message), a refused retry, the filters, the CSV,
htmx polling while something is pending, and the links from the users list and the
navigation."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select

from switchboard.sync.models import SyncJob
from switchboard.sync.worker import RetryPolicy, Worker
from tests.console.helpers import csrf_from, sign_in


def _page(account_id: str, query: str = "") -> str:
    return f"/accounts/{account_id}/sync" + (f"?{query}" if query else "")


def _row(html: str, job_id: str) -> str:
    start = html.index(f'<tr id="sync-job-{job_id}"')
    return html[start:html.index("</tr>", start)]


@pytest.fixture
def refused(client, app, session_factory, mivb_account, sim_api):
    """A push the PBX refused (its DN), then the PBX accepts it again; and a push waiting."""
    m = mivb_account
    user_id = m.new_user("Telephony")
    desk = client.get(m.user_url(user_id, "/mivb"), headers=m.admin).json()["phones"][0]
    sim_api.post("/_sim/faults", json={"reject": {"dn": desk["dn"]}}).raise_for_status()
    Worker(session_factory, app.state.runtime, retry=RetryPolicy(600, 600, 3)).run_once()
    sim_api.delete("/_sim/faults").raise_for_status()
    failed = client.get(m.url("/mivb/sync/jobs?state=failed"), headers=m.admin).json()["items"]
    assert [i["user_id"] for i in failed] == [user_id]
    waiting = m.new_user("Entry")
    return {"user_id": user_id, "job_id": failed[0]["id"], "dn": desk["dn"], "waiting": waiting}


@pytest.mark.parametrize("role", ["partner_admin", "account_admin"])
def test_an_admin_sees_the_queue_with_the_pbx_words(client, mivb_account, tenant_a, refused, role):
    m = mivb_account
    sign_in(client, getattr(tenant_a, role).email)
    response = client.get(_page(m.account_id))
    assert response.status_code == 200
    html = response.text
    assert f'href="/accounts/{m.account_id}/sync"' in html  # the navigation links here
    row = _row(html, refused["job_id"])
    assert f"The PBX rejected the programming of DN {refused['dn']}." in row and "said the PBX" in row
    assert f'href="/accounts/{m.account_id}/users/{refused["user_id"]}"' in row  # the user page
    assert 'data-queue-state="failed"' in row and 'name="job_id"' in row and ">Retry<" in row
    assert 'data-count="failed">Failed <span class="count">1</span>' in html
    assert 'data-count="pending">Pending <span class="count">1</span>' in html
    assert "Retry all failed" in html and "Next attempt (UTC)" in html
    assert re.search(r'<time datetime="[^"]+">[A-Z][a-z]{2} \d', html)  # a waiting push: when, in English


def test_a_plain_user_finds_no_sync_page_nor_its_forms(client, mivb_account, tenant_a, refused):
    m = mivb_account
    sign_in(client, tenant_a.user.email)
    assert f'/accounts/{m.account_id}/sync"' not in client.get(f"/accounts/{m.account_id}/users/{tenant_a.user.id}").text
    for url in (_page(m.account_id), _page(m.account_id, "state=failed"), f"/accounts/{m.account_id}/sync/jobs.csv"):
        response = client.get(url)
        assert response.status_code == 404 and "Not found" in response.text, url
    token = csrf_from(client.get("/me/password").text)
    for action, data in (("retry-failed", {}), ("retry", {"job_id": refused["job_id"]})):
        response = client.post(f"/accounts/{m.account_id}/sync/{action}", data={**data, "csrf_token": token},
                               follow_redirects=False)
        assert response.status_code == 404, action
    assert client.get(m.url("/mivb/sync/jobs?state=failed"), headers=m.admin).json()["total"] == 1


def test_retry_all_failed_is_post_redirect_get_with_a_message(client, mivb_account, tenant_a, refused):
    m = mivb_account
    sign_in(client, tenant_a.account_admin.email)
    token = csrf_from(client.get(_page(m.account_id, "state=failed")).text)
    without_token = client.post(f"/accounts/{m.account_id}/sync/retry-failed", data={"state": "failed"},
                                follow_redirects=False)
    assert without_token.status_code == 403
    assert client.get(m.url("/mivb/sync/jobs?state=failed"), headers=m.admin).json()["total"] == 1

    sent = client.post(f"/accounts/{m.account_id}/sync/retry-failed", data={"state": "failed", "csrf_token": token},
                       follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == _page(m.account_id, "state=failed")
    html = client.get(sent.headers["location"]).text
    assert "1 failed push queued again." in html and "No push in this state." in html
    assert client.get(m.url("/mivb/sync/jobs?state=pending"), headers=m.admin).json()["total"] == 2

    again = client.post(f"/accounts/{m.account_id}/sync/retry-failed", data={"csrf_token": token},
                        follow_redirects=True)
    assert "No failed push to retry." in again.text


def test_retry_one_then_a_refused_retry(client, mivb_account, tenant_a, refused, session):
    m = mivb_account
    sign_in(client, tenant_a.partner_admin.email)
    token = csrf_from(client.get(_page(m.account_id)).text)
    sent = client.post(f"/accounts/{m.account_id}/sync/retry", data={"job_id": refused["job_id"],
                                                                      "csrf_token": token}, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == _page(m.account_id)
    assert "Pushing to the PBX again now." in client.get(sent.headers["location"]).text
    jobs = session.scalars(select(SyncJob).where(SyncJob.user_id == refused["user_id"]).order_by(SyncJob.id)).all()
    assert [(j.kind, j.state) for j in jobs] == [("push_user", "failed"), ("push_user", "queued")]

    # the same form again: that job is no longer failed; the page says so, nothing is queued
    refused_again = client.post(f"/accounts/{m.account_id}/sync/retry",
                                data={"job_id": refused["job_id"], "csrf_token": token})
    assert refused_again.status_code == 409
    assert "This job has not failed, or was retried since: nothing to retry." in refused_again.text
    assert 'id="errors-top"' in refused_again.text and 'id="sync-queue"' in refused_again.text
    session.expire_all()
    assert session.scalar(select(SyncJob.id).where(SyncJob.user_id == refused["user_id"]).order_by(
        SyncJob.id.desc()).limit(1)) == jobs[-1].id
    for job_id in ("0", "not-a-number", "9" * 40):
        missing = client.post(f"/accounts/{m.account_id}/sync/retry", data={"job_id": job_id, "csrf_token": token})
        assert missing.status_code == 404, job_id


def test_filters_polling_and_csv(client, app, session_factory, mivb_account, tenant_a, refused):
    m = mivb_account
    sign_in(client, tenant_a.account_admin.email)
    failed_only = client.get(_page(m.account_id, "state=failed")).text
    assert f'id="sync-job-{refused["job_id"]}"' in failed_only and failed_only.count('<tr id="sync-job-') == 1
    assert 'class="active" aria-current="page" data-count="failed"' in failed_only
    assert f'href="/accounts/{m.account_id}/sync/jobs.csv?state=failed"' in failed_only
    # something is pending: the queue part polls itself, and answers htmx with that part only
    assert f'hx-get="/accounts/{m.account_id}/sync?state=failed" hx-trigger="every 2s"' in failed_only
    fragment = client.get(_page(m.account_id, "state=failed"), headers={"HX-Request": "true"}).text
    assert fragment.lstrip().startswith('<div id="sync-queue"') and fragment.count('id="sync-queue"') == 1
    assert "<html" not in fragment and 'data-polling="on"' in fragment

    exported = client.get(f"/accounts/{m.account_id}/sync/jobs.csv?state=failed")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert [r["user_id"] for r in rows] == [refused["user_id"]]

    Worker(session_factory, app.state.runtime).run_once()  # the waiting push lands: nothing pending
    quiet = client.get(_page(m.account_id), headers={"HX-Request": "true"}).text
    assert 'data-polling="off"' in quiet and "hx-trigger" not in quiet
    assert 'id="sync-queue"' in quiet  # the target stays on the page


def test_the_users_list_leads_to_the_queue(client, mivb_account, tenant_a, refused):
    m = mivb_account
    sign_in(client, tenant_a.account_admin.email)
    html = client.get(f"/accounts/{m.account_id}/users").text
    assert re.search(rf'<a href="/accounts/{m.account_id}/sync"[^>]*>See the sync queue</a>', html)
    start = html.index(f'<tr id="user-{refused["user_id"]}"')
    row = html[start:html.index("</tr>", start)]
    assert f'<a href="/accounts/{m.account_id}/sync?state=failed"' in row and 'data-sync-state="failed"' in row


def test_the_page_speaks_french(client, mivb_account, tenant_a, refused):
    m = mivb_account
    sign_in(client, tenant_a.account_admin.email)
    token = csrf_from(client.get("/me/password").text)
    client.post("/language", data={"lang": "fr", "csrf_token": token})
    html = client.get(_page(m.account_id)).text
    # the PBX keeps its own words; dates in French, in UTC
    assert f"The PBX rejected the programming of DN {refused['dn']}." in html
    assert re.search(r'<time datetime="[^"]+">\d{1,2} [a-zéû]+\.? \d{4}', html)
