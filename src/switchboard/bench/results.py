"""The bench's figures: one entry per measurement, printed as a Rich table and written to
`bench/results.json` with the machine they were measured on."""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


@dataclass
class Figure:
    name: str
    engine: str
    value: float | None
    unit: str
    target: float | None = None
    # "higher": the value must reach the target; "lower": it must stay at or under it
    better: str = "higher"
    size: str = ""
    mode: str = ""
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def met(self) -> bool | None:
        if self.target is None or self.value is None:
            return None
        return self.value >= self.target if self.better == "higher" else self.value <= self.target

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "engine": self.engine, "value": self.value, "unit": self.unit,
                "target": self.target, "better": self.better, "met": self.met, "size": self.size,
                "mode": self.mode, "note": self.note, **({"extra": self.extra} if self.extra else {})}


def machine() -> dict[str, Any]:
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kib / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {"cpus": os.cpu_count(), "cpu": model, "memory": memory, "python": platform.python_version(),
            "system": f"{platform.system()} {platform.release()}", "load_at_start": list(os.getloadavg())}


def _order(name: str) -> int:
    """Figures are listed by their number (they run in another order)."""
    head = name.split(".", 1)[0]
    return int(head) if head.isdigit() else 99


def write(path: Path, figures: list[Figure], *, mode: str, engines: dict[str, str], seconds: float,
          machine_info: dict[str, Any] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    engine_order = list(engines)
    figures = sorted(figures, key=lambda f: (_order(f.name), engine_order.index(f.engine)
                                             if f.engine in engine_order else 9))
    document = {"generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "mode": mode,
                "machine": machine_info or machine(),
                "engines": engines, "seconds": round(seconds, 1), "figures": [f.as_json() for f in figures]}
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def _number(value: float | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if value and abs(value) < 1:
        return f"{value:.3f}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def table(figures: list[Figure], title: str) -> Table:
    out = Table(title=title)
    for column, justify in (("figure", "left"), ("engine", "left"), ("value", "right"), ("unit", "left"),
                            ("target", "right"), ("met", "center"), ("size", "left"), ("note", "left")):
        out.add_column(column, justify=justify)  # type: ignore[arg-type]
    for f in sorted(figures, key=lambda f: _order(f.name)):
        target = "" if f.target is None else ("≥ " if f.better == "higher" else "≤ ") + _number(f.target)
        met = {True: "[green]yes[/]", False: "[red]no[/]", None: ""}[f.met]
        out.add_row(f.name, f.engine, _number(f.value), f.unit, target, met, f.size, f.note)
    return out


def show(figures: list[Figure], title: str) -> None:
    Console(width=160).print(table(figures, title))


def markdown(document: dict[str, Any]) -> str:
    """A results.json document as the Markdown table docs/performance.md keeps:
    `python -m switchboard.bench.results bench/results.json`."""
    m = document["machine"]
    lines = [f"Measured {document['generated_at']}, {document['mode']} mode, {document['seconds']:.0f} s; "
             f"{m['cpus']} × {m['cpu']}, {m['memory']}, Python {m['python']}, {m['system']}; "
             f"load average at start {m['load_at_start'][0]:.1f} (a machine shared with other work); "
             + ", ".join(f"{name}: {detail}" for name, detail in document["engines"].items()) + ".", "",
             "| figure | engine | value | unit | target | met | size | note |", "|---|---|--:|---|--:|:-:|---|---|"]
    for f in document["figures"]:
        target = "" if f["target"] is None else ("≥ " if f["better"] == "higher" else "≤ ") + _number(f["target"])
        met = {True: "yes", False: "**no**", None: ""}[f["met"]]
        note = f["note"].replace("|", "/")
        lines.append(f"| {f['name']} | {f['engine']} | {_number(f['value'])} | {f['unit']} | {target} | {met} | "
                     f"{f['size']} | {note} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    for name in sys.argv[1:]:
        print(markdown(json.loads(Path(name).read_text())))
