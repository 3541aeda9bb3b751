"""The mirror is rebuilt from the workflows after Redis loses it."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import redis
from temporalio.testing import WorkflowEnvironment

from adapters.redis.keys import closure_state_key, progress_key
from adapters.redis.mirror import ProgressMirror
from closure.phases import ClosurePhase
from ops.mirror_rebuild import rebuild_mirror
from simulator.server import SimulatorServer
from tests.support import closure_lab, ny


async def test_a_flushed_mirror_is_rebuilt_from_the_workflows(
    dev_env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor, redis_url: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    async with closure_lab(
        dev_env, sim, executor, seed_at=ny(2025, 4, 14, 10, 0), redis_url=redis_url
    ) as lab:
        account = lab.broker.open_account()
        lab.broker.run_clock(1.0)
        started = await lab.start(account)
        progress = await lab.finish(started)
        assert progress.phase == ClosurePhase.COMPLETED
        before = client.get(progress_key(account.account_id))
        assert before is not None

        client.flushdb()
        report = await rebuild_mirror(
            dev_env.client,
            ProgressMirror.from_url(redis_url, timedelta(days=7)),
            f'WorkflowId = "{started.workflow_id}"',
        )

        assert report.written == [account.account_id]
        rebuilt = client.get(progress_key(account.account_id))
        assert rebuilt is not None
        unstamped = {"mirrored_at"}
        assert json.loads(rebuilt).keys() == json.loads(before).keys()
        assert {k: v for k, v in json.loads(rebuilt).items() if k not in unstamped} == {
            k: v for k, v in json.loads(before).items() if k not in unstamped
        }
        assert client.get(closure_state_key(account.account_id)) is not None

        client.flushdb()  # the same from the operator's command line
        done = await asyncio.to_thread(
            lab.cli, "--json", "mirror", "rebuild", "--account", account.account_id
        )
        assert done.exit_code == 0, done.output
        assert json.loads(done.output) == {"written": [account.account_id], "skipped": []}
        assert client.get(progress_key(account.account_id)) is not None
