"""``await processor.check_now()`` (docs/DESIGN.md §13): the processor's side of on-demand checks.

Each call sends a ``Check`` message and waits for the ``check_started`` that names its check (the
participant has one check at a time: a request while one runs joins it), then for that check's
``check_completed``. A refusal (``bad_check``, ``check_rate_limited``) fails the oldest request still
waiting for its start; a dropped connection fails the requests not yet started.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from .events import CheckCompleted, CheckStarted
from .frames import pb

#: The longest window the service accepts; 0 asks for its default (10 s).
CHECK_MAX_DURATION_S = 60
#: How long a request waits for its ``check_started``, and past the window's end for the result.
CHECK_ANSWER_GRACE_S = 15.0

_REFUSALS = ("bad_check", "check_rate_limited")


class CheckError(Exception):
    """A check that did not complete: ``code`` is the service's refusal, or not_ready, disconnected, timeout."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_message(duration_s: int) -> bytes:
    return pb.ClientMessage(check=pb.Check(duration_s=duration_s)).SerializeToString()


class _Request:
    def __init__(self) -> None:
        self.future: asyncio.Future[CheckCompleted] = asyncio.get_running_loop().create_future()
        self.started = asyncio.Event()
        self.check_id: str | None = None
        self.until_ms = 0.0

    def fail(self, error: CheckError) -> None:
        if not self.future.done():
            self.future.set_exception(error)
        self.started.set()


class CheckWaiters:
    """Requests waiting for their check's start, then for its result."""

    def __init__(self) -> None:
        self._requests: list[_Request] = []

    async def run(self, send: Callable[[], None]) -> CheckCompleted:
        """Sends one request with ``send`` and waits: for its start, then for the window plus a grace."""
        request = _Request()
        self._requests.append(request)
        try:
            send()
            try:
                await asyncio.wait_for(request.started.wait(), CHECK_ANSWER_GRACE_S)
            except asyncio.TimeoutError:
                raise CheckError("timeout", "no check_started from the service") from None
            window_s = min(max(0.0, request.until_ms / 1000 - time.time()), CHECK_MAX_DURATION_S)
            try:
                return await asyncio.wait_for(asyncio.shield(request.future), window_s + CHECK_ANSWER_GRACE_S)
            except asyncio.TimeoutError:
                raise CheckError("timeout", f"no check_completed for {request.check_id}") from None
        finally:
            self._requests.remove(request)

    def started(self, event: CheckStarted) -> None:
        for request in self._requests:
            if request.check_id is None and not request.future.done():
                request.check_id, request.until_ms = event.check_id, event.until_ms
                request.started.set()

    def completed(self, event: CheckCompleted) -> None:
        for request in self._requests:
            if request.check_id == event.check_id and not request.future.done():
                request.future.set_result(event)

    def refused(self, code: str, message: str) -> None:
        """An ``error`` event: a check refusal fails the oldest request not yet started."""
        if code not in _REFUSALS:
            return
        waiting = [r for r in self._requests if r.check_id is None and not r.future.done()]
        if waiting:
            waiting[0].fail(CheckError(code, message))

    def lost(self, closed: bool = False) -> None:
        """The socket went away: requests not yet started fail (all of them when the processor stops)."""
        for request in self._requests:
            if closed:
                request.fail(CheckError("closed", "the processor stopped before the check completed"))
            elif request.check_id is None:
                request.fail(CheckError("disconnected", "the connection dropped before the check started"))
