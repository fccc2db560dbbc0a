"""Failures the simulator can be told to show, for tests and demos."""

from dataclasses import asdict, dataclass, field
from typing import Any

from .schema import FaultsIn


@dataclass
class Faults:
    down: bool = False
    latency_ms: int = 0
    error_rate: float = 0.0
    reject_dn: str | None = None
    garbage: bool = False
    # How many requests each fault has failed since the faults were last cleared (what a
    # test reads to know its faults had an effect); not a setting.
    injected: dict[str, int] = field(default_factory=lambda: {"errors": 0, "down": 0})

    def merge(self, update: FaultsIn) -> None:
        """Apply the fields the client sent; `"reject": null` clears the reject fault."""
        for name in update.model_fields_set:
            value = getattr(update, name)
            if name == "reject":
                self.reject_dn = value.dn if value is not None else None
            elif value is not None:
                setattr(self, name, value)

    def clear(self) -> None:
        self.__dict__.update(asdict(Faults()))

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("injected")
        reject_dn = out.pop("reject_dn")
        out["reject"] = {"dn": reject_dn} if reject_dn is not None else None
        return out
