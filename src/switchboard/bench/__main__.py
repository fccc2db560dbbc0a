"""`python -m switchboard.bench` (`make bench`): every figure on SQLite and PostgreSQL.

    python -m switchboard.bench [--mode quick|full|tiny] [--only 1,2,6] [--engine sqlite]
                                [--results bench/results.json]

Environment: `BENCH_FULL=1` (the full sizes), `BENCH_ONLY=1,6`, `BENCH_ENGINES=sqlite`,
`BENCH_RESULTS=path`; `BENCH_WORKERS` (worker processes, default 2), `BENCH_WORKER_ARGS`
and `BENCH_SERVE_ARGS` (options for `switchboard worker` and `switchboard serve`; the server's
default: `--workers N`, one process per core, at most 4);
`BENCH_KEEP=1` (keep the processes' logs), `BENCH_PROFILE=DIR` (py-spy profiles).
Without a reachable PostgreSQL it says so and measures SQLite only."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from switchboard.bench import results, suite
from switchboard.bench.sizes import MODES
from switchboard.testing.databases import postgres_available


def _engines(chosen: str | None) -> dict[str, str]:
    wanted = (chosen or "sqlite,postgresql").split(",")
    engines = {}
    for engine in (e.strip() for e in wanted if e.strip()):
        if engine == "postgresql":
            ok, detail = postgres_available()
            if not ok:
                print(f"PostgreSQL is not reachable ({detail}): SQLite only.", file=sys.stderr)
                continue
            engines[engine] = detail
        else:
            engines[engine] = "SQLite"
    return engines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m switchboard.bench", description=__doc__.split("\n")[0])
    default_mode = "full" if os.environ.get("BENCH_FULL") == "1" else os.environ.get("BENCH_MODE", "quick")
    parser.add_argument("--mode", choices=sorted(MODES), default=default_mode)
    parser.add_argument("--only", default=os.environ.get("BENCH_ONLY", ""), help="figure numbers, e.g. 1,6")
    parser.add_argument("--engine", default=os.environ.get("BENCH_ENGINES"), help="sqlite, postgresql or both")
    parser.add_argument("--results", type=Path, default=Path(os.environ.get("BENCH_RESULTS", "bench/results.json")))
    args = parser.parse_args(argv)
    sizes = MODES[args.mode]
    only = {int(n) for n in args.only.split(",") if n.strip()} or set(suite.FIGURES)
    engines = _engines(args.engine)
    started = time.monotonic()
    machine_info = results.machine()
    figures = []
    for engine in engines:
        figures += suite.run_engine(engine, sizes, only)
        results.write(args.results, figures, mode=sizes.mode, engines=engines, seconds=time.monotonic() - started,
                      machine_info=machine_info)
    seconds = time.monotonic() - started
    results.show(figures, f"Switchboard bench, {sizes.mode} mode, {seconds:.0f} s")
    print(f"written to {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
