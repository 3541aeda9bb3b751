"""A small run of the event bench in every test run; `make bench-events` runs four closures three ways.

One closure on the real local services with the listener killed mid-way and started again: it completes,
the listener misses no transfer event and handles none twice, and while it runs a completed transfer is
acted on within a real second (the polling fallback alone takes up to 12 h of broker time, 6 s here).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bench.event_latency import one_run


@pytest.mark.timeout(600)
def test_closures_act_on_events_at_once_and_survive_a_listener_restart(tmp_path: Path) -> None:
    args = argparse.Namespace(closures=1, time_scale=7200.0, timeout=300.0, data_dir=tmp_path)
    run = one_run("restart", args)

    assert run.completed == 1, run
    assert run.events, run
    assert set(run.events.values()) == {1}, run.events  # nothing missed, nothing twice, across the restart
    fastest = sorted(run.completion)[0] / args.time_scale
    assert fastest < 1.0, run.completion  # woken while the listener ran
    assert len(run.settlement) == 1
    assert run.settlement[0] / args.time_scale < 1.0, run.settlement  # the predicted look
