"""The product's processes as the chaos run starts, kills and restarts them: one
`switchboard serve`, the `switchboard worker`s and `mivb-sim`, each a real process with
its log under the run's directory."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

import switchboard
from switchboard.core.processes import stop
from switchboard.mivb_sim.launcher import Sim, launch

SIM_AUTH = ("chaos-gateway", "chaos-gateway-secret")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(database_url: str, secret_key: str, var_dir: Path) -> dict[str, str]:
    """The environment of every product process: the same code as this one (its source
    directory first on PYTHONPATH), database, key and var directory."""
    source = str(Path(switchboard.__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": source + (os.pathsep + path if path else ""),
            "SWITCHBOARD_DATABASE_URL": database_url, "SWITCHBOARD_SECRET_KEY": secret_key,
            "SWITCHBOARD_VAR_DIR": str(var_dir), "PYTHONUNBUFFERED": "1"}


@dataclass
class WorkerOptions:
    threads: int = 3
    lease: int = 10
    retry_base: float = 0.5
    retry_cap: float = 5.0
    max_attempts: int = 12

    def args(self) -> list[str]:
        return ["--threads", str(self.threads), "--lease", str(self.lease), "--retry-base", str(self.retry_base),
                "--retry-cap", str(self.retry_cap), "--max-attempts", str(self.max_attempts)]


@dataclass
class Processes:
    env: dict[str, str]
    directory: Path
    worker_options: WorkerOptions = field(default_factory=WorkerOptions)
    server_port: int = field(default_factory=free_port)
    server: subprocess.Popen | None = None
    workers: list[subprocess.Popen] = field(default_factory=list)
    sim: Sim | None = None
    sim_state: Path | None = None
    sim_seed: Path | None = None
    starts: dict[str, int] = field(default_factory=dict)

    # ---------------------------------------------------------------- helpers

    def _log(self, name: str):
        self.starts[name] = self.starts.get(name, 0) + 1
        return (self.directory / f"{name}.log").open("a")

    def _spawn(self, name: str, *args: str) -> subprocess.Popen:
        log = self._log(name)
        log.write(f"\n===== start {self.starts[name]} at {time.strftime('%H:%M:%S')} =====\n")
        log.flush()
        return subprocess.Popen([sys.executable, "-m", "switchboard.cli", *args], env=self.env, stdout=log,
                                stderr=subprocess.STDOUT, cwd=self.directory)

    @staticmethod
    def kill(process: subprocess.Popen | None) -> None:
        """SIGKILL: no clean-up, no goodbye, exactly as a crash or an OOM kill."""
        if process is not None and process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)

    @staticmethod
    def terminate(process: subprocess.Popen | None) -> None:
        stop(process, grace=15)

    # ---------------------------------------------------------------- the API server

    @property
    def server_url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def start_server(self, timeout: float = 90) -> float:
        """Starts `switchboard serve` and waits until /healthz answers; returns the seconds."""
        started = time.monotonic()
        self.server = self._spawn("server", "serve", "--host", "127.0.0.1", "--port", str(self.server_port))
        while time.monotonic() - started < timeout:
            if self.server.poll() is not None:
                raise RuntimeError(f"switchboard serve exited with {self.server.returncode}; see "
                                   f"{self.directory / 'server.log'}")
            try:
                if httpx.get(self.server_url + "/healthz", timeout=2).status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"switchboard serve did not answer within {timeout} s")

    # ---------------------------------------------------------------- workers

    def start_worker(self, index: int) -> subprocess.Popen:
        process = self._spawn(f"worker-{index}", "worker", *self.worker_options.args())
        if index < len(self.workers):
            self.workers[index] = process
        else:
            self.workers.append(process)
        return process

    # ---------------------------------------------------------------- the simulator

    def start_sim(self, seed: dict, port: int = 0) -> Sim:
        """mivb-sim with a state file (so that a restart keeps the PBX's configuration)."""
        self.sim_state = self.sim_state or self.directory / "mivb-sim-state.json"
        if self.sim_seed is None:
            self.sim_seed = self.directory / "mivb-sim-seed.json"
            self.sim_seed.write_text(json.dumps(seed))
        self.starts["mivb-sim"] = self.starts.get("mivb-sim", 0) + 1
        self.sim = launch("--state", str(self.sim_state), "--seed", str(self.sim_seed), auth=SIM_AUTH, port=port,
                          stderr_path=self.directory / f"mivb-sim-{self.starts['mivb-sim']}.log")
        return self.sim

    @property
    def sim_port(self) -> int:
        return int(self.sim.url.rsplit(":", 1)[1])

    def stop_all(self) -> None:
        for worker in self.workers:
            self.terminate(worker)
        self.terminate(self.server)
        if self.sim is not None:
            self.sim.stop()
