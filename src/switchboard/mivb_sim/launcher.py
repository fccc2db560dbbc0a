"""Start `mivb-sim` as a separate process and wait until it listens (tests, `switchboard run`)."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import httpx

SIM = Path(sys.executable).parent / "mivb-sim"
READY_TIMEOUT = 20


@dataclass
class Sim:
    process: subprocess.Popen
    url: str
    auth: tuple[str, str]

    def client(self, auth: tuple[str, str] | None | str = "own") -> httpx.Client:
        """A client with the simulator's credentials, other ones, or none (auth=None)."""
        return httpx.Client(base_url=self.url, auth=self.auth if auth == "own" else auth, timeout=10)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode


def launch(*args: str, auth: tuple[str, str] = ("admin", "admin"), port: int = 0, host: str = "127.0.0.1",
           stderr_path: Path | None = None) -> Sim:
    """Runs mivb-sim (port 0: a free one) and waits for its ready line. The password goes
    through the child's environment (MIVB_SIM_PASSWORD), which only its owner can read,
    never on its command line, which every local user can (ps, /proc/PID/cmdline)."""
    stderr = stderr_path.open("w") if stderr_path else subprocess.DEVNULL
    process = subprocess.Popen(
        [str(SIM), "--host", host, "--port", str(port), "--username", auth[0], *args],
        stdout=subprocess.PIPE, stderr=stderr, text=True, env={**os.environ, "MIVB_SIM_PASSWORD": auth[1]},
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=READY_TIMEOUT)
    except queue.Empty:
        line = ""
    if not line.startswith("mivb-sim listening on http://"):
        process.kill()
        process.wait(timeout=10)
        detail = stderr_path.read_text() if stderr_path else ""
        raise RuntimeError(f"mivb-sim did not start: {line!r} {detail}")
    return Sim(process, line.split()[-1], auth)
