"""The order the figures run in, on one engine: one database, one `switchboard serve` and
the workers for figures 1-5 (so that figure 7 sees their peak memory through all of
them), then the allocation figures on databases of their own."""

from __future__ import annotations

import sys
import time
import traceback

from switchboard.bench import allocation, api_single, fanout, onboarding, scale, world
from switchboard.bench.processes import stack
from switchboard.bench.results import Figure
from switchboard.bench.sizes import Sizes

FIGURES = (1, 2, 3, 4, 5, 6, 7)
# The figures run against the real processes, in this order (figure 4 also gives 5).
STACK_FIGURES = ((3, "one user at a time through the API", api_single.measure),
                 (1, "bulk onboarding", onboarding.measure),
                 (2, "many PBXs", fanout.measure),
                 (4, "API and console at scale", scale.measure))


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def memory(running, sizes: Sizes) -> list[Figure]:
    """Figure 7: the peak resident memory of the server and of the largest worker process
    through the figures run before (VmHWM, read just before each was stopped)."""
    common = {"engine": running.engine_name, "mode": sizes.mode, "size": "through figures 1-5"}
    return [Figure("7. server peak RSS", value=round(running.peaks.get("server", 0)), unit="MB", target=300,
                   better="lower", **common),
            Figure("7. worker peak RSS", value=round(running.peaks.get("worker", 0)), unit="MB", target=200,
                   better="lower", note="the largest worker process", **common)]


def _guarded(number: int, label: str, engine: str, sizes: Sizes, measure) -> list[Figure]:
    """The figure's entries; a figure that could not finish is one entry saying why (the
    others still run)."""
    try:
        return measure()
    except Exception as exc:  # reported in the table and results.json, the traceback on stderr
        traceback.print_exc()
        return [Figure(f"{number}. {label}", engine, None, "", mode=sizes.mode,
                       note=f"did not finish: {type(exc).__name__}: {exc}"[:300])]


def run_engine(engine: str, sizes: Sizes, only: set[int]) -> list[Figure]:
    figures: list[Figure] = []
    if only & {1, 2, 3, 4, 5, 7}:
        with stack(engine) as running:
            partner = world.create_partner(running)
            running.start_server()
            running.start_workers()
            running.wait_workers_ready()
            for number, label, measure in STACK_FIGURES:
                if number in only or (number == 4 and 5 in only):
                    say(f"{engine}: {number}. {label}")
                    figures += _guarded(number, label, engine, sizes,
                                        lambda: [f for f in measure(running, sizes, partner)
                                                 if int(f.name[0]) in only])
            running.stop_all()
            if 7 in only:
                figures += memory(running, sizes)
    if 6 in only:
        say(f"{engine}: 6. allocation")
        figures += _guarded(6, "allocation", engine, sizes, lambda: allocation.figures(engine, sizes))
    return figures
