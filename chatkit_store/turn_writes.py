"""The store's writes while a turn streams (issue 23, item 11).

During a turn the ChatKit SDK saves each item the assistant finishes (`add_thread_item`,
`save_item`, `delete_thread_item`, `save_thread`) inside its event loop, and turns any other
exception there into a generic `stream.error` event with a traceback in the log. A database
outage at that point is no bug: `outage_ends_turn` re-raises it as the SDK's `CustomStreamError`
carrying the outage message (retryable), which the SDK sends as the stream's last event, and
logs it once (the outage log filter makes that one short line per kind per interval). Outside a
turn (no open turn on the request's telemetry) failures pass unchanged: the HTTP layer answers
them 503 with Retry-After.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

from chatkit.errors import CustomStreamError

from docsdesk.core.context import RequestContext
from docsdesk.core.outage import OUTAGE_STREAM_MESSAGE, outage_kind

log = logging.getLogger("docsdesk.store")

S = TypeVar("S")
P = ParamSpec("P")
CUSTOM_ERROR = "custom"  # the code of the SDK's error event for a CustomStreamError


def outage_ends_turn(
    method: Callable[Concatenate[S, P], Coroutine[Any, Any, None]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, None]]:
    """Decorate a store write whose last argument (or `context=`) is the RequestContext."""

    async def write(self: S, *args: P.args, **kwargs: P.kwargs) -> None:
        try:
            await method(self, *args, **kwargs)
        except Exception as exc:
            context = kwargs.get("context", args[-1] if args else None)
            if not isinstance(context, RequestContext):
                raise
            telemetry = context.telemetry
            if telemetry is None or not telemetry.turn_open or outage_kind(exc) is None:
                raise
            log.warning("turn not saved", exc_info=exc, extra={"request_id": context.request_id})
            telemetry.error_code = telemetry.error_code or CUSTOM_ERROR
            raise CustomStreamError(OUTAGE_STREAM_MESSAGE, allow_retry=True) from exc

    return functools.update_wrapper(write, method)  # type: ignore[return-value]  # same call signature
