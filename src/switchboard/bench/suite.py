"""The order the figures run in, on one engine."""

from __future__ import annotations

import sys
import time

from switchboard.bench import allocation
from switchboard.bench.results import Figure
from switchboard.bench.sizes import Sizes

FIGURES = (1, 2, 3, 4, 5, 6, 7)


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_engine(engine: str, sizes: Sizes, only: set[int]) -> list[Figure]:
    figures: list[Figure] = []
    if 6 in only:
        say(f"{engine}: 6. allocation")
        figures += allocation.figures(engine, sizes)
    return figures
