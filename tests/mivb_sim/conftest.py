"""Start the real `mivb-sim` console script as a subprocess, bounded by timeouts."""

import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

SIM = Path(sys.executable).parent / "mivb-sim"
AUTH = ("admin", "s3cret")
READY_TIMEOUT = 20


@dataclass
class Sim:
    process: subprocess.Popen
    url: str

    def client(self, auth=AUTH) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=auth, timeout=10)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode


def launch(*args: str, stderr_path: Path) -> Sim:
    """Run mivb-sim on a free port (--port 0) and wait for its ready line."""
    process = subprocess.Popen(
        [str(SIM), "--port", "0", "--username", AUTH[0], "--password", AUTH[1], *args],
        stdout=subprocess.PIPE, stderr=stderr_path.open("w"), text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=READY_TIMEOUT)
    except queue.Empty:
        line = ""
    if not line.startswith("mivb-sim listening on http://"):
        process.kill()
        process.wait(timeout=10)
        raise RuntimeError(f"mivb-sim did not start: {line!r} {stderr_path.read_text()}")
    return Sim(process, line.split()[-1])


@pytest.fixture
def start_sim(tmp_path) -> Iterator:
    """Factory for simulators of one test; every one started is stopped at teardown."""
    started: list[Sim] = []

    def start(*args: str) -> Sim:
        sim = launch(*args, stderr_path=tmp_path / f"stderr-{len(started)}.log")
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture(scope="module")
def shared_sim(tmp_path_factory) -> Iterator[Sim]:
    sim = launch(stderr_path=tmp_path_factory.mktemp("mivb-sim") / "stderr.log")
    yield sim
    sim.stop()


@pytest.fixture
def api(shared_sim) -> Iterator[httpx.Client]:
    """A client of the shared simulator, reset to its seeded state with no faults."""
    with shared_sim.client() as client:
        client.post("/_sim/reset").raise_for_status()
        yield client
