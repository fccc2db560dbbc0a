"""The chaos run: set up, drive the clients while the faults happen, wait for the sync to
settle, check the invariants.

    python -m switchboard.testing.chaos [--users 1000] [--clients 6] [--database private|sqlite|URL]
                                        [--seed 9] [--write-docs docs/reliability.md]

`--database private` (the default) runs a PostgreSQL cluster of its own (initdb in a
temporary directory, a free port), so that it can be stopped mid-run; it is removed at the
end. SQLite, or a URL of an existing empty database, run every fault but the database
restart."""

from __future__ import annotations

import random
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import httpx

from switchboard.core.config import Settings
from switchboard.core.db import make_engine
from switchboard.migrations import upgrade
from switchboard.testing.chaos import checks, setup
from switchboard.testing.chaos.clients import Api, Client, ClientStats, Progress, UserPlan
from switchboard.testing.chaos.cluster import PrivateCluster
from switchboard.testing.chaos.faults import Chaos, FaultOptions
from switchboard.testing.chaos.processes import Processes, WorkerOptions, child_env


@dataclass
class ChaosOptions:
    users: int = 1000
    clients: int = 6
    workers: int = 2
    database: str = "private"  # "private", "sqlite" or a SQLAlchemy URL of an empty database
    seed: int = 9
    hot_desk_share: float = 0.2
    category: str = "Telephony"
    faults: FaultOptions = field(default_factory=FaultOptions)
    worker: WorkerOptions = field(default_factory=WorkerOptions)
    converge_timeout: float = 600.0
    directory: Path | None = None
    keep: bool = False  # keep the run's directory (logs, simulator state) even when all is well
    inject_faults: bool = True
    # Called once the sync has settled, before the checks (tests break things here to
    # prove that the checks see it).
    before_checks: Callable[[checks.World], None] | None = None


@dataclass
class ChaosResult:
    checks: list[checks.Check]
    figures: dict[str, Any]
    directory: Path

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def failures(self) -> str:
        return "\n".join(check.render() for check in self.checks if not check.ok)


def plan_users(options: ChaosOptions) -> list[UserPlan]:
    """Who is created, with what, by which client: the same for the same seed."""
    rng = random.Random(options.seed)
    plans = []
    for i in range(options.users):
        hot_desk = rng.random() < options.hot_desk_share
        plans.append(UserPlan(index=i, first_name=setup.FIRST_NAMES[i % len(setup.FIRST_NAMES)],
                              last_name=f"Chaos {i:05d}", email=f"chaos.{i:05d}@chaos.example",
                              category=options.category, hot_desk=hot_desk, client=rng.randrange(options.clients)))
    return plans


def _database(options: ChaosOptions, directory: Path) -> tuple[str, PrivateCluster | None, str]:
    if options.database == "private":
        cluster = PrivateCluster()
        try:
            cluster.init()
        except BaseException:
            cluster.destroy()
            raise
        return cluster.url, cluster, f"PostgreSQL {cluster.version()}, private cluster"
    if options.database == "sqlite":
        return f"sqlite:///{directory / 'switchboard.db'}", None, "SQLite"
    return options.database, None, "PostgreSQL (given URL; no restart)" if "postgres" in options.database else "given URL"


def run(options: ChaosOptions) -> ChaosResult:
    if not 1 <= options.users <= 2400:
        raise ValueError("--users must be between 1 and 2,400 (the simulated PBX holds 2,500)")
    directory = options.directory or Path(tempfile.mkdtemp(prefix="switchboard-chaos-"))
    directory.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    cluster = None
    processes = None
    try:
        url, cluster, engine_label = _database(options, directory)
        upgrade(url)
        env = child_env(url, secrets.token_urlsafe(32), directory)
        settings = Settings(database_url=url, secret_key=env["SWITCHBOARD_SECRET_KEY"], var_dir=directory)
        engine = make_engine(url)
        processes = Processes(env=env, directory=directory, worker_options=options.worker)
        sim_seed = setup.sim_seed(options.users)
        processes.start_sim(sim_seed)
        world = setup.seed_world(engine, settings, processes.sim.url, options.users)
        processes.start_server()
        for index in range(options.workers):
            processes.start_worker(index)
        token = setup.sign_in(processes.server_url, world)
        result = _drive(options, processes, engine, cluster, world, token, sim_seed, t0)
        result.figures["database"] = engine_label
        result.figures["setup"] = {"directory": str(directory)}
        engine.dispose()
        return ChaosResult(result.checks, result.figures, directory)
    finally:
        if processes is not None:
            processes.stop_all()
        if cluster is not None:
            cluster.destroy()


