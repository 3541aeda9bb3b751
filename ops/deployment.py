"""The worker's Temporal Worker Deployment: which build takes closures, and promoting a new one.

A versioned worker (`CLOSURE_WORKER__BUILD_ID`) registers its build when it first polls; it takes no task
until its build is made current. Promoting a build moves every running closure to it at its next workflow
task (closures auto-upgrade); the previous build's workers can then be stopped.
"""

from __future__ import annotations

from pydantic import BaseModel
from temporalio.api.deployment.v1 import WorkerDeploymentInfo, WorkerDeploymentVersion
from temporalio.api.enums.v1 import TaskQueueType, WorkerDeploymentVersionStatus
from temporalio.api.workflowservice.v1 import (
    DescribeWorkerDeploymentRequest,
    DescribeWorkerDeploymentVersionRequest,
    SetWorkerDeploymentCurrentVersionRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from ops.actions import OperationRefused, refused_when_missing


class DeploymentBuild(BaseModel):
    build_id: str
    status: str
    current: bool


class WorkerDeployment(BaseModel):
    name: str
    current_build_id: str | None
    builds: list[DeploymentBuild]


def _status(value: WorkerDeploymentVersionStatus.ValueType) -> str:
    name = WorkerDeploymentVersionStatus.Name(value)
    return name.removeprefix("WORKER_DEPLOYMENT_VERSION_STATUS_").lower()


def _summary(info: WorkerDeploymentInfo) -> WorkerDeployment:
    current = info.routing_config.current_deployment_version.build_id or None
    builds = [
        DeploymentBuild(
            build_id=version.deployment_version.build_id,
            status=_status(version.status),
            current=version.deployment_version.build_id == current,
        )
        for version in info.version_summaries
    ]
    return WorkerDeployment(name=info.name, current_build_id=current, builds=builds)


async def describe(client: Client, deployment_name: str) -> WorkerDeployment:
    response = await refused_when_missing(
        client.workflow_service.describe_worker_deployment(
            DescribeWorkerDeploymentRequest(namespace=client.namespace, deployment_name=deployment_name)
        ),
        f"no worker deployment {deployment_name!r}: start a worker with CLOSURE_WORKER__BUILD_ID set",
    )
    return _summary(response.worker_deployment_info)


async def _queues(client: Client, deployment_name: str, build_id: str) -> set[str]:
    """The task queues (name and kind) the build's workers have registered with the server."""
    response = await client.workflow_service.describe_worker_deployment_version(
        DescribeWorkerDeploymentVersionRequest(
            namespace=client.namespace,
            deployment_version=WorkerDeploymentVersion(deployment_name=deployment_name, build_id=build_id),
        )
    )
    infos = response.worker_deployment_version_info.task_queue_infos
    return {f"{info.name} ({_queue_kind(info.type)})" for info in infos}


def _queue_kind(value: TaskQueueType.ValueType) -> str:
    return TaskQueueType.Name(value).removeprefix("TASK_QUEUE_TYPE_").lower()


async def promote(client: Client, deployment_name: str, build_id: str, operator: str) -> WorkerDeployment:
    """Make `build_id` current: new and running closures go to its workers from their next task."""
    known = await describe(client, deployment_name)
    if build_id not in {build.build_id for build in known.builds}:
        seen = ", ".join(build.build_id for build in known.builds) or "none"
        raise OperationRefused(
            f"build {build_id!r} has no worker polling in {deployment_name!r} (builds seen: {seen}); start its "
            "workers first, so closures are never routed to a build nobody runs"
        )
    current = known.current_build_id
    if current is not None and current != build_id:
        missing = await _queues(client, deployment_name, current) - await _queues(
            client, deployment_name, build_id
        )
        if missing:
            raise OperationRefused(
                f"build {build_id!r} does not yet poll every task queue build {current!r} polls (missing: "
                f"{', '.join(sorted(missing))}); start all of its workers, or wait until they have polled, and "
                "promote again, so no queue is left without a versioned worker"
            )
    try:
        await client.workflow_service.set_worker_deployment_current_version(
            SetWorkerDeploymentCurrentVersionRequest(
                namespace=client.namespace,
                deployment_name=deployment_name,
                build_id=build_id,
                identity=operator,
            )
        )
    except RPCError as exc:
        # The server refuses the same gap when a missing queue has work (it can open between our check and
        # this call, as a build registers its queues one type at a time).
        if exc.status != RPCStatusCode.FAILED_PRECONDITION:
            raise
        raise OperationRefused(
            f"build {build_id!r} does not yet poll every task queue the current build polls ({exc.message}); "
            "start all of its workers, or wait until they have polled, and promote again"
        ) from None
    return await describe(client, deployment_name)
