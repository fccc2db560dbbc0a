"""The order the figures run in, on one engine: one database, one `switchboard serve` and
the workers for figures 1-5 (so that figure 7 sees their peak memory through all of
them), then the allocation figures on databases of their own."""

from __future__ import annotations

import sys
import time

from switchboard.bench import allocation, api_single, fanout, onboarding, world
from switchboard.bench.processes import stack
from switchboard.bench.results import Figure
from switchboard.bench.sizes import Sizes

FIGURES = (1, 2, 3, 4, 5, 6, 7)


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_engine(engine: str, sizes: Sizes, only: set[int]) -> list[Figure]:
    figures: list[Figure] = []
    if only & {1, 2, 3, 4, 5, 7}:
        with stack(engine) as running:
            partner = world.create_partner(running)
            running.start_server()
            running.start_workers()
            running.wait_workers_ready()
            if 3 in only:
                say(f"{engine}: 3. one user at a time through the API")
                figures += api_single.measure(running, sizes, partner)
            if 1 in only:
                say(f"{engine}: 1. bulk onboarding")
                figures += onboarding.measure(running, sizes, partner)
            if 2 in only:
                say(f"{engine}: 2. many PBXs")
                figures += fanout.measure(running, sizes, partner)
    if 6 in only:
        say(f"{engine}: 6. allocation")
        figures += allocation.figures(engine, sizes)
    return figures
