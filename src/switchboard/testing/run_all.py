"""`make test`: the whole suite on SQLite, then again on PostgreSQL.

Without a reachable PostgreSQL it says so loudly and runs SQLite only; under CI (CI=true)
that is a failure, because the suite must prove itself on both engines.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from switchboard.testing.databases import postgres_available

BANNER = "=" * 78


def _run(backend: str, extra: list[str]) -> tuple[int, float]:
    print(f"\n{BANNER}\nRunning the test suite on {backend}\n{BANNER}", flush=True)
    env = {**os.environ, "SWITCHBOARD_TEST_DB": backend}
    started = time.monotonic()
    code = subprocess.call([sys.executable, "-m", "pytest", *extra], env=env)
    return code, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    extra = list(argv if argv is not None else sys.argv[1:])
    results: list[tuple[str, int, float]] = []
    code, seconds = _run("sqlite", extra)
    results.append(("sqlite", code, seconds))
    ok, detail = postgres_available()
    in_ci = os.environ.get("CI", "").lower() == "true"
    if ok:
        code, seconds = _run("postgresql", extra)
        results.append(("postgresql", code, seconds))
    else:
        print(f"\n{BANNER}\n!!! PostgreSQL is NOT reachable ({detail}).\n"
              f"!!! Only the SQLite run happened.{' In CI this is a failure.' if in_ci else ''}\n{BANNER}",
              file=sys.stderr, flush=True)
    print(f"\n{BANNER}")
    for backend, code, seconds in results:
        print(f"{backend:<11} {'passed' if code == 0 else f'FAILED (exit {code})':<18} {seconds:7.1f} s")
    print(BANNER)
    failed = any(code != 0 for _, code, _ in results)
    if failed or (not ok and in_ci):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
