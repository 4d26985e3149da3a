"""The last net: an unexpected error becomes a logged 500 OperationOutcome *inside* CORS, so a
browser client (the sandbox) still sees the status instead of a CORS failure."""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cds_service.api.responses import JsonResponse
from cds_service.cdshooks.operation_outcome import operation_outcome

log = logging.getLogger("cds_service.api")


class UnexpectedErrors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unexpected error", extra={"path": scope["path"], "method": scope["method"]})
            if started:
                raise
            body = operation_outcome("exception", "internal error; it has been logged")
            await JsonResponse(body, status_code=500)(scope, receive, send)
