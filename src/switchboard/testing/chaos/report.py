"""The chaos run's summary: Rich tables on the terminal, and the "Chaos" section of
docs/reliability.md (rewritten whole, the other sections left as they are)."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from switchboard.testing.chaos.checks import EXAMPLES, Check

HEADING = "## Chaos"


def workload_rows(f: dict[str, Any]) -> list[tuple[str, str]]:
    jobs = f["jobs"]
    states = ", ".join(f"{n} {state}" for state, n in sorted(jobs["states"].items()))
    converge = f["converge_seconds_after_last_fault"]
    converged = (f"{converge} s ({f['converge_seconds_after_last_write']} s after the clients' last write)"
                 if converge is not None else "did not converge")
    return [
        ("database", f["database"]),
        ("users (created and configured through the API)", f"{f['users']:,}"),
        ("phones (a desk phone each from the template, hot desks)", f"{f['phones']:,} ({f['hot_desks']} hot desks)"),
        ("concurrent API clients / worker processes", f"{f['clients']} / {f['workers']}"),
        ("API requests", f"{f['requests']:,}"),
        ("requests without an answer / answered 5xx", f"{f['no_answer']} / {f['server_errors']}"),
        ("unanswered writes found committed on read-back", str(f["reconciled"])),
        ("sync jobs", f"{jobs['jobs']:,} ({states})"),
        ("push attempts (of which retried)", f"{jobs['attempts']:,} ({f['retried_attempts']:,})"),
        ("worker identities (process × thread) that ran jobs", str(jobs["worker_ids"])),
        ("workload duration", f"{f['workload_seconds']} s"),
        ("sync settled, after the end of the last fault", converged),
        ("whole run (set-up and checks included)", f"{f['total_seconds']} s"),
        ("nothing lost", "yes" if f["nothing_lost"] else "NO"),
    ]


def print_summary(figures: dict[str, Any], results: list[Check], console: Console | None = None) -> None:
    console = console or Console()
    faults = Table(title="Faults injected")
    faults.add_column("fault")
    faults.add_column("count", justify="right")
    for name, count in figures["faults"].items():
        faults.add_row(name, f"{count:g}")
    for name in figures["skipped"]:
        faults.add_row(f"[dim]{name}[/]", "[dim]skipped[/]")
    console.print(faults)
    workload = Table(title="Workload and sync")
    workload.add_column("figure")
    workload.add_column("value", justify="right")
    for name, value in workload_rows(figures):
        workload.add_row(name, value)
    console.print(workload)
    invariants = Table(title="Invariants")
    invariants.add_column("")
    invariants.add_column("invariant")
    invariants.add_column("detail", overflow="fold")
    for check in results:
        detail = check.detail + "".join(f"\n- {e}" for e in check.examples[:EXAMPLES])
        invariants.add_row("[green]ok[/]" if check.ok else "[bold red]FAIL[/]", check.name, detail)
    console.print(invariants)


def section(figures: dict[str, Any], results: list[Check], command: str) -> str:
    lines = [HEADING, "",
             "`make chaos` runs the chaos run (`python -m switchboard.testing.chaos`, code in",
             "`src/switchboard/testing/chaos/`): concurrent REST clients create users, add the MiVB",
             "product and choose the Telephony category (its template adds a desk phone), and add a",
             "hot desk to one user in five, while two `switchboard worker` processes push to a real",
             "`mivb-sim` process and the run breaks things, each at its place in the workload:",
             "",
             "- a worker killed with SIGKILL three times (restarted each time; its claimed jobs are",
             "  taken over when their lease runs out);",
             "- `mivb-sim` killed with SIGKILL and started again 10 s later on the same port with the",
             "  same `--state` file;",
             "- 20 % injected PBX errors with 500 ms latency spikes (`POST /_sim/faults`);",
             "- the API server (`switchboard serve`) killed with SIGKILL mid-burst and restarted: the",
             "  clients retry what got no answer, reading back before repeating a write (the user by",
             "  e-mail, `product_exists`, the phones; a phone is added with `If-Match`);",
             "- PostgreSQL stopped (`pg_ctl stop -m immediate`, a crash for the server) and started",
             "  again; `/readyz` must answer 503 while it is down and 200 after.",
             "",
             "The database restart never touches the machine's shared PostgreSQL: `make chaos` runs a",
             "**private cluster** (`initdb` into a temporary directory, as the `postgres` user when",
             "run as root; `pg_ctl start` on a free port, socket in the same directory) and stops and",
             "removes it at the end. `--database sqlite` or a URL runs every other fault. The same",
             "run, small (100 users), is `tests/chaos/test_chaos.py` in `make test`.",
             "",
             "Afterwards it checks: every user synced (users list `?sync_state=synced`, sync summary);",
             "`switchboard mivb verify` finds no difference; no DN or DID twice in the database or on",
             "the PBX (`GET /_sim/state`); the PBX holds exactly the database's users and numbers;",
             "one push job per committed change, each ended succeeded or superseded, none open, each",
             "user's last job applied at its current revision; every user the clients created exists",
             "exactly once with exactly its planned phones. Exit status 1 and the broken invariant,",
             "with examples, when one does not hold.",
             "",
             "Reading the figures: \"PBX down\" includes the simulator's own restart. A request",
             "without an answer is one cut by the API server's kill or restart; the 5xx answers are",
             "the API's during the database outage. The sync settles well after the clients' last",
             "write because `mivb-sim --state` rewrites and fsyncs its whole state file on every",
             "change, under its one lock: with 1,000 users each changing push costs it about 0.4 s",
             "on the 2-core machine, so the pushes queue there, not in Switchboard.",
             "",
             f"### Last long run ({datetime.date.today().isoformat()}: `{command}`)",
             "",
             "| fault injected | count |", "|---|---|"]
    lines += [f"| {name} | {count:g} |" for name, count in figures["faults"].items()]
    lines += [f"| {name} | skipped |" for name in figures["skipped"]]
    lines += ["", "| figure | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in workload_rows(figures)]
    lines += ["", "| invariant | result |", "|---|---|"]
    lines += [f"| {check.name.replace('|', '/')} | {'ok' if check.ok else 'FAILED'}: "
              f"{check.detail.replace('|', '/')} |" for check in results]
    return "\n".join(lines) + "\n"


def write_section(path: Path, text: str) -> None:
    """Replaces the Chaos section (up to the next `## ` heading) or appends it."""
    current = path.read_text() if path.exists() else "# Reliability\n\nHow Switchboard proves that nothing is lost.\n"
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(current):
        updated = pattern.sub(lambda _: text + "\n", current, count=1)
    else:
        updated = current.rstrip("\n") + "\n\n" + text
    path.write_text(updated.rstrip("\n") + "\n")
