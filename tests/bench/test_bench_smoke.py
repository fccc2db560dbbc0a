"""`make bench` at its tiniest: every figure runs against the real processes and lands in
results.json well formed. Timings are never asserted (they are the bench's to print)."""

from __future__ import annotations

import json

import pytest

from switchboard.bench.__main__ import main
from switchboard.bench.results import Figure
from switchboard.bench.suite import FIGURES

pytestmark = pytest.mark.slow

KEYS = {"name", "engine", "value", "unit", "target", "better", "met", "size", "mode", "note"}


def test_every_figure_runs_at_the_tiniest_size_into_a_well_formed_results_file(backend, tmp_path):
    path = tmp_path / "bench" / "results.json"
    assert main(["--mode", "tiny", "--engine", backend, "--results", str(path)]) == 0

    document = json.loads(path.read_text())
    assert document["mode"] == "tiny"
    assert document["machine"]["cpus"] >= 1
    assert list(document["engines"]) == [backend]
    figures = document["figures"]
    assert {int(entry["name"].split(".")[0]) for entry in figures} == set(FIGURES)
    for entry in figures:
        assert KEYS <= set(entry), entry
        assert entry["engine"] == backend and entry["mode"] == "tiny"
        assert isinstance(entry["value"], (int, float)) and entry["value"] >= 0, entry
        assert entry["unit"] and entry["size"], entry
        assert entry["better"] in ("higher", "lower")
        if entry["target"] is None:
            assert entry["met"] is None
        else:
            expected = Figure(entry["name"], backend, entry["value"], entry["unit"], entry["target"],
                              entry["better"]).met
            assert entry["met"] is expected, entry
    by_name = {entry["name"]: entry for entry in figures}
    # The simulators counted the pushes they served at once, and nothing was handed out twice.
    assert by_name["2. most pushes in flight to one PBX"]["value"] >= 1
    assert by_name["6. allocations handed out twice"]["value"] == 0
    assert "created 10, failed 0" in by_name["1. bulk onboarding (CSV)"]["note"]
    assert by_name["7. server peak RSS"]["value"] > 0 and by_name["7. worker peak RSS"]["value"] > 0


def test_a_figure_meets_its_target_in_the_direction_it_states():
    assert Figure("x", "sqlite", 300, "users/s", target=250).met is True
    assert Figure("x", "sqlite", 200, "users/s", target=250).met is False
    assert Figure("x", "sqlite", 40, "ms", target=50, better="lower").met is True
    assert Figure("x", "sqlite", 60, "ms", target=50, better="lower").met is False
    assert Figure("x", "sqlite", 60, "ms").met is None
