"""Real `switchboard worker` processes against the real simulator: a worker killed with
SIGKILL mid-batch, and two workers sharing 200 users while faults are injected."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from switchboard.core.uow import unit_of_work
from switchboard.mivb import service as mivb
from switchboard.sync import drift
from switchboard.sync.models import SyncJob, SyncStatus
from tests.sync.conftest import build_world, sim_users

pytestmark = pytest.mark.slow
OUTPUT = Path(__file__).resolve().parents[2] / "test-output"


def start_worker(factory, *extra: str, log: Path) -> subprocess.Popen:
    url = factory.kw["bind"].url.render_as_string(hide_password=False)
    env = {**os.environ, "SWITCHBOARD_DATABASE_URL": url, "SWITCHBOARD_SECRET_KEY": "sync-tests-secret"}
    return subprocess.Popen([sys.executable, "-m", "switchboard.cli", "worker", "--retry-base", "0.05",
                             "--retry-cap", "0.5", "--max-attempts", "1000", *extra],
                            env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_until(predicate, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
    return time.monotonic() - started


def job_states(world) -> dict[str, int]:
    with unit_of_work(world.factory) as session:
        return dict(session.execute(select(SyncJob.state, func.count()).where(SyncJob.account_id == world.account_id)
                                    .group_by(SyncJob.state)).all())


def sync_states(world) -> dict[str, int]:
    with unit_of_work(world.factory) as session:
        return dict(session.execute(select(SyncStatus.state, func.count())
                                    .where(SyncStatus.account_id == world.account_id)
                                    .group_by(SyncStatus.state)).all())


def record(name: str, figures: dict) -> None:
    OUTPUT.mkdir(exist_ok=True)
    (OUTPUT / f"{name}-{os.environ.get('SWITCHBOARD_TEST_DB', 'sqlite')}.json").write_text(json.dumps(figures, indent=2))
    print(name, json.dumps(figures))


def test_worker_killed_mid_batch_is_taken_over(committed_factory, runtime, sim, sim_api, tmp_path):
    world = build_world(committed_factory, runtime, sim)
    users = [world.configured_user("Telephony") for _ in range(12)]
    sim_api.post("/_sim/faults", json={"latency_ms": 400}).raise_for_status()
    first = start_worker(world.factory, "--threads", "1", "--lease", "3", log=tmp_path / "w1.log")
    try:
        wait_until(lambda: len(sim_users(sim_api)) >= 2, 30, "the first pushes")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        stop(first)
    with unit_of_work(world.factory) as session:
        orphaned = session.scalar(select(func.count()).select_from(SyncJob).where(
            SyncJob.account_id == world.account_id, SyncJob.state == "running")) or 0
    assert orphaned >= 1, "the kill should have left claimed jobs behind"
    sim_api.delete("/_sim/faults")
    second = start_worker(world.factory, "--threads", "2", "--lease", "3", log=tmp_path / "w2.log")
    try:
        seconds = wait_until(lambda: sync_states(world).get("synced") == len(users), 60, "convergence")
    finally:
        stop(second)
    assert job_states(world) == {"succeeded": len(users)}
    assert set(sim_users(sim_api)) == set(users)
    with unit_of_work(world.factory) as session:
        assert drift.verify(world.ctx(session), world.account_id) == []
    record("sync-kill", {"users": len(users), "jobs_left_running_by_the_kill": orphaned,
                         "seconds_to_converge_after_takeover": round(seconds, 2)})


def test_two_workers_share_200_users_under_faults(committed_factory, runtime, sim, sim_api, tmp_path, backend):
    if backend != "postgresql":
        pytest.skip("several worker processes share a queue on PostgreSQL (SKIP LOCKED)")
    world = build_world(committed_factory, runtime, sim)
    started = time.monotonic()
    users = [world.configured_user("Premium" if i % 3 == 0 else "Telephony") for i in range(200)]
    setup_seconds = time.monotonic() - started
    sim_api.post("/_sim/faults", json={"error_rate": 0.25, "latency_ms": 5}).raise_for_status()
    workers = [start_worker(world.factory, "--threads", "3", "--lease", "10", log=tmp_path / f"w{i}.log")
               for i in range(2)]
    started = time.monotonic()
    try:
        # while they work: a second change to 40 users, and the PBX down for two seconds
        time.sleep(1.0)
        for user_id in users[:40]:  # forty admins' saves, each its own request
            with unit_of_work(world.factory) as session:
                mivb.update_config(world.ctx(session), world.account_id, user_id, {"programming": {"location": "Lyon"}})
        sim_api.post("/_sim/faults", json={"down": True}).raise_for_status()
        time.sleep(2.0)
        sim_api.post("/_sim/faults", json={"down": False}).raise_for_status()
        seconds = wait_until(lambda: sync_states(world).get("synced") == len(users) and not (
            job_states(world).get("queued") or job_states(world).get("running")), 240, "convergence")
    finally:
        for worker in workers:
            stop(worker)
    faults = sim_api.get("/_sim/state").json()
    sim_api.delete("/_sim/faults").raise_for_status()  # verify reads the PBX: no injected errors now
    states = job_states(world)
    assert set(states) <= {"succeeded", "superseded"}, states
    assert states["succeeded"] >= len(users)
    with unit_of_work(world.factory) as session:
        attempts = session.scalar(select(func.sum(SyncJob.attempts)).where(SyncJob.account_id == world.account_id))
        retried = session.scalar(select(func.count()).select_from(SyncJob).where(
            SyncJob.account_id == world.account_id, SyncJob.attempts > 1))
        claimed_by = set(session.scalars(select(SyncJob.claimed_by).where(SyncJob.account_id == world.account_id,
                                                                          SyncJob.state == "succeeded")).all())
        assert drift.verify(world.ctx(session), world.account_id) == []
    assert len(claimed_by) >= 2, "both worker processes should have taken a share"
    # the faults had their effect: the PBX failed requests with injected errors and while
    # it was down, each such failure failed a push attempt, and each was tried again
    injected = faults["injected"]
    assert injected["errors"] >= 20 and injected["down"] >= 1, injected
    failed_attempts = attempts - states["succeeded"]
    assert failed_attempts >= injected["errors"] + injected["down"] - 5, (attempts, states, injected)
    assert retried >= 10, "jobs should have needed more than one attempt"
    on_pbx = sim_users(sim_api)
    assert set(on_pbx) == set(users)
    assert all(on_pbx[u]["location"] == "Lyon" for u in users[:40])  # the later state won everywhere
    record("sync-two-workers", {
        "users": len(users), "phones": sum(len(u["phones"]) for u in on_pbx.values()),
        "setup_seconds": round(setup_seconds, 1), "seconds_to_converge": round(seconds, 1),
        "jobs": states, "push_attempts": attempts, "failed_attempts_retried": failed_attempts, "jobs_retried": retried,
        "error_rate": 0.25, "pbx_down_seconds": 2, "worker_ids": len(claimed_by), "pbx_revision": faults["revision"],
        "injected_errors": injected["errors"], "refused_while_down": injected["down"],
    })


def test_a_bulk_change_while_workers_push_never_deadlocks(committed_factory, runtime, sim, sim_api, tmp_path, backend):
    """One unit of work changes 60 users (an import) while two workers finish pushes of
    the same users: the locks are taken in one order (jobs, then sync state), so nobody
    waits for the other in a circle."""
    if backend != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite has one writer)")
    world = build_world(committed_factory, runtime, sim)
    users = [world.configured_user("Telephony") for _ in range(60)]
    sim_api.post("/_sim/faults", json={"latency_ms": 20}).raise_for_status()
    workers = [start_worker(world.factory, "--threads", "4", "--lease", "10", log=tmp_path / f"b{i}.log")
               for i in range(2)]
    try:
        for round_ in range(3):
            time.sleep(0.3)
            with unit_of_work(world.factory) as session:
                for user_id in users:
                    mivb.update_config(world.ctx(session), world.account_id, user_id,
                                       {"programming": {"location": ("Lyon", "Paris", "Montreal")[round_]}})
        wait_until(lambda: sync_states(world).get("synced") == len(users) and not (
            job_states(world).get("queued") or job_states(world).get("running")), 120, "convergence")
    finally:
        for worker in workers:
            stop(worker)
        sim_api.delete("/_sim/faults")
    assert {u["location"] for key, u in sim_users(sim_api).items() if key in users} == {"Montreal"}
    for i in range(2):
        assert "deadlock" not in (tmp_path / f"b{i}.log").read_text().lower()
