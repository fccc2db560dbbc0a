"""`mivb-sim`: run the MiVB gateway simulator until interrupted."""

import argparse
import asyncio
import json
import os
import socket
import sys
from pathlib import Path

import uvicorn
from pydantic import ValidationError

from .app import create_app
from .schema import SeedIn, describe
from .state import Pbx, SeedError


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mivb-sim", description="Simulate the HTTP gateway of a MiVB PBX.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100, help="0 picks a free port (printed when ready)")
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", default=None,
                        help="the gateway password (default: $MIVB_SIM_PASSWORD, else admin). A command line is "
                             "visible to every local user (ps): prefer the environment variable")
    parser.add_argument("--state", type=Path, help="load the configuration from FILE and save every change to it")
    parser.add_argument("--seed", type=Path, help="JSON file replacing parts of the built-in configuration")
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    args = parser.parse_args(argv)
    if args.password is None:
        args.password = os.environ.get("MIVB_SIM_PASSWORD") or "admin"
    return args


def _load_seed(path: Path) -> SeedIn:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SeedError(f"cannot read seed file {path}: {exc}") from exc
    except ValueError as exc:
        raise SeedError(f"seed file {path} is not valid JSON: {exc}") from exc
    try:
        return SeedIn.model_validate(data)
    except ValidationError as exc:
        raise SeedError(f"seed file {path}: " + " ".join(message for _, message in describe(exc))) from exc


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
    # without it each answer (headers, then body) waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


async def _serve(server: uvicorn.Server, sock: socket.socket, host: str) -> None:
    async def announce() -> None:
        while not server.started:
            await asyncio.sleep(0.02)
        shown = f"[{host}]" if ":" in host else host
        print(f"mivb-sim listening on http://{shown}:{sock.getsockname()[1]}", flush=True)

    announcer = asyncio.create_task(announce())
    try:
        await server.serve(sockets=[sock])
    finally:
        announcer.cancel()


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    try:
        seed = _load_seed(args.seed) if args.seed else SeedIn()
        pbx = Pbx(seed, state_file=args.state)
    except SeedError as exc:
        print(f"mivb-sim: {exc}", file=sys.stderr)
        return 2
    try:
        sock = _bind(args.host, args.port)
    except OSError as exc:
        print(f"mivb-sim: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    app = create_app(pbx, args.username, args.password)
    server = uvicorn.Server(uvicorn.Config(app, log_level=args.log_level, access_log=False, lifespan="off"))
    asyncio.run(_serve(server, sock, args.host))
    return 0
