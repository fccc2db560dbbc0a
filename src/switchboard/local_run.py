"""`switchboard run`: everything for a local try-out in one process tree, and nothing left
behind when it stops.

- The server's socket is taken first, so a busy port fails before anything starts and the
  PBX simulator (on a free port unless told otherwise) can never take it.
- SIGTERM and SIGINT both end the server, then the sync worker and the simulator. uvicorn
  hands a SIGTERM back to the process once it has shut down; with the default handler that
  would kill it before it stops its children, so SIGTERM raises SystemExit instead (`Stopper`).
- Secrets reach the children through their environment (MIVB_SIM_PASSWORD), never their
  command lines, which every local user can read.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from switchboard.core.processes import stop


def listen(host: str, port: int) -> socket.socket:
    """The server's listening socket (OSError when the port is taken)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(False)
    return sock


def url_of(host: str, port: int) -> str:
    """The address a browser on this machine opens (a wildcard address is shown as loopback)."""
    shown = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{shown}]:{port}/" if ":" in shown else f"http://{shown}:{port}/"


class Stopper:
    """SIGTERM and SIGINT end the process with an exception (SystemExit, KeyboardInterrupt),
    so `finally` blocks stop the children. While children are being started (`held`), a
    signal waits until they are known, then ends the process the same way."""

    def __init__(self) -> None:
        self._holding = False
        self._pending: int | None = None
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, _frame) -> None:
        if self._holding:
            self._pending = signum
            return
        self._stop(signum)

    @staticmethod
    def _stop(signum: int) -> None:
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)

    @contextmanager
    def held(self) -> Iterator[None]:
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
        if self._pending is not None:
            self._stop(self._pending)


def start_worker(log_path: Path) -> subprocess.Popen:
    with log_path.open("a") as log:
        return subprocess.Popen([sys.executable, "-m", "switchboard.cli", "worker"], stdout=log,
                                stderr=subprocess.STDOUT)


def stop_worker(process: subprocess.Popen) -> None:
    stop(process, grace=10)
