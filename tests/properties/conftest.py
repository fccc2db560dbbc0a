"""Hypothesis profiles for the property tests.

`make test` runs the "default" profile: a bounded number of examples per property so the
suite stays quick (the same draws every run: derandomised, so a red run is reproducible).
`HYPOTHESIS_PROFILE=long` (what `make properties-long` sets) draws many more, with fresh
randomness each run; `HYPOTHESIS_PROFILE=mutation` is the small one mutmut uses."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("default", max_examples=60, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=3000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("mutation", max_examples=40, deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
