"""A tiny in-process hook registry: a lower layer announces, a higher one reacts.

A hook is declared by the layer that fires it (``user_deleting = Hook("…")`` in the
accounts service), and the higher layers subscribe to it at start-up
(``switchboard.wiring.install``), so no lower module ever imports a higher one.
Subscribers run synchronously in the caller's unit of work: whatever they write commits or
rolls back with the change that fired them. A hook declared ``required`` refuses to fire
with nobody listening, so a change can never silently lose the work that must follow it
(its push to the PBX, say)."""

from __future__ import annotations

from typing import Any, Callable

Subscriber = Callable[..., Any]


class HookNotWired(RuntimeError):
    """A required hook fired before anything subscribed to it (start-up wiring missing)."""


class Hook:
    def __init__(self, name: str, *, required: bool = False, doc: str = "") -> None:
        self.name = name
        self.required = required
        self.__doc__ = doc or name
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Subscriber:
        """Adds a subscriber once (subscribing twice is harmless); usable as a decorator."""
        if subscriber not in self._subscribers:
            self._subscribers.append(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        if subscriber in self._subscribers:
            self._subscribers.remove(subscriber)

    @property
    def subscribers(self) -> tuple[Subscriber, ...]:
        return tuple(self._subscribers)

    def __call__(self, *args: Any, **kwargs: Any) -> list[Any]:
        if self.required and not self._subscribers:
            raise HookNotWired(f"hook {self.name!r} fired with no subscriber: call switchboard.wiring.install()")
        return [subscriber(*args, **kwargs) for subscriber in self._subscribers]

    def __repr__(self) -> str:
        return f"Hook({self.name!r}, {len(self._subscribers)} subscribers)"
