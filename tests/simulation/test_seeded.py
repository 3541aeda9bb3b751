"""A small run of the seeded simulation in every test run; `bench/seeded_simulation.py` runs many more."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from temporalio.testing import WorkflowEnvironment

from simulator.server import SimulatorServer
from tests.simulation.seeded import replay_command, run_seed

SUITE_SEEDS = range(50)


@pytest.mark.parametrize("seed", SUITE_SEEDS)
async def test_a_seeded_closure_keeps_every_promise(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor, seed: int
) -> None:
    report = await run_seed(seed, env, sim, executor)
    assert not report.problems, f"seed {seed}: {report.problems}; replay: {replay_command(seed)}"
