"""The faults of the chaos run, in order, each at its place in the workload (a fraction of
the users handed out to the clients), run one after the other by one thread."""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

import httpx
from sqlalchemy import Engine, func, select

from switchboard.sync.models import SyncJob
from switchboard.testing.chaos.clients import Progress
from switchboard.testing.chaos.cluster import PrivateCluster
from switchboard.testing.chaos.processes import Processes


@dataclass
class FaultOptions:
    sim_outage_seconds: float = 10.0
    error_rate: float = 0.2
    latency_ms: int = 500
    error_phase_seconds: float = 20.0   # at least this long, with latency spikes inside
    spike_on_seconds: float = 1.0
    spike_off_seconds: float = 2.0
    db_outage_seconds: float = 5.0


@dataclass
class Fault:
    name: str
    at: float  # fraction of the users handed out
    action: Callable[[], dict[str, Any]]


@dataclass
class FaultLog:
    counts: Counter = field(default_factory=Counter)
    events: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # a fault that did not go as planned
    skipped: list[str] = field(default_factory=list)
    last_fault_end: float | None = None


class Chaos:
    """Runs the faults against the processes; everything it did is in `log`."""

    def __init__(self, processes: Processes, engine: Engine, progress: Progress, options: FaultOptions,
                 rng: random.Random, cluster: PrivateCluster | None, sim_seed: dict, t0: float) -> None:
        self.p = processes
        self.engine = engine
        self.progress = progress
        self.options = options
        self.rng = rng
        self.cluster = cluster
        self.sim_seed = sim_seed
        self.t0 = t0
        self.log = FaultLog()
        self._spikes_stop = threading.Event()
        self._spikes: threading.Thread | None = None
        self._errors_since = 0.0

    def schedule(self) -> list[Fault]:
        faults = [
            Fault("kill worker 1", 0.08, lambda: self.kill_worker(0)),
            Fault("PBX process down", 0.18, self.sim_outage),
            Fault("PBX errors and latency spikes start", 0.30, self.errors_start),
            Fault("kill worker 2", 0.38, lambda: self.kill_worker(1 % len(self.p.workers))),
            Fault("kill API server", 0.48, self.kill_api),
            Fault("PBX errors and latency spikes stop", 0.58, self.errors_stop),
            Fault("kill worker 1 again", 0.68, lambda: self.kill_worker(0)),
        ]
        if self.cluster is not None:
            faults.append(Fault("PostgreSQL restart", 0.80, self.db_restart))
        else:
            self.log.skipped.append("PostgreSQL restart (needs the private cluster)")
        return faults

    def now(self) -> float:
        return round(time.monotonic() - self.t0, 1)

    def sim_client(self) -> httpx.Client:
        return self.p.sim.client()

    # ---------------------------------------------------------------- running

    def run(self, faults: list[Fault]) -> None:
        total = self.progress.total
        thresholds = [min(total - 1, max(1, math.ceil(f.at * total))) for f in faults]
        self.progress.open_gate(thresholds[0] if faults else total)
        for i, fault in enumerate(faults):
            if not self.progress.wait_started(thresholds[i]):
                self.log.problems.append(f"{fault.name}: the clients stopped before user {thresholds[i]}")
            self.progress.open_gate(thresholds[i + 1] if i + 1 < len(faults) else total)
            started = self.now()
            try:
                details = fault.action()
            except Exception as exc:  # report it with the rest; the checks still run
                details = {"error": f"{type(exc).__name__}: {exc}"}
                self.log.problems.append(f"{fault.name}: {type(exc).__name__}: {exc}")
            self.log.events.append({"fault": fault.name, "at_user": thresholds[i], "start_s": started,
                                    "end_s": self.now(), **details})
            self.log.last_fault_end = time.monotonic()
        self.progress.open_gate(total)

    def _pause(self) -> None:
        """A moment for the burst the gate just released to be under way."""
        time.sleep(self.rng.uniform(0.3, 1.2))

    # ---------------------------------------------------------------- the faults

    def kill_worker(self, index: int) -> dict[str, Any]:
        self._pause()
        victim = self.p.workers[index]
        Processes.kill(victim)
        with self.engine.connect() as conn:
            orphaned = conn.scalar(select(func.count()).select_from(SyncJob).where(
                SyncJob.state == "running", SyncJob.claimed_by.like(f"%:{victim.pid}:%"))) or 0
        self.p.start_worker(index)
        self.log.counts["worker SIGKILL"] += 1
        self.log.counts["jobs left running by a killed worker"] += orphaned
        return {"pid": victim.pid, "jobs_left_running": orphaned}

    def sim_outage(self) -> dict[str, Any]:
        self._pause()
        port = self.p.sim_port
        Processes.kill(self.p.sim.process)
        down = time.monotonic()
        time.sleep(self.options.sim_outage_seconds)
        self.p.start_sim(self.sim_seed, port=port)
        seconds = round(time.monotonic() - down, 1)
        self.log.counts["PBX process SIGKILL + restart"] += 1
        self.log.counts["PBX down (s)"] += seconds
        return {"down_s": seconds, "port": port}

    def errors_start(self) -> dict[str, Any]:
        with self.sim_client() as sim:
            sim.post("/_sim/faults", json={"error_rate": self.options.error_rate}).raise_for_status()
        self._errors_since = time.monotonic()
        self._spikes_stop.clear()
        self._spikes = threading.Thread(target=self._spike_loop, name="latency-spikes", daemon=True)
        self._spikes.start()
        return {"error_rate": self.options.error_rate}

    def _spike_loop(self) -> None:
        with self.sim_client() as sim:
            while not self._spikes_stop.is_set():
                sim.post("/_sim/faults", json={"latency_ms": self.options.latency_ms}).raise_for_status()
                self.log.counts[f"latency spikes ({self.options.latency_ms} ms)"] += 1
                self._spikes_stop.wait(self.options.spike_on_seconds)
                sim.post("/_sim/faults", json={"latency_ms": 0}).raise_for_status()
                self._spikes_stop.wait(self.options.spike_off_seconds)

    def errors_stop(self) -> dict[str, Any]:
        remaining = self.options.error_phase_seconds - (time.monotonic() - self._errors_since)
        if remaining > 0:
            time.sleep(remaining)
        self._spikes_stop.set()
        if self._spikes is not None:
            self._spikes.join(timeout=30)
        with self.sim_client() as sim:
            faults = sim.delete("/_sim/faults").raise_for_status().json()["faults"]
        seconds = round(time.monotonic() - self._errors_since, 1)
        self.log.counts[f"PBX error rate {self.options.error_rate:.0%} (s)"] += seconds
        return {"seconds": seconds, "faults_now": faults}

    def kill_api(self) -> dict[str, Any]:
        self._pause()
        victim = self.p.server
        Processes.kill(victim)
        seconds = self.p.start_server()
        self.log.counts["API server SIGKILL + restart"] += 1
        return {"pid": victim.pid, "restart_s": round(seconds, 1)}

    def readyz(self) -> int | None:
        try:
            return httpx.get(self.p.server_url + "/readyz", timeout=10).status_code
        except httpx.TransportError:
            return None

    def _poll_readyz(self, wanted: int, timeout: float) -> tuple[bool, float, list]:
        started, seen = time.monotonic(), []
        while time.monotonic() - started < timeout:
            status = self.readyz()
            seen.append(status)
            if status == wanted:
                return True, round(time.monotonic() - started, 1), seen[-5:]
            time.sleep(0.3)
        return False, round(time.monotonic() - started, 1), seen[-5:]

    def db_restart(self) -> dict[str, Any]:
        self._pause()
        before = self.readyz()
        self.cluster.stop("immediate")
        down = time.monotonic()
        red, red_after, seen_down = self._poll_readyz(503, 15)
        time.sleep(max(0.0, self.options.db_outage_seconds - (time.monotonic() - down)))
        self.cluster.start()
        up = time.monotonic()
        green, green_after, seen_up = self._poll_readyz(200, 60)
        self.log.counts["PostgreSQL stop (immediate) + start"] += 1
        self.log.counts["PostgreSQL down (s)"] += round(up - down, 1)
        if before != 200:
            self.log.problems.append(f"/readyz answered {before} before the database outage, not 200")
        if not red:
            self.log.problems.append(f"/readyz never answered 503 while the database was down (saw {seen_down})")
        if not green:
            self.log.problems.append(f"/readyz did not answer 200 within 60 s of the database restart (saw {seen_up})")
        return {"readyz_before": before, "readyz_red": red, "red_after_s": red_after, "readyz_green": green,
                "green_after_s": green_after, "down_s": round(up - down, 1)}
