"""The chaos run, small, inside `make test`: 100 users created and configured through the
REST API while a worker is killed three times, the PBX process is killed and comes back,
the PBX errors and slows down, the API server is killed mid-burst and, on PostgreSQL, the
database is restarted (a private cluster: never the shared server). Then nothing may be
lost. `make chaos` is the long run (1,000 users; docs/reliability.md)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from switchboard.sync.models import SyncJob
from switchboard.testing.chaos import report
from switchboard.testing.chaos.cluster import private_cluster_available
from switchboard.testing.chaos.faults import FaultOptions
from switchboard.testing.chaos.run import ChaosOptions, run
from switchboard.testing.databases import temporary_database

pytestmark = pytest.mark.slow


def _database(backend: str, stack, tmp_path) -> tuple[str, bool]:
    """sqlite; on PostgreSQL a private cluster (restarted mid-run) when this machine has
    the server binaries, else a database on the shared server (no restart then)."""
    if backend == "sqlite":
        return "sqlite", False
    available, _ = private_cluster_available()
    if available:
        return "private", True
    return stack.enter_context(temporary_database("postgresql", tmp_path)), False


def test_the_chaos_run_loses_nothing(backend, tmp_path):
    from contextlib import ExitStack

    with ExitStack() as stack:
        database, restarts_database = _database(backend, stack, tmp_path)
        result = run(ChaosOptions(
            users=100, clients=4, database=database, seed=9, directory=tmp_path / "chaos", converge_timeout=240,
            faults=FaultOptions(sim_outage_seconds=10, error_phase_seconds=10, db_outage_seconds=3)))
    report.print_summary(result.figures, result.checks)
    assert result.ok, f"logs in {result.directory}\n{result.failures()}"
    faults = result.figures["faults"]
    assert faults["worker SIGKILL"] == 3
    assert faults["PBX process SIGKILL + restart"] == 1
    assert faults["API server SIGKILL + restart"] == 1
    assert faults["latency spikes (500 ms)"] >= 1
    assert faults.get("PostgreSQL stop (immediate) + start", 0) == (1 if restarts_database else 0)
    assert result.figures["pbx_users"] == 100


def test_the_checks_see_a_user_lost_on_the_pbx_and_a_lost_job(backend, tmp_path):
    """The invariants are not vacuous: after a quiet run, a user removed behind
    Switchboard's back on the PBX and a job row deleted are both reported, by name."""
    if backend != "sqlite":
        pytest.skip("checks the checks, whatever the engine: once, in the SQLite pass")
    broken: dict[str, str] = {}

    def sabotage(world) -> None:
        email, user_id = sorted(world.created.items())[0]
        world.sim.delete(f"/api/v1/users/{user_id}").raise_for_status()
        with world.engine.begin() as conn:
            job_id = conn.scalar(select(SyncJob.id).where(SyncJob.user_id == user_id).order_by(SyncJob.id.desc()))
            conn.execute(delete(SyncJob).where(SyncJob.id == job_id))
        broken["user"] = user_id

    result = run(ChaosOptions(users=6, clients=2, database="sqlite", directory=tmp_path / "chaos",
                              inject_faults=False, converge_timeout=120, before_checks=sabotage))
    failed = {check.name: check for check in result.checks if not check.ok}
    assert set(failed) == {
        "`switchboard mivb verify` finds no difference",
        "the PBX holds exactly the users and numbers of the database (GET /_sim/state)",
        "every job accounted for: one per change, ended succeeded or superseded, none open or lost",
    }, result.failures()
    assert f"missing on the PBX: {broken['user']}" in failed[
        "the PBX holds exactly the users and numbers of the database (GET /_sim/state)"].examples
    assert any("push jobs for" in e for e in failed[
        "every job accounted for: one per change, ended succeeded or superseded, none open or lost"].examples)
