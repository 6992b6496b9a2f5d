"""Live transcript of a call as Server-Sent Events: ``GET /calls/{call_id}/transcript/live``.

Each event is ``event: partial|final|end`` with a JSON ``data`` line (call, speaker, start and end in
seconds from the start of the call, text, words with times and confidences). On connecting, a client first
gets what the call has said so far; the stream closes after ``end`` (the final transcript is then on the
case: ``GET /calls/{call_id}``). A comment line every 15 s keeps idle connections open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any, Protocol

from fastapi import APIRouter, HTTPException
from fastapi.responses import StreamingResponse

from api.auth import CurrentUser
from api.cases import check_call
from api.deps import ServicesDep

router = APIRouter(tags=["transcripts"])
KEEP_ALIVE_S = 15.0


class LiveHub(Protocol):
    """What this router needs of ``transcription.live.LiveTranscripts``."""

    def subscribe(self, call_id: str, listener: Any) -> Any: ...


def sse(event: Any) -> str:
    segment = event.segment
    data: dict[str, Any] = {"call_id": event.call_id}
    if segment is not None:
        data.update(speaker=segment.speaker, start=segment.start, end=segment.end, text=segment.text,
                    words=[{"text": w.text, "start": w.start, "end": w.end, "conf": w.conf} for w in segment.words])
    return f"event: {event.kind}\ndata: {json.dumps(data)}\n\n"


@router.get("/calls/{call_id:path}/transcript/live", response_class=StreamingResponse,
            responses={404: {"description": "No live transcript for this call"}})
async def live_transcript(call_id: str, services: ServicesDep, principal: CurrentUser) -> StreamingResponse:
    """Partial and final segments of a running call as Server-Sent Events, then ``end``. An agent may follow
    only a call they take or one of a case they work."""
    if not principal.is_staff:
        check_call(services.cases, principal, call_id)
    hub: LiveHub | None = services.live_transcripts
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[Any] = asyncio.Queue()

    def listener(event: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: the client is gone
            loop.call_soon_threadsafe(events.put_nowait, event)

    subscription = hub.subscribe(call_id, listener) if hub is not None else None
    if subscription is None:
        raise HTTPException(HTTPStatus.NOT_FOUND, f"No live transcript for call {call_id!r}: it is not in progress "
                            "here (an ended call's transcript is at GET /api/v1/calls/{call_id}).")

    async def stream() -> AsyncIterator[str]:
        try:
            while True:
                try:
                    event = await asyncio.wait_for(events.get(), KEEP_ALIVE_S)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                yield sse(event)
                if event.kind == "end":
                    return
        finally:
            subscription.close()

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
