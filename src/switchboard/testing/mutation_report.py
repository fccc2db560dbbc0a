"""`make mutation`'s verdict: the score of each mutated module from mutmut's results.

mutmut 3 keeps, beside each mutated copy under `mutants/`, a `.meta` file with the exit
code of the tests for each of its mutants: 1 (or 3) the tests failed, the mutant is
killed; 0 they passed, it survived; a timeout counts as killed (the tests noticed); no
test reaching the mutant counts as survived. Prints a table and the survivors, writes the
table into docs/reliability.md between markers (--write-docs), and exits 1 when a module
is below --min percent killed."""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

KILLED = {1, 3}
TIMEOUT = {24, -24, 36, 152, 255}
SURVIVED = {0}
NO_TESTS = {5, 33}
BEGIN, END = "<!-- mutation-figures -->", "<!-- /mutation-figures -->"


@dataclass
class Module:
    path: str
    killed: int = 0
    timeout: int = 0
    survived: list[str] = field(default_factory=list)
    no_tests: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.killed + self.timeout + len(self.survived) + len(self.no_tests) + len(self.other)

    @property
    def detected(self) -> int:
        return self.killed + self.timeout

    @property
    def score(self) -> float:
        return 100.0 * self.detected / self.total if self.total else 100.0


def read(root: Path) -> list[Module]:
    modules = []
    for meta in sorted(root.rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        module = Module(str(meta.relative_to(root))[: -len(".meta")])
        for name, code in codes.items():
            if code in KILLED:
                module.killed += 1
            elif code in TIMEOUT:
                module.timeout += 1
            elif code in SURVIVED:
                module.survived.append(name)
            elif code in NO_TESTS:
                module.no_tests.append(name)
            else:
                module.other.append(f"{name} (exit {code})")
        if module.total:
            modules.append(module)
    return modules


def table(modules: list[Module]) -> str:
    lines = ["| module | mutants | killed | timeouts | survived | no test | score |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for m in modules:
        lines.append(f"| `{m.path}` | {m.total} | {m.killed} | {m.timeout} | {len(m.survived)} | "
                     f"{len(m.no_tests)} | {m.score:.1f} % |")
    total = sum(m.total for m in modules)
    detected = sum(m.detected for m in modules)
    lines.append(f"| all | {total} | {sum(m.killed for m in modules)} | {sum(m.timeout for m in modules)} | "
                 f"{sum(len(m.survived) for m in modules)} | {sum(len(m.no_tests) for m in modules)} | "
                 f"{100.0 * detected / total if total else 100.0:.1f} % |")
    return "\n".join(lines)


def write_docs(path: Path, text: str) -> None:
    """Replaces what is between the markers (they must be there: the section around them,
    with the survivors judged equivalent, is written by hand)."""
    current = path.read_text()
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if not pattern.search(current):
        raise SystemExit(f"{path} has no {BEGIN} … {END} markers")
    path.write_text(pattern.sub(lambda _: f"{BEGIN}\n{text}\n{END}", current, count=1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mutants", type=Path, default=Path("mutants"))
    parser.add_argument("--min", type=float, default=80.0, help="lowest score allowed for a module, in percent")
    parser.add_argument("--write-docs", type=Path)
    args = parser.parse_args(argv)
    modules = read(args.mutants)
    if not modules:
        print(f"No mutmut results under {args.mutants}/ (run `make mutation`).", file=sys.stderr)
        return 1
    text = table(modules)
    print(text)
    for m in modules:
        for label, names in (("survived", m.survived), ("no test", m.no_tests), ("other", m.other)):
            for name in names:
                print(f"  {label}: {name}")
    if args.write_docs:
        write_docs(args.write_docs, f"Last run: {datetime.date.today().isoformat()} (mutmut 3, "
                                    f"`make mutation`).\n\n{text}")
    low = [m for m in modules if m.score < args.min]
    for m in low:
        print(f"{m.path}: {m.score:.1f} % killed, below {args.min:.0f} %", file=sys.stderr)
    return 1 if low else 0


if __name__ == "__main__":
    sys.exit(main())
