"""Where the time goes: with `BENCH_PROFILE=DIR`, every figure that runs against the real
processes is sampled by py-spy, attached to the server and to each worker for the
figure's duration (non-blocking, 50 samples/s, idle threads left out), and each
profile is summed up into its top frames next to it.

    BENCH_PROFILE=bench/profiles python -m switchboard.bench --only 1
    python -m switchboard.bench.profile bench/profiles/sqlite-1-worker-0.txt

A profile is py-spy's raw format: one line per distinct stack, `frame;frame;… count`;
`summary()` counts, for the top frames, the share of samples where the frame was
running (self) and where it was on the stack (total)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Iterator

from switchboard.bench.processes import Stack

TOP = 15


def _py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


@contextlib.contextmanager
def profiled(stack: Stack, label: str) -> Iterator[None]:
    directory = os.environ.get("BENCH_PROFILE")
    spy = _py_spy()
    if not directory or spy is None:
        yield
        return
    Path(directory).mkdir(parents=True, exist_ok=True)
    targets = [("server", stack.server)] + [(f"worker-{i}", w) for i, w in enumerate(stack.workers)]
    spies = []
    for role, process in targets:
        if process is None or process.poll() is not None:
            continue
        out = Path(directory) / f"{stack.engine_name}-{label}-{role}.txt"
        spies.append((out, subprocess.Popen(
            [spy, "record", "--pid", str(process.pid), "--format", "raw", "--rate", "50", "--nonblocking",
             "--subprocesses", "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
    try:
        yield
    finally:
        for _, process in spies:
            process.send_signal(signal.SIGINT)
        for out, process in spies:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
            if out.exists():
                out.with_suffix(".top.txt").write_text(summary(out))


def _frame(frame: str) -> str:
    """`function (path/to/module.py:123)` → `function (module/path.py)`: the line dropped,
    the path from the package on."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "python3.11/", "src/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})"


def summary(path: Path, top: int = TOP) -> str:
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        samples += n
        frames = [_frame(f) for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
            if "(switchboard/" in frame:
                ours[frame] += n
    if not samples:
        return f"{path.name}: no samples\n"
    lines = [f"{path.name}: {samples} samples (50/s, busy threads only)", "", "self:"]
    lines += [f"  {100 * n / samples:5.1f} %  {frame}" for frame, n in own.most_common(top)]
    lines += ["", "total, Switchboard's frames:"]
    lines += [f"  {100 * n / samples:5.1f} %  {frame}" for frame, n in ours.most_common(top)]
    lines += ["", "total, any frame:"]
    lines += [f"  {100 * n / samples:5.1f} %  {frame}" for frame, n in total.most_common(top)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(summary(Path(name)))
