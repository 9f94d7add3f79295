"""benchmarks/bench_data.py: the tuning and reporting halves never move once tuned on."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench_data():
    spec = importlib.util.spec_from_file_location("bench_data", REPO / "benchmarks" / "bench_data.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_data", module)
    spec.loader.exec_module(module)
    return module


def _table(units: dict[str, tuple[int, int]]) -> pd.DataFrame:
    """Rows of each unit: ``(originals, natural groups)``."""
    rows = []
    for unit, (originals, natural) in units.items():
        rows += [dict(unit=unit, kind="original", group=f"{unit}-{i}") for i in range(originals)]
        rows += [dict(unit=unit, kind="natural", group=f"{unit}-{i}") for i in range(natural)]
    return pd.DataFrame(rows)


def test_a_frozen_series_keeps_its_half_whatever_the_counts(bench_data):
    # all the natural groups and originals in one half: the balancing rule alone would move b to the other
    table = _table({"a": (5, 3), "b": (5, 3), "c+d": (2, 1), "e": (1, 0), "f": (1, 0)})
    split = bench_data.assign_split(table, frozen={"a": "tune", "b": "tune", "d": "report"})
    assert split["a"] == split["b"] == "tune"
    assert split["c+d"] == "report"  # joined by a natural copy to a frozen series
    assert {split["e"], split["f"]} == {"report"}  # new units fill the half with fewer originals
    unfrozen = bench_data.assign_split(table, frozen={})
    assert unfrozen["a"] != unfrozen["b"]


def test_a_unit_across_both_frozen_halves_is_an_error(bench_data):
    table = _table({"a+b": (2, 1)})
    with pytest.raises(ValueError, match="both halves"):
        bench_data.assign_split(table, frozen={"a": "tune", "b": "report"})


def test_the_frozen_halves_are_committed(bench_data):
    frozen = pd.read_csv(bench_data.FROZEN_SPLIT)
    assert set(frozen.split) == {"tune", "report"}
    assert frozen.series.is_unique and len(frozen) > 200
