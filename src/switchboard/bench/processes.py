"""The real processes a figure runs against, over loopback: a throw-away database (a
SQLite file in a temporary directory, or a temporary PostgreSQL database), `switchboard
serve`, `switchboard worker`s and simulators, each on a free port with its log in the
run's directory. Peak memory (VmHWM) is read from /proc before a process is stopped."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import httpx
from sqlalchemy import Engine

from switchboard.core.processes import stop
from switchboard.core.config import Settings
from switchboard.core.db import make_engine
from switchboard.migrations import upgrade
from switchboard.testing.chaos.processes import child_env, free_port
from switchboard.testing.databases import temporary_database

SIM_AUTH = ("bench-gateway", "bench-gateway-secret")
# Licences and capacity well above any figure's needs: the PBX's limits are not measured.
SIM_SEED = {"system": {"name": "Bench PBX", "version": "10.1.0.0"},
            "licences": {"ip_users": 10_000, "ehdu": 100, "acd_agents": 5_000, "mdu": 50},
            "capacity": {"users": 10_000, "devices": 40_000}}


SERVER_PROCESSES = max(1, min(4, os.cpu_count() or 1))


def peak_rss_mb(pid: int) -> float:
    """The high-water mark of resident memory (VmHWM) of the process, or of the largest of
    its descendants (`serve --workers N` forks), in MB."""
    peaks = []
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            peaks.append(next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")))
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, StopIteration, ValueError):
            continue
    return max(peaks, default=0) / 1024


@dataclass
class Sim:
    process: subprocess.Popen
    url: str
    down: bool = False  # told to answer 503 (the `down` fault)

    def client(self, timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=SIM_AUTH, timeout=timeout)

    def counters(self) -> dict[str, int]:
        """{now, max, requests}: /api requests in flight now, at most, in all (since the
        last reset); {users, devices}: what the PBX holds. No latency, no faults."""
        return httpx.get(self.url + "/_bench/counters", timeout=30).json()

    def reset_counters(self) -> None:
        httpx.delete(self.url + "/_bench/counters", timeout=30).raise_for_status()

    def faults(self, **faults) -> None:
        httpx.post(self.url + "/_sim/faults", json=faults, auth=SIM_AUTH, timeout=30).raise_for_status()


@dataclass
class Stack:
    engine_name: str
    url: str
    directory: Path
    env: dict[str, str]
    settings: Settings
    db: Engine
    server: subprocess.Popen | None = None
    server_port: int = 0
    workers: list[subprocess.Popen] = field(default_factory=list)
    sims: list[Sim] = field(default_factory=list)
    peaks: dict[str, float] = field(default_factory=dict)  # role -> MB

    # ---------------------------------------------------------------- helpers

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = (self.directory / f"{name}.log").open("a")
        return subprocess.Popen(args, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=self.directory)

    def _note_peak(self, role: str, process: subprocess.Popen | None) -> None:
        if process is not None and process.poll() is None:
            self.peaks[role] = max(self.peaks.get(role, 0.0), peak_rss_mb(process.pid))

    @staticmethod
    def _stop(process: subprocess.Popen | None) -> None:
        stop(process, grace=20)

    # ---------------------------------------------------------------- the server

    @property
    def server_url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def start_server(self, timeout: float = 120) -> None:
        self.server_port = free_port()
        # As deployed on this machine: one server process per core (`serve --workers`).
        extra = shlex.split(os.environ.get("BENCH_SERVE_ARGS", f"--workers {SERVER_PROCESSES}"))
        self.server = self._spawn("server", [sys.executable, "-m", "switchboard.cli", "serve", "--host", "127.0.0.1",
                                             "--port", str(self.server_port), *extra])
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.server.poll() is not None:
                raise RuntimeError(f"switchboard serve exited; see {self.directory / 'server.log'}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(self.server_url + "/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"switchboard serve did not answer within {timeout} s")

    def stop_server(self) -> None:
        self._note_peak("server", self.server)
        self._stop(self.server)
        self.server = None

    # ---------------------------------------------------------------- workers

    def start_workers(self, count: int | None = None) -> None:
        count = count if count is not None else int(os.environ.get("BENCH_WORKERS", "2"))
        extra = shlex.split(os.environ.get("BENCH_WORKER_ARGS", ""))
        for _ in range(count):
            index = len(self.workers)
            self.workers.append(self._spawn(f"worker-{index}",
                                            [sys.executable, "-m", "switchboard.cli", "worker", *extra]))

    def wait_workers_ready(self, timeout: float = 60) -> None:
        """Until every worker process says it runs (its log's first line)."""
        deadline = time.monotonic() + timeout
        for index, worker in enumerate(self.workers):
            log = self.directory / f"worker-{index}.log"
            while "running" not in (log.read_text() if log.exists() else ""):
                if worker.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"switchboard worker did not start; see {log}")
                time.sleep(0.1)

    def stop_workers(self) -> None:
        for worker in self.workers:
            self._note_peak("worker", worker)
            self._stop(worker)
        self.workers = []

    # ---------------------------------------------------------------- simulators

    def start_sim(self, seed: dict | None = None, latency_ms: int = 0) -> Sim:
        index = len(self.sims)
        seed_file = self.directory / f"sim-{index}-seed.json"
        seed_file.write_text(json.dumps(seed or SIM_SEED))
        log = (self.directory / f"sim-{index}.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "switchboard.bench.sim", "--port", "0", "--username", SIM_AUTH[0],
             "--seed", str(seed_file)],
            stdout=subprocess.PIPE, stderr=log, text=True, env={**self.env, "MIVB_SIM_PASSWORD": SIM_AUTH[1]})
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=60)
        except queue.Empty:
            line = ""
        if not line.startswith("mivb-sim listening on http://"):
            process.kill()
            raise RuntimeError(f"the simulator did not start: {line!r}; see {self.directory / f'sim-{index}.log'}")
        sim = Sim(process, line.split()[-1])
        if latency_ms:
            sim.faults(latency_ms=latency_ms)
        self.sims.append(sim)
        return sim

    def stop_sim(self, sim: Sim) -> None:
        self._stop(sim.process)
        self.sims.remove(sim)

    def stop_sims(self) -> None:
        for sim in self.sims:
            self._stop(sim.process)
        self.sims = []

    def stop_all(self) -> None:
        self.stop_workers()
        self.stop_server()
        self.stop_sims()


@contextlib.contextmanager
def stack(engine_name: str) -> Iterator[Stack]:
    """A new database (upgraded) and a directory for the processes' logs; every process
    started on it is stopped at the end, the database dropped, the directory removed
    (kept with BENCH_KEEP=1: the processes' logs are there)."""
    directory = tempfile.mkdtemp(prefix=f"switchboard-bench-{engine_name}-")
    try:
        with _running(engine_name, Path(directory)) as running:
            yield running
    finally:
        if os.environ.get("BENCH_KEEP") == "1":
            print(f"bench: the processes' logs are kept in {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def _running(engine_name: str, directory: Path) -> Iterator[Stack]:
    with temporary_database(engine_name, directory) as url:
        upgrade(url)
        env = child_env(url, secrets.token_urlsafe(32), directory)
        settings = Settings(database_url=url, secret_key=env["SWITCHBOARD_SECRET_KEY"], var_dir=directory)
        db = make_engine(url)
        running = Stack(engine_name, url, directory, env, settings, db)
        try:
            yield running
        finally:
            running.stop_all()
            db.dispose()
