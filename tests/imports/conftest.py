"""Helpers for the bulk CSV tests: submit through the API, run the job as a worker would."""

from __future__ import annotations

import pytest

from switchboard.jobs.runner import JobRunner


@pytest.fixture
def run_import(client, app, session_factory, mivb_account):
    """Submits a CSV through the API and runs its job; returns the job as the API shows it."""
    m = mivb_account

    def _run(data: bytes | str, mode: str = "dry_run", on_error: str = "all_or_nothing",
             headers: dict | None = None) -> dict:
        body = data.encode("utf-8") if isinstance(data, str) else data
        submitted = client.post(m.url(f"/imports?mode={mode}&on_error={on_error}"),
                                headers={**(headers or m.admin), "content-type": "text/csv"}, content=body)
        assert submitted.status_code == 202, submitted.text
        runner = JobRunner(session_factory, app.state.runtime)
        assert runner.run_once()
        job = client.get(f"/api/v1/jobs/{submitted.json()['id']}", headers=headers or m.admin)
        assert job.status_code == 200, job.text
        return job.json()

    return _run


def make_room(client, m, users: int, last_dn: str) -> None:
    """Room for a whole PBX: DNs 300000 to `last_dn`, mapped by as many DIDs, and licences
    for `users` users (each with a desk phone, hot desks with an ACD agent besides)."""
    count = int(last_dn) - 300000
    assert client.post(m.url("/mivb/dn-ranges"), headers=m.partner,
                       json={"start": "300000", "end": last_dn}).status_code == 201
    assert client.post(m.url("/mivb/did-ranges"), headers=m.partner, json={
        "start": "+33150000000", "end": f"+3315{count:07d}", "first_dn": "300000"}).status_code == 201
    assert client.patch(m.url(f"/mivb/service-categories/{m.categories['Telephony']}"), headers=m.partner,
                        json={"licences": users}).status_code == 200
    assert client.put(m.url("/mivb/licences"), headers=m.partner,
                      json={"ehdu": 2, "acd_agent": users}).status_code == 200


def statuses(job: dict) -> dict[int, str]:
    return {row["row"]: row["status"] for row in job["result"]["rows"]}


def errors_of(job: dict) -> dict[int, list[tuple[str, str]]]:
    return {row["row"]: [(e["code"], e.get("field")) for e in row["errors"]]
            for row in job["result"]["rows"] if row["errors"]}
