"""A deployed workflow with a bug: every workflow task of the closure raises (test only)."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from closure.progress import ClosureInput, ClosureProgress


@workflow.defn(name="AccountClosureWorkflow")
class BrokenClosureWorkflow:
    @workflow.run
    async def run(self, input: ClosureInput) -> ClosureProgress:
        raise RuntimeError(f"a bug in the deployed workflow code (closing {input.account_id})")
