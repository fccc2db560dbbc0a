"""The simulator's listening socket: connections it accepts send small answers at once.

asyncio turns TCP_NODELAY on only for sockets whose protocol says TCP; the simulator's own
socket once said 0, so every answer (headers, then body) waited ~40 ms for the client's
delayed ACK and each PBX call cost 45 ms instead of 2-3 ms."""

from __future__ import annotations

import asyncio
import socket
from concurrent.futures import ThreadPoolExecutor

from switchboard.mivb_sim.cli import _bind


def test_accepted_connections_have_tcp_nodelay():
    async def scenario() -> int:
        seen: asyncio.Future = asyncio.get_running_loop().create_future()

        def accepted(reader, writer):
            sock = writer.get_extra_info("socket")
            seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        listening = _bind("127.0.0.1", 0)
        server = await asyncio.start_server(accepted, sock=listening)
        async with server:
            _, writer = await asyncio.open_connection("127.0.0.1", listening.getsockname()[1])
            value = await asyncio.wait_for(seen, 10)
            writer.close()
        return value

    with ThreadPoolExecutor(1) as pool:  # a loop of its own, whatever the calling thread runs
        assert pool.submit(asyncio.run, scenario()).result(timeout=30) != 0
