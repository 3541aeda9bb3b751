"""Two builds that follow the production closure (test only): each announces itself in the memo.

`PatchedRelease` adds its step behind `workflow.patched()`, as every change to the closure must.
`UnpatchedRelease` adds the same step bare: a closure started on the previous build cannot replay on it.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from closure.phases import ClosurePhase
    from closure.progress import ClosureInput, ClosureProgress
    from workflows.account_closure import AccountClosureWorkflow

RELEASE_PATCH = "closure-announces-its-build"


@workflow.defn(name="AccountClosureWorkflow")
class PatchedRelease(AccountClosureWorkflow):
    @workflow.run
    async def run(self, input: ClosureInput) -> ClosureProgress:
        return await super().run(input)

    async def _step(self, phase: ClosurePhase) -> ClosurePhase:
        if workflow.patched(RELEASE_PATCH):
            workflow.upsert_memo({"announced_by": "patched-release"})
        return await super()._step(phase)


@workflow.defn(name="AccountClosureWorkflow")
class UnpatchedRelease(AccountClosureWorkflow):
    @workflow.run
    async def run(self, input: ClosureInput) -> ClosureProgress:
        return await super().run(input)

    async def _step(self, phase: ClosurePhase) -> ClosurePhase:
        workflow.upsert_memo({"announced_by": "unpatched-release"})
        return await super()._step(phase)
