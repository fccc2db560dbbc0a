"""`python -m switchboard.testing.chaos`: the chaos run from the command line (`make chaos`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console

from switchboard.testing.chaos import report
from switchboard.testing.chaos.faults import FaultOptions
from switchboard.testing.chaos.run import ChaosOptions, cleanup, run


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m switchboard.testing.chaos",
                                     description="Create and configure users through the API while processes die; "
                                                 "then prove nothing was lost.")
    parser.add_argument("--users", type=int, default=1000, help="users to create and configure (default 1000)")
    parser.add_argument("--clients", type=int, default=6, help="concurrent API clients (default 6)")
    parser.add_argument("--workers", type=int, default=2, help="sync worker processes (default 2)")
    parser.add_argument("--database", default="private",
                        help='"private" (default: a PostgreSQL cluster of its own, restarted mid-run), "sqlite", '
                             "or the SQLAlchemy URL of an empty database (no database restart then)")
    parser.add_argument("--seed", type=int, default=9, help="seed of the plan (who does what, when)")
    parser.add_argument("--sim-outage", type=float, default=10.0, help="seconds the PBX process stays down")
    parser.add_argument("--error-phase", type=float, default=30.0,
                        help="seconds of 20 %% PBX errors and latency spikes, at least")
    parser.add_argument("--db-outage", type=float, default=5.0, help="seconds PostgreSQL stays down")
    parser.add_argument("--converge-timeout", type=float, default=600.0, help="seconds the sync may take to settle")
    parser.add_argument("--directory", type=Path, help="where logs and the simulator state go (default: temporary)")
    parser.add_argument("--keep", action="store_true", help="keep the directory even when every invariant holds")
    parser.add_argument("--write-docs", type=Path, help="rewrite the Chaos section of this file with the figures")
    parser.add_argument("--json", type=Path, help="write the figures and checks to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    options = ChaosOptions(users=args.users, clients=args.clients, workers=args.workers, database=args.database,
                           seed=args.seed, converge_timeout=args.converge_timeout, directory=args.directory,
                           keep=args.keep,
                           faults=FaultOptions(sim_outage_seconds=args.sim_outage, error_phase_seconds=args.error_phase,
                                               db_outage_seconds=args.db_outage))
    console = Console()
    console.print(f"Chaos run: {options.users} users, {options.clients} clients, {options.workers} workers, "
                  f"database {options.database}, seed {options.seed}")
    result = run(options)
    report.print_summary(result.figures, result.checks, console)
    if args.json:
        args.json.write_text(json.dumps({"figures": result.figures, "checks": [c.__dict__ for c in result.checks]},
                                        indent=2, default=str))
    if args.write_docs:
        command = (f"--users {options.users} --clients {options.clients} --workers {options.workers} "
                   f"--database {options.database if options.database in ('private', 'sqlite') else 'URL'} "
                   f"--seed {options.seed}")
        report.write_section(args.write_docs, report.section(result.figures, result.checks, command))
        console.print(f"Figures written to {args.write_docs}")
    if not result.ok:
        console.print(f"[bold red]Invariants broken[/] (logs kept in {result.directory}):")
        console.print(result.failures(), markup=False, highlight=False)
        return 1
    cleanup(result, options.keep)
    console.print("[green]Nothing lost.[/]" + (f" Logs in {result.directory}" if options.keep else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
