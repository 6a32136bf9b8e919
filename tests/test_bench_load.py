"""The bench's slow motion follows the cores it is given (bench/load.py): figures of the model,
not of the machine's load."""

from __future__ import annotations

import pytest

from bench.load import LEAST_SHARE, Load

pytestmark = pytest.mark.fast


def test_half_the_cores_taken_doubles_the_slow_motion() -> None:
    quiet = Load(cores=2, free_cores=2.0, load_average=0.1)
    loaded = Load(cores=2, free_cores=1.0, load_average=2.1)

    assert quiet.time_scale(200) == 8
    assert loaded.time_scale(200) == 2 * quiet.time_scale(200)
    assert "1.00 of 2 cores free" in loaded.describe(200)
    assert "x16" in loaded.describe(200)


def test_a_few_tenants_run_in_real_time_on_a_quiet_machine() -> None:
    assert Load(cores=2, free_cores=2.0, load_average=0.0).time_scale(10) == 1.0


def test_a_machine_too_busy_to_measure_stops_the_factor_growing() -> None:
    swamped = Load(cores=2, free_cores=0.01, load_average=40.0)

    assert swamped.share == LEAST_SHARE
    assert swamped.time_scale(200) == 200 / (12.5 * 2 * LEAST_SHARE)
