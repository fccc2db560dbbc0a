"""Child processes: stopping one the way every part of Switchboard does."""

from __future__ import annotations

import subprocess


def stop(process: subprocess.Popen | None, grace: float = 15) -> None:
    """SIGTERM, then SIGKILL if it is still running after `grace` seconds; a process that
    has already ended (or None) is left as it is."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