def _drive(options: ChaosOptions, processes: Processes, engine, cluster, world: setup.SeededWorld, token: str,
           sim_seed: dict, t0: float) -> ChaosResult:
    plans = plan_users(options)
    progress = Progress(len(plans), clients=options.clients)
    chaos = Chaos(processes, engine, progress, options.faults, random.Random(options.seed + 1), cluster, sim_seed,
                  t0)
    stats = [ClientStats() for _ in range(options.clients)]
    clients = [Client(n, Api(processes.server_url, token, stats[n]), world.account_id, world.categories)
               for n in range(options.clients)]
    faults = chaos.schedule() if options.inject_faults else []
    workload_start = time.monotonic()
    threads = [threading.Thread(target=client.run, args=([p for p in plans if p.client == client.number], progress),
                                name=f"client-{client.number}") for client in clients]
    runner = threading.Thread(target=chaos.run, args=(faults,), name="faults")
    runner.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    workload_end = time.monotonic()
    runner.join()
    last_fault_end = chaos.log.last_fault_end or workload_start

    total = ClientStats()
    for one in stats:
        total.add(one)
    created = {email: user_id for client in clients for email, user_id in client.created.items()}
    with httpx.Client(base_url=processes.server_url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as api, \
            processes.sim.client() as sim:
        view = checks.World(api=api, account_id=world.account_id, engine=engine, sim=sim, plans=plans,
                            created=created, env=processes.env)
        converged, _, summary = checks.wait_for_convergence(view, options.converge_timeout)
        converged_at = time.monotonic()
        after_fault, after_write = converged_at - last_fault_end, converged_at - progress.last_write
        if options.before_checks is not None:
            options.before_checks(view)
        results = [checks.Check("the sync settled with every user synced and no job open", converged,
                                f"{after_fault:.1f} s after the last fault, {after_write:.1f} s after the "
                                f"last client write; summary {summary.get('counts')}, "
                                f"{summary.get('jobs_in_flight')} jobs in flight",
                                [f"{f['name']}: {f['errors']}" for f in summary.get("failed", [])])]
        results.append(checks.check_clients(view, total.failures, total.duplicates_seen))
        results += [checks.check_users(view), checks.check_configs(view), checks.check_synced(view),
                    checks.check_verify(view)]
        pbx = sim.get("/_sim/state").raise_for_status().json()
        results += [checks.check_numbers(view, pbx), checks.check_pbx_matches(view, pbx)]
        jobs = checks.job_figures(view)
        results.append(checks.check_jobs(view, jobs))
    results.append(checks.Check("every fault ran as planned (/readyz red while the database was down, green after)",
                                not chaos.log.problems, f"{len(chaos.log.events)} faults; skipped: "
                                f"{', '.join(chaos.log.skipped) or 'none'}", chaos.log.problems))
    finished = jobs["states"].get("succeeded", 0) + jobs["states"].get("failed", 0)
    figures = {
        "users": len(plans), "clients": options.clients, "workers": options.workers, "seed": options.seed,
        "hot_desks": sum(p.hot_desk for p in plans), "phones": sum(len(p.expected_phones) for p in plans),
        "faults": dict(chaos.log.counts), "fault_events": chaos.log.events, "skipped": chaos.log.skipped,
        "requests": total.requests, "no_answer": total.no_answer, "server_errors": total.server_errors,
        "reconciled": total.reconciled, "jobs": jobs, "retried_attempts": jobs["attempts"] - finished,
        "workload_seconds": round(workload_end - workload_start, 1),
        "converge_seconds_after_last_fault": round(after_fault, 1) if converged else None,
        "converge_seconds_after_last_write": round(after_write, 1) if converged else None,
        "total_seconds": round(time.monotonic() - t0, 1), "pbx_revision": pbx["revision"],
        "pbx_users": len(pbx["users"]), "process_starts": dict(processes.starts),
        "nothing_lost": all(c.ok for c in results),
    }
    return ChaosResult(results, figures, Path())


def cleanup(result: ChaosResult, keep: bool) -> None:
    if result.ok and not keep:
        shutil.rmtree(result.directory, ignore_errors=True)
