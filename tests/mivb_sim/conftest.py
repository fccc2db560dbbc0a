"""Start the real `mivb-sim` console script as a subprocess, bounded by timeouts."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from switchboard.mivb_sim.launcher import Sim
from switchboard.mivb_sim.launcher import launch as launch_sim

AUTH = ("admin", "s3cret")


def launch(*args: str, stderr_path: Path) -> Sim:
    return launch_sim(*args, auth=AUTH, stderr_path=stderr_path)


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
