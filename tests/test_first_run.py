"""A clean first run (issue 10): `switchboard run` as a real process, on free ports and a
temporary var dir. The simulator never takes the server's port, both addresses and the
simulator's password are printed beside the demo sign-ins (never on a child's command
line), and SIGTERM or SIGINT stops the server, the simulator and the worker together."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from switchboard.demo import DEMO_SIM_AUTH

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.environ.get("SWITCHBOARD_TEST_DB", "sqlite") != "sqlite",
                                 reason="the local try-out runs on SQLite whatever the suite's engine: once is enough")]
SWITCHBOARD = Path(sys.executable).parent / "switchboard"
STARTUP_LIMIT = 180  # seconds; a loaded machine migrates and seeds slowly


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = {int(c) for c in (task / "children").read_text().split()}
            except OSError:
                continue
            todo.extend(children - found)
            found |= children
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _environment(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SWITCHBOARD_", "MIVB_SIM_")) and k not in ("PORT", "SIM_PORT")}
    return {**env, "SWITCHBOARD_VAR_DIR": str(var_dir)}


class Run:
    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.output: list[str] = []
        self.process = subprocess.Popen([str(SWITCHBOARD), "run", *args], cwd=tmp_path, env=_environment(tmp_path / "var"),
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.output.append(line)

    @property
    def text(self) -> str:
        if self.process.poll() is not None:
            self.reader.join(timeout=10)
        return "".join(self.output)

    def wait_until_it_answers(self, url: str) -> None:
        deadline = time.monotonic() + STARTUP_LIMIT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"switchboard run ended:\n{self.text}"
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        pytest.fail(f"switchboard run did not answer at {url}:\n{self.text}")


@pytest.fixture
def started(tmp_path):
    runs: list[Run] = []
    yield lambda *args: runs.append(Run(tmp_path, *args)) or runs[-1]
    for run in runs:
        if run.process.poll() is None:
            for pid in _descendants(run.process.pid):
                os.kill(pid, signal.SIGKILL)
            run.process.kill()
            run.process.wait(timeout=30)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_every_child(started, stop):
    port = _free_port()
    run = started("--port", str(port))
    url = f"http://127.0.0.1:{port}/"
    run.wait_until_it_answers(url + "healthz")
    children = _descendants(run.process.pid)
    assert len(children) >= 2, "the simulator and the worker"
    for pid in children:  # secrets reach the children by their environment, never their command line
        assert DEMO_SIM_AUTH[1] not in Path(f"/proc/{pid}/cmdline").read_text()

    text = run.text
    assert f"Console and API: {url}" in text
    sim_url = next(line.split()[2] for line in text.splitlines() if line.startswith("PBX simulator:"))
    assert sim_url.startswith("http://127.0.0.1:") and not sim_url.startswith(url)
    assert httpx.get(sim_url + "api/v1/users", auth=DEMO_SIM_AUTH, timeout=5).status_code == 200
    assert f"PBX simulator  user {DEMO_SIM_AUTH[0]}, password {DEMO_SIM_AUTH[1]}" in text
    assert "partner@demo.example" in text and "switchboard-demo" in text

    run.process.send_signal(stop)
    assert run.process.wait(timeout=60) != 0 or stop == signal.SIGINT
    left = {pid for pid in children if _alive(pid)}
    assert left == set(), f"still running after {stop.name}: {left}"


def test_the_simulator_never_takes_the_servers_port(started):
    port = _free_port()
    refused = started("--port", str(port), "--sim-port", str(port))
    assert refused.process.wait(timeout=60) == 2
    words = " ".join(refused.text.replace("│", " ").split())
    assert "Invalid value for --sim-port: the simulator cannot listen on the server's port" in words
