"""`python -m switchboard.bench.sim`: the real `mivb-sim` application with a counter of the
requests it is serving at once (the simulator has none of its own), so that the bench can
tell how many pushes were in flight to one PBX at the most.

    python -m switchboard.bench.sim --port 0 [--seed FILE] [--username admin]

Same application, same ready line and password handling (MIVB_SIM_PASSWORD) as mivb-sim;
`GET /_bench/counters` answers {"now", "max", "requests"} over the /api routes, and the
PBX's usage {"users", "devices"}, without authentication or latency (loopback, bench
only); `DELETE /_bench/counters` starts counting again."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

import uvicorn

from switchboard.mivb_sim.app import create_app
from switchboard.mivb_sim.cli import _bind, _serve
from switchboard.mivb_sim.schema import SeedIn
from switchboard.mivb_sim.state import Pbx

COUNTER_PATH = "/_bench/counters"


class InFlight:
    """ASGI wrapper counting the /api requests being served, from arrival to last byte."""

    def __init__(self, app, pbx: Pbx) -> None:
        self.app = app
        self.pbx = pbx
        self.now = self.max = self.requests = 0

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == COUNTER_PATH:
            if scope["method"] == "DELETE":
                self.max, self.requests = self.now, 0
            usage = self.pbx.system_info()["usage"]
            body = json.dumps({"now": self.now, "max": self.max, "requests": self.requests, **usage}).encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
            return
        if not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        self.now += 1
        self.requests += 1
        self.max = max(self.max, self.now)
        try:
            await self.app(scope, receive, send)
        finally:
            self.now -= 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m switchboard.bench.sim")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--username", default="admin")
    parser.add_argument("--seed", type=Path)
    args = parser.parse_args(argv)
    seed = SeedIn.model_validate(json.loads(args.seed.read_text())) if args.seed else SeedIn()
    pbx = Pbx(seed)
    app = InFlight(create_app(pbx, args.username, os.environ.get("MIVB_SIM_PASSWORD") or "admin"), pbx)
    sock = _bind("127.0.0.1", args.port)  # the simulator's own socket: TCP_NODELAY on every connection
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    asyncio.run(_serve(server, sock, "127.0.0.1"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
