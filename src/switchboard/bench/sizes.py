"""How big each figure runs: tiny (the smoke test), quick (`make bench`, a few minutes on
two cores) and full (`BENCH_FULL=1`, the sizes the targets are stated for)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    mode: str
    # 1. bulk onboarding: users in the CSV (every 5th also gets a hot desk with ACD agent)
    onboarding_users: int
    # 2. many PBXs: accounts (one simulator each) and users per account
    fanout_accounts: int
    fanout_users: int
    # 3. one user at a time through the API
    api_users: int
    # 4-5. API at scale: accounts, users in all, configured users of the largest account
    scale_accounts: int
    scale_users: int
    scale_configured: int
    load_seconds: float
    # 6. allocation: numbers in the range filled up, allocations timed per fill level,
    #    allocations per concurrent allocator
    alloc_range: int
    alloc_samples: int
    alloc_each: int
    # fixed parts of the set-up
    fanout_latency_ms: int = 50
    api_clients: int = 8
    load_clients: int = 8
    allocators: int = 16

    def describe(self, figure: str) -> str:
        return {
            "onboarding": f"{self.onboarding_users:,} users",
            "fanout": f"{self.fanout_accounts} PBXs × {self.fanout_users} users, {self.fanout_latency_ms} ms",
            "api": f"{self.api_users:,} users, {self.api_clients} clients",
            "scale": f"{self.scale_users:,} users in {self.scale_accounts} accounts, "
                     f"{self.load_clients} clients",
            "allocation": f"{self.allocators} allocators × {self.alloc_each}",
            "fill": f"range of {self.alloc_range:,}",
        }.get(figure, "")


TINY = Sizes("tiny", onboarding_users=10, fanout_accounts=2, fanout_users=3, api_users=6, scale_accounts=2,
             scale_users=60, scale_configured=10, load_seconds=1.5, alloc_range=1_000, alloc_samples=3,
             alloc_each=2)
QUICK = Sizes("quick", onboarding_users=300, fanout_accounts=5, fanout_users=30, api_users=100, scale_accounts=40,
              scale_users=10_000, scale_configured=500, load_seconds=10, alloc_range=50_000,
              alloc_samples=10, alloc_each=10)
FULL = Sizes("full", onboarding_users=2_500, fanout_accounts=20, fanout_users=250, api_users=800, scale_accounts=40,
             scale_users=100_000, scale_configured=2_500, load_seconds=45, alloc_range=100_000,
             alloc_samples=50, alloc_each=50)
MODES = {s.mode: s for s in (TINY, QUICK, FULL)}
