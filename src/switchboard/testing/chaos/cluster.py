"""A throw-away PostgreSQL cluster of the chaos run's own, so that it can be stopped and
started mid-run without touching the machine's shared server.

`initdb` into a temporary directory, `pg_ctl start` on a free port (TCP on 127.0.0.1 and a
socket in the same directory), `stop` / `start` for the outage, `destroy` at the end.
initdb refuses to run as root: as root, every command runs as the `postgres` system user
(`runuser -u postgres --`) in a directory that user owns."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, text

from switchboard.testing.chaos.processes import free_port

DATABASE = "switchboard"


def pg_bin_dir() -> Path | None:
    """Where initdb and pg_ctl live: $SWITCHBOARD_PG_BIN, the PATH, or Debian's layout."""
    candidates = [os.environ.get("SWITCHBOARD_PG_BIN", "")]
    on_path = shutil.which("initdb")
    candidates.append(str(Path(on_path).resolve().parent) if on_path else "")
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


def private_cluster_available() -> tuple[bool, str]:
    if pg_bin_dir() is None:
        return False, "no initdb/pg_ctl found (set SWITCHBOARD_PG_BIN)"
    if os.geteuid() == 0:
        if not shutil.which("runuser"):
            return False, "running as root without runuser"
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return False, "running as root and there is no postgres system user"
    return True, str(pg_bin_dir())


class PrivateCluster:
    def __init__(self) -> None:
        bin_dir = pg_bin_dir()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL server binaries not found (initdb, pg_ctl); set SWITCHBOARD_PG_BIN")
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="switchboard-chaos-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgresql.log"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.root, user="postgres", group="postgres")

    # ---------------------------------------------------------------- commands

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}"
                               f"\n(log: {self.log})")
        return result

    def init(self) -> "PrivateCluster":
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.start()
        admin = create_engine(self.url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
        admin.dispose()
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """mode "immediate" is a crash as far as the server knows: it recovers from its WAL
        at the next start."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def destroy(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop("fast")
        except Exception:  # leave nothing behind even if the stop complains
            pass
        shutil.rmtree(self.root, ignore_errors=True)

    def version(self) -> str:
        return (self.data / "PG_VERSION").read_text().strip() if (self.data / "PG_VERSION").exists() else "?"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{DATABASE}"
