"""Rebuild the Redis mirror from the workflows, the source of truth (after a flush, a new cluster, a bug)."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio.client import Client

from adapters.redis.mirror import MirrorWrite, ProgressMirror
from closure.progress import ClosureProgress
from workflows.account_closure import AccountClosureWorkflow
from workflows.client import ALL_CLOSURES


class RebuildReport(BaseModel):
    written: list[str]
    skipped: list[str]


async def rebuild_mirror(client: Client, mirror: ProgressMirror, query: str = ALL_CLOSURES) -> RebuildReport:
    written: list[str] = []
    skipped: list[str] = []
    async for execution in client.list_workflows(query):
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        progress: ClosureProgress = await handle.query(AccountClosureWorkflow.progress)
        result = mirror.write(MirrorWrite(progress=progress))
        (written if result.written else skipped).append(progress.account_id)
    return RebuildReport(written=written, skipped=skipped)
