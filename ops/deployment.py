"""The worker's Temporal Worker Deployment: which build takes closures, and promoting a new one.

A versioned worker (`CLOSURE_WORKER__BUILD_ID`) registers its build when it first polls; it takes no task
until its build is made current. Promoting a build moves every running closure to it at its next workflow
task (closures auto-upgrade); the previous build's workers can then be stopped.
"""

from __future__ import annotations

from pydantic import BaseModel
from temporalio.api.deployment.v1 import WorkerDeploymentInfo
from temporalio.api.enums.v1 import WorkerDeploymentVersionStatus
from temporalio.api.workflowservice.v1 import (
    DescribeWorkerDeploymentRequest,
    SetWorkerDeploymentCurrentVersionRequest,
)
from temporalio.client import Client

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


async def promote(client: Client, deployment_name: str, build_id: str, operator: str) -> WorkerDeployment:
    """Make `build_id` current: new and running closures go to its workers from their next task."""
    known = await describe(client, deployment_name)
    if build_id not in {build.build_id for build in known.builds}:
        seen = ", ".join(build.build_id for build in known.builds) or "none"
        raise OperationRefused(
            f"build {build_id!r} has no worker polling in {deployment_name!r} (builds seen: {seen}); start its "
            "workers first, so closures are never routed to a build nobody runs"
        )
    await client.workflow_service.set_worker_deployment_current_version(
        SetWorkerDeploymentCurrentVersionRequest(
            namespace=client.namespace, deployment_name=deployment_name, build_id=build_id, identity=operator
        )
    )
    return await describe(client, deployment_name)
