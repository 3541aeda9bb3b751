"""Promoting a build: refused in words while it does not yet serve every queue the current build serves."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio import activity, workflow
from temporalio.api.deployment.v1 import WorkerDeploymentVersion as VersionProto
from temporalio.api.workflowservice.v1 import DescribeWorkerDeploymentVersionRequest
from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker, WorkerDeploymentConfig

from ops import deployment
from ops.actions import OperationRefused


@workflow.defn(name="DeploymentProbe")
class DeploymentProbe:
    @workflow.run
    async def run(self) -> None:
        return None


@activity.defn(name="deployment_probe")
async def deployment_probe() -> None:
    return None


def _worker(client: Client, queue: str, name: str, build_id: str, *, activities: bool) -> Worker:
    return Worker(
        client,
        task_queue=queue,
        workflows=[DeploymentProbe],
        activities=[deployment_probe] if activities else [],
        deployment_config=WorkerDeploymentConfig(
            version=WorkerDeploymentVersion(deployment_name=name, build_id=build_id),
            use_worker_versioning=True,
            default_versioning_behavior=VersioningBehavior.AUTO_UPGRADE,
        ),
    )


async def _promote_when_known(client: Client, name: str, build_id: str) -> deployment.WorkerDeployment:
    for _ in range(100):
        try:
            return await deployment.promote(client, name, build_id, operator="test")
        except OperationRefused as refused:
            if "does not yet poll" in str(refused):
                raise
            await asyncio.sleep(0.2)
    raise AssertionError(f"build {build_id} never registered")


async def _queues_of(client: Client, name: str, build_id: str) -> int:
    response = await client.workflow_service.describe_worker_deployment_version(
        DescribeWorkerDeploymentVersionRequest(
            namespace=client.namespace,
            deployment_version=VersionProto(deployment_name=name, build_id=build_id),
        )
    )
    return len(response.worker_deployment_version_info.task_queue_infos)


async def test_a_build_missing_a_queue_of_the_current_one_is_refused_with_a_reason(
    dev_env: WorkflowEnvironment,
) -> None:
    client, queue, name = dev_env.client, f"deploy-{uuid.uuid4()}", f"probe-{uuid.uuid4().hex[:8]}"
    v1 = _worker(client, queue, name, "v1", activities=True)
    # v2's only worker runs no activities, so it never polls the activity queue v1 serves.
    v2 = _worker(client, queue, name, "v2", activities=False)
    async with v1, v2:
        await _promote_when_known(client, name, "v1")
        for _ in range(100):  # v1 serves the workflow queue and the activity queue
            if await _queues_of(client, name, "v1") == 2:
                break
            await asyncio.sleep(0.2)
        assert await _queues_of(client, name, "v2") == 1
        with pytest.raises(OperationRefused, match=r"does not yet poll every task queue .*\(activity\)"):
            await _promote_when_known(client, name, "v2")
        assert (await deployment.describe(client, name)).current_build_id == "v1"
