"""Turn the service's typed errors into ApplicationErrors at the Temporal boundary.

The `type` is the stable class name and `non_retryable` follows the error's kind, so business failures
stop at once and infrastructure failures are retried with backoff. Activities themselves stay plain Python.
"""

from __future__ import annotations

from typing import Any

from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from closure.errors import ClosureError


class _TypedErrors(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await super().execute_activity(input)
        except ClosureError as exc:
            raise exc.to_application_error() from exc


class TypedErrorsInterceptor(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _TypedErrors(super().intercept_activity(next))
