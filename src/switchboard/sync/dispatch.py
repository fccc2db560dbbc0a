"""Calls to many PBXs at once, never more than a set number in flight to any one of them.

The worker's own thread submits calls, each tagged with the PBX it goes to; a pool of
threads runs them. A call waits in its PBX's line until that PBX has a free place, so a
slow or dead PBX holds at most its own places (and its own line), never the threads the
other PBXs' calls need. Everything but the call itself (submitting, collecting, the
counts) happens in the worker's thread: the counts need no lock."""

from __future__ import annotations

import queue
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Hashable


class PushPool:
    def __init__(self, threads: int, per_pbx: int, *, shared: bool = False) -> None:
        """shared: the places at each PBX are shared with other workers; a PBX this pool
        has been given no limit for (set_limit) gets no call in flight."""
        if threads < 1 or per_pbx < 1:
            raise ValueError("a push pool needs at least one thread and one place per PBX")
        self.threads = threads
        self.per_pbx = per_pbx
        self._default_limit = 0 if shared else per_pbx
        self._executor: ThreadPoolExecutor | None = None
        self._lines: dict[Hashable, deque[tuple[Any, Callable[[], Any]]]] = {}
        self._in_flight: dict[Hashable, int] = {}
        # A PBX's own limit, when it is not per_pbx: the places this worker holds in a limit
        # shared with other workers (sync.slots); 0 keeps its calls in their line.
        self._limits: dict[Hashable, int] = {}
        self._done: queue.SimpleQueue[tuple[Hashable, Any, Any]] = queue.SimpleQueue()
        self.outstanding = 0  # waiting in a line or in flight

    def submit(self, pbx: Hashable, item: Any, call: Callable[[], Any]) -> None:
        """Runs call() when `pbx` has a free place; collect() returns (item, its result or
        the exception it raised)."""
        self._lines.setdefault(pbx, deque()).append((item, call))
        self.outstanding += 1
        self._dispatch(pbx)

    def set_limit(self, pbx: Hashable, places: int) -> None:
        """At most `places` calls in flight to `pbx` from now on (calls already in flight
        above it finish)."""
        self._limits[pbx] = max(0, min(places, self.per_pbx))
        self._dispatch(pbx)

    def limit_of(self, pbx: Hashable) -> int:
        return self._limits.get(pbx, self._default_limit)

    def pbxs(self) -> list[Hashable]:
        """The PBXs with calls waiting or in flight."""
        return [pbx for pbx in set(self._lines) | set(self._in_flight) if self.outstanding_for(pbx)]

    def outstanding_for(self, pbx: Hashable) -> int:
        return len(self._lines.get(pbx, ())) + self._in_flight.get(pbx, 0)

    def in_flight(self, pbx: Hashable) -> int:
        return self._in_flight.get(pbx, 0)

    def collect(self, timeout: float | None) -> list[tuple[Any, Any]]:
        """The calls finished so far: waits up to `timeout` for the first one (none: at once)."""
        finished = []
        try:
            first = self._done.get(timeout=timeout) if timeout else self._done.get_nowait()
        except queue.Empty:
            return finished
        entries = [first]
        while True:
            try:
                entries.append(self._done.get_nowait())
            except queue.Empty:
                break
        for pbx, item, result in entries:
            self._in_flight[pbx] -= 1
            self.outstanding -= 1
            finished.append((item, result))
        for pbx in {pbx for pbx, _, _ in entries}:
            self._dispatch(pbx)
        return finished

    def take_back_waiting(self, pbx: Hashable | None = None) -> list[Any]:
        """The calls not started yet (to `pbx`, or to every PBX), taken out of their lines:
        the worker is stopping, or it has no place at that PBX."""
        lines = [self._lines.get(pbx, deque())] if pbx is not None else list(self._lines.values())
        items = [item for line in lines for item, _ in line]
        for line in lines:
            line.clear()
        self.outstanding -= len(items)
        return items

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    # ------------------------------------------------------------ inside

    def _dispatch(self, pbx: Hashable) -> None:
        line = self._lines.get(pbx)
        while line and self._in_flight.get(pbx, 0) < self._limits.get(pbx, self._default_limit):
            item, call = line.popleft()
            self._in_flight[pbx] = self._in_flight.get(pbx, 0) + 1
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="sync-push")
            self._executor.submit(self._run, pbx, item, call)

    def _run(self, pbx: Hashable, item: Any, call: Callable[[], Any]) -> None:
        try:
            result = call()
        except BaseException as exc:  # handed to the worker's thread, which decides
            result = exc
        self._done.put((pbx, item, result))
